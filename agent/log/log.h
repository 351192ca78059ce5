// vipd's logging: levelled lines on spdlog, as keepalived-style text or one JSON object per line,
// with journald priorities when stdout is the journal and a rate limit on repeated warnings.
//
// Two ways to log, both through spdlog's default logger once setup() ran:
//   - plain calls, spdlog::info("...") anywhere: event "log", no instance;
//   - structured events, vipd::log::write(): an event name, the VRRP instance and data fields,
//     which the JSON format carries as keys (the text format shows only the message, which keeps
//     keepalived's wording).
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "log/rate_limiter.h"
#include "log/record.h"

namespace vipd::log {

enum class Format { text, json };

// "trace", "debug", "info", "warn", "error" (the --log-level values); nullopt otherwise.
std::optional<Level> parse_level(std::string_view name);
// "text", "json" (the --log-format values); nullopt otherwise.
std::optional<Format> parse_format(std::string_view name);

struct Options {
  Level level = Level::info;
  Format format = Format::text;
  // Where lines go. A journal stream (log/journal.h: stdout_is_journal()) gets `<N>` priority
  // prefixes and, in text, no timestamp (journald stamps every line itself).
  std::FILE* out = stdout;
  bool journal = false;
  RateLimits limits;
  // Time for the rate limiter only (lines carry the wall clock); tests inject their own.
  std::function<SteadyTime()> clock = [] { return std::chrono::steady_clock::now(); };
};

// Replaces spdlog's default logger with vipd's (named "vipd"). Call once at startup; calling it
// again (tests) replaces the previous one, writing its pending "suppressed" summaries first.
void setup(const Options& options);

// One structured event. `event` is a short snake_case name (state_change, advert_rejected, ...),
// `instance` the VRRP instance name or empty, `message` the human text (keepalived's wording),
// `fields` the event's data (JSON keys; a key equal to a fixed one gets a "data_" prefix).
// The strings are only read during the call.
void write(Level level, std::string_view event, std::string_view instance, std::string_view message,
           std::span<const Field> fields = {});
inline void write(Level level, std::string_view event, std::string_view instance,
                  std::string_view message, std::initializer_list<Field> fields) {
  write(level, event, instance, message, std::span<const Field>(fields.begin(), fields.size()));
}

// Writes the "suppressed N similar messages" line of every rate-limit window that has ended.
// Lines are checked as they come; call this from a periodic timer too, so the summary of a flood
// that stopped does not wait for the next warning.
void flush_suppressed();
// At exit: writes every pending summary, windows still open included, and flushes.
void shutdown();

}  // namespace vipd::log
