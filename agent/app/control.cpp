#include "app/control.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/status_socket.h"
#include "app/status_view.h"
#include "config/plan.h"

namespace vipd::app {

void add_reload_options(CLI::App& command, ReloadOptions& options) {
  command.add_option("--interface,-i", options.interface, "Interface of the daemon to reload");
  command.add_option("--socket", options.socket, "Status socket (default @vipd/<interface>)");
  command.add_option("--timeout", options.timeout_s, "Seconds to wait for the daemon's answer")
      ->check(CLI::Range(0.1, 120.0))
      ->capture_default_str();
}

ReloadVerdict reload_verdict(const std::string& name, const std::string& answer) {
  const auto json = nlohmann::json::parse(answer, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("ok")) {
    return {false, name + ": the daemon does not understand reload (a vipd older than 0.2?)"};
  }
  const bool ok = json.value("ok", false);
  std::string text = name + ": " + json.value("message", std::string(ok ? "reloaded" : "failed"));
  if (!ok) {
    for (const auto& error : json.value("errors", nlohmann::json::array())) {
      if (error.is_string() && error.get<std::string>() != json.value("message", "")) {
        text += "\n  " + error.get<std::string>();
      }
    }
  }
  return {ok, text};
}

int request_reload(const ReloadOptions& options) {
  std::vector<std::string> sockets;
  if (!options.socket.empty()) {
    sockets = {options.socket};
  } else if (!options.interface.empty()) {
    sockets = {config::default_status_socket(options.interface)};
  } else {
    sockets = running_daemons();
  }
  if (sockets.empty()) {
    std::cerr << "vipd reload: no running vipd found in this network namespace\n";
    return 1;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<long>(options.timeout_s * 1000));
  int result = 0;
  for (const std::string& socket : sockets) {
    const core::Result<std::string> answer = query(socket, "reload", timeout);
    if (!answer) {
      std::cerr << "vipd reload: " << answer.message() << "\n";
      result = 1;
      continue;
    }
    const ReloadVerdict verdict = reload_verdict(socket, *answer);
    (verdict.ok ? std::cout : std::cerr) << verdict.text << "\n";
    if (!verdict.ok) result = 1;
  }
  return result;
}

}  // namespace vipd::app
