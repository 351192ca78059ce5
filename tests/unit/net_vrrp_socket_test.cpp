// The advert send path (VrrpSocket::queue + flush): every queued advert leaves in one sendmmsg
// batch with TTL 255 and TOS 0xC0 from the configured source, and, once the socket has sent a
// batch of a given size, queueing and flushing that many again allocates nothing on the heap
// (a master at 200 instances x 10 ms flushes 20,000 adverts a second).
//
// The process moves into a network namespace of its own (unshare, needs root like the daemon)
// with a veth pair, 198.18.250.1 on one end and 198.18.250.2 on the other: nothing of the host's
// network is touched, and everything disappears with the process.
#include "net/vrrp_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// GCC pairs the replaced operator new with the std::free inside the replaced delete when it
// inlines both and warns; they are a matching pair (malloc/free) by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Every heap allocation of this test binary is counted.
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace vipd::net {
namespace {

const core::IpAddress kSource = *core::IpAddress::parse("198.18.250.1");
const core::IpAddress kPeer = *core::IpAddress::parse("198.18.250.2");

class VrrpSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root (a private network namespace)";
    ASSERT_EQ(
        std::system("ip link set lo up && ip link add v0 type veth peer name v1 && "
                    "ip addr add 198.18.250.1/24 dev v0 && ip addr add 198.18.250.2/24 dev v1 "
                    "&& ip link set v0 up && ip link set v1 up && "
                    // v1 takes packets whose source is an address of this namespace
                    "sysctl -qw net.ipv4.conf.v1.accept_local=1 net.ipv4.conf.all.rp_filter=0 "
                    "net.ipv4.conf.v1.rp_filter=0 && "
                    // carrier up and 198.18.250.2 resolved before the first batch (an
                    // unresolved neighbour would hold back or drop part of it)
                    "for i in 1 2 3 4 5 6 7 8 9 10; do "
                    "ping -q -c 1 -W 1 -I v0 198.18.250.2 >/dev/null 2>&1 && exit 0; "
                    "sleep 0.2; done; exit 1"),
        0);
  }

  // A raw VRRP socket that sees what is delivered locally (IP header included).
  static int receiver() {
    const int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, core::kIpProtoVrrp);
    EXPECT_GE(fd, 0);
    return fd;
  }

  static std::vector<std::uint8_t> advert(std::uint8_t vrid) {
    // A VRRPv3 header: the socket sends bytes as given, the contents do not matter here.
    return {0x31, vrid, 100, 1, 0, 10, 0, 0, 198, 18, 0, vrid};
  }
};

TEST_F(VrrpSocketTest, FlushSendsEveryQueuedAdvertWithTtl255AndTheSource) {
  VrrpSocket socket;
  ASSERT_TRUE(socket.open("v0", static_cast<int>(if_nametoindex("v0")), kSource, false));
  const int rx = receiver();
  for (std::uint8_t vrid = 1; vrid <= 5; ++vrid) socket.queue(advert(vrid), kPeer);
  EXPECT_EQ(socket.flush(), 0u);
  EXPECT_EQ(socket.sent(), 5u);
  std::vector<int> seen;
  std::uint8_t buffer[256];
  for (int tries = 0; tries < 50 && seen.size() < 5; ++tries) {
    pollfd p{rx, POLLIN, 0};
    poll(&p, 1, 20);
    const ssize_t n = recv(rx, buffer, sizeof buffer, 0);
    if (n < 20 + 12) continue;
    const auto* ip = reinterpret_cast<const iphdr*>(buffer);
    EXPECT_EQ(ip->ttl, 255);
    EXPECT_EQ(ip->tos, 0xC0);
    EXPECT_EQ(ip->saddr, htonl(0xC612FA01));  // 198.18.250.1
    seen.push_back(buffer[ip->ihl * 4 + 1]);
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5}));
  close(rx);
}

TEST_F(VrrpSocketTest, AWarmSocketQueuesAndFlushesWithoutHeapAllocations) {
  VrrpSocket socket;
  ASSERT_TRUE(socket.open("v0", static_cast<int>(if_nametoindex("v0")), kSource, false));
  std::vector<std::vector<std::uint8_t>> adverts;
  for (std::uint8_t vrid = 1; vrid <= 32; ++vrid) adverts.push_back(advert(vrid));
  for (const auto& a : adverts) socket.queue(a, kPeer);  // warm-up: the buffers grow once
  ASSERT_EQ(socket.flush(), 0u);

  for (const std::size_t batch : {32u, 1u, 7u, 32u}) {
    const long before = g_allocations.load();
    for (std::size_t i = 0; i < batch; ++i) socket.queue(adverts[i], kPeer);
    const std::size_t failed = socket.flush();
    const long allocated = g_allocations.load() - before;
    EXPECT_EQ(failed, 0u);
    EXPECT_EQ(allocated, 0) << "a flush of " << batch << " adverts allocated";
  }
  EXPECT_EQ(socket.sent(), 32u + 32u + 1u + 7u + 32u);
}

}  // namespace
}  // namespace vipd::net
