#include "log/rate_limiter.h"

namespace vipd::log {

std::string RateLimiter::kind_of(const Record& record) {
  // Structured events are alike when level, event and instance match; plain calls (event "log")
  // when their text does. \x1f cannot occur in event or instance names.
  std::string kind;
  kind += static_cast<char>('0' + static_cast<int>(record.level));
  kind += '\x1f';
  kind += record.event;
  kind += '\x1f';
  kind += record.instance;
  if (record.event == "log") {
    kind += '\x1f';
    kind += record.message;
  }
  return kind;
}

RateLimiter::Window* RateLimiter::window_for(std::string key, const Record& record,
                                             std::string_view instance, SteadyTime now) {
  auto it = kinds_.find(key);
  if (it != kinds_.end() && now - it->second.start >= limits_.window) {
    // Ended, but expire() has not seen it yet: keep its summary, start a new window.
    if (it->second.suppressed.count > 0) pending_.push_back(std::move(it->second.suppressed));
    kinds_.erase(it);
    it = kinds_.end();
  }
  if (it == kinds_.end()) {
    if (kinds_.size() >= limits_.max_kinds) return nullptr;
    Window window;
    window.start = now;
    window.suppressed.level = record.level;
    window.suppressed.event = std::string(record.event);
    window.suppressed.instance = std::string(instance);
    it = kinds_.emplace(std::move(key), std::move(window)).first;
  }
  return &it->second;
}

bool RateLimiter::admit(const Record& record, SteadyTime now) {
  if (record.level < limits_.from_level || limits_.burst == 0) return true;
  Window* kind = window_for(kind_of(record), record, record.instance, now);
  if (kind == nullptr) return true;
  if (++kind->seen > limits_.burst) {
    ++kind->suppressed.count;
    kind->suppressed.last_message = std::string(record.message);
    return false;
  }
  if (record.event == "log" || limits_.event_burst == 0) return true;
  // Across instances: keyed without the instance ('*' cannot start a kind, which starts with the
  // level digit), summarised without one.
  std::string event_key = "*";
  event_key += static_cast<char>('0' + static_cast<int>(record.level));
  event_key += record.event;
  Window* event = window_for(std::move(event_key), record, {}, now);
  if (event == nullptr || ++event->seen <= limits_.event_burst) return true;
  ++event->suppressed.count;
  event->suppressed.last_message = std::string(record.message);
  return false;
}

std::vector<Suppressed> RateLimiter::expire(SteadyTime now) {
  std::vector<Suppressed> ended = std::move(pending_);
  pending_.clear();
  for (auto it = kinds_.begin(); it != kinds_.end();) {
    if (now - it->second.start < limits_.window) {
      ++it;
      continue;
    }
    if (it->second.suppressed.count > 0) ended.push_back(std::move(it->second.suppressed));
    it = kinds_.erase(it);
  }
  return ended;
}

std::vector<Suppressed> RateLimiter::drain() {
  std::vector<Suppressed> pending = std::move(pending_);
  pending_.clear();
  for (auto& [kind, window] : kinds_) {
    if (window.suppressed.count > 0) pending.push_back(std::move(window.suppressed));
  }
  kinds_.clear();
  return pending;
}

}  // namespace vipd::log
