/* Frame parsing for the XDP advert path: Ethernet with up to two VLAN tags, and the wire layouts
 * the UAPI headers do not provide (VLAN tag, Ethernet/IPv4 ARP body, neighbour advertisement). */
#ifndef VIPD_BPF_VRRP_PARSE_H
#define VIPD_BPF_VRRP_PARSE_H

#include <linux/if_ether.h>
#include <linux/types.h>

#include <bpf/bpf_endian.h>

#define VIPD_IPPROTO_VRRP 112
#define VIPD_IPPROTO_ICMPV6 58
#define VIPD_VRRP_TTL 255
#define VIPD_VRRP_HEADER_SIZE 8
#define VIPD_VRRP_AUTH_SIZE 8
#define VIPD_IPV4_FRAGMENT_BITS 0x3fff /* MF flag and fragment offset */
#define VIPD_MAX_VLAN_TAGS 2
#define VIPD_ICMPV6_NEIGHBOR_ADVERT 136
#define VIPD_ND_OPT_TARGET_LL_ADDR 2

struct vipd_vlan_tag {
  __be16 tci;
  __be16 inner_proto;
};

struct vipd_arp_eth_ipv4 {
  __be16 hw_type;
  __be16 proto_type;
  __u8 hw_len;
  __u8 proto_len;
  __be16 op;
  __u8 sender_mac[6];
  __u8 sender_ip[4];
  __u8 target_mac[6];
  __u8 target_ip[4];
} __attribute__((packed));

/* ICMPv6 neighbour advertisement followed by the option slot a target link-layer address uses. */
struct vipd_neighbor_advert {
  __u8 type;
  __u8 code;
  __be16 checksum;
  __be32 flags;
  __u8 target[16];
  __u8 opt_type;
  __u8 opt_len; /* units of 8 bytes */
  __u8 opt_mac[6];
} __attribute__((packed));

struct vipd_l2 {
  void* l3;
  __be16 proto; /* network order ethertype after the tags */
};

static __always_inline int vipd_is_vlan(__be16 proto) {
  return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Returns 0 and fills `l2`, or -1 when the frame ends inside the L2 headers. A third tag is left
 * in place: its ethertype is a VLAN one, so the frame falls through to XDP_PASS. */
static __always_inline int vipd_parse_l2(void* data, void* data_end, struct vipd_l2* l2) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return -1;
  __be16 proto = eth->h_proto;
  void* cursor = eth + 1;
#pragma unroll
  for (int i = 0; i < VIPD_MAX_VLAN_TAGS; i++) {
    if (!vipd_is_vlan(proto)) break;
    struct vipd_vlan_tag* tag = cursor;
    if ((void*)(tag + 1) > data_end) return -1;
    proto = tag->inner_proto;
    cursor = tag + 1;
  }
  l2->l3 = cursor;
  l2->proto = proto;
  return 0;
}

#endif /* VIPD_BPF_VRRP_PARSE_H */
