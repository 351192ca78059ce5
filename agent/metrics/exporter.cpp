#include "metrics/exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>

#include "metrics/families.h"
#include "vipd/core/ip_address.h"

namespace vipd::metrics {

class SnapshotCollectable final : public prometheus::Collectable {
 public:
  void publish(std::shared_ptr<const Snapshot> next) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_.swap(next);
    }
    // `next` now holds the previous snapshot: freed here, outside the lock (or by the last scrape
    // still rendering it).
  }

  void set_kernel_reader(KernelReader reader) {
    std::lock_guard<std::mutex> lock(reader_mutex_);
    reader_ = std::move(reader);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::shared_ptr<const Snapshot> snapshot;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      snapshot = current_;
    }
    if (!snapshot) return {};
    std::unique_lock<std::mutex> reading(reader_mutex_);
    if (!reader_) {
      reading.unlock();
      return render(*snapshot);
    }
    // The kernel's counters as they are now, in this scrape's own copy.
    Snapshot scraped = *snapshot;
    reader_(scraped);
    reading.unlock();
    return render(scraped);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_;
  // Held while a scrape reads the kernel: the loop takes it only to set or remove the reader.
  mutable std::mutex reader_mutex_;
  KernelReader reader_;
};

namespace {

bool ipv6_available() {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// Binds and closes a socket on `address` the way civetweb will (SO_REUSEADDR), so that a taken
// port or a foreign address is reported with the kernel's reason; civetweb itself only says that
// it could not start.
core::Status probe_bind(const ListenAddress& address, bool dual_stack) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  const auto ip = address.host.empty() ? std::nullopt : core::IpAddress::parse(address.host);
  if ((ip && !ip->is_v4()) || (!ip && dual_stack)) {
    family = AF_INET6;
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    if (ip) std::memcpy(&v6->sin6_addr, ip->bytes().data(), 16);
    length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    if (ip) std::memcpy(&v4->sin_addr, ip->bytes().data(), 4);
    length = sizeof(sockaddr_in);
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::errno_error("metrics address " + address.text(), errno);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (family == AF_INET6 && !ip) {
    const int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&storage), length);
  const int error = errno;
  close(fd);
  if (bound != 0) {
    core::Error failed = core::errno_error("cannot listen for metrics on " + address.text(), error);
    if (error == EADDRINUSE) {
      failed.message +=
          " (another vipd on this host? give each one its own --metrics-address / "
          "VIPD_METRICS_ADDRESS, or an empty one to disable metrics)";
    }
    return failed;
  }
  return {};
}

}  // namespace

core::Result<std::unique_ptr<Exporter>> Exporter::start(const ListenAddress& address) {
  const bool dual_stack = address.host.empty() && ipv6_available();
  if (core::Status status = probe_bind(address, dual_stack); !status) {
    return core::Error{status.message()};
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // Two serving threads (prometheus-cpp's default): a second scraper does not wait for the first.
    exposer = std::make_unique<prometheus::Exposer>(address.civetweb(dual_stack), 2);
  } catch (const std::exception& error) {
    return core::Error{"cannot listen for metrics on " + address.text() + ": " + error.what()};
  }
  auto collectable = std::make_shared<SnapshotCollectable>();
  exposer->RegisterCollectable(collectable);
  return std::unique_ptr<Exporter>(
      new Exporter(address, std::move(exposer), std::move(collectable)));
}

Exporter::Exporter(ListenAddress address, std::unique_ptr<prometheus::Exposer> exposer,
                   std::shared_ptr<SnapshotCollectable> collectable)
    : address_(std::move(address)),
      exposer_(std::move(exposer)),
      collectable_(std::move(collectable)) {}

Exporter::~Exporter() {
  // Stops civetweb's threads (waiting for a scrape in progress) before the snapshot goes.
  exposer_.reset();
}

void Exporter::publish(Snapshot snapshot) {
  collectable_->publish(std::make_shared<const Snapshot>(std::move(snapshot)));
}

void Exporter::set_kernel_reader(KernelReader reader) {
  collectable_->set_kernel_reader(std::move(reader));
}

}  // namespace vipd::metrics
