// tc probe counters (clsact ingress and egress, on the VRRP interface and on lo): counts the TCP
// handshake of monitored local ports and reports when the kernel refuses connections to one of them
// (nothing listens), so the health logic learns of a dead application before its probe times out.
//
// The programs only observe: they return TC_ACT_UNSPEC, which lets any filter after ours run and
// otherwise means "pass". TC_ACT_OK would pass too but would skip the filters that follow ours.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

// After the UAPI headers: the helper definitions use their types.
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "event_hdr.h"
#include "vipd/bpf_abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VIPD_MAX_PORTS);
  __type(key, __u16);
  __type(value, struct vipd_port_cfg);
} vipd_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, VIPD_MAX_PORTS);
  __type(key, __u16);
  __type(value, struct vipd_port_stat);
} vipd_port_stat SEC(".maps");

// Port events only; the XDP object's vipd_events carries adverts and conflicts. The agent reads
// both through one ring_buffer.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, VIPD_RINGBUF_BYTES);
} vipd_tc_events SEC(".maps");

enum direction { DIR_INGRESS, DIR_EGRESS };

struct tcp_view {
  __u16 local_port; /* host order */
  __u8 family;
  __u8 flags; /* the TCP flag byte: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
  __u32 seq;  /* host order */
};

#define TCP_FLAG_FIN_BIT 0x01
#define TCP_FLAG_SYN_BIT 0x02
#define TCP_FLAG_RST_BIT 0x04
#define TCP_FLAG_ACK_BIT 0x10
#define IPV4_FRAG_OFFSET_MASK 0x1fff
#define TCP_FLAGS_OFFSET 13

// Offset of the TCP header, or -1 when the packet is not the first piece of a TCP segment.
// Both attach points have an Ethernet header (lo's is all zeros), so the L3 type comes from
// skb->protocol, never from the header.
static __always_inline int tcp_offset(struct __sk_buff* skb, __u8* family) {
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct iphdr ip;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip))) return -1;
    if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP) return -1;
    if (bpf_ntohs(ip.frag_off) & IPV4_FRAG_OFFSET_MASK) return -1;
    *family = 4;
    return ETH_HLEN + ip.ihl * 4;
  }
  if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr ip6;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6))) return -1;
    // Extension headers are not walked: the kernel's own SYN, SYN-ACK and RST carry none.
    if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP) return -1;
    *family = 6;
    return ETH_HLEN + (int)sizeof(struct ipv6hdr);
  }
  return -1;
}

static __always_inline int parse_tcp(struct __sk_buff* skb, enum direction dir,
                                     struct tcp_view* view) {
  int offset = tcp_offset(skb, &view->family);
  if (offset < 0) return -1;
  struct tcphdr tcp;
  if (bpf_skb_load_bytes(skb, offset, &tcp, sizeof(tcp))) return -1;
  view->local_port = bpf_ntohs(dir == DIR_INGRESS ? tcp.dest : tcp.source);
  // The flags byte is part of the copy: the bitfields of struct tcphdr, read as one byte.
  view->flags = ((const __u8*)&tcp)[TCP_FLAGS_OFFSET];
  view->seq = bpf_ntohl(tcp.seq);
  return 0;
}

static __always_inline struct vipd_port_stat* port_stat(__u16 port) {
  struct vipd_port_stat* stat = bpf_map_lookup_elem(&vipd_port_stat, &port);
  if (stat) return stat;
  // The loader creates the entry with the port; this covers a port added by hand.
  struct vipd_port_stat zero = {};
  bpf_map_update_elem(&vipd_port_stat, &port, &zero, BPF_NOEXIST);
  return bpf_map_lookup_elem(&vipd_port_stat, &port);
}

// RFC 9293 3.10.7.1: a RST answering a segment without ACK (a SYN to a closed port) carries
// sequence number 0 and ACK. A reset of an established connection carries the real snd.nxt.
static __always_inline int is_refusal(const struct tcp_view* view) {
  __u8 rst_ack = TCP_FLAG_RST_BIT | TCP_FLAG_ACK_BIT;
  return (view->flags & rst_ack) == rst_ack && view->seq == 0;
}

// At most one event per port per VIPD_PORT_EVENT_INTERVAL_NS. Two CPUs refusing in the same
// instant may both pass the check (no atomic compare-and-swap at this BPF ISA level); the
// user side tolerates a duplicate.
static __always_inline void report_refusal(struct __sk_buff* skb, const struct tcp_view* view,
                                           struct vipd_port_cfg* cfg, struct vipd_port_stat* stat) {
  __u64 now = bpf_ktime_get_ns();
  if (cfg->last_event_ns && now - cfg->last_event_ns < VIPD_PORT_EVENT_INTERVAL_NS) return;
  struct vipd_port_event* event = bpf_ringbuf_reserve(&vipd_tc_events, sizeof(*event), 0);
  if (!event) return;
  cfg->last_event_ns = now;
  vipd_fill_event_hdr(&event->hdr, VIPD_EVENT_PORT_REFUSED, sizeof(*event), skb->ifindex, now);
  event->port = view->local_port;
  event->family = view->family;
  __builtin_memset(event->pad, 0, sizeof(event->pad));
  event->rst_tx = stat->rst_tx;
  bpf_ringbuf_submit(event, 0);
  stat->refused_events++;
}

static __always_inline void count(struct __sk_buff* skb, enum direction dir) {
  struct tcp_view view = {};
  if (parse_tcp(skb, dir, &view)) return;
  struct vipd_port_cfg* cfg = bpf_map_lookup_elem(&vipd_ports, &view.local_port);
  if (!cfg) return;
  struct vipd_port_stat* stat = port_stat(view.local_port);
  if (!stat) return;
  // Per-CPU values: plain increments are safe.
  if (view.flags & TCP_FLAG_FIN_BIT) stat->fin++;
  if (dir == DIR_INGRESS) {
    if ((view.flags & (TCP_FLAG_SYN_BIT | TCP_FLAG_ACK_BIT)) == TCP_FLAG_SYN_BIT) stat->syn_rx++;
    if (view.flags & TCP_FLAG_RST_BIT) stat->rst_rx++;
    return;
  }
  if ((view.flags & (TCP_FLAG_SYN_BIT | TCP_FLAG_ACK_BIT)) == (TCP_FLAG_SYN_BIT | TCP_FLAG_ACK_BIT))
    stat->synack_tx++;
  if (view.flags & TCP_FLAG_RST_BIT) {
    stat->rst_tx++;
    if (is_refusal(&view)) report_refusal(skb, &view, cfg, stat);
  }
}

SEC("tc")
int vipd_tc_ingress(struct __sk_buff* skb) {
  count(skb, DIR_INGRESS);
  return TC_ACT_UNSPEC;
}

SEC("tc")
int vipd_tc_egress(struct __sk_buff* skb) {
  count(skb, DIR_EGRESS);
  return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
