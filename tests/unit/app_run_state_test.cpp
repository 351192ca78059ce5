// The state file `vipd cleanup` reads after a crash: it round-trips, it is replaced atomically, a
// VIP is in it from before it is added until after it is removed, and a clean stop removes it.
#include "app/run_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace vipd::app {
namespace {

config::Vip vip(std::uint32_t last_octet, std::uint8_t prefix = 32) {
  return config::Vip{core::IpAddress::v4(0xC6120000 + last_octet), prefix};
}

class RunStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vipd-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "run" / "vipd" / "eth0.state").string();  // directories created on demand
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(RunStateTest, RoundTrips) {
  RunState state;
  state.interface = "eth0";
  state.pid = 4242;
  state.netns = 4026531840;
  state.vips = {vip(100), {core::IpAddress::parse("fd00:198:18::100").value(), 128}};
  state.xdp_prog_id = 77;
  state.tc = {{"eth0", 78, 79}, {"lo", 80, 81}};
  state.pin_dir = "/sys/fs/bpf/vipd/eth0";
  state.firewall_undo = {{"/usr/sbin/nft", "delete table inet vipd_eth0"}};
  const auto parsed = parse_run_state(to_json(state));
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_EQ(*parsed, state);
}

TEST_F(RunStateTest, GarbageIsAnErrorNotAGuess) {
  EXPECT_FALSE(parse_run_state("").ok());
  EXPECT_FALSE(parse_run_state("[]").ok());
  EXPECT_FALSE(parse_run_state(R"({"interface":"eth0","vips":["198.18.0.300/32"]})").ok());
  EXPECT_FALSE(parse_run_state(R"({"interface":"eth0","vips":["198.18.0.1/33"]})").ok());
  EXPECT_FALSE(parse_run_state(R"({"vips":[]})").ok()) << "no interface";
}

TEST_F(RunStateTest, VipsAreRecordedAndForgottenAndACleanStopRemovesTheFile) {
  RunStateFile file(path_);
  file.state().interface = "eth0";
  file.add_vips({vip(100), vip(101)});
  auto read = read_run_state(path_);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->vips, (std::vector<config::Vip>{vip(100), vip(101)}));
  file.add_vips({vip(101), vip(102)});
  EXPECT_EQ(read_run_state(path_)->vips, (std::vector<config::Vip>{vip(100), vip(101), vip(102)}));
  file.remove_vips({vip(100)});
  EXPECT_EQ(read_run_state(path_)->vips, (std::vector<config::Vip>{vip(101), vip(102)}));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp")) << "the temporary file was renamed";
  file.remove();
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_FALSE(read_run_state(path_).ok());
}

TEST_F(RunStateTest, AnUnwritableDirectoryDoesNotStopAnything) {
  RunStateFile file("/proc/vipd-no-such-dir/eth0.state");
  file.add_vips({vip(100)});  // logged once, no exception, no abort
  EXPECT_EQ(file.state().vips.size(), 1u);
}

TEST_F(RunStateTest, NamespaceIdentity) {
  EXPECT_NE(current_netns(), 0u);
}

}  // namespace
}  // namespace vipd::app
