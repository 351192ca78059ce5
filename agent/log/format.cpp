#include "log/format.h"

#include <array>
#include <ctime>
#include <iterator>
#include <string>

#include <fmt/format.h>

namespace vipd::log {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 5> kFixedKeys = {"time", "level", "instance", "event",
                                                        "message"};

// Length of the valid UTF-8 sequence at the start of `text` (1-4), or 0 if its first byte does
// not start one (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, truncated).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto continuation = [&](std::size_t i, unsigned char low = 0x80,
                                unsigned char high = 0xbf) {
    return i < text.size() && byte(i) >= low && byte(i) <= high;
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned char low = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned char high = lead == 0xed ? 0x9f : 0xbf;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned char low = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xf4 ? 0x8f : 0xbf;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// The message of a text line: printable text and valid UTF-8 as they are, the rest escaped.
void append_text_escaped(std::string& out, std::string_view text) {
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    const std::size_t length = utf8_sequence_length(text);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (length == 0 || c < 0x20 || c == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else {
      out.append(text.substr(0, length));
      text.remove_prefix(length);
      continue;
    }
    text.remove_prefix(1);
  }
}

std::string_view level_word(Level level) {
  switch (level) {
    case Level::trace:
      return "TRACE";
    case Level::debug:
      return "DEBUG";
    case Level::info:
      return "INFO";
    case Level::warn:
      return "WARN";
    case Level::error:
      return "ERROR";
    case Level::critical:
      return "CRITICAL";
  }
  return "INFO";
}

struct SplitTime {
  std::tm tm{};
  long long millis = 0;
};

SplitTime split(std::chrono::system_clock::time_point time, bool utc) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  SplitTime out;
  out.millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = static_cast<std::time_t>(seconds.count());
  if (utc) {
    gmtime_r(&whole, &out.tm);
  } else {
    localtime_r(&whole, &out.tm);
  }
  return out;
}

void append_member(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() > 1 ? ",\"" : "\"";
  append_json_escaped(out, key);
  out += "\":\"";
  append_json_escaped(out, value);
  out += '"';
}

bool is_fixed_key(std::string_view key) {
  for (std::string_view fixed : kFixedKeys) {
    if (key == fixed) return true;
  }
  return false;
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::trace:
      return "trace";
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::critical:
      return "critical";
  }
  return "info";
}

void append_json_escaped(std::string& out, std::string_view text) {
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    const std::size_t length = utf8_sequence_length(text);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else if (length == 0) {
          out += "\\ufffd";
        } else {
          out.append(text.substr(0, length));
          text.remove_prefix(length);
          continue;
        }
    }
    text.remove_prefix(1);
  }
}

std::string format_text(const Record& record, bool with_time) {
  std::string out;
  out.reserve(48 + record.message.size());
  if (with_time) {
    const SplitTime t = split(record.time, false);
    fmt::format_to(std::back_inserter(out), "{} {} {:02} {:02}:{:02}:{:02}.{:03} {}: ",
                   kDays[static_cast<std::size_t>(t.tm.tm_wday) % kDays.size()],
                   kMonths[static_cast<std::size_t>(t.tm.tm_mon) % kMonths.size()], t.tm.tm_mday,
                   t.tm.tm_hour, t.tm.tm_min, t.tm.tm_sec, t.millis, t.tm.tm_year + 1900);
  }
  out += level_word(record.level);
  out += ": ";
  append_text_escaped(out, record.message);
  return out;
}

std::string format_json(const Record& record) {
  const SplitTime t = split(record.time, true);
  std::string out = "{";
  out.reserve(128 + record.message.size());
  append_member(
      out, "time",
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm.tm_year + 1900,
                  t.tm.tm_mon + 1, t.tm.tm_mday, t.tm.tm_hour, t.tm.tm_min, t.tm.tm_sec, t.millis));
  append_member(out, "level", level_name(record.level));
  append_member(out, "instance", record.instance);
  append_member(out, "event", record.event);
  append_member(out, "message", record.message);
  for (const Field& field : record.fields) {
    if (is_fixed_key(field.key)) {
      append_member(out, std::string("data_").append(field.key), field.value);
    } else {
      append_member(out, field.key, field.value);
    }
  }
  out += '}';
  return out;
}

}  // namespace vipd::log
