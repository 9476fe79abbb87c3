#pragma once

#include <memory>
#include <vector>

#include "config/config.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

class Pipeline {
 public:
  // The stages for `config`, in the one order the gateway applies them (see pipeline.cpp).
  static Pipeline build(const config::Config& config);

  // Runs every stage's on_request in order until one answers.
  Decision on_request(RequestContext& ctx) const;
  // Runs every stage's on_complete, in reverse order (the outermost stage sees everything).
  void on_complete(const RequestContext& ctx) const noexcept;

  std::size_t size() const { return stages_.size(); }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace gatehouse::pipeline
