// The metrics endpoint (prometheus-cpp's exposer): it serves the published snapshot, reads the
// kernel counters at scrape time through the reader (never copied per packet), stops using the
// reader once it is removed, never makes publish() (the event loop) wait for a scrape, and
// reports a taken port with the address and the kernel's reason.
//
// The process moves into a network namespace of its own (unshare, needs root like the daemon)
// with 198.18.250.2 on its loopback: nothing of the host's network is touched.
#include "metrics/exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <string>

namespace vipd::metrics {
namespace {

constexpr const char* kAddress = "198.18.250.2";

class ExporterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root (a private network namespace)";
    ASSERT_EQ(std::system("ip link set lo up && ip addr add 198.18.250.2/32 dev lo"), 0);
  }

  static ListenAddress at(std::uint16_t port) { return ListenAddress{kAddress, port}; }

  // One GET /metrics over a plain socket; the body, or "" on failure.
  static std::string scrape(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, kAddress, &address.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd);
      return "";
    }
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: " + std::string(kAddress) + "\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      close(fd);
      return "";
    }
    std::string answer;
    char buffer[4096];
    for (;;) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    const auto body = answer.find("\r\n\r\n");
    return body == std::string::npos ? "" : answer.substr(body + 4);
  }

  static Snapshot one_instance() {
    Snapshot s;
    s.interface = "eth0";
    s.version = "0.1.0";
    s.commit = "abc123";
    s.dataplane = Dataplane::Xdp;
    InstanceSample instance;
    instance.name = "web_VIP_1";
    instance.vrid = 51;
    instance.state = core::State::Master;
    instance.vips = {{"198.18.0.100", true}};
    s.instances.push_back(instance);
    return s;
  }
};

constexpr const char* kAdvertsReceived =
    "keepalived_advert_rcvd_total{iname=\"web_VIP_1\",intf=\"eth0\",state=\"MASTER\",vrid=\"51\"} ";

TEST_F(ExporterTest, KernelCountersAreReadAtScrapeTimeUntilTheReaderIsRemoved) {
  auto started = Exporter::start(at(19112));
  ASSERT_TRUE(started.ok()) << started.message();
  std::unique_ptr<Exporter> exporter = std::move(*started);
  exporter->publish(one_instance());
  std::atomic<int> reads{0};
  exporter->set_kernel_reader([&](Snapshot& s) {
    // The "kernel" counts on its own: each scrape sees its value at that moment.
    s.instances[0].adverts_received = static_cast<std::uint64_t>(100 + ++reads);
  });
  const std::string first = scrape(19112);
  EXPECT_NE(first.find(std::string(kAdvertsReceived) + "101"), std::string::npos) << first;
  const std::string second = scrape(19112);
  EXPECT_NE(second.find(std::string(kAdvertsReceived) + "102"), std::string::npos) << second;
  EXPECT_EQ(reads.load(), 2) << "one kernel read per scrape, none between scrapes";

  exporter->set_kernel_reader({});
  const std::string after = scrape(19112);
  EXPECT_NE(after.find(std::string(kAdvertsReceived) + "0"), std::string::npos) << after;
  EXPECT_EQ(reads.load(), 2) << "the removed reader (closed maps) was used again";
  EXPECT_NE(after.find("vipd_vip_present{iname=\"web_VIP_1\",interface=\"eth0\","
                       "vip=\"198.18.0.100\"} 1"),
            std::string::npos)
      << after;
}

TEST_F(ExporterTest, PublishNeverWaitsForAScrape) {
  auto started = Exporter::start(at(19113));
  ASSERT_TRUE(started.ok()) << started.message();
  std::unique_ptr<Exporter> exporter = std::move(*started);
  exporter->publish(one_instance());
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  exporter->set_kernel_reader([&, released](Snapshot&) {
    if (!first.exchange(false)) return;
    entered.set_value();
    released.wait();  // a scrape stuck in the middle of reading the kernel
  });
  auto stuck = std::async(std::launch::async, [] { return scrape(19113); });
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  // The loop publishes on while the scrape hangs.
  auto publishing = std::async(std::launch::async, [&] {
    for (int i = 0; i < 100; ++i) exporter->publish(one_instance());
  });
  EXPECT_EQ(publishing.wait_for(std::chrono::seconds(2)), std::future_status::ready)
      << "publish() waited for a scrape in progress";
  release.set_value();
  publishing.wait();
  EXPECT_NE(stuck.get().find("keepalived_up 1"), std::string::npos);
}

TEST_F(ExporterTest, ATakenPortIsAnErrorNamingTheAddressAndTheReason) {
  const int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(19114);
  inet_pton(AF_INET, kAddress, &address.sin_addr);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  const auto started = Exporter::start(at(19114));
  close(taken);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("198.18.250.2:19114"), std::string::npos) << started.message();
  EXPECT_NE(started.message().find("in use"), std::string::npos) << started.message();
}

TEST_F(ExporterTest, AnAddressNotOnThisHostIsAnError) {
  const auto started = Exporter::start(ListenAddress{"198.18.250.3", 19115});
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("198.18.250.3:19115"), std::string::npos) << started.message();
}

}  // namespace
}  // namespace vipd::metrics
