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

void print_table(const nlohmann::json& status) {
  std::printf("interface %s  source %s  transport %s  receive path %s\n",
              status.value("interface", "").c_str(), status.value("source", "").c_str(),
              status.value("transport", "").c_str(), status.value("receive_path", "").c_str());
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
    const core::Result<std::string> queried = query_status(socket);
    if (!queried || queried->empty()) {
      std::cerr << "vipd status: " << (queried ? "no answer from " + socket : queried.message())
                << "\n";
      result = 1;
      continue;
    }
    const std::string& answer = *queried;
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
