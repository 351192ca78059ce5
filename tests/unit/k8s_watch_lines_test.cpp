// Splitting a watch stream into JSON lines whatever the chunk boundaries.
#include "k8s/watch_lines.h"

#include <gtest/gtest.h>

#include <vector>

#include "k8s_fixture.h"

namespace vipd::k8s {
namespace {

std::vector<std::string> split(WatchLines& lines, std::string_view chunk,
                               WatchLines::Fed expected = WatchLines::Fed::Continue) {
  std::vector<std::string> got;
  EXPECT_EQ(lines.feed(chunk,
                       [&](std::string_view line) {
                         got.emplace_back(line);
                         return true;
                       }),
            expected);
  return got;
}

TEST(WatchLines, ReassemblesTheRecordedStreamFedByteByByte) {
  const std::string stream = testing::fixture("watch_stream.jsonl");
  WatchLines lines(1 << 20);
  std::vector<std::string> got;
  for (const char byte : stream) {
    for (std::string& line : split(lines, std::string_view(&byte, 1))) got.push_back(line);
  }
  EXPECT_EQ(got, testing::fixture_lines("watch_stream.jsonl"));
  EXPECT_EQ(lines.pending(), 0u);
}

TEST(WatchLines, KeepsAPartialLineForTheNextChunk) {
  WatchLines lines(1024);
  EXPECT_EQ(split(lines, "{\"a\":1}\n{\"b\""), std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(lines.pending(), 4u);
  EXPECT_EQ(split(lines, ":2}\r\n\n\n{\"c\":3}\n"),
            (std::vector<std::string>{"{\"b\":2}", "{\"c\":3}"}));
}

TEST(WatchLines, StopsWhenTheHandlerSaysSo) {
  WatchLines lines(1024);
  std::vector<std::string> got;
  const auto fed = lines.feed("one\ntwo\nthree\n", [&](std::string_view line) {
    got.emplace_back(line);
    return line != "two";
  });
  EXPECT_EQ(fed, WatchLines::Fed::Stopped);
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(lines.pending(), 0u);
}

TEST(WatchLines, ALineBeyondTheLimitOverflows) {
  WatchLines lines(8);
  split(lines, "12345678", WatchLines::Fed::Continue);
  split(lines, "9", WatchLines::Fed::Overflow);
  EXPECT_EQ(lines.pending(), 0u);
  EXPECT_EQ(split(lines, "ok\n"), std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace vipd::k8s
