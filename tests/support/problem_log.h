// ProblemLog: problems seen on worker threads of a concurrent test, reported on the test thread
// (gtest assertions are only safe to evaluate there for fatal failures).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace lmcache::testing {

class ProblemLog {
 public:
  // Records one problem; the first 20 are kept word for word, all are counted.
  void add(std::string problem) {
    std::lock_guard lock(mutex_);
    if (problems_.size() < kKept) problems_.push_back(std::move(problem));
    ++count_;
  }

  size_t count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

  // The kept problems, one a line.
  std::string text() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& problem : problems_) out += problem + "\n";
    return out;
  }

 private:
  static constexpr size_t kKept = 20;

  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
  size_t count_ = 0;
};

}  // namespace lmcache::testing
