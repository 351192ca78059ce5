// XDP advert path (grows into the full VRRP parser): for now counts IPv4 VRRP frames and passes all.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} vipd_vrrp_seen SEC(".maps");

SEC("xdp")
int vipd_xdp_advert(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > data_end || ip->protocol != 112) return XDP_PASS;
  __u32 key = 0;
  __u64* seen = bpf_map_lookup_elem(&vipd_vrrp_seen, &key);
  if (seen) __sync_fetch_and_add(seen, 1);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
