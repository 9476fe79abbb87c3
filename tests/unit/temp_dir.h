// A fresh directory for a test's files (database files), removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace gatehouse::test_util {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "gh-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }

 private:
  std::string dir_;
};

}  // namespace gatehouse::test_util
