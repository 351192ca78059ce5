// `vipd status`: asks a running daemon over its status socket and prints a table or the raw JSON.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace vipd::app {

struct StatusOptions {
  std::string interface;
  std::string socket;
  bool json = false;
};

void add_status_options(CLI::App& command, StatusOptions& options);
// Exit code: 0 when a daemon answered, 1 otherwise.
int show_status(const StatusOptions& options);

}  // namespace vipd::app
