// Splits the bytes of a Kubernetes watch stream — one JSON object per line, arriving in chunks
// that may end anywhere — into complete lines.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace vipd::k8s {

class WatchLines {
 public:
  explicit WatchLines(std::size_t max_line) : max_line_(max_line) {}

  enum class Fed { Continue, Stopped, Overflow };
  // Appends `chunk` and calls `on_line` for each complete line (without the newline; blank lines
  // are skipped). `on_line` returns false to stop: the rest is dropped and Stopped returned. A line
  // longer than max_line drops everything and returns Overflow.
  Fed feed(std::string_view chunk, const std::function<bool(std::string_view)>& on_line);
  std::size_t pending() const { return buffer_.size(); }
  void clear() { buffer_.clear(); }

 private:
  std::size_t max_line_;
  std::string buffer_;
};

}  // namespace vipd::k8s
