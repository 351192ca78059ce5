#include "k8s/watch_lines.h"

namespace vipd::k8s {

WatchLines::Fed WatchLines::feed(std::string_view chunk,
                                 const std::function<bool(std::string_view)>& on_line) {
  buffer_.append(chunk);
  std::size_t start = 0;
  for (std::size_t end = buffer_.find('\n'); end != std::string::npos;
       end = buffer_.find('\n', start)) {
    std::string_view line(buffer_.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = end + 1;
    if (line.empty()) continue;
    if (!on_line(line)) {
      buffer_.clear();
      return Fed::Stopped;
    }
  }
  buffer_.erase(0, start);
  if (buffer_.size() > max_line_) {
    buffer_.clear();
    return Fed::Overflow;
  }
  return Fed::Continue;
}

}  // namespace vipd::k8s
