// The pin directory on a bpffs: finding or mounting the bpffs, and pin/unpin with our file mode.
#pragma once

#include <string>

#include "vipd/core/result.h"

struct bpf_map;
struct bpf_program;

namespace vipd::bpf {

// bpffs refuses names with '.', which VLAN interfaces have (eth0.100). ':' never appears in an
// interface name, so mapping '.' to ':' keeps names distinct.
std::string bpffs_safe_name(std::string name);

// Makes sure `root` is a bpffs, mounting one there if `may_mount` (needs CAP_SYS_ADMIN in the
// mount namespace); `ip netns exec` remounts /sys, hiding the host's bpffs.
core::Status ensure_bpffs(const std::string& root, bool may_mount);

// mkdir -p with mode 0700 for the created levels.
core::Status make_directories(const std::string& path);

// Pins `map` (or `program`) at `path`, mode 0600, replacing whatever a previous run left there.
core::Status pin_map(bpf_map* map, const std::string& path);
core::Status pin_program(bpf_program* program, const std::string& path);

// Removes every pin in `dir` (not subdirectories): a dead run's leftovers.
void remove_stale_pins(const std::string& dir);

// rmdir `path` and then its parent, ignoring non-empty or missing directories.
void remove_empty_directories(const std::string& path, int levels);

}  // namespace vipd::bpf
