// Benchmark baseline: the cheapest XDP program (XDP_PASS, nothing read). vipd-bench-xdp reports the
// advert path's cost relative to this, which removes the test_run harness overhead from the
// figures.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int vipd_xdp_baseline(struct xdp_md* ctx) {
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
