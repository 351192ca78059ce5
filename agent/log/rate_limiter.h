// Rate limit for repeated warnings: the same (level, event, instance) — or, for plain spdlog
// calls, the same level and text — more than `burst` times within `window` is suppressed and
// later summarised by one "suppressed N similar messages" line. A structured event is also
// limited across instances (`event_burst`): one cause hitting every instance (a flood of ARP
// claims for all VIPs) must not multiply the lines by the number of instances. Pure: time comes in
// as an argument, so tests step a fake clock instead of sleeping.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/record.h"

namespace vipd::log {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RateLimits {
  // Lines of one kind let through per window; the rest are counted, not written.
  std::size_t burst = 5;
  // Lines of one structured event (same level and event, any instance) per window; 0: no limit.
  std::size_t event_burst = 10;
  std::chrono::steady_clock::duration window = std::chrono::seconds(60);
  // Kinds tracked at once; beyond it new kinds pass unlimited (memory stays bounded, nothing is
  // lost). Ended windows are forgotten, so only a flood of distinct warnings comes near it.
  std::size_t max_kinds = 1024;
  // Levels below this are never limited: state changes (info) must always be written.
  Level from_level = Level::warn;
};

// One "suppressed N similar messages" line to write.
struct Suppressed {
  Level level = Level::warn;
  std::string event;
  std::string instance;
  std::string last_message;  // the last suppressed line's text
  std::uint64_t count = 0;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimits limits = {}) : limits_(limits) {}

  // True: write `record` now. False: it is counted for a later summary.
  bool admit(const Record& record, SteadyTime now);
  // Summaries (in no particular order) of the windows that have ended by `now` and suppressed
  // something; every ended window is forgotten. Call it before admit() so a summary comes out
  // before the first line of the next window.
  std::vector<Suppressed> expire(SteadyTime now);
  // Summaries of every window, ended or not; forgets them all (at exit).
  std::vector<Suppressed> drain();

  std::size_t tracked() const { return kinds_.size(); }
  const RateLimits& limits() const { return limits_; }

 private:
  struct Window {
    SteadyTime start;
    std::size_t seen = 0;
    Suppressed suppressed;
  };
  static std::string kind_of(const Record& record);
  // The open window of `key` (a new one if it ended or never began); nullptr when max_kinds are
  // tracked already. `instance` is what its summary names.
  Window* window_for(std::string key, const Record& record, std::string_view instance,
                     SteadyTime now);

  RateLimits limits_;
  std::unordered_map<std::string, Window> kinds_;
  // Summaries of windows that admit() found ended (expire() was not called in between).
  std::vector<Suppressed> pending_;
};

}  // namespace vipd::log
