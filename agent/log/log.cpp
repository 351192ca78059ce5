#include "log/log.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "log/event_context.h"
#include "log/line_sink.h"

namespace vipd::log {
namespace {

thread_local const detail::EventContext* t_current_event = nullptr;

// The sink of the logger setup() installed, for flush_suppressed() and shutdown().
std::shared_ptr<LineSink>& installed_sink() {
  static std::shared_ptr<LineSink> sink;
  return sink;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace:
      return spdlog::level::trace;
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
    case Level::critical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

// Sets the current event for one logger call; cleared on every exit path.
class EventScope {
 public:
  explicit EventScope(const detail::EventContext& context) { t_current_event = &context; }
  ~EventScope() { t_current_event = nullptr; }
  EventScope(const EventScope&) = delete;
  EventScope& operator=(const EventScope&) = delete;
};

}  // namespace

namespace detail {
const EventContext* current_event() {
  return t_current_event;
}
}  // namespace detail

std::optional<Level> parse_level(std::string_view name) {
  for (Level level : {Level::trace, Level::debug, Level::info, Level::warn, Level::error}) {
    if (name == level_name(level)) return level;
  }
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::nullopt;
}

void setup(const Options& options) {
  if (auto& previous = installed_sink()) previous->drain();
  auto sink = std::make_shared<LineSink>(options);
  auto logger = std::make_shared<spdlog::logger>("vipd", sink);
  logger->set_level(to_spdlog(options.level));
  spdlog::set_default_logger(logger);
  installed_sink() = std::move(sink);
}

void write(Level level, std::string_view event, std::string_view instance, std::string_view message,
           std::span<const Field> fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  const spdlog::level::level_enum spd_level = to_spdlog(level);
  if (!logger->should_log(spd_level)) return;
  const detail::EventContext context{event, instance, fields};
  EventScope scope(context);
  logger->log(spd_level, spdlog::string_view_t(message.data(), message.size()));
}

void flush_suppressed() {
  if (auto& sink = installed_sink()) sink->flush_suppressed();
}

void shutdown() {
  if (auto& sink = installed_sink()) sink->drain();
}

}  // namespace vipd::log
