// XDP advert path: validates VRRP v2/v3 adverts in the driver, keeps per-VRID counters, coalesces
// unchanged adverts into vipd_last_adv and wakes the agent (ring buffer) only when something it
// acts on changed (or, for a VRID with vipd_vrid_cfg.deliver_all set, on every valid advert: a
// MASTER's core must see each advert, as on the per-advert path). An event carries the record it
// replaces, so the agent can feed the advert coalescing hid before the new one. Also watches ARP
// (and IPv6 neighbour adverts) for our VIPs coming from a MAC that is not ours. It never redirects:
// XDP_PASS, or XDP_DROP for invalid adverts of our own VRIDs when vipd_cfg.drop_invalid is set.
//
// Validation mirrors vipd::core::decode_advert + check_advert step by step (see the order in
// include/vipd/core/advert.h); tests/bpf/xdp_differential_test.cpp holds the two to the same
// verdicts and reasons. Frame-level rules the codec never sees (it gets the IP payload):
//   - a frame shorter than the IP total/payload length is Truncated (checked first);
//   - IPv4 fragments, IHL < 5, total length < IHL, or an IP header cut by the frame end: not VRRP
//     for us (XDP_PASS, nothing counted), the kernel drops them anyway;
//   - IPv6: only the fixed header (next header 112 directly), like the agent's raw socket.
// Counters go to the slot of the advert's VRID when its 8-byte header is readable and that VRID is
// enabled in vipd_vrid_cfg, else to slot 0 (traffic that is not ours).
//
// Master_Down timer: the agent runs it (timerfd) and, when it expires, reads vipd_last_adv.rx_ns:
// if an advert arrived within Master_Down_Interval it re-arms for the remainder instead of taking
// over. A bpf_timer in here would save that map read, but it cannot send adverts, add VIPs or
// send gratuitous ARP, so expiry would still be an event to the agent; it would also put the timer
// into the kernel object's lifetime (a restarted agent cannot inspect or re-arm it) and need
// kernel 5.15+ with a timer per VRID in a map. Timers fire a few times per second at most, so a
// syscall at expiry costs nothing that matters, and the agent keeps one clock for all its timers.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "csum.h"
#include "event_hdr.h"
#include "vipd/bpf_abi.h"
#include "vrrp_parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vipd_global_cfg);
} vipd_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, VIPD_VRID_SLOTS);
  __type(key, __u32);
  __type(value, struct vipd_vrid_cfg);
} vipd_vrid_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VIPD_MAX_PEERS);
  __type(key, struct vipd_addr);
  __type(value, __u8);
} vipd_peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VIPD_VRID_SLOTS);
  __type(key, __u32);
  __type(value, struct vipd_vrid_stat);
} vipd_vrid_stat SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, VIPD_VRID_SLOTS);
  __type(key, __u32);
  __type(value, struct vipd_last_adv);
} vipd_last_adv SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VIPD_MAX_VIPS);
  __type(key, struct vipd_addr);
  __type(value, struct vipd_vip_state);
} vipd_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VIPD_MAX_OWN_MACS);
  __type(key, struct vipd_mac);
  __type(value, __u8);
} vipd_own_macs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, VIPD_RINGBUF_BYTES);
} vipd_events SEC(".maps");

// Outcome of the last VRRP packet (see struct vipd_xdp_last in bpf_abi.h), recorded only when a
// test sets vipd_record_last before load: the agent's program never writes this shared line.
const volatile __u8 vipd_record_last = 0;
struct vipd_xdp_last vipd_xdp_last = {};

// Tests only, set before load: update vipd_last_adv without its lock, so the multi-CPU test can
// show what the lock prevents (torn records). The agent's program always locks.
const volatile __u8 vipd_test_unlocked_record = 0;
// Tests only, set before load: linger a few hundred nanoseconds between a record's source and the
// rest of it, so that a half-written record is there to be seen on any CPU whenever the lock does
// not keep readers and other writers out (an Intel host showed no tear in 45 s without it).
const volatile __u8 vipd_test_widen_record_race = 0;

// The longest address list: 255 IPv6 addresses, in 32-bit words.
#define VIPD_MAX_ADDR_WORDS (255 * 16 / 4)

// What the IP layer says about a VRRP message.
struct vrrp_meta {
  struct vipd_addr src;  // key for vipd_peers as well
  __u8 dst[16];
  __u32 len;  // message length from the IP header
  __u8 ttl;
};

// The decoded fields the coalescing record and the event need.
struct advert {
  __u16 interval_cs;
  __u16 addr_sum;  // host order, as vipd::core::checksum_add folds it
  __u8 vrid;
  __u8 version;
  __u8 priority;
  __u8 count;
  __u8 auth_type;
  __u8 checksum_form;
};

static __always_inline __u32 address_size(__u8 family) {
  return family == 4 ? 4 : 16;
}

static __always_inline int is_ttl_exempt(const struct vrrp_meta* meta) {
  const __u8* flags = bpf_map_lookup_elem(&vipd_peers, &meta->src);
  return flags && (*flags & VIPD_PEER_TTL_EXEMPT);
}

// Sent to the VRRP group (224.0.0.18 or ff02::12) rather than to one of our addresses.
static __always_inline int to_vrrp_group(const struct vrrp_meta* meta) {
  const __u32* dst = (const __u32*)meta->dst;
  if (meta->src.family == 4) return dst[0] == bpf_htonl(0xE0000012);
  return dst[0] == bpf_htonl(0xFF020000) && dst[1] == 0 && dst[2] == 0 && dst[3] == bpf_htonl(0x12);
}

// Addressed to one of this VRID's VIPs: a rival vipd's first contact in a split brain (it knows
// our MAC from an ARP answer, not our address).
static __always_inline int to_own_vip(const struct vrrp_meta* meta, __u32 vrid) {
  struct vipd_addr vip = {.family = meta->src.family};
  __builtin_memcpy(vip.addr, meta->dst, sizeof(vip.addr));
  const struct vipd_vip_state* state = bpf_map_lookup_elem(&vipd_vips, &vip);
  return state && state->vrid == vrid;
}

// Who may advertise: anyone to the group (unless restrict_sources), known peers always, and by
// unicast also a rival vipd contacting us at a VIP we hold, or anyone while the agent heals a
// conflict on this VRID (its rival is not known yet). Only unicast adverts and restricted nodes
// pay for the lookups.
static __always_inline enum vipd_reason check_source(const struct vrrp_meta* meta,
                                                     const struct vipd_vrid_cfg* cfg, __u32 vrid) {
  __u32 zero = 0;
  const struct vipd_global_cfg* global = bpf_map_lookup_elem(&vipd_cfg, &zero);
  const int group = to_vrrp_group(meta);
  if (group && !(global && global->restrict_sources)) return VIPD_REASON_OK;
  if (bpf_map_lookup_elem(&vipd_peers, &meta->src)) return VIPD_REASON_OK;
  if (group) return VIPD_REASON_NOT_PEER;
  if (bpf_ktime_get_ns() < cfg->unicast_open_until_ns) return VIPD_REASON_OK;
  return to_own_vip(meta, vrid) ? VIPD_REASON_OK : VIPD_REASON_NOT_PEER;
}

// Returned by vipd_sum_words when a word lies past the frame end. It cannot happen once the message
// is known to be in the frame, but the verifier needs the check; real sums stay below 2^43.
#define VIPD_SUM_FAILED (1ULL << 63)
#define VIPD_MAX_SUM_OFFSET 255  // Ethernet + 2 tags + IPv4 with options + VRRP header: 90

// Sum of `words` 32-bit words at `offset` into the frame. A global (not inlined) function so the
// verifier walks its bounded loop once, on its own, instead of once for every parse path that
// reaches it (that took 300k instructions and 9 s to load).
__attribute__((noinline)) __u64 vipd_sum_words(struct xdp_md* ctx, __u32 offset, __u32 words) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  if (offset > VIPD_MAX_SUM_OFFSET) return VIPD_SUM_FAILED;
  void* start = data + offset;
  __u64 total = 0;
  for (__u32 i = 0; i < VIPD_MAX_ADDR_WORDS; i++) {
    if (i >= words) break;
    __u32* word = start + i * 4;
    void* word_end = word + 1;
    // Keeps clang from rewriting the bound check into arithmetic on data_end (verifier-illegal).
    asm volatile("" : "+r"(word_end));
    if (word_end > data_end) return VIPD_SUM_FAILED;
    total += *word;
  }
  return total;
}

static __always_inline __u64 pseudo_header_sum(const struct vrrp_meta* meta) {
  const __u32* src = (const __u32*)meta->src.addr;
  const __u32* dst = (const __u32*)meta->dst;
  __u64 sum = (__u64)src[0] + dst[0] + bpf_htons(VIPD_IPPROTO_VRRP) + bpf_htons((__u16)meta->len);
  if (meta->src.family == 6) {
    sum += (__u64)src[1] + src[2] + src[3] + dst[1] + dst[2] + dst[3];
  }
  return sum;
}

// decode_advert checks 2-6b on a message of meta->len bytes that lies in the frame.
static __always_inline enum vipd_reason decode(struct xdp_md* ctx, void* msg, void* data_end,
                                               const struct vrrp_meta* meta, struct advert* adv) {
  __u8* hdr = msg;
  if ((void*)(hdr + VIPD_VRRP_HEADER_SIZE) > data_end) return VIPD_REASON_TRUNCATED;
  if (meta->ttl != VIPD_VRRP_TTL && !is_ttl_exempt(meta)) return VIPD_REASON_BAD_TTL;

  __u8 family = meta->src.family;
  __u8 version = hdr[0] >> 4;
  if (!(version == 3 || (version == 2 && family == 4))) return VIPD_REASON_BAD_VERSION;
  if ((hdr[0] & 0x0f) != 1) return VIPD_REASON_BAD_TYPE;

  adv->version = version;
  adv->vrid = hdr[1];
  adv->priority = hdr[2];
  adv->count = hdr[3];
  __u32 auth_size = 0;
  if (version == 2) {
    adv->auth_type = hdr[4];
    adv->interval_cs = (__u16)hdr[5] * 100;
    auth_size = VIPD_VRRP_AUTH_SIZE;
  } else {
    adv->auth_type = 0;
    adv->interval_cs = (__u16)(hdr[4] & 0x0f) << 8 | hdr[5];
  }
  __u32 addr_bytes = (__u32)adv->count * address_size(family);
  if (adv->count == 0 || meta->len != VIPD_VRRP_HEADER_SIZE + addr_bytes + auth_size) {
    return VIPD_REASON_COUNT_MISMATCH;
  }

  __u32 addr_offset = (void*)(hdr + VIPD_VRRP_HEADER_SIZE) - (void*)(long)ctx->data;
  __u64 addr_sum = vipd_sum_words(ctx, addr_offset, addr_bytes / 4);
  if (addr_sum == VIPD_SUM_FAILED) return VIPD_REASON_TRUNCATED;
  adv->addr_sum = bpf_ntohs(csum_fold64(addr_sum));
  __u64 msg_sum = addr_sum + *(__u32*)hdr + *(__u32*)(hdr + 4);
  if (version == 2) {
    __u32* auth = (void*)(hdr + VIPD_VRRP_HEADER_SIZE) + (addr_bytes & 0x3ff);
    if ((void*)(auth + 2) > data_end) return VIPD_REASON_TRUNCATED;
    msg_sum += (__u64)auth[0] + auth[1];
    if (!csum_folded_ok(msg_sum)) return VIPD_REASON_BAD_CHECKSUM;
    adv->checksum_form = VIPD_CSUM_V2;
  } else if (csum_folded_ok(msg_sum + pseudo_header_sum(meta))) {
    adv->checksum_form = VIPD_CSUM_V3_PSEUDO;
  } else if (family == 4 && csum_folded_ok(msg_sum)) {
    adv->checksum_form = VIPD_CSUM_V3_MESSAGE_ONLY;
  } else {
    return VIPD_REASON_BAD_CHECKSUM;
  }
  return adv->interval_cs == 0 ? VIPD_REASON_ZERO_INTERVAL : VIPD_REASON_OK;
}

// check_advert checks 7-11 against the VRID's configuration.
static __always_inline enum vipd_reason check(void* msg, void* data_end,
                                              const struct vipd_vrid_cfg* cfg,
                                              const struct vrrp_meta* meta,
                                              const struct advert* adv) {
  if (adv->version != cfg->version) return VIPD_REASON_BAD_VERSION;
  if (meta->src.family != cfg->family) return VIPD_REASON_FAMILY_MISMATCH;
  if (adv->version != 2) return VIPD_REASON_OK;
  if (adv->auth_type != cfg->auth_type) return VIPD_REASON_AUTH_TYPE_MISMATCH;
  if (adv->auth_type == 1) {
    __u32* auth = msg + VIPD_VRRP_HEADER_SIZE + (((__u32)adv->count * 4) & 0x3ff);
    if ((void*)(auth + 2) > data_end) return VIPD_REASON_TRUNCATED;
    const __u32* key = (const __u32*)cfg->auth_key;
    if (auth[0] != key[0] || auth[1] != key[1]) return VIPD_REASON_AUTH_MISMATCH;
  }
  if (cfg->v2_interval_s != 0 && adv->interval_cs != (__u16)cfg->v2_interval_s * 100) {
    return VIPD_REASON_INTERVAL_MISMATCH;
  }
  return VIPD_REASON_OK;
}

static __always_inline void count_invalid(struct vipd_vrid_stat* stat, enum vipd_reason reason) {
  if (reason > VIPD_REASON_OK && reason < VIPD_REASON_COUNT) stat->rx_invalid[reason]++;
}

// A vipd_last_adv without its lock: what one CPU read of the record while holding it.
struct record_view {
  __u64 rx_ns;
  __u8 src[16];
  __u8 family;
  __u8 version;
  __u8 priority;
  __u8 valid;
  __u16 interval_cs;
  __u16 addr_sum;
};

static __always_inline void lock_record(struct vipd_last_adv* rec) {
  if (!vipd_test_unlocked_record) bpf_spin_lock(&rec->lock);
}

static __always_inline void unlock_record(struct vipd_last_adv* rec) {
  if (!vipd_test_unlocked_record) bpf_spin_unlock(&rec->lock);
}

// Field by field: the lock itself may not be read or copied.
static __always_inline void read_record(struct record_view* view, const struct vipd_last_adv* rec) {
  view->rx_ns = rec->rx_ns;
  __builtin_memcpy(view->src, rec->src, sizeof(view->src));
  view->family = rec->family;
  view->version = rec->version;
  view->priority = rec->priority;
  view->valid = rec->valid;
  view->interval_cs = rec->interval_cs;
  view->addr_sum = rec->addr_sum;
}

// vipd_test_widen_record_race; the verifier drops it from the agent's program.
static __always_inline void widen_record_race(void) {
  if (!vipd_test_widen_record_race) return;
  // No helper calls: the agent's build holds the record's lock here.
  __u64 spin = 0;
  for (int i = 0; i < 256; i++) asm volatile("%0 += 1" : "+r"(spin));
}

static __always_inline void write_record(struct vipd_last_adv* rec, const struct vrrp_meta* meta,
                                         const struct advert* adv) {
  __builtin_memcpy(rec->src, meta->src.addr, sizeof(rec->src));
  widen_record_race();
  rec->family = meta->src.family;
  rec->version = adv->version;
  rec->priority = adv->priority;
  rec->interval_cs = adv->interval_cs;
  rec->addr_sum = adv->addr_sum;
  rec->valid = 1;
}

// What changed against the record (0: nothing, the advert coalesces).
static __always_inline __u16 coalesce_cause(const struct record_view* rec,
                                            const struct vrrp_meta* meta, const struct advert* adv,
                                            __u64 now, __u64 stale_ns) {
  __u16 cause = adv->priority == 0 ? VIPD_CAUSE_PRIORITY_ZERO : 0;
  if (!rec->valid) return cause | VIPD_CAUSE_NEW;
  // 32-bit words: vipd_addr.addr is only 4-byte aligned on the stack.
  const __u32* old_src = (const __u32*)rec->src;
  const __u32* new_src = (const __u32*)meta->src.addr;
  if (rec->family != meta->src.family || old_src[0] != new_src[0] || old_src[1] != new_src[1] ||
      old_src[2] != new_src[2] || old_src[3] != new_src[3]) {
    cause |= VIPD_CAUSE_SOURCE;
  }
  if (rec->priority != adv->priority) cause |= VIPD_CAUSE_PRIORITY;
  if (rec->interval_cs != adv->interval_cs) cause |= VIPD_CAUSE_INTERVAL;
  if (rec->version != adv->version) cause |= VIPD_CAUSE_VERSION;
  if (rec->addr_sum != adv->addr_sum) cause |= VIPD_CAUSE_ADDRESSES;
  if (stale_ns != 0 && now - rec->rx_ns > stale_ns) cause |= VIPD_CAUSE_STALE;
  return cause;
}

// A unicast advert from a source the agent has not made a peer: a rival reaching us while a split
// brain heals. It must reach the agent, which learns the sender from it, even when it repeats the
// record (the rival was heard by multicast before the block). Once learned, the sender is a peer
// and its adverts coalesce again.
static __always_inline __u16 stranger_cause(const struct vrrp_meta* meta) {
  if (to_vrrp_group(meta)) return 0;
  return bpf_map_lookup_elem(&vipd_peers, &meta->src) ? 0 : VIPD_CAUSE_STRANGER;
}

// The record as it was before this advert replaced it (all zero when there was none).
static __always_inline void copy_replaced_record(struct vipd_advert_event* ev,
                                                 const struct record_view* rec) {
  if (!rec->valid) {
    ev->prev_rx_ns = 0;
    __builtin_memset(ev->prev_src, 0, sizeof(ev->prev_src));
    ev->prev_family = 0;
    ev->prev_priority = 0;
    ev->prev_interval_cs = 0;
    ev->prev_valid = 0;
    ev->prev_version = 0;
    ev->prev_addr_sum = 0;
    return;
  }
  ev->prev_rx_ns = rec->rx_ns;
  __builtin_memcpy(ev->prev_src, rec->src, sizeof(ev->prev_src));
  ev->prev_family = rec->family;
  ev->prev_priority = rec->priority;
  ev->prev_interval_cs = rec->interval_cs;
  ev->prev_valid = 1;
  ev->prev_version = rec->version;
  ev->prev_addr_sum = rec->addr_sum;
}

static __always_inline void fill_advert_event(struct vipd_advert_event* ev, struct xdp_md* ctx,
                                              const struct vrrp_meta* meta,
                                              const struct advert* adv,
                                              const struct record_view* replaced, __u16 cause,
                                              __u64 now) {
  vipd_fill_event_hdr(&ev->hdr, VIPD_EVENT_ADVERT, sizeof(*ev), ctx->ingress_ifindex, now);
  ev->vrid = adv->vrid;
  ev->version = adv->version;
  ev->priority = adv->priority;
  ev->family = meta->src.family;
  ev->interval_cs = adv->interval_cs;
  ev->count = adv->count;
  ev->checksum_form = adv->checksum_form;
  ev->ttl = meta->ttl;
  ev->pad0 = 0;
  ev->addr_sum = adv->addr_sum;
  ev->cause = cause;
  ev->pad1 = 0;
  __builtin_memcpy(ev->src, meta->src.addr, sizeof(ev->src));
  __builtin_memcpy(ev->dst, meta->dst, sizeof(ev->dst));
  copy_replaced_record(ev, replaced);
}

// Emits an event when the advert tells the agent something new, or for every advert of a
// deliver_all VRID; otherwise only refreshes the record's timestamp. When the ring buffer is full
// a changed record is left untouched, so the next advert retries the event (at worst the agent's
// Master_Down timer sees an older rx_ns); an unchanged one still gets its timestamp.
//
// Adverts of one VRID may run on several CPUs at once. The record's fields are only ever written
// under its lock (no helper may run while it is held, so the ring-buffer slot is reserved first),
// and the agent reads them under it too, so neither side ever sees one sender's address with
// another's priority (tests/bpf/xdp_record_lock_test.cpp). The steady state, an advert identical
// to the record, stays lock-free: it stores only rx_ns, one aligned 8-byte word, and a comparison
// made while another CPU rewrites the record at worst sends the advert down the locked path.
static __always_inline void coalesce(struct xdp_md* ctx, const struct vrrp_meta* meta,
                                     const struct advert* adv, const struct vipd_vrid_cfg* cfg,
                                     struct vipd_vrid_stat* stat) {
  __u32 key = adv->vrid;
  struct vipd_last_adv* rec = bpf_map_lookup_elem(&vipd_last_adv, &key);
  if (!rec) return;
  __u64 now = bpf_ktime_get_ns();
  __u32 zero = 0;
  const struct vipd_global_cfg* global = bpf_map_lookup_elem(&vipd_cfg, &zero);
  struct record_view before;
  read_record(&before, rec);
  const __u16 change =
      coalesce_cause(&before, meta, adv, now, global ? global->stale_ns : 0) | stranger_cause(meta);
  if (!change && !(cfg && cfg->deliver_all)) {
    rec->rx_ns = now;
    return;
  }
  struct vipd_advert_event* ev = bpf_ringbuf_reserve(&vipd_events, sizeof(*ev), 0);
  if (!ev) {
    stat->rx_events_dropped++;
    if (!change) rec->rx_ns = now;
    return;
  }
  // What this advert replaces is the record as the locked section finds it, which another CPU
  // may have rewritten since the comparison.
  lock_record(rec);
  read_record(&before, rec);
  rec->rx_ns = now;
  if (change) write_record(rec, meta, adv);
  unlock_record(rec);
  fill_advert_event(ev, ctx, meta, adv, &before, change ? change : VIPD_CAUSE_DELIVER_ALL, now);
  bpf_ringbuf_submit(ev, 0);
  stat->rx_events++;
}

static __always_inline int drop_invalid(void) {
  __u32 zero = 0;
  const struct vipd_global_cfg* global = bpf_map_lookup_elem(&vipd_cfg, &zero);
  return global && global->drop_invalid;
}

// Counts, coalesces and decides the verdict for one VRRP message.
static __always_inline int handle_vrrp(struct xdp_md* ctx, void* msg, void* data_end,
                                       const struct vrrp_meta* meta) {
  struct advert adv = {};
  enum vipd_reason reason = VIPD_REASON_TRUNCATED;
  __u32 slot = 0;
  const struct vipd_vrid_cfg* cfg = 0;
  __u8* hdr = msg;
  if (meta->len >= VIPD_VRRP_HEADER_SIZE && (void*)(hdr + VIPD_VRRP_HEADER_SIZE) <= data_end) {
    __u32 vrid = hdr[1];
    cfg = bpf_map_lookup_elem(&vipd_vrid_cfg, &vrid);
    if (cfg && cfg->enabled && vrid != 0) slot = vrid;
    if (msg + meta->len <= data_end) reason = decode(ctx, msg, data_end, meta, &adv);
    if (reason == VIPD_REASON_OK) {
      if (slot == 0) {
        reason = VIPD_REASON_UNKNOWN_VRID;
      } else if (cfg) {
        reason = check(msg, data_end, cfg, meta, &adv);
        if (reason == VIPD_REASON_OK) reason = check_source(meta, cfg, adv.vrid);
      }
    }
  }
  if (vipd_record_last) {
    vipd_xdp_last.reason = reason;
    vipd_xdp_last.slot = slot;
  }

  struct vipd_vrid_stat* stat = bpf_map_lookup_elem(&vipd_vrid_stat, &slot);
  if (!stat) return XDP_PASS;
  if (reason != VIPD_REASON_OK) {
    count_invalid(stat, reason);
    return slot != 0 && drop_invalid() ? XDP_DROP : XDP_PASS;
  }
  stat->rx_valid++;
  stat->rx_bytes += meta->len;
  coalesce(ctx, meta, &adv, cfg, stat);
  return XDP_PASS;
}

static __always_inline int handle_ipv4(struct xdp_md* ctx, void* l3, void* data_end) {
  struct iphdr* ip = l3;
  if ((void*)(ip + 1) > data_end) return XDP_PASS;
  if (ip->protocol != VIPD_IPPROTO_VRRP) return XDP_PASS;
  if (ip->frag_off & bpf_htons(VIPD_IPV4_FRAGMENT_BITS)) return XDP_PASS;
  __u32 header_len = ip->ihl * 4;
  __u32 total_len = bpf_ntohs(ip->tot_len);
  if (header_len < sizeof(*ip) || total_len < header_len) return XDP_PASS;
  void* msg = l3 + header_len;
  if (msg > data_end) return XDP_PASS;

  struct vrrp_meta meta = {};
  meta.src.family = 4;
  *(__u32*)meta.src.addr = ip->saddr;
  *(__u32*)meta.dst = ip->daddr;
  meta.ttl = ip->ttl;
  meta.len = total_len - header_len;
  return handle_vrrp(ctx, msg, data_end, &meta);
}

// Sender MAC of a neighbour advert: the target link-layer address option when it comes first,
// else the Ethernet source.
static __always_inline void neighbor_advert_mac(const struct vipd_neighbor_advert* na,
                                                void* data_end, const struct ethhdr* eth,
                                                struct vipd_mac* mac) {
  if ((void*)(na + 1) <= data_end && na->opt_type == VIPD_ND_OPT_TARGET_LL_ADDR &&
      na->opt_len == 1) {
    __builtin_memcpy(mac->addr, na->opt_mac, sizeof(mac->addr));
    return;
  }
  __builtin_memcpy(mac->addr, eth->h_source, sizeof(mac->addr));
}

static __always_inline int same_mac(const struct vipd_mac* a, const struct vipd_mac* b) {
  int same = 1;
#pragma unroll
  for (int i = 0; i < 6; i++) same &= a->addr[i] == b->addr[i];
  return same;
}

// Whether a claim by `mac` may become an event now (see struct vipd_vip_state). Two CPUs may
// both pass at once: the limit is approximate, its bound is not.
static __always_inline int conflict_event_allowed(struct vipd_vip_state* state,
                                                  const struct vipd_mac* mac, __u64 now) {
  if (state->last_event_ns != 0 && now - state->last_event_ns < VIPD_CONFLICT_EVENT_INTERVAL_NS &&
      same_mac(&state->last_mac, mac)) {
    return 0;
  }
  if (state->window_start_ns == 0 ||
      now - state->window_start_ns >= VIPD_CONFLICT_EVENT_INTERVAL_NS) {
    state->window_start_ns = now;
    state->window_events = 0;
  }
  return state->window_events < VIPD_CONFLICT_EVENTS_PER_INTERVAL;
}

// A VIP of ours was claimed by `mac`: count it and, within the rate limit, tell the agent.
static __always_inline void report_conflict(struct xdp_md* ctx, const struct vipd_addr* vip,
                                            const struct vipd_mac* mac) {
  struct vipd_vip_state* state = bpf_map_lookup_elem(&vipd_vips, vip);
  if (!state) return;
  if (bpf_map_lookup_elem(&vipd_own_macs, mac)) return;
  __sync_fetch_and_add(&state->conflicts, 1);
  __u64 now = bpf_ktime_get_ns();
  if (!conflict_event_allowed(state, mac, now)) return;
  struct vipd_conflict_event* ev = bpf_ringbuf_reserve(&vipd_events, sizeof(*ev), 0);
  if (!ev) {
    __u32 slot = state->vrid < VIPD_VRID_SLOTS ? state->vrid : 0;
    struct vipd_vrid_stat* stat = bpf_map_lookup_elem(&vipd_vrid_stat, &slot);
    if (stat) stat->rx_events_dropped++;
    return;
  }
  state->window_events++;
  state->last_event_ns = now;
  state->last_mac = *mac;
  vipd_fill_event_hdr(&ev->hdr, VIPD_EVENT_VIP_CONFLICT, sizeof(*ev), ctx->ingress_ifindex, now);
  ev->vrid = state->vrid;
  ev->family = vip->family;
  __builtin_memcpy(ev->mac, mac->addr, sizeof(ev->mac));
  ev->pad = 0;
  __builtin_memcpy(ev->ip, vip->addr, sizeof(ev->ip));
  bpf_ringbuf_submit(ev, 0);
}

static __always_inline int handle_ipv6(struct xdp_md* ctx, void* data, void* l3, void* data_end) {
  struct ipv6hdr* ip6 = l3;
  if ((void*)(ip6 + 1) > data_end) return XDP_PASS;
  if (ip6->nexthdr == VIPD_IPPROTO_VRRP) {
    struct vrrp_meta meta = {};
    meta.src.family = 6;
    __builtin_memcpy(meta.src.addr, &ip6->saddr, 16);
    __builtin_memcpy(meta.dst, &ip6->daddr, 16);
    meta.ttl = ip6->hop_limit;
    meta.len = bpf_ntohs(ip6->payload_len);
    return handle_vrrp(ctx, ip6 + 1, data_end, &meta);
  }
  if (ip6->nexthdr != VIPD_IPPROTO_ICMPV6 || ip6->hop_limit != 255) return XDP_PASS;
  struct vipd_neighbor_advert* na = (void*)(ip6 + 1);
  if ((void*)&na->opt_type > data_end || na->type != VIPD_ICMPV6_NEIGHBOR_ADVERT) return XDP_PASS;
  struct vipd_addr vip = {.family = 6};
  __builtin_memcpy(vip.addr, na->target, sizeof(vip.addr));
  struct vipd_mac mac = {};
  neighbor_advert_mac(na, data_end, data, &mac);
  report_conflict(ctx, &vip, &mac);
  return XDP_PASS;
}

static __always_inline int handle_arp(struct xdp_md* ctx, void* l3, void* data_end) {
  struct vipd_arp_eth_ipv4* arp = l3;
  if ((void*)(arp + 1) > data_end) return XDP_PASS;
  if (arp->hw_type != bpf_htons(1) || arp->proto_type != bpf_htons(ETH_P_IP) || arp->hw_len != 6 ||
      arp->proto_len != 4) {
    return XDP_PASS;
  }
  if (arp->op != bpf_htons(1) && arp->op != bpf_htons(2)) return XDP_PASS;
  struct vipd_addr vip = {.family = 4};
  __builtin_memcpy(vip.addr, arp->sender_ip, 4);
  struct vipd_mac mac = {};
  __builtin_memcpy(mac.addr, arp->sender_mac, sizeof(mac.addr));
  report_conflict(ctx, &vip, &mac);
  return XDP_PASS;
}

SEC("xdp")
int vipd_xdp_advert(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct vipd_l2 l2;
  if (vipd_parse_l2(data, data_end, &l2) < 0) return XDP_PASS;
  if (l2.proto == bpf_htons(ETH_P_IP)) return handle_ipv4(ctx, l2.l3, data_end);
  if (l2.proto == bpf_htons(ETH_P_IPV6)) return handle_ipv6(ctx, data, l2.l3, data_end);
  if (l2.proto == bpf_htons(ETH_P_ARP)) return handle_arp(ctx, l2.l3, data_end);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
