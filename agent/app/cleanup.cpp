#include "app/cleanup.h"

#include <net/if.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <iostream>

#include "app/firewall.h"
#include "app/run_state.h"
#include "app/status_socket.h"
#include "bpf/bpffs.h"
#include "bpf/leftovers.h"
#include "config/plan.h"
#include "net/netlink.h"
#include "proc/child_process.h"

namespace vipd::app {
namespace {

struct Outcome {
  int removed = 0;
  int failed = 0;

  void done(const std::string& what) {
    ++removed;
    std::cout << "vipd cleanup: removed " << what << "\n";
  }
  void failure(const std::string& what) {
    ++failed;
    std::cerr << "vipd cleanup: " << what << "\n";
  }
};

void remove_vips(const RunState& state, const std::string& interface, Outcome& outcome) {
  if (state.vips.empty()) return;
  if (state.netns != 0 && state.netns != current_netns()) {
    outcome.failure("the state file was written in another network namespace: its VIPs (" +
                    std::to_string(state.vips.size()) +
                    ") are not on this namespace's interface; run cleanup there");
    return;
  }
  net::Netlink netlink;
  if (core::Status status = netlink.open(); !status) {
    outcome.failure(status.message());
    return;
  }
  const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  if (ifindex == 0) return;  // the interface is gone, and its addresses with it
  const std::vector<net::AddressEntry> present = netlink.addresses(ifindex);
  for (const config::Vip& vip : state.vips) {
    const bool there = std::any_of(present.begin(), present.end(), [&](const net::AddressEntry& e) {
      return e.address == vip.address;
    });
    if (!there) continue;
    const std::string text = vip.address.to_string() + "/" + std::to_string(vip.prefix);
    if (core::Status status = netlink.remove_address(ifindex, vip.address, vip.prefix); !status) {
      outcome.failure("cannot remove VIP " + text + " from " + interface + ": " + status.message());
    } else {
      outcome.done("VIP " + text + " from " + interface);
    }
  }
}

void remove_firewall_rules(const RunState& state, Outcome& outcome) {
  for (const Argv& argv : state.firewall_undo) {
    if (argv.empty()) continue;
    std::string line;
    for (const std::string& arg : argv) line += (line.empty() ? "" : " ") + arg;
    // A rule the dead run added once may be there once (iptables -D removes one copy per call);
    // a rule already gone fails harmlessly.
    if (proc::run_and_wait(argv, std::chrono::seconds(5)).ok()) {
      outcome.done("firewall rule (" + line + ")");
    }
  }
}

}  // namespace

void add_cleanup_options(CLI::App& command, CleanupOptions& options) {
  command.add_option("--interface,-i", options.interface, "Interface of the vipd that stopped")
      ->required();
  command
      .add_option("--state-dir", options.state_dir,
                  "Where that vipd recorded what it changed (<dir>/<interface>.state)")
      ->envname("VIPD_STATE_DIR")
      ->capture_default_str();
  command
      .add_option("--status-socket", options.status_socket,
                  "Its status socket (default @vipd/<interface>)")
      ->envname("VIPD_STATUS_SOCKET");
  command
      .add_option("--bpf-pin-path", options.bpf_pin_path,
                  "Its pin directory (default /sys/fs/bpf/vipd/<interface>)")
      ->envname("VIPD_BPF_PIN_PATH");
}

int run_cleanup(const CleanupOptions& options) {
  const std::string socket = options.status_socket.empty()
                                 ? config::default_status_socket(options.interface)
                                 : options.status_socket;
  if (query_status(socket, std::chrono::milliseconds(500)).ok()) {
    std::cerr << "vipd cleanup: a vipd is running on " << options.interface << " (it answers on "
              << socket << "); stop it first, it removes what it added itself\n";
    return 1;
  }
  Outcome outcome;
  const std::string path = options.state_dir + "/" + options.interface + ".state";
  RunState state;
  state.interface = options.interface;
  if (auto read = read_run_state(path); read) {
    state = std::move(*read);
  } else if (access(path.c_str(), F_OK) == 0) {
    outcome.failure(read.message() + " (ignored: removing only what vipd recognises by itself)");
  }
  remove_vips(state, options.interface, outcome);

  bpf::LeftoverRequest request;
  request.interface = options.interface;
  request.pin_dir = !state.pin_dir.empty() ? state.pin_dir
                    : !options.bpf_pin_path.empty()
                        ? options.bpf_pin_path
                        : "/sys/fs/bpf/vipd/" + bpf::bpffs_safe_name(options.interface);
  request.recorded_tc = state.tc;
  const bpf::LeftoverReport report = bpf::remove_leftovers(request);
  for (const std::string& line : report.removed) outcome.done(line);
  for (const std::string& line : report.errors) outcome.failure(line);

  remove_firewall_rules(state, outcome);
  if (unlink(path.c_str()) == 0) {
    std::cout << "vipd cleanup: removed " << path << "\n";
  } else if (errno != ENOENT) {
    outcome.failure("cannot remove " + path + ": " + core::errno_text(errno));
  }
  if (outcome.removed == 0 && outcome.failed == 0) {
    std::cout << "vipd cleanup: nothing left by vipd on " << options.interface << "\n";
  }
  return outcome.failed == 0 ? 0 : 1;
}

}  // namespace vipd::app
