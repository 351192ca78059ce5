// journald detection (JOURNAL_STREAM against the fd's device and inode) and priority prefixes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "log/journal.h"

namespace vipd::log {
namespace {

std::string dev_inode(int fd) {
  struct stat info {};
  EXPECT_EQ(fstat(fd, &info), 0);
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino);
}

class JournalStream : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
    ASSERT_EQ(pipe(pipe_), 0);
  }
  void TearDown() override {
    std::fclose(file_);
    close(pipe_[0]);
    close(pipe_[1]);
  }
  int fd() const { return fileno(file_); }

  std::FILE* file_ = nullptr;
  int pipe_[2] = {-1, -1};
};

TEST_F(JournalStream, MatchesTheStreamItNames) {
  EXPECT_TRUE(is_journal_stream(fd(), dev_inode(fd()).c_str()));
}

TEST_F(JournalStream, AnotherStreamDoesNotMatch) {
  // Redirected output, or a child that inherited the variable but not the stream.
  EXPECT_FALSE(is_journal_stream(pipe_[1], dev_inode(fd()).c_str()));
  EXPECT_FALSE(is_journal_stream(fd(), dev_inode(pipe_[1]).c_str()));
}

TEST_F(JournalStream, UnsetOrMalformedVariableDoesNotMatch) {
  const std::string good = dev_inode(fd());
  const std::string inode_only = good.substr(good.find(':'));
  const std::string dev_only = good.substr(0, good.find(':') + 1);
  for (const std::string& bad : {std::string(), std::string("garbage"), inode_only, dev_only,
                                 good + "x", good + ":1", " " + good, "-" + good}) {
    EXPECT_FALSE(is_journal_stream(fd(), bad.c_str())) << "'" << bad << "'";
  }
  EXPECT_FALSE(is_journal_stream(fd(), nullptr));
}

TEST_F(JournalStream, ClosedDescriptorDoesNotMatch) {
  EXPECT_FALSE(is_journal_stream(-1, dev_inode(fd()).c_str()));
}

TEST(JournalPrefix, SyslogPrioritiesOfSdDaemon) {
  EXPECT_EQ(journal_prefix(Level::trace), "<7>");
  EXPECT_EQ(journal_prefix(Level::debug), "<7>");
  EXPECT_EQ(journal_prefix(Level::info), "<6>");
  EXPECT_EQ(journal_prefix(Level::warn), "<4>");
  EXPECT_EQ(journal_prefix(Level::error), "<3>");
  EXPECT_EQ(journal_prefix(Level::critical), "<2>");
}

}  // namespace
}  // namespace vipd::log
