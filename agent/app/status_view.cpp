#include "app/status_view.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "app/status_socket.h"
#include "config/plan.h"

namespace vipd::app {
namespace {

// Abstract sockets of running daemons in this network namespace, from /proc/net/unix.
std::vector<std::string> discover_sockets() {
  std::vector<std::string> found;
  std::ifstream table("/proc/net/unix");
  std::string line;
  while (std::getline(table, line)) {
    const auto at = line.find("@vipd/");
    if (at == std::string::npos) continue;
    const std::string name = line.substr(at);
    if (std::find(found.begin(), found.end(), name) == found.end()) found.push_back(name);
  }
  return found;
}

// One line for the health check; the Kubernetes check adds what an operator needs at a glance.
void print_check(const nlohmann::json& check) {
  if (!check.is_object()) return;
  std::string line = "check " + check.value("name", "") + ": " + check.value("status", "");
  if (check.value("kind", "") == "service-endpoints") {
    line += " (" + std::to_string(check.value("local_ready_endpoints", 0)) +
            " ready endpoint(s) of " + check.value("service", "") + " on " +
            check.value("node", "") + ")";
    if (!check.value("api_reachable", true)) {
      line += "; Kubernetes API unreachable for " +
              std::to_string(check.value("api_outage_ms", std::int64_t{0}) / 1000) + " s" +
              (check.value("api_stale", false) ? ", state STALE" : ", state kept") + ": " +
              check.value("api_last_error", "");
    }
  }
  std::printf("%s\n", line.c_str());
}

std::string seconds_ago(const nlohmann::json& ms) {
  if (!ms.is_number()) return "never";
  return std::to_string(static_cast<long>(ms.get<double>() / 1000)) + " s ago";
}

// Under an instance: who it hears, the alone warning, the last conflict.
void print_split_brain(const nlohmann::json& instance) {
  std::string heard;
  for (const auto& peer : instance.value("peers_heard", nlohmann::json::array())) {
    if (!heard.empty()) heard += ", ";
    heard += peer.value("address", "") + " (" + peer.value("via", "") + ", " +
             seconds_ago(peer.value("last_heard_ms_ago", nlohmann::json())) + ")";
  }
  if (!heard.empty()) std::printf("  peers heard: %s\n", heard.c_str());
  if (instance.value("alone", false)) {
    std::printf(
        "  ALONE: MASTER hears no other node although peers are expected "
        "(multicast blocked? docs/SPLIT_BRAIN.md)\n");
  }
  const auto conflict = instance.value("conflict", nlohmann::json());
  if (!conflict.is_object()) return;
  std::string rival = conflict.value("rival", "");
  if (!rival.empty()) rival = std::string(" (").append(rival).append(")");
  std::printf("  last conflict: VIP %s held by %s%s, %s, %s\n", conflict.value("vip", "").c_str(),
              conflict.value("mac", "").c_str(), rival.c_str(), conflict.value("kind", "").c_str(),
              seconds_ago(conflict.value("last_ms_ago", nlohmann::json())).c_str());
}

void print_peers(const nlohmann::json& status) {
  std::string peers;
  for (const auto& peer : status.value("peers", nlohmann::json::array())) {
    if (!peers.empty()) peers += ", ";
    peers += peer.value("address", "") + " (" + peer.value("source", "") + ")";
  }
  if (!peers.empty()) std::printf("unicast peers: %s\n", peers.c_str());
}

void print_table(const nlohmann::json& status) {
  std::printf("interface %s  source %s  transport %s  receive path %s\n",
              status.value("interface", "").c_str(), status.value("source", "").c_str(),
              status.value("transport", "").c_str(), status.value("receive_path", "").c_str());
  if (status.contains("health_check")) print_check(status["health_check"]);
  std::printf("%-28s %4s %-7s %4s %-16s %s\n", "INSTANCE", "VRID", "STATE", "PRIO", "MASTER",
              "VIPS");
  for (const auto& instance : status.value("instances", nlohmann::json::array())) {
    std::string vips;
    for (const auto& vip : instance.value("vips", nlohmann::json::array())) {
      if (!vips.empty()) vips += ',';
      vips += vip.get<std::string>();
    }
    std::printf("%-28s %4d %-7s %4d %-16s %s\n", instance.value("name", "").c_str(),
                instance.value("vrid", 0), instance.value("state", "").c_str(),
                instance.value("priority", 0), instance.value("master", "").c_str(), vips.c_str());
    print_split_brain(instance);
  }
  print_peers(status);
}

// The daemon's snapshot, or nothing if the text is not one (no object, no instance list).
std::optional<nlohmann::json> parse_snapshot(const std::string& answer) {
  auto status = nlohmann::json::parse(answer, nullptr, false);
  if (status.is_discarded() || !status.is_object() || !status.contains("instances") ||
      !status["instances"].is_array()) {
    return std::nullopt;
  }
  return status;
}

// "eth0" from the snapshot, else the socket name: how a probe line names the daemon.
std::string daemon_name(const std::string& socket, const nlohmann::json& status) {
  const std::string interface = status.value("interface", "");
  return interface.empty() ? socket : interface;
}

bool settled(const std::string& state) {
  return state == "BACKUP" || state == "MASTER";
}

std::vector<std::string> sockets_to_ask(const StatusOptions& options) {
  if (!options.socket.empty()) return {options.socket};
  if (!options.interface.empty()) return {config::default_status_socket(options.interface)};
  return discover_sockets();
}

}  // namespace

ProbeVerdict readiness(const std::string& socket, const std::string& answer,
                       const std::string& error) {
  if (answer.empty()) {
    return {false, "not ready: " + (error.empty() ? "no answer from " + socket : error)};
  }
  const auto status = parse_snapshot(answer);
  if (!status) return {false, "not ready: " + socket + " answered but not with a status"};
  const std::string name = daemon_name(socket, *status);
  const std::string path = status->value("receive_path", "");
  if (path != "xdp" && path != "raw-socket") {
    return {false, "not ready: " + name + ": the receive path is not open yet"};
  }
  const auto& instances = (*status)["instances"];
  if (instances.empty()) return {false, "not ready: " + name + ": no instances"};
  std::string unsettled;
  std::string all;
  for (const auto& instance : instances) {
    const std::string state = instance.value("state", "?");
    const std::string entry = instance.value("name", "?") + " " + state;
    all += (all.empty() ? "" : ", ") + entry;
    if (!settled(state)) {
      unsettled += (unsettled.empty() ? "" : ", ") + instance.value("name", "?") + " is " + state;
    }
  }
  if (!unsettled.empty()) return {false, "not ready: " + name + ": " + unsettled};
  return {true, "ready: " + name + " (" + path + "): " + all};
}

ProbeVerdict liveness(const std::string& socket, const std::string& answer,
                      const std::string& error, std::chrono::milliseconds elapsed) {
  const std::string took = " (" + std::to_string(elapsed.count()) + " ms)";
  if (answer.empty()) {
    return {false, "not live: " + (error.empty() ? "no answer from " + socket : error) + took};
  }
  const auto status = parse_snapshot(answer);
  if (!status) return {false, "not live: " + socket + " answered but not with a status" + took};
  return {true, "live: " + daemon_name(socket, *status) + " answered" + took};
}

void add_status_options(CLI::App& command, StatusOptions& options) {
  command.add_option("--interface,-i", options.interface, "Interface of the daemon to ask");
  command.add_option("--socket", options.socket, "Status socket (default @vipd/<interface>)");
  auto* json = command.add_flag("--json", options.json, "Print the daemon's JSON as is");
  auto* ready = command.add_flag(
      "--ready", options.ready,
      "Probe: exit 0 only if the receive path is open and every instance is BACKUP or MASTER");
  auto* live = command.add_flag("--live", options.live,
                                "Probe: exit 0 only if the daemon's event loop answered in time");
  command.add_option("--timeout", options.timeout_s, "Seconds to wait for the daemon's answer")
      ->check(CLI::Range(0.01, 60.0))
      ->capture_default_str();
  ready->excludes(live)->excludes(json);
  live->excludes(json);
}

int show_status(const StatusOptions& options) {
  const std::vector<std::string> sockets = sockets_to_ask(options);
  const StatusMode mode = options.mode();
  const bool probe = mode == StatusMode::Ready || mode == StatusMode::Live;
  if (sockets.empty()) {
    std::cerr << (probe ? (mode == StatusMode::Ready ? "not ready: " : "not live: ")
                        : "vipd status: ")
              << "no running vipd found in this network namespace\n";
    return 1;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<long>(options.timeout_s * 1000));
  int result = 0;
  for (const std::string& socket : sockets) {
    const auto asked = std::chrono::steady_clock::now();
    const core::Result<std::string> queried = query_status(socket, timeout);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - asked);
    const std::string answer = queried ? *queried : std::string();
    const std::string error = queried.message();
    if (probe) {
      const ProbeVerdict verdict = mode == StatusMode::Live
                                       ? liveness(socket, answer, error, elapsed)
                                       : readiness(socket, answer, error);
      (verdict.ok ? std::cout : std::cerr) << verdict.line << "\n";
      if (!verdict.ok) result = 1;
      continue;
    }
    if (answer.empty()) {
      std::cerr << "vipd status: " << (error.empty() ? "no answer from " + socket : error) << "\n";
      result = 1;
      continue;
    }
    if (mode == StatusMode::Json) {
      std::fputs(answer.c_str(), stdout);
      continue;
    }
    const auto status = nlohmann::json::parse(answer, nullptr, false);
    if (status.is_discarded()) {
      std::cerr << "vipd status: malformed answer from " << socket << "\n";
      result = 1;
      continue;
    }
    print_table(status);
  }
  return result;
}

}  // namespace vipd::app
