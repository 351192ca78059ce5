#include "log/line_sink.h"

#include <fmt/format.h>

#include "log/event_context.h"
#include "log/format.h"
#include "log/journal.h"

namespace vipd::log {
namespace {

Level from_spdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return Level::trace;
    case spdlog::level::debug:
      return Level::debug;
    case spdlog::level::info:
      return Level::info;
    case spdlog::level::warn:
      return Level::warn;
    case spdlog::level::err:
      return Level::error;
    case spdlog::level::critical:
    case spdlog::level::off:
    case spdlog::level::n_levels:
      return Level::critical;
  }
  return Level::critical;
}

}  // namespace

LineSink::LineSink(const Options& options)
    : format_(options.format),
      out_(options.out),
      journal_(options.journal),
      clock_(options.clock),
      limiter_(options.limits) {}

LineSink::~LineSink() {
  drain();
}

void LineSink::flush_suppressed() {
  std::lock_guard<std::mutex> lock(mutex_);
  emit_summaries(limiter_.expire(clock_()));
  std::fflush(out_);
}

void LineSink::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  emit_summaries(limiter_.drain());
  std::fflush(out_);
}

void LineSink::sink_it_(const spdlog::details::log_msg& message) {
  Record record;
  record.level = from_spdlog(message.level);
  record.time = message.time;
  record.message = std::string_view(message.payload.data(), message.payload.size());
  if (const detail::EventContext* event = detail::current_event()) {
    record.event = event->event;
    record.instance = event->instance;
    record.fields = event->fields;
  }
  const SteadyTime now = clock_();
  emit_summaries(limiter_.expire(now));
  if (!limiter_.admit(record, now)) return;
  emit(record);
}

void LineSink::flush_() {
  std::fflush(out_);
}

void LineSink::emit(const Record& record) {
  line_.clear();
  if (journal_) line_ += journal_prefix(record.level);
  line_ += format_ == Format::json ? format_json(record) : format_text(record, !journal_);
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
  std::fflush(out_);
}

void LineSink::emit_summaries(std::vector<Suppressed> summaries) {
  const auto window_s = std::chrono::duration_cast<std::chrono::seconds>(limiter_.limits().window);
  for (const Suppressed& summary : summaries) {
    const std::string count = std::to_string(summary.count);
    const std::string window = std::to_string(window_s.count());
    const std::string text = fmt::format("suppressed {} similar messages (last: {})", summary.count,
                                         summary.last_message);
    const Field fields[] = {{"suppressed", count}, {"window_s", window}};
    Record record;
    record.level = summary.level;
    record.time = std::chrono::system_clock::now();
    record.event = summary.event;
    record.instance = summary.instance;
    record.message = text;
    record.fields = fields;
    emit(record);
  }
}

}  // namespace vipd::log
