// The text and JSON line layouts: fixed fields, levels, escaping (quotes, control characters,
// non-ASCII, invalid UTF-8) and field keys.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "log/format.h"
#include "log/log.h"

namespace vipd::log {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2026-12-07 13:07:14.123 UTC, a Monday.
const std::chrono::system_clock::time_point kTime{seconds(1796648834) + milliseconds(123)};

class LogFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    saved_tz_ = tz == nullptr ? "" : tz;
    had_tz_ = tz != nullptr;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    if (had_tz_) {
      ::setenv("TZ", saved_tz_.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

  static Record record(std::string_view message, Level level = Level::info) {
    Record r;
    r.level = level;
    r.time = kTime;
    r.message = message;
    return r;
  }

 private:
  std::string saved_tz_;
  bool had_tz_ = false;
};

std::string json_string_of(std::string_view text) {
  std::string out;
  append_json_escaped(out, text);
  return out;
}

// The escaped text inside quotes must parse back, as JSON, to `expected`.
std::string round_trip(std::string_view text) {
  return nlohmann::json::parse("\"" + json_string_of(text) + "\"").get<std::string>();
}

TEST_F(LogFormat, TextKeepsTodaysLayoutWithTheLevel) {
  EXPECT_EQ(format_text(record("(VI_1) Entering MASTER STATE"), true),
            "Mon Dec 07 13:07:14.123 2026: INFO: (VI_1) Entering MASTER STATE");
}

TEST_F(LogFormat, TextForTheJournalHasNoTimestamp) {
  EXPECT_EQ(format_text(record("sending adverts failed", Level::warn), false),
            "WARN: sending adverts failed");
}

TEST_F(LogFormat, TextLevelWords) {
  const std::pair<Level, std::string> words[] = {
      {Level::trace, "TRACE"}, {Level::debug, "DEBUG"}, {Level::info, "INFO"},
      {Level::warn, "WARN"},   {Level::error, "ERROR"}, {Level::critical, "CRITICAL"}};
  for (const auto& [level, word] : words) {
    EXPECT_EQ(format_text(record("x", level), false), word + ": x");
  }
}

TEST_F(LogFormat, TextIsOneLineWhateverTheMessage) {
  // A script's output must not be able to forge a line of its own.
  const std::string line =
      format_text(record("notify script said: ok\n(VI_1) Entering MASTER STATE\r\x01"), true);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_NE(line.find("ok\\n(VI_1) Entering MASTER STATE\\r\\x01"), std::string::npos) << line;
}

TEST_F(LogFormat, TextKeepsUtf8AndEscapesInvalidBytes) {
  EXPECT_EQ(format_text(record("caf\xc3\xa9 \xe6\x97\xa5\tend"), false),
            "INFO: caf\xc3\xa9 \xe6\x97\xa5\\tend");
  EXPECT_EQ(format_text(record("bad \xff\xc0\xaf byte"), false), "INFO: bad \\xff\\xc0\\xaf byte");
}

TEST_F(LogFormat, JsonHasTheFixedFieldsThenTheData) {
  Record r = record("(VI_1) Entering MASTER STATE");
  r.event = "state_change";
  r.instance = "VI_1";
  const Field fields[] = {{"from", "BACKUP"}, {"to", "MASTER"}, {"reason", "master_down"}};
  r.fields = fields;
  const std::string line = format_json(r);
  EXPECT_EQ(line, R"({"time":"2026-12-07T13:07:14.123Z","level":"info","instance":"VI_1",)"
                  R"("event":"state_change","message":"(VI_1) Entering MASTER STATE",)"
                  R"("from":"BACKUP","to":"MASTER","reason":"master_down"})");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(line));
}

TEST_F(LogFormat, JsonTimeIsUtcWhateverTheTimeZone) {
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  const auto parsed = nlohmann::json::parse(format_json(record("x")));
  EXPECT_EQ(parsed["time"], "2026-12-07T13:07:14.123Z");
}

TEST_F(LogFormat, JsonPlainCallIsEventLogWithEmptyInstance) {
  const auto parsed = nlohmann::json::parse(format_json(record("Stopped vipd", Level::warn)));
  EXPECT_EQ(parsed["level"], "warn");
  EXPECT_EQ(parsed["event"], "log");
  EXPECT_EQ(parsed["instance"], "");
  EXPECT_EQ(parsed["message"], "Stopped vipd");
  EXPECT_EQ(parsed.size(), 5u);
}

TEST_F(LogFormat, JsonFieldNamedLikeAFixedKeyIsPrefixed) {
  Record r = record("x");
  const Field fields[] = {{"time", "later"}, {"message", "other"}, {"count", "3"}};
  r.fields = fields;
  const auto parsed = nlohmann::json::parse(format_json(r));
  EXPECT_EQ(parsed["time"], "2026-12-07T13:07:14.123Z");
  EXPECT_EQ(parsed["message"], "x");
  EXPECT_EQ(parsed["data_time"], "later");
  EXPECT_EQ(parsed["data_message"], "other");
  EXPECT_EQ(parsed["count"], "3");
}

TEST(JsonEscaping, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string_of(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(json_string_of("a\nb\rc\td\be\ff"), R"(a\nb\rc\td\be\ff)");
  EXPECT_EQ(json_string_of(std::string_view("\x01\x1f\x7f\0", 4)), R"(\u0001\u001f\u007f\u0000)");
}

TEST(JsonEscaping, ValidUtf8IsKeptAsIs) {
  const std::string text = "caf\xc3\xa9 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
  EXPECT_EQ(json_string_of(text), text);
  EXPECT_EQ(round_trip(text), text);
}

TEST(JsonEscaping, InvalidUtf8BecomesReplacementCharacters) {
  const std::string replacement = "\xef\xbf\xbd";
  // A lone continuation byte, a byte never valid, an overlong '/', a UTF-16 surrogate, a code
  // point beyond U+10FFFF, and a sequence cut short by the end of the text.
  EXPECT_EQ(round_trip("a\x80z"), "a" + replacement + "z");
  EXPECT_EQ(round_trip("a\xffz"), "a" + replacement + "z");
  EXPECT_EQ(round_trip("a\xc0\xafz"), "a" + replacement + replacement + "z");
  EXPECT_EQ(round_trip("a\xed\xa0\x80z"), "a" + replacement + replacement + replacement + "z");
  EXPECT_EQ(round_trip("a\xf4\x90\x80\x80z"),
            "a" + replacement + replacement + replacement + replacement + "z");
  EXPECT_EQ(round_trip("end\xe2\x82"), "end" + replacement + replacement);
}

TEST(JsonEscaping, EveryByteValueGivesValidJson) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
  EXPECT_NO_THROW((void)round_trip(all));
  Record r;
  r.message = all;
  r.instance = all;
  const Field fields[] = {{all, all}};
  r.fields = fields;
  EXPECT_TRUE(nlohmann::json::accept(format_json(r)));
}

TEST(LogOptionValues, LevelsAndFormats) {
  EXPECT_EQ(parse_level("trace"), Level::trace);
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("info"), Level::info);
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_EQ(parse_level("error"), Level::error);
  EXPECT_FALSE(parse_level("INFO"));
  EXPECT_FALSE(parse_level("warning"));
  EXPECT_FALSE(parse_level(""));
  EXPECT_EQ(parse_format("text"), Format::text);
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_FALSE(parse_format("JSON"));
  EXPECT_FALSE(parse_format("logfmt"));
  EXPECT_FALSE(parse_format(""));
}

}  // namespace
}  // namespace vipd::log
