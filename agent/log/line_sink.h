// The spdlog sink behind vipd's logger: turns each spdlog message (plain call or structured event)
// into a Record, applies the rate limit, formats it as text or JSON, adds the journald priority
// and writes one line to the output stream.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

#include "log/log.h"
#include "log/rate_limiter.h"

namespace vipd::log {

class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LineSink(const Options& options);
  ~LineSink() override;

  // Writes the summaries of ended rate-limit windows (see log.h: flush_suppressed()).
  void flush_suppressed();
  // Writes every pending summary and flushes (see log.h: shutdown()).
  void drain();

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override;

 private:
  void emit(const Record& record);
  void emit_summaries(std::vector<Suppressed> summaries);

  Format format_;
  std::FILE* out_;
  bool journal_;
  std::function<SteadyTime()> clock_;
  RateLimiter limiter_;
  std::string line_;  // reused buffer
};

}  // namespace vipd::log
