// The XDP program attached in native mode to a veth in one namespace, fed with real adverts sent by
// the kernel of another namespace through a raw IPPROTO_VRRP socket (and an ARP through a packet
// socket). Namespaces and links are named vipdtx<pid>* and removed in TearDown. Needs root.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "xdp_harness.h"

namespace vipd::test {
namespace {

using core::IpAddress;

const IpAddress kAddressA = *IpAddress::parse("198.18.10.1");
const IpAddress kAddressB = *IpAddress::parse("198.18.10.2");
const IpAddress kVip = *IpAddress::parse("198.18.10.100");
const IpAddress kGroup = *IpAddress::parse("224.0.0.18");
constexpr std::uint8_t kVrid = 51;

int sh(const std::string& command) {
  return std::system(command.c_str());
}

// Runs the enclosing scope inside a network namespace; back to the original one on exit.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& name)
      : original_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = original_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~NetnsScope() {
    if (entered_) setns(original_, CLONE_NEWNET);
    if (original_ >= 0) close(original_);
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;
  bool entered() const { return entered_; }

 private:
  int original_;
  bool entered_ = false;
};

class XdpNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(xdp_.loaded()) << "cannot load vipd_xdp (root needed)";
    const std::string tag = "vipdtx" + std::to_string(getpid());
    ns_a_ = tag + "-a";
    ns_b_ = tag + "-b";
    link_a_ = tag + "a";
    link_b_ = tag + "b";
    remove_namespaces();
    created_ = true;
    ASSERT_EQ(sh("ip netns add " + ns_a_), 0);
    ASSERT_EQ(sh("ip netns add " + ns_b_), 0);
    ASSERT_EQ(sh("ip link add " + link_a_ + " netns " + ns_a_ + " type veth peer name " + link_b_ +
                 " netns " + ns_b_),
              0);
    ASSERT_EQ(sh("ip -n " + ns_a_ + " addr add 198.18.10.1/24 dev " + link_a_), 0);
    ASSERT_EQ(sh("ip -n " + ns_b_ + " addr add 198.18.10.2/24 dev " + link_b_), 0);
    ASSERT_EQ(sh("ip -n " + ns_a_ + " link set " + link_a_ + " up"), 0);
    ASSERT_EQ(sh("ip -n " + ns_b_ + " link set " + link_b_ + " up"), 0);
    ASSERT_EQ(sh("ip -n " + ns_b_ + " route add 224.0.0.0/4 dev " + link_b_), 0);
  }

  void TearDown() override {
    if (created_) remove_namespaces();
  }

  void remove_namespaces() {
    sh("ip netns del " + ns_a_ + " 2>/dev/null");
    sh("ip netns del " + ns_b_ + " 2>/dev/null");
  }

  // Attaches the program natively to link A; returns its ifindex (0 on failure).
  unsigned attach() {
    NetnsScope in_a(ns_a_);
    if (!in_a.entered()) return 0;
    const unsigned ifindex = if_nametoindex(link_a_.c_str());
    if (ifindex == 0) return 0;
    if (bpf_xdp_attach(static_cast<int>(ifindex), xdp_.prog_fd(), XDP_FLAGS_DRV_MODE, nullptr) !=
        0) {
      return 0;
    }
    return ifindex;
  }

  // A raw VRRP socket in namespace B: the kernel writes the IP header (source B, protocol 112).
  int vrrp_socket() {
    NetnsScope in_b(ns_b_);
    if (!in_b.entered()) return -1;
    const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, core::kIpProtoVrrp);
    if (fd < 0) return -1;
    in_addr source{};
    std::memcpy(&source, kAddressB.data(), 4);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &source, sizeof(source));
    return fd;
  }

  bool send_advert(int fd, std::uint8_t priority, int ttl) {
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0) return false;
    const std::vector<IpAddress> vips{kVip};
    const core::AdvertSpec spec{.version = core::VrrpVersion::V2,
                                .vrid = kVrid,
                                .priority = priority,
                                .interval_cs = 100,
                                .auth_type = core::AuthType::None,
                                .auth_key = {},
                                .addresses = vips};
    const Bytes message = vrrp_message(spec, IpSpec{.source = kAddressB, .destination = kGroup});
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, kGroup.data(), 4);
    return sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to),
                  sizeof(to)) == static_cast<ssize_t>(message.size());
  }

  // A gratuitous ARP for the VIP from B's side, through a packet socket.
  bool send_gratuitous_arp(const Mac& mac) {
    NetnsScope in_b(ns_b_);
    if (!in_b.entered()) return false;
    const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(if_nametoindex(link_b_.c_str()));
    to.sll_halen = 6;
    L2Spec l2;
    l2.destination = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const Bytes frame = arp_frame(1, mac, kVip, Mac{}, kVip, l2);
    const bool sent = sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
                             sizeof(to)) == static_cast<ssize_t>(frame.size());
    close(fd);
    return sent;
  }

  // Polls until `done` holds for the counters of kVrid, for at most 3 s.
  template <typename Predicate>
  vipd_vrid_stat wait_for(Predicate done) {
    vipd_vrid_stat stat{};
    for (int i = 0; i < 300; ++i) {
      stat = xdp_.stat(kVrid);
      if (done(stat)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return stat;
  }

  XdpHarness xdp_;
  std::string ns_a_, ns_b_, link_a_, link_b_;
  bool created_ = false;
};

TEST_F(XdpNetnsTest, CountsRealAdvertsOnNativeVethXdp) {
  xdp_.configure_vrid(kVrid, core::Expectation{.version = core::VrrpVersion::V2});
  xdp_.add_vip(kVip, kVrid);
  const unsigned ifindex = attach();
  ASSERT_NE(ifindex, 0u) << "native XDP attach on veth failed";
  const int fd = vrrp_socket();
  ASSERT_GE(fd, 0);

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send_advert(fd, 100, 255));
  ASSERT_TRUE(send_advert(fd, 200, 255));
  ASSERT_TRUE(send_advert(fd, 200, 64));
  ASSERT_TRUE(send_advert(fd, 200, 64));
  close(fd);
  const Mac foreign{0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
  ASSERT_TRUE(send_gratuitous_arp(foreign));

  const vipd_vrid_stat stat = wait_for([](const vipd_vrid_stat& s) {
    return s.rx_valid >= 4 && s.rx_invalid[VIPD_REASON_BAD_TTL] >= 2;
  });
  vipd_vrid_stat expected{};
  expected.rx_valid = 4;
  expected.rx_events = 2;
  expected.rx_invalid[VIPD_REASON_BAD_TTL] = 2;
  expected.rx_bytes = 4 * 20;
  expect_stat_eq(stat, expected);

  for (int i = 0; i < 300 && xdp_.vip_state(kVip).conflicts == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 1u);

  const auto events = xdp_.drain_events();
  ASSERT_EQ(events.size(), 3u);
  const auto first = events[0].as<vipd_advert_event>();
  const auto second = events[1].as<vipd_advert_event>();
  EXPECT_EQ(first.hdr.type, VIPD_EVENT_ADVERT);
  EXPECT_EQ(first.cause, VIPD_CAUSE_NEW);
  EXPECT_EQ(first.priority, 100);
  EXPECT_EQ(first.hdr.ifindex, ifindex);
  EXPECT_EQ(0, std::memcmp(first.src, kAddressB.data(), 4));
  EXPECT_EQ(second.cause, VIPD_CAUSE_PRIORITY);
  EXPECT_EQ(second.priority, 200);
  const auto conflict = events[2].as<vipd_conflict_event>();
  EXPECT_EQ(conflict.hdr.type, VIPD_EVENT_VIP_CONFLICT);
  EXPECT_EQ(conflict.vrid, kVrid);
  EXPECT_EQ(0, std::memcmp(conflict.mac, foreign.data(), 6));
}

}  // namespace
}  // namespace vipd::test
