// Internet checksum (RFC 1071) and the VRRP pseudo-headers, against hand-computed values and a
// deliberately naive reference so that an optimised summing loop cannot drift.
#include "vipd/core/checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "vipd/core/ip_address.h"

namespace vipd::core {
namespace {

IpAddress ip(const char* text) {
  const std::optional<IpAddress> parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

// Word-at-a-time with a 64-bit accumulator and a final fold: the textbook definition.
std::uint16_t reference_fold(std::uint64_t initial, const std::vector<std::uint8_t>& bytes) {
  std::uint64_t sum = initial;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    const std::uint64_t low = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += (std::uint64_t{bytes[i]} << 8) | low;
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

TEST(Checksum, Rfc1071ExampleSum) {
  // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2 (after the end-around carry).
  const std::vector<std::uint8_t> bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(fold(checksum_add(0, bytes)), 0xddf2);
  EXPECT_EQ(checksum_finish(checksum_add(0, bytes)), 0x220d);
}

TEST(Checksum, OddTrailingByteIsPaddedWithZeroOnTheRight) {
  const std::vector<std::uint8_t> one = {0xab};
  EXPECT_EQ(fold(checksum_add(0, one)), 0xab00);
  const std::vector<std::uint8_t> three = {0x12, 0x34, 0x56};
  EXPECT_EQ(fold(checksum_add(0, three)), 0x1234 + 0x5600);
}

TEST(Checksum, EmptyInputKeepsTheInitialSum) {
  EXPECT_EQ(fold(checksum_add(0x1234, {})), 0x1234);
  EXPECT_EQ(checksum_finish(0), 0xFFFF);
}

TEST(Checksum, FinishFoldsCarriesThenInverts) {
  EXPECT_EQ(checksum_finish(0xFFFF), 0x0000);
  EXPECT_EQ(checksum_finish(0x1FFFE), 0x0000);  // 0xFFFE + 1 = 0xFFFF
  EXPECT_EQ(checksum_finish(0x0001'0000), 0xFFFE);
  EXPECT_EQ(checksum_finish(0xFFFF'FFFF), 0x0000);
  EXPECT_EQ(checksum_finish(0x5C0F), 0xA3F0);
}

TEST(Checksum, MessageWithItsChecksumSumsToAllOnes) {
  // The keepalived-style v2 advert of advert_test.cpp, checksum a9f in place.
  const std::vector<std::uint8_t> advert = {0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x0a,
                                            0x9f, 0xc6, 0x12, 0x00, 0x64, 'i',  'p',
                                            'f',  'a',  'i',  'l',  'o',  'v'};
  EXPECT_EQ(checksum_finish(checksum_add(0, advert)), 0);
}

TEST(Checksum, SplittingAtAnEvenOffsetGivesTheSameSum) {
  std::vector<std::uint8_t> bytes(37);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + 11);
  const std::span<const std::uint8_t> all(bytes);
  const std::uint32_t whole = checksum_add(0, all);
  for (std::size_t split = 0; split <= bytes.size(); split += 2) {
    const std::uint32_t parts = checksum_add(checksum_add(0, all.first(split)), all.subspan(split));
    EXPECT_EQ(fold(parts), fold(whole)) << "split at " << split;
  }
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
  std::mt19937 random(20240518);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> storage(300);
  for (std::uint8_t& b : storage) b = static_cast<std::uint8_t>(byte(random));
  const std::uint32_t initials[] = {0, 1, 0x70, 0xFFFF, 0x1FFFE, 0x2'0000, 0xFFFF'0000};
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length = 0; length + offset <= storage.size(); ++length) {
      const std::span<const std::uint8_t> bytes(storage.data() + offset, length);
      const std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
      for (const std::uint32_t initial : initials) {
        ASSERT_EQ(fold(checksum_add(initial, bytes)), reference_fold(initial, copy))
            << "offset " << offset << " length " << length << " initial " << initial;
      }
    }
  }
}

TEST(Checksum, NoCarryIsLostOnLongInputs) {
  // 2^20 bytes of 0xFF: 2^19 words of 0xFFFF overflow a 32-bit accumulator that only folds at the
  // end; the one's-complement sum of any number of 0xFFFF words is 0xFFFF.
  const std::vector<std::uint8_t> ones(1 << 20, 0xFF);
  EXPECT_EQ(fold(checksum_add(0, ones)), 0xFFFF);
  std::vector<std::uint8_t> mixed(1 << 20);
  for (std::size_t i = 0; i < mixed.size(); ++i)
    mixed[i] = static_cast<std::uint8_t>(0xF0 + i % 16);
  EXPECT_EQ(fold(checksum_add(0xFFFF'FFFF, mixed)), reference_fold(0xFFFF'FFFF, mixed));
}

TEST(PseudoHeader, Ipv4HandComputed) {
  // c612 + 0001 + e000 + 0012 + 0070 (zero, protocol 112) + 000c (length 12) = 1a6a1 -> a6a2.
  EXPECT_EQ(fold(pseudo_header_sum(ip("198.18.0.1"), ip("224.0.0.18"), 12)), 0xa6a2);
}

TEST(PseudoHeader, Ipv6HandComputed) {
  // fe80 + 0001 + ff02 + 0012 + 0000 0018 (32-bit length) + 0070 (next header) = 1fe1d -> fe1e.
  EXPECT_EQ(fold(pseudo_header_sum(ip("fe80::1"), ip("ff02::12"), 24)), 0xfe1e);
}

TEST(PseudoHeader, Ipv6LengthIsThirtyTwoBits) {
  // The upper half of the length is its own word: 0x10018 adds 0001 + 0018.
  EXPECT_EQ(fold(pseudo_header_sum(ip("fe80::1"), ip("ff02::12"), 0x10018)), 0xfe1f);
}

TEST(PseudoHeader, DependsOnSourceDestinationAndLength) {
  const std::uint16_t base = fold(pseudo_header_sum(ip("fe80::1"), ip("ff02::12"), 24));
  EXPECT_NE(fold(pseudo_header_sum(ip("fe80::1"), ip("fd00:198:18::2"), 24)), base);
  EXPECT_NE(fold(pseudo_header_sum(ip("fe80::2"), ip("ff02::12"), 24)), base);
  EXPECT_NE(fold(pseudo_header_sum(ip("fe80::1"), ip("ff02::12"), 40)), base);
}

}  // namespace
}  // namespace vipd::core
