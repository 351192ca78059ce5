// The two line layouts (pure functions: a Record in, one line out, no trailing newline).
#pragma once

#include <string>
#include <string_view>

#include "log/record.h"

namespace vipd::log {

// keepalived-style text: "Mon Dec 07 13:07:14.123 2026: INFO: (VI_1) Entering MASTER STATE"
// (local time), or without the timestamp part when `with_time` is false (journald stamps lines).
// One record is one line: control characters in the message are escaped (\n, \r, \t, \xNN) so
// text from a script cannot forge a line of its own; invalid UTF-8 bytes become \xNN.
std::string format_text(const Record& record, bool with_time);

// One JSON object: {"time":"2026-12-07T13:07:14.123Z","level":"info","instance":"VI_1",
// "event":"state_change","message":"...", then the data fields}. Time in UTC (RFC 3339, ms).
// Every value is a string; a field key equal to a fixed key gets a "data_" prefix.
std::string format_json(const Record& record);

// `text` as the inside of a JSON string: quotes, backslashes and control characters escaped,
// valid UTF-8 kept as is, each invalid byte replaced by U+FFFD (the line stays valid JSON).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace vipd::log
