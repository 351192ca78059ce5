// vipd-bench-xdp: cost per packet of the XDP advert path, measured in the kernel with
// bpf_prog_test_run_opts (repeat N; the kernel reports the mean ns per run), against an
// XDP_PASS-only baseline program run on the same frame. Needs root.
//
//   vipd-bench-xdp [--repeat N] [--rounds R]    (defaults: 1000000, 3; the median round is shown)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "packet_builder.h"
#include "vipd/bpf_abi.h"
#include "vipd_xdp.skel.h"
#include "vipd_xdp_baseline.skel.h"

namespace {

using vipd::core::IpAddress;
using vipd::test::Bytes;

const IpAddress kSource = *IpAddress::parse("198.18.0.2");
const IpAddress kVip = *IpAddress::parse("198.18.0.100");
const IpAddress kGroup = *IpAddress::parse("224.0.0.18");
const IpAddress kSource6 = *IpAddress::parse("fd00:198:18::2");
const IpAddress kVip6 = *IpAddress::parse("fd00:198:18::100");
const IpAddress kGroup6 = *IpAddress::parse("ff02::12");
const vipd::test::Mac kOwnMac{0x02, 0, 0, 0, 0, 0x01};
// Events are 96 bytes + 8 of ring-buffer header: 2000 fit in the 256 KiB buffer.
constexpr unsigned kEventBatch = 2000;

struct Options {
  unsigned repeat = 1'000'000;
  unsigned rounds = 3;
};

struct Bench {
  vipd_xdp* xdp = nullptr;
  vipd_xdp_baseline* baseline = nullptr;
  ring_buffer* ring = nullptr;
  std::uint64_t drained = 0;
};

int count_event(void* ctx, void*, size_t) {
  ++*static_cast<std::uint64_t*>(ctx);
  return 0;
}

// Mean ns per run of `repeat` runs of `prog_fd` on `frame`; -1 on error or an unexpected verdict.
double run(int prog_fd, const Bytes& frame, unsigned repeat) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<__u32>(frame.size()), .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0 || opts.retval != XDP_PASS) return -1;
  return opts.duration;
}

// As run(), in batches small enough for the ring buffer, drained in between (not timed).
double run_batched(Bench& bench, int prog_fd, const Bytes& frame, unsigned repeat) {
  double total_ns = 0;
  unsigned done = 0;
  while (done < repeat) {
    const unsigned batch = std::min(kEventBatch, repeat - done);
    const double ns = run(prog_fd, frame, batch);
    if (ns < 0) return -1;
    total_ns += ns * batch;
    done += batch;
    ring_buffer__consume(bench.ring);
  }
  return total_ns / repeat;
}

// Single runs alternating two frames: every advert changes the priority, so every one emits.
double run_alternating(Bench& bench, int prog_fd, const Bytes& a, const Bytes& b, unsigned runs) {
  double total_ns = 0;
  for (unsigned i = 0; i < runs; ++i) {
    const double ns = run(prog_fd, i % 2 ? b : a, 1);
    if (ns < 0) return -1;
    total_ns += ns;
    if (i % kEventBatch == 0) ring_buffer__consume(bench.ring);
  }
  ring_buffer__consume(bench.ring);
  return total_ns / runs;
}

double median_of(unsigned rounds, const std::function<double()>& measure) {
  std::vector<double> results;
  for (unsigned i = 0; i < rounds; ++i) {
    const double ns = measure();
    if (ns < 0) return -1;
    results.push_back(ns);
  }
  std::sort(results.begin(), results.end());
  return results[results.size() / 2];
}

Bytes advert(vipd::core::VrrpVersion version, std::uint8_t vrid, std::uint8_t priority, bool ipv6) {
  const std::vector<IpAddress> vips{ipv6 ? kVip6 : kVip};
  const vipd::core::AdvertSpec spec{.version = version,
                                    .vrid = vrid,
                                    .priority = priority,
                                    .interval_cs = 100,
                                    .auth_type = vipd::core::AuthType::None,
                                    .auth_key = {},
                                    .addresses = vips};
  return vipd::test::vrrp_frame(spec, vipd::test::IpSpec{.source = ipv6 ? kSource6 : kSource,
                                                         .destination = ipv6 ? kGroup6 : kGroup});
}

bool configure(Bench& bench) {
  auto update = [](bpf_map* map, const void* key, const void* value) {
    return bpf_map_update_elem(bpf_map__fd(map), key, value, BPF_ANY) == 0;
  };
  vipd_vrid_cfg v2{};
  v2.enabled = 1;
  v2.version = 2;
  v2.family = 4;
  vipd_vrid_cfg v3 = v2;
  v3.version = 3;
  v3.family = 6;
  const std::uint32_t vrid_v2 = 1;
  const std::uint32_t vrid_v3 = 2;
  vipd_addr vip{};
  vip.family = 4;
  std::memcpy(vip.addr, kVip.data(), 4);
  vipd_vip_state state{};
  state.vrid = vrid_v2;
  vipd_mac own{};
  std::memcpy(own.addr, kOwnMac.data(), 6);
  const std::uint8_t one = 1;
  return update(bench.xdp->maps.vipd_vrid_cfg, &vrid_v2, &v2) &&
         update(bench.xdp->maps.vipd_vrid_cfg, &vrid_v3, &v3) &&
         update(bench.xdp->maps.vipd_vips, &vip, &state) &&
         update(bench.xdp->maps.vipd_own_macs, &own, &one);
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 < argc && arg == "--repeat") {
      options.repeat = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 0));
    } else if (i + 1 < argc && arg == "--rounds") {
      options.rounds = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 0));
    } else {
      std::fprintf(stderr, "usage: %s [--repeat N] [--rounds R]\n", argv[0]);
      return false;
    }
  }
  return options.repeat > 0 && options.rounds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) return 2;
  Bench bench;
  bench.xdp = vipd_xdp__open_and_load();
  bench.baseline = vipd_xdp_baseline__open_and_load();
  if (!bench.xdp || !bench.baseline) {
    std::fprintf(stderr, "cannot load the XDP programs (root needed)\n");
    return 1;
  }
  bench.ring = ring_buffer__new(bpf_map__fd(bench.xdp->maps.vipd_events), count_event,
                                &bench.drained, nullptr);
  if (!bench.ring || !configure(bench)) {
    std::fprintf(stderr, "cannot set up maps\n");
    return 1;
  }
  const int prog = bpf_program__fd(bench.xdp->progs.vipd_xdp_advert);
  const int base = bpf_program__fd(bench.baseline->progs.vipd_xdp_baseline);
  using vipd::core::VrrpVersion;
  const Bytes tcp4 = vipd::test::tcp_frame(kSource, kVip, 40000, 80);
  const Bytes tcp6 = vipd::test::tcp_frame(kSource6, kVip6, 40000, 80);
  const Bytes steady_v2 = advert(VrrpVersion::V2, 1, 100, false);
  const Bytes steady_v3 = advert(VrrpVersion::V3, 2, 100, true);
  const Bytes priority_zero = advert(VrrpVersion::V2, 1, 0, false);
  const Bytes priority_a = advert(VrrpVersion::V2, 1, 100, false);
  const Bytes priority_b = advert(VrrpVersion::V2, 1, 101, false);
  const Bytes arp_own = vipd::test::arp_frame(2, kOwnMac, kVip, kOwnMac, kSource);
  const Bytes arp_other = vipd::test::arp_frame(1, {2, 0, 0, 0, 0, 9}, kSource, {}, kVip);

  const unsigned repeat = options.repeat;
  const unsigned rounds = options.rounds;
  const unsigned single_runs = std::max(1u, std::min(repeat / 10, 200'000u));
  struct Row {
    const char* name;
    double ns;
    double baseline_ns;
  };
  std::vector<Row> rows;
  const double baseline = median_of(rounds, [&] { return run(base, tcp4, repeat); });
  auto add = [&](const char* name, double ns, double reference) {
    rows.push_back({name, ns, reference});
  };
  add("baseline: XDP_PASS only (IPv4 TCP frame)", baseline, baseline);
  add("non-VRRP IPv4 TCP", median_of(rounds, [&] { return run(prog, tcp4, repeat); }), baseline);
  add("non-VRRP IPv6 TCP", median_of(rounds, [&] { return run(prog, tcp6, repeat); }), baseline);
  run(prog, steady_v2, 1);  // the first one creates the record and emits
  run(prog, steady_v3, 1);
  ring_buffer__consume(bench.ring);
  const std::uint64_t drained_before_steady = bench.drained;
  add("steady-state advert, v2 IPv4, 1 VIP (coalesced)",
      median_of(rounds, [&] { return run(prog, steady_v2, repeat); }), baseline);
  add("steady-state advert, v3 IPv6, 1 VIP (coalesced)",
      median_of(rounds, [&] { return run(prog, steady_v3, repeat); }), baseline);
  ring_buffer__consume(bench.ring);
  const std::uint64_t steady_events = bench.drained - drained_before_steady;
  add("advert with event (priority 0: every packet emits)",
      median_of(rounds, [&] { return run_batched(bench, prog, priority_zero, repeat); }), baseline);
  add("ARP reply for a VIP from our MAC",
      median_of(rounds, [&] { return run(prog, arp_own, repeat); }), baseline);
  add("ARP request, sender not a VIP",
      median_of(rounds, [&] { return run(prog, arp_other, repeat); }), baseline);
  const double single_baseline = median_of(
      rounds, [&] { return run_alternating(bench, base, priority_a, priority_b, single_runs); });
  add("baseline, single runs (repeat 1)", single_baseline, single_baseline);
  add("advert with event, priorities alternating (repeat 1)",
      median_of(rounds,
                [&] { return run_alternating(bench, prog, priority_a, priority_b, single_runs); }),
      single_baseline);

  std::printf("vipd-bench-xdp: repeat %u, %u rounds (median), %u single runs\n\n", repeat, rounds,
              single_runs);
  std::printf("| case | ns/packet | vs baseline |\n|---|---:|---:|\n");
  bool ok = true;
  for (const Row& row : rows) {
    if (row.ns < 0) {
      std::printf("| %s | failed | |\n", row.name);
      ok = false;
      continue;
    }
    std::printf("| %s | %.1f | %+.1f ns (x%.2f) |\n", row.name, row.ns, row.ns - row.baseline_ns,
                row.baseline_ns > 0 ? row.ns / row.baseline_ns : 0.0);
  }
  // Sanity: the steady-state rows are coalesced, so they must not have emitted a single event
  // (only the first adverts, the priority-0 and the alternating runs do); and no event may have
  // been dropped, or the event rows timed a full ring buffer.
  const int cpus = libbpf_num_possible_cpus();
  std::vector<vipd_vrid_stat> stats(static_cast<std::size_t>(cpus));
  std::uint64_t dropped = 0;
  for (__u32 key : {1u, 2u}) {
    if (bpf_map_lookup_elem(bpf_map__fd(bench.xdp->maps.vipd_vrid_stat), &key, stats.data()) != 0)
      ok = false;
    for (const auto& s : stats) dropped += s.rx_events_dropped;
  }
  std::printf("\nevents drained %llu (steady-state rows %llu), dropped %llu\n",
              static_cast<unsigned long long>(bench.drained),
              static_cast<unsigned long long>(steady_events),
              static_cast<unsigned long long>(dropped));
  if (dropped != 0 || steady_events != 0) ok = false;
  ring_buffer__free(bench.ring);
  vipd_xdp_baseline__destroy(bench.baseline);
  vipd_xdp__destroy(bench.xdp);
  return ok ? 0 : 1;
}
