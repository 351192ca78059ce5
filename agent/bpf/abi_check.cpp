// The agent's (g++, host) view of every record the BPF programs (clang, BPF target) share with it:
// sizes and offsets pinned to the numbers the header was laid out for (fixed-width types, explicit
// padding), so a header change that moves a field fails the build here instead of corrupting maps
// at run time.
#include <cstddef>

#include "vipd/bpf_abi.h"

namespace {

static_assert(sizeof(vipd_addr) == 20);
static_assert(offsetof(vipd_addr, addr) == 4);
static_assert(sizeof(vipd_mac) == 8);
static_assert(sizeof(vipd_global_cfg) == 16);
static_assert(offsetof(vipd_global_cfg, restrict_sources) == 9);
static_assert(sizeof(vipd_vrid_cfg) == 24);
static_assert(offsetof(vipd_vrid_cfg, unicast_open_until_ns) == 16);
static_assert(offsetof(vipd_vrid_cfg, deliver_all) == 5);
static_assert(offsetof(vipd_vrid_cfg, auth_key) == 8);
static_assert(sizeof(vipd_vrid_stat) == (4 + VIPD_REASON_COUNT) * 8);
static_assert(offsetof(vipd_vrid_stat, rx_invalid) == 32);
static_assert(sizeof(vipd_last_adv) == 40);
static_assert(offsetof(vipd_last_adv, lock) == 32);
static_assert(offsetof(vipd_last_adv, src) == 8);
static_assert(offsetof(vipd_last_adv, family) == 24);
static_assert(offsetof(vipd_last_adv, interval_cs) == 28);
static_assert(offsetof(vipd_last_adv, addr_sum) == 30);
static_assert(sizeof(vipd_vip_state) == 48);
static_assert(sizeof(vipd_port_cfg) == 8);
static_assert(sizeof(vipd_port_stat) == 6 * 8);
static_assert(sizeof(vipd_event_hdr) == 16);
static_assert(offsetof(vipd_event_hdr, ts_ns) == 8);
static_assert(sizeof(vipd_advert_event) == 16 + 16 + 32 + 32);
static_assert(offsetof(vipd_advert_event, ttl) == 24);
static_assert(offsetof(vipd_advert_event, addr_sum) == 26);
static_assert(offsetof(vipd_advert_event, cause) == 28);
static_assert(sizeof(vipd_advert_event::cause) == 2);
static_assert(offsetof(vipd_advert_event, src) == 32);
static_assert(offsetof(vipd_advert_event, dst) == 48);
static_assert(offsetof(vipd_advert_event, prev_rx_ns) == 64);
static_assert(offsetof(vipd_advert_event, prev_src) == 72);
static_assert(offsetof(vipd_advert_event, prev_family) == 88);
static_assert(offsetof(vipd_advert_event, prev_priority) == 89);
static_assert(offsetof(vipd_advert_event, prev_interval_cs) == 90);
static_assert(offsetof(vipd_advert_event, prev_valid) == 92);
static_assert(offsetof(vipd_advert_event, prev_version) == 93);
static_assert(offsetof(vipd_advert_event, prev_addr_sum) == 94);
static_assert(VIPD_CAUSE_DELIVER_ALL == 1 << 8);
static_assert(sizeof(vipd_conflict_event) == 48);  // 44 bytes of fields + tail padding
static_assert(offsetof(vipd_conflict_event, ip) == 28);
static_assert(sizeof(vipd_port_event) == 16 + 8 + 8);
static_assert(offsetof(vipd_port_event, rst_tx) == 24);

}  // namespace
