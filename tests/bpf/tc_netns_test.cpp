// bpf/vipd_tc.bpf.c on a real lo: a scratch namespace with 198.18.0.1 and fd00:198:18::1 on lo, the
// programs on lo's clsact ingress and egress, and real TCP connections to monitored ports.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "tc_test_support.h"
#include "vipd/bpf_abi.h"

namespace vipd::bpf::test {
namespace {

constexpr std::uint16_t kClosedPort = 8081;
constexpr std::uint16_t kListeningPort = 8082;
constexpr std::uint16_t kClosedPortV6 = 8083;

sockaddr_storage make_address(int family, std::uint16_t port) {
  sockaddr_storage storage{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    inet_pton(AF_INET, "198.18.0.1", &v4->sin_addr);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    inet_pton(AF_INET6, "fd00:198:18::1", &v6->sin6_addr);
  }
  return storage;
}

socklen_t address_size(int family) {
  return family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

// errno of a blocking connect(); 0 when it connected (the socket is then returned in `out`).
int connect_to(int family, std::uint16_t port, int* out = nullptr) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_storage address = make_address(family, port);
  int result = connect(fd, reinterpret_cast<sockaddr*>(&address), address_size(family));
  int error = result == 0 ? 0 : errno;
  if (out && result == 0) {
    *out = fd;
  } else {
    close(fd);
  }
  return error;
}

class TcNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = std::make_unique<ScratchNetns>("tc");
    ASSERT_TRUE(netns_->ok()) << "cannot create namespace " << netns_->name();
    ASSERT_EQ(run_command("ip addr add 198.18.0.1/32 dev lo"), 0);
    ASSERT_EQ(run_command("ip addr add fd00:198:18::1/128 dev lo nodad"), 0);
    lo_ = static_cast<int>(if_nametoindex("lo"));
    ASSERT_GT(lo_, 0);

    skel_ = vipd_tc__open_and_load();
    ASSERT_NE(skel_, nullptr) << std::strerror(errno);
    stat_fd_ = bpf_map__fd(skel_->maps.vipd_port_stat);
    for (std::uint16_t port : {kClosedPort, kListeningPort, kClosedPortV6}) {
      vipd_port_cfg cfg{};
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_ports), &port, &cfg, BPF_ANY), 0);
    }
    create_clsact();
    attach(BPF_TC_INGRESS, skel_->progs.vipd_tc_ingress);
    attach(BPF_TC_EGRESS, skel_->progs.vipd_tc_egress);
    events_ = ring_buffer__new(bpf_map__fd(skel_->maps.vipd_tc_events), &TcNetnsTest::on_event,
                               this, nullptr);
    ASSERT_NE(events_, nullptr);
  }

  void TearDown() override {
    ring_buffer__free(events_);
    vipd_tc__destroy(skel_);
    netns_.reset();  // deleting the namespace removes lo's qdisc and filters with it
  }

  void create_clsact() {
    bpf_tc_hook hook;
    clear_opts(hook);
    hook.ifindex = lo_;
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    ASSERT_EQ(bpf_tc_hook_create(&hook), 0);  // a fresh namespace has none
  }

  void attach(bpf_tc_attach_point point, bpf_program* program) {
    bpf_tc_hook hook;
    clear_opts(hook);
    hook.ifindex = lo_;
    hook.attach_point = point;
    bpf_tc_opts opts;
    clear_opts(opts);
    opts.prog_fd = bpf_program__fd(program);
    opts.handle = 1;
    opts.priority = 1;
    ASSERT_EQ(bpf_tc_attach(&hook, &opts), 0);
  }

  vipd_port_stat stat(std::uint16_t port) {
    vipd_port_stat total{};
    EXPECT_TRUE(read_port_stat(stat_fd_, port, total));
    return total;
  }

  // lo delivers in softirq context right after the sending syscall; allow a little slack anyway.
  template <typename Predicate>
  bool eventually(Predicate done) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  static int on_event(void* context, void* data, std::size_t size) {
    auto* self = static_cast<TcNetnsTest*>(context);
    vipd_port_event event{};
    std::memcpy(&event, data, std::min(size, sizeof(event)));
    self->events_seen_.push_back(event);
    return 0;
  }

  std::unique_ptr<ScratchNetns> netns_;
  int lo_ = 0;
  vipd_tc* skel_ = nullptr;
  ring_buffer* events_ = nullptr;
  int stat_fd_ = -1;
  std::vector<vipd_port_event> events_seen_;
};

TEST_F(TcNetnsTest, ConnectionToClosedPortIsCountedAndReported) {
  EXPECT_EQ(connect_to(AF_INET, kClosedPort), ECONNREFUSED);
  ASSERT_TRUE(eventually([&] { return stat(kClosedPort).rst_tx == 1; }));
  vipd_port_stat counters = stat(kClosedPort);
  EXPECT_EQ(counters.syn_rx, 1u);
  EXPECT_EQ(counters.synack_tx, 0u);
  EXPECT_EQ(counters.rst_rx, 0u);  // the RST arrives at the client's ephemeral port
  EXPECT_EQ(counters.refused_events, 1u);

  ASSERT_EQ(ring_buffer__consume(events_), 1);
  const vipd_port_event& event = events_seen_.at(0);
  EXPECT_EQ(event.hdr.type, VIPD_EVENT_PORT_REFUSED);
  EXPECT_EQ(event.port, kClosedPort);
  EXPECT_EQ(event.family, 4);
  EXPECT_EQ(event.hdr.ifindex, static_cast<std::uint32_t>(lo_));
}

TEST_F(TcNetnsTest, Ipv6ConnectionToClosedPortIsReported) {
  EXPECT_EQ(connect_to(AF_INET6, kClosedPortV6), ECONNREFUSED);
  ASSERT_TRUE(eventually([&] { return stat(kClosedPortV6).rst_tx == 1; }));
  EXPECT_EQ(stat(kClosedPortV6).syn_rx, 1u);
  ASSERT_EQ(ring_buffer__consume(events_), 1);
  EXPECT_EQ(events_seen_.at(0).port, kClosedPortV6);
  EXPECT_EQ(events_seen_.at(0).family, 6);
}

TEST_F(TcNetnsTest, ConnectionToListeningPortCountsHandshakeWithoutEvent) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_storage address = make_address(AF_INET, kListeningPort);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), address_size(AF_INET)), 0);
  ASSERT_EQ(listen(listener, 4), 0);

  int client = -1;
  ASSERT_EQ(connect_to(AF_INET, kListeningPort, &client), 0);
  int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  close(client);
  close(server);
  close(listener);

  ASSERT_TRUE(eventually([&] { return stat(kListeningPort).fin == 2; }))
      << "fin=" << stat(kListeningPort).fin;
  vipd_port_stat counters = stat(kListeningPort);
  EXPECT_EQ(counters.syn_rx, 1u);
  EXPECT_EQ(counters.synack_tx, 1u);
  EXPECT_EQ(counters.rst_tx, 0u);
  EXPECT_EQ(counters.refused_events, 0u);
  EXPECT_EQ(ring_buffer__consume(events_), 0);
}

}  // namespace
}  // namespace vipd::bpf::test
