// What a running vipd changed on the host, recorded in <state dir>/<interface>.state (default
// /run/vipd/eth0.state) so that `vipd cleanup` can undo exactly that after a crash, an OOM kill or
// a SIGKILL (systemd runs it as the unit's ExecStopPost=). Written atomically (a temporary file
// renamed over the old one): the configuration's VIPs are recorded when it is loaded (start,
// reload), before any can be added, and a VIP a reload dropped is forgotten once removed, so the
// file never misses an address that may be on the host and is never written during a takeover.
// A clean stop removes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/firewall.h"
#include "bpf/tc_attach.h"
#include "config/vip_list.h"
#include "vipd/core/result.h"

namespace vipd::app {

struct RunState {
  std::string interface;
  int pid = 0;
  // The network namespace the daemon ran in (inode of /proc/self/ns/net): the VIPs belong to the
  // interface of that namespace only; cleanup elsewhere leaves them alone.
  std::uint64_t netns = 0;
  std::vector<config::Vip> vips;  // configured, so possibly on the interface
  std::uint32_t xdp_prog_id = 0;
  std::vector<bpf::TcFilters> tc;  // our tc filters, per interface (the VRRP one and lo)
  std::string pin_dir;
  std::vector<Argv> firewall_undo;
  friend bool operator==(const RunState&, const RunState&) = default;
};

std::string to_json(const RunState& state);
core::Result<RunState> parse_run_state(const std::string& text);

std::uint64_t current_netns();

// The file of one running daemon. Failing to write it never stops the daemon (the VIPs matter
// more than their record): the first failure is logged, later ones are not.
class RunStateFile {
 public:
  explicit RunStateFile(std::string path) : path_(std::move(path)) {}
  RunStateFile(const RunStateFile&) = delete;
  RunStateFile& operator=(const RunStateFile&) = delete;

  const std::string& path() const { return path_; }
  RunState& state() { return state_; }
  // Records the VIPs not recorded yet and writes the file (once, only if something is new).
  void add_vips(const std::vector<config::Vip>& vips);
  // Forgets the VIPs and writes the file (once, only if something was recorded).
  void remove_vips(const std::vector<config::Vip>& vips);
  void save();
  // The daemon stopped cleanly: nothing is left to clean up.
  void remove();

 private:
  std::string path_;
  RunState state_;
  bool failure_logged_ = false;
};

// Reads a state file; an error if it cannot be read or parsed (a missing file is "no such file").
core::Result<RunState> read_run_state(const std::string& path);

}  // namespace vipd::app
