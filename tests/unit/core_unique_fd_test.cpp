// core::UniqueFd: exactly one owner closes a descriptor, once, whatever path it takes.
#include "vipd/core/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>

namespace vipd::core {
namespace {

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

// Both ends of a fresh pipe: two descriptors the test owns and can watch close.
std::array<int, 2> open_pipe() {
  std::array<int, 2> ends{-1, -1};
  EXPECT_EQ(pipe2(ends.data(), O_CLOEXEC), 0);
  return ends;
}

TEST(UniqueFdTest, HoldsNothingByDefault) {
  const UniqueFd fd;
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFdTest, ClosesWhatItHoldsWhenItGoes) {
  const auto [read_end, write_end] = open_pipe();
  {
    const UniqueFd owner(read_end);
    EXPECT_TRUE(owner.valid());
    EXPECT_EQ(owner.get(), read_end);
  }
  EXPECT_FALSE(is_open(read_end));
  EXPECT_TRUE(is_open(write_end));
  ::close(write_end);
}

TEST(UniqueFdTest, ResetClosesTheOldDescriptorAndHoldsTheNewOne) {
  const auto [read_end, write_end] = open_pipe();
  UniqueFd owner(read_end);
  owner.reset(write_end);
  EXPECT_FALSE(is_open(read_end));
  EXPECT_EQ(owner.get(), write_end);
  owner.reset();
  EXPECT_FALSE(is_open(write_end));
  EXPECT_FALSE(owner.valid());
}

TEST(UniqueFdTest, AMoveHandsOverOwnershipWithoutClosing) {
  const auto [read_end, write_end] = open_pipe();
  UniqueFd first(read_end);
  UniqueFd second(std::move(first));
  EXPECT_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): moved-from holds nothing
  EXPECT_EQ(second.get(), read_end);
  EXPECT_TRUE(is_open(read_end));

  UniqueFd third(write_end);
  third = std::move(second);  // the write end it held is closed, the read end carried over
  EXPECT_FALSE(is_open(write_end));
  EXPECT_EQ(third.get(), read_end);
  EXPECT_TRUE(is_open(read_end));
}

TEST(UniqueFdTest, ReleaseLeavesTheDescriptorOpenForTheCaller) {
  const auto [read_end, write_end] = open_pipe();
  UniqueFd owner(read_end);
  EXPECT_EQ(owner.release(), read_end);
  EXPECT_FALSE(owner.valid());
  EXPECT_TRUE(is_open(read_end));
  ::close(read_end);
  ::close(write_end);
}

}  // namespace
}  // namespace vipd::core
