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

// main.cpp's sequence through the same functions: the run commands, the config file, CLI11's
// parse of argv and the environment, the given command's options.
inline Parsed parse_like_main(const std::vector<std::string>& args) {
  Parsed parsed;
  CommandOptions commands;
  CLI::App app{"vipd"};
  app.require_subcommand(1);
  add_run_commands(app, commands);
  std::vector<const char*> argv = {"vipd"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  const int argc = static_cast<int>(argv.size());
  parsed.errors = apply_config_file(argc, argv.data(), commands);
  if (!parsed.errors.empty()) return parsed;
  try {
    app.parse(argc, argv.data());
  } catch (const CLI::ParseError& error) {
    parsed.errors.push_back(error.what());
  }
  parsed.options = parsed_run_options(app, commands);
  return parsed;
}

}  // namespace vipd::config::testing_env
