// The Prometheus endpoint: prometheus-cpp's pull exposer (civetweb threads) serving the latest
// published snapshot at /metrics. The event loop publishes; the exposer's threads only read.
//
// Threading: publish() swaps a shared pointer under a mutex (the lock covers a pointer copy, never
// rendering or I/O); a scrape takes its own reference under the same mutex and renders outside it.
// A slow or stuck scraper therefore never delays the loop, and the loop never waits for a scrape.
//
// Kernel counters are read at scrape time, on the scraping thread: a KernelReader (set by the
// daemon while its BPF maps exist) fills them into the scrape's copy of the snapshot with map
// lookups (plain syscalls, safe from any thread). Nothing is copied per packet.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "metrics/listen_address.h"
#include "metrics/snapshot.h"
#include "vipd/core/result.h"

namespace prometheus {
class Exposer;
}

namespace vipd::metrics {

class SnapshotCollectable;

// Fills the counters the kernel keeps (per-VRID valid/rejected adverts, port refusals) into a
// scrape's copy of the snapshot. Called on an exporter thread; must only read kernel maps.
using KernelReader = std::function<void(Snapshot&)>;

class Exporter {
 public:
  // Binds `address` and starts serving (an empty snapshot until the first publish()). An address
  // that cannot be bound (in use, not on this host, no permission) is an error naming it.
  static core::Result<std::unique_ptr<Exporter>> start(const ListenAddress& address);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Replaces what scrapes see. Called from the event loop only.
  void publish(Snapshot snapshot);
  // Sets (or, with an empty reader, removes) the scrape-time kernel reader. Removing it waits for
  // a scrape that is using it: afterwards the reader's maps may be closed.
  void set_kernel_reader(KernelReader reader);
  const ListenAddress& address() const { return address_; }

 private:
  Exporter(ListenAddress address, std::unique_ptr<prometheus::Exposer> exposer,
           std::shared_ptr<SnapshotCollectable> collectable);

  ListenAddress address_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<SnapshotCollectable> collectable_;
};

}  // namespace vipd::metrics
