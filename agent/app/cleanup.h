// `vipd cleanup --interface IF`: undoes what a dead vipd on IF left on the host, from its state
// file (app/run_state.h) and vipd's fixed kernel identities: the VIPs it recorded (if still on the
// interface), its XDP program and tc filters, its clsact qdisc, its pins, its firewall rules. The
// systemd unit runs it as ExecStopPost=, so a crashed or OOM-killed vipd does not leave its VIPs
// answering until the next start. Refuses while a vipd answers on that interface's status socket.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace vipd::app {

struct CleanupOptions {
  std::string interface;
  std::string state_dir = "/run/vipd";
  std::string status_socket;  // default @vipd/<interface>
  std::string bpf_pin_path;   // default /sys/fs/bpf/vipd/<interface>
};

void add_cleanup_options(CLI::App& command, CleanupOptions& options);

// 0: nothing left (or everything removed); 1: a vipd still runs there, or something could not be
// removed (each named on stderr).
int run_cleanup(const CleanupOptions& options);

}  // namespace vipd::app
