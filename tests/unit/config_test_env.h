// Test helpers for the configuration tests: a clean, restored environment and option parsing done
// exactly as main.cpp does it (config file first, then flags and environment through CLI11).
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/options.h"

namespace vipd::config::testing_env {

// Every environment name `vipd run` reads, taken from the option schema itself.
inline std::vector<std::string> bound_environment_names() {
  CLI::App app;
  RunOptions scratch;
  add_run_options(app, scratch, true);
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->get_envname().empty()) names.push_back(option->get_envname());
  }
  return names;
}

// Unsets every bound name for the test's lifetime (so the caller's environment cannot leak in),
// lets the test set some, and restores the original values afterwards.
class ScopedEnvironment {
 public:
  ScopedEnvironment() {
    for (const std::string& name : bound_environment_names()) {
      const char* value = std::getenv(name.c_str());
      saved_[name] = value == nullptr ? std::nullopt : std::optional<std::string>(value);
      ::unsetenv(name.c_str());
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

  void set(const std::string& name, const std::string& value) {
    if (!saved_.contains(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old == nullptr ? std::nullopt : std::optional<std::string>(old);
    }
    ::setenv(name.c_str(), value.c_str(), 1);
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

struct Parsed {
  RunOptions options;
  std::vector<std::string> errors;
};

// main.cpp's sequence: `run` and `check-config` each bound to their own RunOptions, the config
// file (from --config or VIPD_CONFIG) applied first to both, then CLI11 parses argv and the
// environment; the parsed command's options are the result.
inline Parsed parse_like_main(const std::vector<std::string>& args) {
  Parsed parsed;
  RunOptions check_options;
  CLI::App app{"vipd"};
  app.require_subcommand(1);
  auto* run = app.add_subcommand("run");
  add_run_options(*run, parsed.options);
  bool json = false;
  auto* check = app.add_subcommand("check-config");
  add_run_options(*check, check_options);
  check->add_flag("--json", json);

  std::vector<const char*> argv = {"vipd"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  const int argc = static_cast<int>(argv.size());
  if (const std::string path = find_config_path(argc, argv.data()); !path.empty()) {
    parsed.errors = apply_config_file(path, parsed.options);
    if (!parsed.errors.empty()) return parsed;
    check_options = parsed.options;
  }
  try {
    app.parse(argc, argv.data());
  } catch (const CLI::ParseError& error) {
    parsed.errors.push_back(error.what());
  }
  if (app.got_subcommand("check-config")) parsed.options = check_options;
  return parsed;
}

}  // namespace vipd::config::testing_env
