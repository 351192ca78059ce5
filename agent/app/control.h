// `vipd reload [--interface IF]`: asks running daemons over their status socket to reload (the
// same as SIGHUP: config file and environment read again, validated, applied without disturbing
// unchanged instances) and prints what each did.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace vipd::app {

struct ReloadOptions {
  std::string interface;
  std::string socket;
  double timeout_s = 10.0;
};

void add_reload_options(CLI::App& command, ReloadOptions& options);
// 0 when every daemon asked reloaded; 1 when one refused (its errors on stderr) or did not answer.
int request_reload(const ReloadOptions& options);

// The daemon's answer to "reload" as one printable line, and whether it reloaded.
struct ReloadVerdict {
  bool ok = false;
  std::string text;
};
ReloadVerdict reload_verdict(const std::string& name, const std::string& answer);

}  // namespace vipd::app
