#include "app/status_view.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

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
      vips += (vips.empty() ? "" : ",") + vip.get<std::string>();
    }
    std::printf("%-28s %4d %-7s %4d %-16s %s\n", instance.value("name", "").c_str(),
                instance.value("vrid", 0), instance.value("state", "").c_str(),
                instance.value("priority", 0), instance.value("master", "").c_str(), vips.c_str());
  }
}

}  // namespace

void add_status_options(CLI::App& command, StatusOptions& options) {
  command.add_option("--interface,-i", options.interface, "Interface of the daemon to ask");
  command.add_option("--socket", options.socket, "Status socket (default @vipd/<interface>)");
  command.add_flag("--json", options.json, "Print the daemon's JSON as is");
}

int show_status(const StatusOptions& options) {
  std::vector<std::string> sockets;
  if (!options.socket.empty()) {
    sockets.push_back(options.socket);
  } else if (!options.interface.empty()) {
    sockets.push_back(config::default_status_socket(options.interface));
  } else {
    sockets = discover_sockets();
    if (sockets.empty()) {
      std::cerr << "vipd status: no running vipd found in this network namespace\n";
      return 1;
    }
  }
  int result = 0;
  for (const std::string& socket : sockets) {
    std::string error;
    const std::string answer = query_status(socket, error);
    if (answer.empty()) {
      std::cerr << "vipd status: " << (error.empty() ? "no answer from " + socket : error) << "\n";
      result = 1;
      continue;
    }
    if (options.json) {
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
