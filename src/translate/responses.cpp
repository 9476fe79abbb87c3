// Placeholder: the Responses codec (see translate.h) is being written.
#include "translate/translate.h"

namespace gatehouse::translate {

std::variant<std::string, Error> responses_request_to_openai(std::string_view, const ChatTarget&, std::vector<std::string>*) {
  return Error::bad_request("the Responses API is not translated yet");
}

std::unique_ptr<ResponseTranslator> openai_response_to_responses(const ResponsesAnswer&) { return nullptr; }

}  // namespace gatehouse::translate
