// Shared by tc_*_test.cpp and loader_*_test.cpp: TCP frames for BPF_PROG_TEST_RUN, summed per-CPU
// port counters, and scratch network namespaces (prefix vipdt) the test process steps into.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/prog_info.h"  // clear_opts
#include "vipd/bpf_abi.h"

// The generated skeleton is not warning-clean under our flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#include "vipd_tc.skel.h"
#pragma GCC diagnostic pop

namespace vipd::bpf::test {

inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kAck = 0x10;

struct TcpFrame {
  int family = 4;
  std::uint16_t source_port = 40000;
  std::uint16_t destination_port = 8080;
  std::uint8_t flags = kSyn;
  std::uint32_t seq = 0x12345678;
  std::uint8_t ipv4_header_words = 5;  // IHL; > 5 adds NOP options
  std::uint16_t ipv4_fragment_offset = 0;
  std::uint8_t protocol = 6;  // TCP
};

inline void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

inline void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  put16(out, static_cast<std::uint16_t>(value >> 16));
  put16(out, static_cast<std::uint16_t>(value));
}

// Ethernet + IPv4/IPv6 + TCP (20 bytes, no payload). Checksums are left zero: the tc program
// does not look at them.
inline std::vector<std::uint8_t> build_frame(const TcpFrame& frame) {
  std::vector<std::uint8_t> out = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  constexpr std::uint16_t kTcpSize = 20;
  if (frame.family == 4) {
    put16(out, 0x0800);
    std::uint16_t header_size = static_cast<std::uint16_t>(frame.ipv4_header_words * 4);
    out.push_back(static_cast<std::uint8_t>(0x40 | frame.ipv4_header_words));
    out.push_back(0);
    put16(out, static_cast<std::uint16_t>(header_size + kTcpSize));
    put16(out, 1);                           // id
    put16(out, frame.ipv4_fragment_offset);  // flags + offset (8-byte units)
    out.push_back(64);
    out.push_back(frame.protocol);
    put16(out, 0);
    put32(out, 0xC6120002);                                   // 198.18.0.2
    put32(out, 0xC6120001);                                   // 198.18.0.1
    for (int i = 20; i < header_size; ++i) out.push_back(1);  // NOP options
  } else {
    put16(out, 0x86DD);
    put32(out, 0x60000000);
    put16(out, kTcpSize);
    out.push_back(frame.protocol);
    out.push_back(64);
    const std::uint8_t source[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    const std::uint8_t destination[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0,
                                          0,    0, 0,    0,    0, 0,    0, 1};
    out.insert(out.end(), source, source + 16);
    out.insert(out.end(), destination, destination + 16);
  }
  put16(out, frame.source_port);
  put16(out, frame.destination_port);
  put32(out, frame.seq);
  put32(out, (frame.flags & kAck) ? 0x1000 : 0);
  out.push_back(5 << 4);
  out.push_back(frame.flags);
  put16(out, 65535);
  put16(out, 0);
  put16(out, 0);
  return out;
}

// Per-CPU port counters summed; false if the port has no entry.
inline bool read_port_stat(int stat_fd, std::uint16_t port, vipd_port_stat& total) {
  int cpus = libbpf_num_possible_cpus();
  std::vector<vipd_port_stat> values(static_cast<std::size_t>(cpus));
  if (bpf_map_lookup_elem(stat_fd, &port, values.data()) != 0) return false;
  total = {};
  for (const vipd_port_stat& value : values) {
    total.syn_rx += value.syn_rx;
    total.synack_tx += value.synack_tx;
    total.rst_tx += value.rst_tx;
    total.rst_rx += value.rst_rx;
    total.fin += value.fin;
    total.refused_events += value.refused_events;
  }
  return true;
}

inline int run_command(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Moves the whole test process into a private mount namespace once, so that a bpffs the loader
// mounts (or a tmpfs a test lays over /sys/fs/bpf) never shows on the host.
inline void enter_private_mount_namespace() {
  static bool done = false;
  if (done) return;
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  done = true;
}

// A named network namespace (vipdt-<tag>-<pid>) the calling thread enters for its lifetime; the
// destructor returns to the original namespace and deletes it, links included.
class ScratchNetns {
 public:
  explicit ScratchNetns(const std::string& tag)
      : name_("vipdt-" + tag + "-" + std::to_string(getpid())) {
    original_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    run_command("ip netns del " + name_);  // a leftover of an interrupted run
    if (run_command("ip netns add " + name_) != 0) return;
    int target = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) return;
    entered_ = setns(target, CLONE_NEWNET) == 0;
    close(target);
    if (entered_) entered_ = run_command("ip link set lo up") == 0;
  }
  ~ScratchNetns() {
    if (original_ >= 0) {
      setns(original_, CLONE_NEWNET);
      close(original_);
    }
    run_command("ip netns del " + name_);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

  bool ok() const { return entered_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int original_ = -1;
  bool entered_ = false;
};

}  // namespace vipd::bpf::test
