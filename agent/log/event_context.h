// The structured event being written by vipd::log::write(), handed to the sink beside spdlog's
// message (spdlog's log_msg has no room for it). Set only for the duration of one synchronous
// logger call on this thread; null for plain spdlog calls.
#pragma once

#include <span>
#include <string_view>

#include "log/record.h"

namespace vipd::log::detail {

struct EventContext {
  std::string_view event;
  std::string_view instance;
  std::span<const Field> fields;
};

const EventContext* current_event();

}  // namespace vipd::log::detail
