// What one log line carries, before it is formatted as text or JSON.
#pragma once

#include <chrono>
#include <span>
#include <string_view>

namespace vipd::log {

enum class Level { trace, debug, info, warn, error, critical };

// One data field of a structured event: "key": "value" in JSON.
struct Field {
  std::string_view key;
  std::string_view value;
};

struct Record {
  Level level = Level::info;
  std::chrono::system_clock::time_point time;
  std::string_view event = "log";  // plain spdlog calls
  std::string_view instance;       // the VRRP instance; empty when none
  std::string_view message;
  std::span<const Field> fields;
};

// "trace" ... "critical": the JSON level and the --log-level spelling.
std::string_view level_name(Level level);

}  // namespace vipd::log
