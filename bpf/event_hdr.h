// The common header of every ring-buffer record (struct vipd_event_hdr), filled the same way by the
// XDP and tc programs.
#ifndef VIPD_BPF_EVENT_HDR_H
#define VIPD_BPF_EVENT_HDR_H

#include <linux/types.h>

#include "vipd/bpf_abi.h"

static __always_inline void vipd_fill_event_hdr(struct vipd_event_hdr* hdr, __u16 type, __u16 size,
                                                __u32 ifindex, __u64 now) {
  hdr->type = type;
  hdr->size = size;
  hdr->ifindex = ifindex;
  hdr->ts_ns = now;
}

#endif /* VIPD_BPF_EVENT_HDR_H */
