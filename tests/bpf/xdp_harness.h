// Loads vipd_xdp into the kernel (no attachment) and drives it with bpf_prog_test_run_opts: map
// setup, per-CPU counter sums, the coalescing record and the ring-buffer events.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <vector>

#include "packet_builder.h"
#include "vipd/bpf_abi.h"
#include "vipd/core/advert.h"
#include "vipd_xdp.skel.h"

namespace vipd::test {

inline constexpr std::uint32_t kNoVerdict = 0xFFFFFFFF;

inline vipd_addr make_vipd_addr(const core::IpAddress& address) {
  vipd_addr key{};
  key.family = static_cast<std::uint8_t>(address.family());
  std::memcpy(key.addr, address.data(), address.size());
  return key;
}

inline vipd_vrid_cfg make_vrid_cfg(const core::Expectation& expectation) {
  vipd_vrid_cfg cfg{};
  cfg.enabled = 1;
  cfg.version = static_cast<std::uint8_t>(expectation.version);
  cfg.family = static_cast<std::uint8_t>(expectation.family);
  cfg.auth_type = static_cast<std::uint8_t>(expectation.auth_type);
  cfg.v2_interval_s = static_cast<std::uint8_t>(expectation.v2_interval_s);
  std::memcpy(cfg.auth_key, expectation.auth_key.data(), sizeof(cfg.auth_key));
  return cfg;
}

// One ring-buffer record, copied out.
struct RawEvent {
  Bytes bytes;
  std::uint16_t type() const {
    vipd_event_hdr hdr{};
    std::memcpy(&hdr, bytes.data(), sizeof(hdr));
    return hdr.type;
  }
  template <typename T>
  T as() const {
    T value{};
    std::memcpy(&value, bytes.data(), std::min(sizeof(T), bytes.size()));
    return value;
  }
};

class XdpHarness {
 public:
  // `unlocked_record`: the test-only build of the program that updates vipd_last_adv without its
  // lock (tests/bpf/xdp_record_lock_test.cpp shows what the lock prevents); `widened_race`: the
  // program lingers inside each record update, so a race over the record shows at once.
  explicit XdpHarness(bool unlocked_record = false, bool widened_race = false) {
    skel_ = vipd_xdp__open();
    if (!skel_) return;
    skel_->rodata->vipd_record_last = 1;  // the reason of each run, read by last()
    skel_->rodata->vipd_test_unlocked_record = unlocked_record ? 1 : 0;
    skel_->rodata->vipd_test_widen_record_race = widened_race ? 1 : 0;
    if (vipd_xdp__load(skel_) != 0) {
      vipd_xdp__destroy(skel_);
      skel_ = nullptr;
      return;
    }
    ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.vipd_events), &XdpHarness::on_event, this,
                             nullptr);
  }
  ~XdpHarness() {
    if (ring_) ring_buffer__free(ring_);
    if (skel_) vipd_xdp__destroy(skel_);
  }
  XdpHarness(const XdpHarness&) = delete;
  XdpHarness& operator=(const XdpHarness&) = delete;

  bool loaded() const { return skel_ && ring_; }
  vipd_xdp* skel() { return skel_; }
  int prog_fd() const { return bpf_program__fd(skel_->progs.vipd_xdp_advert); }

  // Runs the program once on `frame`; returns the XDP verdict, or -1 if the run itself failed.
  int run(std::span<const std::uint8_t> frame) {
    skel_->bss->vipd_xdp_last.reason = kNoVerdict;
    skel_->bss->vipd_xdp_last.slot = kNoVerdict;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<__u32>(frame.size()), .repeat = 1);
    if (bpf_prog_test_run_opts(prog_fd(), &opts) != 0) return -1;
    return static_cast<int>(opts.retval);
  }
  vipd_xdp_last last() const { return skel_->bss->vipd_xdp_last; }

  void set_global(std::uint64_t stale_ns, bool drop_invalid) {
    vipd_global_cfg cfg{};
    cfg.stale_ns = stale_ns;
    cfg.drop_invalid = drop_invalid ? 1 : 0;
    std::uint32_t key = 0;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_cfg), &key, &cfg, BPF_ANY), 0);
  }
  void configure_vrid(std::uint8_t vrid, const core::Expectation& expectation) {
    const vipd_vrid_cfg cfg = make_vrid_cfg(expectation);
    std::uint32_t key = vrid;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_vrid_cfg), &key, &cfg, BPF_ANY), 0);
  }
  void set_deliver_all(std::uint8_t vrid, bool on) {
    const int fd = bpf_map__fd(skel_->maps.vipd_vrid_cfg);
    std::uint32_t key = vrid;
    vipd_vrid_cfg cfg{};
    ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &cfg), 0);
    cfg.deliver_all = on ? 1 : 0;
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &cfg, BPF_EXIST), 0);
  }
  void add_peer(const core::IpAddress& peer) {
    const vipd_addr key = make_vipd_addr(peer);
    const std::uint8_t one = 1;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_peers), &key, &one, BPF_ANY), 0);
  }
  void add_vip(const core::IpAddress& vip, std::uint32_t vrid) {
    const vipd_addr key = make_vipd_addr(vip);
    vipd_vip_state state{};
    state.vrid = vrid;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_vips), &key, &state, BPF_ANY), 0);
  }
  vipd_vip_state vip_state(const core::IpAddress& vip) const {
    const vipd_addr key = make_vipd_addr(vip);
    vipd_vip_state state{};
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel_->maps.vipd_vips), &key, &state), 0);
    return state;
  }
  void add_own_mac(const Mac& mac) {
    vipd_mac key{};
    std::memcpy(key.addr, mac.data(), mac.size());
    const std::uint8_t one = 1;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.vipd_own_macs), &key, &one, BPF_ANY), 0);
  }

  // The counters of `slot` summed over all CPUs, field by field.
  vipd_vrid_stat stat(std::uint32_t slot) const {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<vipd_vrid_stat> per_cpu(static_cast<std::size_t>(cpus));
    vipd_vrid_stat total{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.vipd_vrid_stat), &slot, per_cpu.data()) != 0) {
      ADD_FAILURE() << "vipd_vrid_stat lookup failed";
      return total;
    }
    constexpr std::size_t kFields = sizeof(vipd_vrid_stat) / sizeof(std::uint64_t);
    std::uint64_t sum[kFields] = {};
    for (const vipd_vrid_stat& cpu : per_cpu) {
      std::uint64_t fields[kFields];
      std::memcpy(fields, &cpu, sizeof(cpu));
      for (std::size_t i = 0; i < kFields; ++i) sum[i] += fields[i];
    }
    std::memcpy(&total, sum, sizeof(total));
    return total;
  }
  // Read under the record's lock, as the agent reads it.
  vipd_last_adv last_adv(std::uint32_t vrid) const {
    vipd_last_adv record{};
    EXPECT_EQ(bpf_map_lookup_elem_flags(bpf_map__fd(skel_->maps.vipd_last_adv), &vrid, &record,
                                        BPF_F_LOCK),
              0);
    return record;
  }
  // Delivers the pending ring-buffer records to `handler` without keeping them.
  template <typename Handler>
  void consume(Handler&& handler) {
    events_.clear();
    ring_buffer__consume(ring_);
    for (const RawEvent& event : events_) handler(event);
    events_.clear();
  }

  // Every record in the ring buffer since the last call.
  std::vector<RawEvent> drain_events() {
    events_.clear();
    const int consumed = ring_buffer__consume(ring_);
    EXPECT_GE(consumed, 0);
    return std::move(events_);
  }

 private:
  static int on_event(void* self, void* data, size_t size) {
    auto* harness = static_cast<XdpHarness*>(self);
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    harness->events_.push_back(RawEvent{Bytes(bytes, bytes + size)});
    return 0;
  }

  vipd_xdp* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<RawEvent> events_;
};

// Field-wise equality with a readable failure message.
inline void expect_stat_eq(const vipd_vrid_stat& actual, const vipd_vrid_stat& expected) {
#define VIPD_EXPECT_FIELD(field) EXPECT_EQ(actual.field, expected.field) << #field
  VIPD_EXPECT_FIELD(rx_valid);
  VIPD_EXPECT_FIELD(rx_events);
  VIPD_EXPECT_FIELD(rx_bytes);
  VIPD_EXPECT_FIELD(rx_events_dropped);
#undef VIPD_EXPECT_FIELD
  for (std::size_t reason = 0; reason < VIPD_REASON_COUNT; ++reason) {
    EXPECT_EQ(actual.rx_invalid[reason], expected.rx_invalid[reason])
        << "rx_invalid[" << core::reason_label(static_cast<core::DecodeError>(reason)) << "]";
  }
}

}  // namespace vipd::test
