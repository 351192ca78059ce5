/* Internet checksum (RFC 1071) pieces for BPF programs.
 *
 * Words are summed as they lie in memory (host order loads). The one's-complement sum is byte-order
 * independent, so a message checks out when the folded sum is 0xffff in either order; a value that
 * must match user space (vipd::core::checksum_add) is converted with bpf_ntohs after folding. */
#ifndef VIPD_BPF_CSUM_H
#define VIPD_BPF_CSUM_H

#include <linux/types.h>

/* Folds a 64-bit accumulator of 32-bit words to 16 bits with end-around carries (no inversion). */
static __always_inline __u16 csum_fold64(__u64 sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)sum;
}

/* A folded sum that makes the stored checksum field correct. */
static __always_inline int csum_folded_ok(__u64 sum) {
  return csum_fold64(sum) == 0xffff;
}

#endif /* VIPD_BPF_CSUM_H */
