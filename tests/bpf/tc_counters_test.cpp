// bpf/vipd_tc.bpf.c under BPF_PROG_TEST_RUN: crafted Ethernet+IP+TCP frames through the ingress
// and egress programs, then the per-CPU port counters and the refusal events.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tc_test_support.h"
#include "vipd/bpf_abi.h"

namespace vipd::bpf::test {
namespace {

constexpr std::uint16_t kMonitored = 8080;
constexpr std::uint16_t kUnmonitored = 9090;
constexpr std::uint16_t kEphemeral = 40000;

class TcCountersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One CPU for the whole test, so the per-CPU rst_tx copied into events is predictable.
    ASSERT_EQ(sched_getaffinity(0, sizeof(saved_affinity_), &saved_affinity_), 0);
    cpu_set_t one{};
    CPU_SET(sched_getcpu(), &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    skel_ = vipd_tc__open_and_load();
    ASSERT_NE(skel_, nullptr) << "vipd_tc load failed: " << std::strerror(errno);
    ports_fd_ = bpf_map__fd(skel_->maps.vipd_ports);
    stat_fd_ = bpf_map__fd(skel_->maps.vipd_port_stat);
    monitor(kMonitored);
    events_ = ring_buffer__new(bpf_map__fd(skel_->maps.vipd_tc_events), &TcCountersTest::on_event,
                               this, nullptr);
    ASSERT_NE(events_, nullptr);
  }
  void TearDown() override {
    ring_buffer__free(events_);
    vipd_tc__destroy(skel_);
    sched_setaffinity(0, sizeof(saved_affinity_), &saved_affinity_);
  }

  // As the loader does: the port and a zeroed per-CPU counter entry.
  void monitor(std::uint16_t port, bool with_counters = true) {
    vipd_port_cfg cfg{};
    ASSERT_EQ(bpf_map_update_elem(ports_fd_, &port, &cfg, BPF_ANY), 0);
    if (!with_counters) return;
    std::vector<vipd_port_stat> zero(static_cast<std::size_t>(libbpf_num_possible_cpus()));
    ASSERT_EQ(bpf_map_update_elem(stat_fd_, &port, zero.data(), BPF_NOEXIST), 0);
  }

  // Runs `frame` through the program of `direction` and checks that it never interferes.
  void run(bool ingress, const TcpFrame& frame) {
    std::vector<std::uint8_t> data = build_frame(frame);
    bpf_test_run_opts opts;
    clear_opts(opts);
    opts.data_in = data.data();
    opts.data_size_in = static_cast<std::uint32_t>(data.size());
    opts.repeat = 1;
    bpf_program* program = ingress ? skel_->progs.vipd_tc_ingress : skel_->progs.vipd_tc_egress;
    ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(program), &opts), 0) << std::strerror(errno);
    EXPECT_EQ(static_cast<int>(opts.retval), TC_ACT_UNSPEC);
  }
  void ingress(const TcpFrame& frame) { run(true, frame); }
  void egress(const TcpFrame& frame) { run(false, frame); }

  vipd_port_stat stat(std::uint16_t port = kMonitored) {
    vipd_port_stat total{};
    EXPECT_TRUE(read_port_stat(stat_fd_, port, total)) << "no counters for port " << port;
    return total;
  }

  int consume_events() {
    int count = ring_buffer__consume(events_);
    EXPECT_GE(count, 0);
    return count;
  }

  vipd_port_cfg port_cfg(std::uint16_t port = kMonitored) {
    vipd_port_cfg cfg{};
    EXPECT_EQ(bpf_map_lookup_elem(ports_fd_, &port, &cfg), 0);
    return cfg;
  }

  static int on_event(void* context, void* data, std::size_t size) {
    auto* self = static_cast<TcCountersTest*>(context);
    EXPECT_EQ(size, sizeof(vipd_port_event));
    vipd_port_event event{};
    std::memcpy(&event, data, std::min(size, sizeof(event)));
    self->events_seen_.push_back(event);
    return 0;
  }

  // Segments as seen at the local port: ingress arrives at it, egress leaves it.
  static TcpFrame arriving(std::uint8_t flags, int family = 4) {
    TcpFrame frame;
    frame.family = family;
    frame.source_port = kEphemeral;
    frame.destination_port = kMonitored;
    frame.flags = flags;
    return frame;
  }
  static TcpFrame leaving(std::uint8_t flags, int family = 4, std::uint32_t seq = 0x12345678) {
    TcpFrame frame;
    frame.family = family;
    frame.source_port = kMonitored;
    frame.destination_port = kEphemeral;
    frame.flags = flags;
    frame.seq = seq;
    return frame;
  }

  cpu_set_t saved_affinity_{};
  vipd_tc* skel_ = nullptr;
  ring_buffer* events_ = nullptr;
  int ports_fd_ = -1;
  int stat_fd_ = -1;
  std::vector<vipd_port_event> events_seen_;
};

TEST_F(TcCountersTest, IncomingSynCountsOnlyWithoutAck) {
  ingress(arriving(kSyn));
  ingress(arriving(kSyn | kAck));  // the SYN-ACK of an outgoing connection from our port
  vipd_port_stat counters = stat();
  EXPECT_EQ(counters.syn_rx, 1u);
  EXPECT_EQ(counters.synack_tx, 0u);
  EXPECT_EQ(counters.rst_rx, 0u);
  EXPECT_EQ(counters.fin, 0u);
}

TEST_F(TcCountersTest, OutgoingSynAckCounts) {
  egress(leaving(kSyn | kAck));
  egress(leaving(kSyn));  // our port opening a connection is not a SYN-ACK
  vipd_port_stat counters = stat();
  EXPECT_EQ(counters.synack_tx, 1u);
  EXPECT_EQ(counters.syn_rx, 0u);
}

TEST_F(TcCountersTest, ResetsCountPerDirection) {
  ingress(arriving(kRst));
  ingress(arriving(kRst | kAck));
  egress(leaving(kRst | kAck));
  vipd_port_stat counters = stat();
  EXPECT_EQ(counters.rst_rx, 2u);
  EXPECT_EQ(counters.rst_tx, 1u);
}

TEST_F(TcCountersTest, FinCountsInBothDirections) {
  ingress(arriving(kFin | kAck));
  egress(leaving(kFin | kAck));
  egress(leaving(kAck));
  EXPECT_EQ(stat().fin, 2u);
}

TEST_F(TcCountersTest, Ipv6SegmentsCount) {
  ingress(arriving(kSyn, 6));
  egress(leaving(kSyn | kAck, 6));
  egress(leaving(kRst | kAck, 6, 0));
  ingress(arriving(kFin | kAck, 6));
  vipd_port_stat counters = stat();
  EXPECT_EQ(counters.syn_rx, 1u);
  EXPECT_EQ(counters.synack_tx, 1u);
  EXPECT_EQ(counters.rst_tx, 1u);
  EXPECT_EQ(counters.fin, 1u);
  ASSERT_EQ(consume_events(), 1);
  EXPECT_EQ(events_seen_[0].family, 6);
}

TEST_F(TcCountersTest, UnmonitoredPortIsIgnored) {
  TcpFrame frame = arriving(kSyn);
  frame.destination_port = kUnmonitored;
  ingress(frame);
  TcpFrame reply = leaving(kRst | kAck, 4, 0);
  reply.source_port = kUnmonitored;
  egress(reply);
  vipd_port_stat unused{};
  EXPECT_FALSE(read_port_stat(stat_fd_, kUnmonitored, unused));
  EXPECT_EQ(consume_events(), 0);
}

TEST_F(TcCountersTest, RemotePortMatchingAMonitoredPortIsIgnored) {
  // Our own outgoing connection to some server's 8080: the monitored port is the remote one.
  TcpFrame outgoing_syn = arriving(kSyn);       // dst 8080 ...
  egress(outgoing_syn);                         // ... leaving us: local port is 40000
  TcpFrame reply = leaving(kRst | kAck, 4, 0);  // src 8080 ...
  ingress(reply);                               // ... arriving: local port is 40000
  vipd_port_stat counters{};
  ASSERT_TRUE(read_port_stat(stat_fd_, kMonitored, counters));
  EXPECT_EQ(counters.syn_rx + counters.synack_tx + counters.rst_rx + counters.rst_tx, 0u);
  EXPECT_EQ(consume_events(), 0);
}

TEST_F(TcCountersTest, Ipv4OptionsAreSkipped) {
  TcpFrame frame = arriving(kSyn);
  frame.ipv4_header_words = 8;
  ingress(frame);
  EXPECT_EQ(stat().syn_rx, 1u);
}

TEST_F(TcCountersTest, NonFirstFragmentsAndOtherProtocolsAreIgnored) {
  TcpFrame fragment = arriving(kSyn);
  fragment.ipv4_fragment_offset = 185;  // bytes 1480.. of a datagram: no TCP header here
  ingress(fragment);
  TcpFrame udp = arriving(kSyn);
  udp.protocol = 17;
  ingress(udp);
  EXPECT_EQ(stat().syn_rx, 0u);
}

TEST_F(TcCountersTest, RefusalEmitsEvent) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t before_ns = static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull +
                                  static_cast<std::uint64_t>(now.tv_nsec);
  egress(leaving(kRst | kAck, 4, 0));
  ASSERT_EQ(consume_events(), 1);
  const vipd_port_event& event = events_seen_.at(0);
  EXPECT_EQ(event.hdr.type, VIPD_EVENT_PORT_REFUSED);
  EXPECT_EQ(event.hdr.size, sizeof(vipd_port_event));
  EXPECT_GE(event.hdr.ts_ns, before_ns);
  EXPECT_NE(event.hdr.ifindex, 0u);
  EXPECT_EQ(event.port, kMonitored);
  EXPECT_EQ(event.family, 4);
  EXPECT_EQ(event.rst_tx, 1u);
  EXPECT_EQ(port_cfg().last_event_ns, event.hdr.ts_ns);
  EXPECT_EQ(stat().refused_events, 1u);
}

TEST_F(TcCountersTest, ResetOfAnEstablishedConnectionIsNoRefusal) {
  egress(leaving(kRst | kAck, 4, 0x1000));  // seq is the connection's snd.nxt
  egress(leaving(kRst, 4, 0));              // RST without ACK answers a segment with ACK
  EXPECT_EQ(stat().rst_tx, 2u);
  EXPECT_EQ(consume_events(), 0);
}

TEST_F(TcCountersTest, RefusalEventsAreRateLimitedPerPort) {
  egress(leaving(kRst | kAck, 4, 0));
  egress(leaving(kRst | kAck, 4, 0));  // within 10 ms of the first
  EXPECT_EQ(consume_events(), 1);
  EXPECT_EQ(stat().rst_tx, 2u);
  EXPECT_EQ(stat().refused_events, 1u);

  // Another port has its own budget.
  monitor(kUnmonitored);
  TcpFrame other = leaving(kRst | kAck, 4, 0);
  other.source_port = kUnmonitored;
  egress(other);
  EXPECT_EQ(consume_events(), 1);

  // Age the record past the interval instead of sleeping.
  vipd_port_cfg aged = port_cfg();
  ASSERT_NE(aged.last_event_ns, 0u);
  aged.last_event_ns -= VIPD_PORT_EVENT_INTERVAL_NS + 1;
  const std::uint16_t port = kMonitored;
  ASSERT_EQ(bpf_map_update_elem(ports_fd_, &port, &aged, BPF_EXIST), 0);
  egress(leaving(kRst | kAck, 4, 0));
  EXPECT_EQ(consume_events(), 1);
  EXPECT_EQ(stat().refused_events, 2u);
  ASSERT_EQ(events_seen_.size(), 3u);
  EXPECT_EQ(events_seen_[2].rst_tx, 3u);
}

TEST_F(TcCountersTest, CounterEntryIsCreatedForAPortAddedWithoutOne) {
  const std::uint16_t port = 7000;
  monitor(port, false);  // vipd_ports only, as a hand-made `bpftool map update` would
  vipd_port_stat none{};
  ASSERT_FALSE(read_port_stat(stat_fd_, port, none));
  TcpFrame frame = arriving(kSyn);
  frame.destination_port = port;
  ingress(frame);
  EXPECT_EQ(stat(port).syn_rx, 1u);
}

}  // namespace
}  // namespace vipd::bpf::test
