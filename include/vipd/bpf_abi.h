/* vipd kernel/user ABI: every map key, map value and ring-buffer record shared by the BPF programs
 * (bpf/vipd_*.bpf.c) and the agent. Plain C with fixed-width types and explicit padding so both
 * compilers lay it out identically; agent/bpf/abi_check.cpp static_asserts sizes and offsets.
 *
 * Maps (names are what `bpftool map dump name ...` takes):
 *   vipd_cfg        array[1]    struct vipd_global_cfg        agent-written settings
 *   vipd_vrid_cfg   array[256]  struct vipd_vrid_cfg          per-VRID expectations (key = VRID)
 *   vipd_peers      hash        struct vipd_addr -> __u8      known peers (VIPD_PEER_* flags)
 *   vipd_vrid_stat  percpu[256] struct vipd_vrid_stat         counters; key 0 = unknown VRIDs and
 *                                                             packets rejected before the VRID
 *   vipd_last_adv   array[256]  struct vipd_last_adv          coalescing record per VRID
 *   vipd_vips       hash        struct vipd_addr -> struct vipd_vip_state   ARP/NA watch
 *   vipd_own_macs   hash        struct vipd_mac -> __u8       our MACs (not conflicts)
 *   vipd_ports      hash        __u16 port -> struct vipd_port_cfg          monitored TCP ports
 * (tc) vipd_port_stat  percpu hash __u16 port -> struct vipd_port_stat             (tc) vipd_events
 * ringbuf     struct vipd_advert_event | vipd_conflict_event   (XDP) vipd_tc_events  ringbuf struct
 * vipd_port_event                          (tc) Port keys are local TCP ports in host byte order.
 */
#ifndef VIPD_BPF_ABI_H
#define VIPD_BPF_ABI_H

#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>

#define VIPD_VRID_SLOTS 256
#define VIPD_MAX_PEERS 64
#define VIPD_MAX_VIPS 1024
#define VIPD_MAX_OWN_MACS 16
#define VIPD_MAX_PORTS 64
#define VIPD_RINGBUF_BYTES (256 * 1024)
#define VIPD_PORT_EVENT_INTERVAL_NS \
  (10ULL * 1000 * 1000) /* at most one refusal event / port / 10 ms */
#define VIPD_CONFLICT_EVENT_INTERVAL_NS (1000ULL * 1000 * 1000) /* per VIP: the same MAC once, */
#define VIPD_CONFLICT_EVENTS_PER_INTERVAL 4 /* and at most this many MACs, per interval */

/* Why a VRRP packet was not accepted: the one vocabulary of both receive paths. The XDP program
 * counts by it (vipd_vrid_stat.rx_invalid), the raw-socket path decodes to it
 * (vipd::core::DecodeError takes these numbers), and status, logs and metrics name it with
 * vipd::core::to_string / reason_label. */
enum vipd_reason {
  VIPD_REASON_OK = 0,
  VIPD_REASON_TRUNCATED = 1,
  VIPD_REASON_BAD_VERSION = 2,
  VIPD_REASON_BAD_TYPE = 3,
  VIPD_REASON_BAD_CHECKSUM = 4,
  VIPD_REASON_BAD_TTL = 5,
  VIPD_REASON_ZERO_INTERVAL = 6,
  VIPD_REASON_COUNT_MISMATCH = 7,
  VIPD_REASON_AUTH_TYPE_MISMATCH = 8,
  VIPD_REASON_AUTH_MISMATCH = 9,
  VIPD_REASON_INTERVAL_MISMATCH = 10,
  VIPD_REASON_FAMILY_MISMATCH = 11,
  VIPD_REASON_UNKNOWN_VRID = 12, /* valid, but for a VRID this node does not run */
  VIPD_REASON_NOT_PEER = 13,     /* a unicast advert from a source that is neither a known peer nor
                                  * expected (no conflict is being healed on its VRID), or, with
                                  * vipd_global_cfg.restrict_sources, any advert from such a source */
  VIPD_REASON_COUNT = 14,        /* keep last */
};

enum vipd_event_type {
  VIPD_EVENT_ADVERT = 1,       /* a valid advert that differs from the coalescing record, or any
                                * valid advert of a deliver_all VRID */
  VIPD_EVENT_VIP_CONFLICT = 2, /* ARP/NA for one of our VIPs from a MAC that is not ours */
  VIPD_EVENT_PORT_REFUSED = 3, /* RST sent from a monitored port in answer to a SYN */
};

/* Why an advert event was emitted instead of coalesced. */
enum vipd_advert_cause {
  VIPD_CAUSE_NEW = 1 << 0, /* no record yet */
  VIPD_CAUSE_SOURCE = 1 << 1,
  VIPD_CAUSE_PRIORITY = 1 << 2,
  VIPD_CAUSE_INTERVAL = 1 << 3,
  VIPD_CAUSE_ADDRESSES = 1 << 4,
  VIPD_CAUSE_PRIORITY_ZERO = 1 << 5,
  VIPD_CAUSE_STALE = 1 << 6,
  VIPD_CAUSE_VERSION = 1 << 7,
  VIPD_CAUSE_DELIVER_ALL = 1 << 8, /* vipd_vrid_cfg.deliver_all: emitted although unchanged */
};

enum vipd_checksum_form {
  VIPD_CSUM_V2 = 0,
  VIPD_CSUM_V3_PSEUDO = 1,
  VIPD_CSUM_V3_MESSAGE_ONLY = 2,
};

/* An IPv4 (family 4, first 4 bytes used, rest zero) or IPv6 (family 6) address. */
struct vipd_addr {
  __u8 family;
  __u8 pad[3];
  __u8 addr[16];
};

struct vipd_mac {
  __u8 addr[6];
  __u8 pad[2];
};

struct vipd_global_cfg {
  __u64 stale_ns;    /* re-emit an unchanged advert when the record is older than this; 0: never */
  __u8 drop_invalid; /* XDP_DROP invalid VRRP packets instead of XDP_PASS */
  __u8
      restrict_sources; /* adverts to the group too must come from vipd_peers (--allowed-sources) */
  __u8 pad[6];
};

/* vipd_peers values: every entry is a known peer (configured, resolved from DNS or learned), whose
 * unicast adverts are accepted. */
enum vipd_peer_flags {
  VIPD_PEER_TTL_EXEMPT = 1 << 0, /* a configured unicast peer: its TTL is not checked */
};

struct vipd_vrid_cfg {
  __u8 enabled;
  __u8 version;       /* 2 or 3 */
  __u8 family;        /* 4 or 6 */
  __u8 auth_type;     /* v2: 0 none, 1 simple password */
  __u8 v2_interval_s; /* v2: local interval; 0: unchecked */
  __u8 deliver_all;   /* emit every valid advert (the agent sets it while the instance is MASTER,
                       * so the core sees each one, as on the per-advert path); still coalesces
                       * the record */
  __u8 pad[2];
  __u8 auth_key[8];
  __u64 unicast_open_until_ns; /* bpf_ktime_get_ns() until which unicast adverts from sources that
                                * are not peers are accepted: a conflict on this VRID is being
                                * healed and the rival is not known yet; 0: closed */
};

struct vipd_vrid_stat {
  __u64 rx_valid;
  __u64 rx_events;                     /* valid adverts passed to user space */
  __u64 rx_bytes;                      /* VRRP message bytes of valid adverts */
  __u64 rx_events_dropped;             /* ring buffer full */
  __u64 rx_invalid[VIPD_REASON_COUNT]; /* index: enum vipd_reason (0, OK, stays 0) */
};

/* Adverts of one VRID can arrive on several CPUs at once: the kernel writes a record's fields only
 * under `lock`, and the agent reads and clears it with BPF_F_LOCK, so nobody ever sees one sender's
 * address with another's priority. */
struct vipd_last_adv {
  __u64 rx_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last valid advert */
  __u8 src[16];
  __u8 family;
  __u8 version;
  __u8 priority;
  __u8 valid; /* a record exists */
  __u16 interval_cs;
  __u16 addr_sum; /* address-list hash: one's-complement sum of the address words, folded,
                   * not inverted, host order (= vipd::core::checksum_add(0, addresses)) */
  struct bpf_spin_lock lock;
  __u32 pad;
};

/* vipd_vips values. Conflict events are rate-limited per VIP: each second, at most
 * VIPD_CONFLICT_EVENTS_PER_INTERVAL events, never the same MAC twice in a row within the second
 * (a probe can be answered by several rivals; a flood of forged replies stays cheap). */
struct vipd_vip_state {
  __u32 vrid;
  __u32 window_events;   /* events sent since window_start_ns */
  __u64 window_start_ns; /* 0: no event yet */
  __u64 conflicts;       /* every ARP/NA for the VIP from a MAC not ours */
  __u64 last_event_ns;   /* the latest event, for last_mac */
  struct vipd_mac last_mac;
  __u8 pad[2];
};

struct vipd_port_cfg {
  __u64 last_event_ns;
};

struct vipd_port_stat {
  __u64 syn_rx;
  __u64 synack_tx;
  __u64 rst_tx;
  __u64 rst_rx;
  __u64 fin;
  __u64 refused_events;
};

struct vipd_event_hdr {
  __u16 type; /* enum vipd_event_type */
  __u16 size; /* of the whole record */
  __u32 ifindex;
  __u64 ts_ns; /* bpf_ktime_get_ns() */
};

struct vipd_advert_event {
  struct vipd_event_hdr hdr;
  __u8 vrid;
  __u8 version;
  __u8 priority;
  __u8 family;
  __u16 interval_cs;
  __u8 count;
  __u8 checksum_form; /* enum vipd_checksum_form */
  __u8 ttl;
  __u8 pad0;
  __u16 addr_sum;
  __u16 cause; /* enum vipd_advert_cause bits */
  __u16 pad1;
  __u8 src[16];
  __u8 dst[16];
  /* The vipd_last_adv record this event replaces, as it was just before (prev_valid 0: there was
   * none, cause NEW; the other prev_ fields are then zero). The agent feeds it first when it is
   * newer than what it fed last: coalescing may have hidden adverts the core must see. */
  __u64 prev_rx_ns;
  __u8 prev_src[16];
  __u8 prev_family;
  __u8 prev_priority;
  __u16 prev_interval_cs;
  __u8 prev_valid;
  __u8 prev_version;
  __u16 prev_addr_sum;
};

struct vipd_conflict_event {
  struct vipd_event_hdr hdr;
  __u32 vrid;
  __u8 family;
  __u8 mac[6];
  __u8 pad;
  __u8 ip[16];
};

struct vipd_port_event {
  struct vipd_event_hdr hdr;
  __u16 port;
  __u8 family;
  __u8 pad[5];
  __u64 rst_tx; /* per-CPU count on the CPU that saw it, for the log */
};

/* vipd_xdp's .bss global `vipd_xdp_last`: the outcome of the last VRRP packet any CPU looked at,
 * written only if the .rodata flag `vipd_record_last` was set before load (tests do; the agent does
 * not). Racy across CPUs by design; tests read it after bpf_prog_test_run_opts to compare the
 * program's reason with vipd::core's. */
struct vipd_xdp_last {
  __u32 reason; /* enum vipd_reason */
  __u32 slot;   /* vipd_vrid_stat key the packet was counted under */
};

#endif /* VIPD_BPF_ABI_H */
