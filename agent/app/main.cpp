// vipd command line: subcommands and their options.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/version.h"

int main(int argc, char** argv) {
  CLI::App app{"vipd: eBPF-assisted VRRP agent keeping virtual IPs alive"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "Print version, git commit and libbpf version");
  version->callback([] { std::fputs(vipd::app::version_text().c_str(), stdout); });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
