// vipd's logger end to end through spdlog: plain spdlog calls and structured events in both
// formats, level filtering, journald prefixes, and the rate limit with an injected clock.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "log/log.h"

namespace vipd::log {
namespace {

using std::chrono::seconds;

// "Mon Dec 07 13:07:14.123 2026: " at the start of `line`: 'A' a letter, '0' a digit.
bool starts_with_timestamp(const std::string& line) {
  constexpr std::string_view kMask = "Aaa Aaa 00 00:00:00.000 0000: ";
  if (line.size() < kMask.size()) return false;
  for (std::size_t i = 0; i < kMask.size(); ++i) {
    const char c = line[i];
    const bool ok = kMask[i] == 'A'   ? std::isupper(static_cast<unsigned char>(c)) != 0
                    : kMask[i] == 'a' ? std::islower(static_cast<unsigned char>(c)) != 0
                    : kMask[i] == '0' ? std::isdigit(static_cast<unsigned char>(c)) != 0
                                      : c == kMask[i];
    if (!ok) return false;
  }
  return true;
}

// Captures what the logger writes (open_memstream) and steps the rate limiter's clock by hand.
class Logger : public ::testing::Test {
 protected:
  void TearDown() override {
    setup_with_output(nullptr);  // back to stdout before the memory stream goes away
    if (out_ != nullptr) std::fclose(out_);
    std::free(buffer_);
  }

  void start(Format format, Level level = Level::trace, bool journal = false,
             std::size_t burst = 3) {
    out_ = open_memstream(&buffer_, &size_);
    ASSERT_NE(out_, nullptr);
    Options options;
    options.format = format;
    options.level = level;
    options.journal = journal;
    options.limits.burst = burst;
    options.limits.window = seconds(60);
    options.clock = [this] { return now_; };
    options.out = out_;
    setup(options);
  }

  static void setup_with_output(std::FILE* out) {
    Options options;
    if (out != nullptr) options.out = out;
    setup(options);
  }

  std::vector<std::string> lines() {
    std::fflush(out_);
    std::vector<std::string> out;
    std::istringstream stream(std::string(buffer_, size_));
    for (std::string line; std::getline(stream, line);) out.push_back(line);
    return out;
  }

  std::vector<nlohmann::json> json_lines() {
    std::vector<nlohmann::json> out;
    for (const std::string& line : lines()) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  SteadyTime now_{seconds(5000)};

 private:
  std::FILE* out_ = nullptr;
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
};

TEST_F(Logger, PlainSpdlogCallsAreLevelledTextLines) {
  start(Format::text);
  spdlog::info("Starting vipd {} on {}", "0.1.0", "eth0");
  spdlog::warn("sending adverts failed: {}", "EPERM");
  const auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  // "Mon Dec 07 13:07:14.123 2026: INFO: ..." (local time).
  EXPECT_TRUE(starts_with_timestamp(out[0])) << out[0];
  EXPECT_EQ(out[0].substr(30), "INFO: Starting vipd 0.1.0 on eth0");
  EXPECT_TRUE(starts_with_timestamp(out[1])) << out[1];
  EXPECT_EQ(out[1].substr(30), "WARN: sending adverts failed: EPERM");
}

TEST_F(Logger, PlainSpdlogCallsAreValidJsonWithEventLog) {
  start(Format::json);
  spdlog::error("cannot add VIP: {}", "File \"exists\"\n");
  const auto out = json_lines();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["level"], "error");
  EXPECT_EQ(out[0]["event"], "log");
  EXPECT_EQ(out[0]["instance"], "");
  EXPECT_EQ(out[0]["message"], "cannot add VIP: File \"exists\"\n");
  EXPECT_TRUE(out[0]["time"].get<std::string>().ends_with("Z"));
}

TEST_F(Logger, StructuredEventsCarryInstanceEventAndData) {
  start(Format::json);
  write(Level::info, "state_change", "web_VIP_1", "(web_VIP_1) Entering MASTER STATE",
        {{"from", "BACKUP"}, {"to", "MASTER"}, {"reason", "master_down"}});
  const auto out = json_lines();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["level"], "info");
  EXPECT_EQ(out[0]["instance"], "web_VIP_1");
  EXPECT_EQ(out[0]["event"], "state_change");
  EXPECT_EQ(out[0]["message"], "(web_VIP_1) Entering MASTER STATE");
  EXPECT_EQ(out[0]["from"], "BACKUP");
  EXPECT_EQ(out[0]["to"], "MASTER");
  EXPECT_EQ(out[0]["reason"], "master_down");
}

TEST_F(Logger, StructuredEventsInTextShowTheMessageOnly) {
  start(Format::text);
  write(Level::info, "state_change", "web_VIP_1", "(web_VIP_1) Entering MASTER STATE",
        {{"from", "BACKUP"}});
  const auto out = lines();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ends_with(": INFO: (web_VIP_1) Entering MASTER STATE")) << out[0];
}

TEST_F(Logger, APlainCallAfterAnEventIsNotTaggedWithIt) {
  start(Format::json);
  write(Level::info, "state_change", "web_VIP_1", "one");
  spdlog::info("two");
  const auto out = json_lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1]["event"], "log");
  EXPECT_EQ(out[1]["instance"], "");
}

TEST_F(Logger, LinesBelowTheLevelAreDropped) {
  start(Format::json, Level::warn);
  spdlog::info("plain info");
  spdlog::debug("plain debug");
  write(Level::info, "state_change", "VI_1", "event info");
  write(Level::warn, "vip_removed", "VI_1", "event warn");
  spdlog::error("plain error");
  const auto out = json_lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["message"], "event warn");
  EXPECT_EQ(out[1]["message"], "plain error");
}

TEST_F(Logger, JournalLinesStartWithThePriorityAndHaveNoTimestamp) {
  start(Format::text, Level::trace, true);
  spdlog::debug("d");
  spdlog::info("(VI_1) Entering MASTER STATE");
  spdlog::warn("w");
  spdlog::error("e");
  spdlog::critical("c");
  const std::vector<std::string> expected = {"<7>DEBUG: d", "<6>INFO: (VI_1) Entering MASTER STATE",
                                             "<4>WARN: w", "<3>ERROR: e", "<2>CRITICAL: c"};
  EXPECT_EQ(lines(), expected);
}

TEST_F(Logger, JournalJsonLinesKeepTheirTime) {
  start(Format::json, Level::trace, true);
  write(Level::warn, "advert_rejected", "VI_1", "bogus VRRP packet");
  const auto out = lines();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].starts_with("<4>{")) << out[0];
  const auto parsed = nlohmann::json::parse(out[0].substr(3));
  EXPECT_TRUE(parsed.contains("time"));
  EXPECT_EQ(parsed["level"], "warn");
}

TEST_F(Logger, RepeatedWarningsAreSuppressedAndSummarised) {
  start(Format::json, Level::trace, false, 3);
  for (int i = 0; i < 10; ++i) {
    const std::string text = "(VI_1) bogus VRRP packet from 198.18.0." + std::to_string(i);
    write(Level::warn, "advert_rejected", "VI_1", text, {{"source", "198.18.0.x"}});
    now_ += seconds(1);
  }
  for (int i = 0; i < 4; ++i) spdlog::warn("ARP watch: ring buffer full");
  ASSERT_EQ(lines().size(), 6u) << "3 of each kind";

  now_ += seconds(30);
  flush_suppressed();
  ASSERT_EQ(lines().size(), 6u) << "the windows are still open";

  now_ += seconds(31);
  flush_suppressed();
  const auto out = json_lines();
  ASSERT_EQ(out.size(), 8u);
  std::map<std::string, nlohmann::json> summaries;
  for (std::size_t i = 6; i < 8; ++i) summaries[out[i]["event"]] = out[i];
  const auto& rejected = summaries.at("advert_rejected");
  EXPECT_EQ(rejected["level"], "warn");
  EXPECT_EQ(rejected["instance"], "VI_1");
  EXPECT_EQ(rejected["suppressed"], "7");
  EXPECT_EQ(rejected["window_s"], "60");
  EXPECT_EQ(rejected["message"],
            "suppressed 7 similar messages (last: (VI_1) bogus VRRP packet from 198.18.0.9)");
  const auto& plain = summaries.at("log");
  EXPECT_EQ(plain["suppressed"], "1");
  EXPECT_EQ(plain["message"], "suppressed 1 similar messages (last: ARP watch: ring buffer full)");

  // A new window: the burst is written again.
  spdlog::warn("ARP watch: ring buffer full");
  EXPECT_EQ(lines().size(), 9u);
}

TEST_F(Logger, TheNextLineAfterTheWindowBringsTheSummaryFirst) {
  start(Format::text, Level::trace, false, 1);
  for (int i = 0; i < 3; ++i) spdlog::warn("same");
  now_ += seconds(60);
  spdlog::warn("same");
  const auto out = lines();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[1].ends_with("WARN: suppressed 2 similar messages (last: same)")) << out[1];
  EXPECT_TRUE(out[2].ends_with("WARN: same")) << out[2];
}

TEST_F(Logger, ShutdownWritesSummariesOfOpenWindows) {
  start(Format::text, Level::trace, false, 1);
  for (int i = 0; i < 5; ++i) spdlog::error("netlink: No buffer space available");
  shutdown();
  const auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(
      out[1].ends_with("ERROR: suppressed 4 similar messages (last: netlink: No buffer space "
                       "available)"))
      << out[1];
}

TEST_F(Logger, StateChangesAreNeverSuppressed) {
  start(Format::text, Level::trace, false, 1);
  for (int i = 0; i < 20; ++i) write(Level::info, "state_change", "VI_1", "Entering MASTER STATE");
  EXPECT_EQ(lines().size(), 20u);
}

}  // namespace
}  // namespace vipd::log
