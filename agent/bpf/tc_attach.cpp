#include "bpf/tc_attach.h"

#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>

#include <cerrno>

#include "bpf/prog_info.h"

namespace vipd::bpf {
namespace {

// Looking for a filter that is not there, or a qdisc that is, is the normal case here; libbpf would
// log the kernel's complaint as a warning. Silenced for the one call (the agent is
// single-threaded).
class QuietLibbpf {
 public:
  QuietLibbpf() : previous_(libbpf_set_print(nullptr)) {}
  ~QuietLibbpf() { libbpf_set_print(previous_); }
  QuietLibbpf(const QuietLibbpf&) = delete;
  QuietLibbpf& operator=(const QuietLibbpf&) = delete;

 private:
  libbpf_print_fn_t previous_;
};

void set_hook(bpf_tc_hook& hook, int ifindex, bpf_tc_attach_point point) {
  clear_opts(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
}

bpf_tc_attach_point attach_point(TcDirection direction) {
  return direction == TcDirection::Ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

void set_opts(bpf_tc_opts& opts, TcFilterId id) {
  clear_opts(opts);
  opts.handle = id.handle;
  opts.priority = id.priority;
}

std::string_view direction_name(TcDirection direction) {
  return direction == TcDirection::Ingress ? "ingress" : "egress";
}

// Filters of any kind and owner under one clsact hook; -1 if the dump failed.
int count_filters(int ifindex, std::uint32_t parent) {
  nl_sock* socket = nl_socket_alloc();
  if (!socket) return -1;
  int count = -1;
  nl_cache* cache = nullptr;
  if (nl_connect(socket, NETLINK_ROUTE) == 0 &&
      rtnl_cls_alloc_cache(socket, ifindex, parent, &cache) == 0) {
    count = nl_cache_nitems(cache);
    nl_cache_free(cache);
  }
  nl_socket_free(socket);
  return count;
}

}  // namespace

core::Result<bool> ensure_clsact(int ifindex, const std::string& ifname) {
  bpf_tc_hook hook;
  set_hook(hook, ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  int error = 0;
  {
    QuietLibbpf quiet;
    error = bpf_tc_hook_create(&hook);
  }
  if (error == 0) return true;
  if (error == -EEXIST) return false;
  return core::Error{"creating the clsact qdisc on " + ifname +
                     " failed: " + core::errno_text(error)};
}

std::uint32_t tc_filter_prog_id(int ifindex, TcDirection direction, TcFilterId id) {
  bpf_tc_hook hook;
  set_hook(hook, ifindex, attach_point(direction));
  bpf_tc_opts opts;
  set_opts(opts, id);
  QuietLibbpf quiet;
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

core::Result<std::uint32_t> attach_tc_filter(int ifindex, const std::string& ifname,
                                             TcDirection direction, int prog_fd, TcFilterId id,
                                             const PinnedPrograms& pinned) {
  if (std::uint32_t existing = tc_filter_prog_id(ifindex, direction, id)) {
    std::string name = program_name(existing, pinned);
    if (!is_vipd_tc_program(name)) {
      return core::Error{"tc " + std::string(direction_name(direction)) + " filter handle " +
                         std::to_string(id.handle) + " prio " + std::to_string(id.priority) +
                         " on " + ifname + " runs '" + name +
                         "', not vipd's; refusing to replace it"};
    }
  }
  bpf_tc_hook hook;
  set_hook(hook, ifindex, attach_point(direction));
  bpf_tc_opts opts;
  set_opts(opts, id);
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;
  if (int error = bpf_tc_attach(&hook, &opts)) {
    return core::Error{"attaching the tc " + std::string(direction_name(direction)) +
                       " filter to " + ifname + " failed: " + core::errno_text(error)};
  }
  return opts.prog_id;
}

void detach_tc_filter(int ifindex, TcDirection direction, TcFilterId id, std::uint32_t prog_id) {
  if (!prog_id || tc_filter_prog_id(ifindex, direction, id) != prog_id) return;
  bpf_tc_hook hook;
  set_hook(hook, ifindex, attach_point(direction));
  bpf_tc_opts opts;
  set_opts(opts, id);
  bpf_tc_detach(&hook, &opts);
}

void remove_clsact_if_empty(int ifindex) {
  int ingress = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
  int egress = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
  if (ingress != 0 || egress != 0) return;  // someone else's filters, or we cannot tell
  bpf_tc_hook hook;
  set_hook(hook, ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  bpf_tc_hook_destroy(&hook);
}

}  // namespace vipd::bpf
