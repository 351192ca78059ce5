#include "app/run_state.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vipd/core/ip_address.h"

namespace vipd::app {
namespace {

// mkdir -p, mode 0755 (the directory is shared by the daemons of every interface).
core::Status make_directories(const std::string& path) {
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string part = path.substr(0, slash);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return core::errno_error("mkdir " + part, errno);
    }
    if (slash == std::string::npos) return {};
  }
}

core::Status write_atomically(const std::string& path, const std::string& text) {
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (core::Status status = make_directories(path.substr(0, slash)); !status) return status;
  }
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return core::errno_error("cannot write " + temporary, errno);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return core::errno_error("cannot write " + temporary, error);
    }
    written += static_cast<std::size_t>(n);
  }
  // No fsync: /run is a tmpfs, and the file only matters while the machine stays up.
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return core::errno_error("cannot replace " + path, error);
  }
  return {};
}

}  // namespace

std::string to_json(const RunState& state) {
  nlohmann::json vips = nlohmann::json::array();
  for (const config::Vip& vip : state.vips) {
    vips.push_back(vip.address.to_string() + "/" + std::to_string(vip.prefix));
  }
  nlohmann::json tc = nlohmann::json::array();
  for (const bpf::TcFilters& record : state.tc) {
    tc.push_back({{"interface", record.ifname},
                  {"ingress_prog_id", record.ingress_prog_id},
                  {"egress_prog_id", record.egress_prog_id}});
  }
  nlohmann::json json = {
      {"interface", state.interface},
      {"pid", state.pid},
      {"netns", state.netns},
      {"vips", vips},
      {"xdp_prog_id", state.xdp_prog_id},
      {"tc", tc},
      {"pin_dir", state.pin_dir},
      {"firewall_undo", state.firewall_undo},
  };
  return json.dump(2) + "\n";
}

core::Result<RunState> parse_run_state(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return core::Error{"not a vipd state file"};
  RunState state;
  try {
    state.interface = json.at("interface").get<std::string>();
    state.pid = json.value("pid", 0);
    state.netns = json.value("netns", std::uint64_t{0});
    for (const auto& text_vip : json.value("vips", nlohmann::json::array())) {
      const std::string vip = text_vip.get<std::string>();
      const std::size_t slash = vip.find('/');
      const auto address = core::IpAddress::parse(vip.substr(0, slash));
      if (!address || slash == std::string::npos) return core::Error{"bad VIP '" + vip + "'"};
      const int prefix = std::stoi(vip.substr(slash + 1));
      if (prefix < 0 || prefix > (address->is_v4() ? 32 : 128)) {
        return core::Error{"bad VIP '" + vip + "'"};
      }
      state.vips.push_back({*address, static_cast<std::uint8_t>(prefix)});
    }
    state.xdp_prog_id = json.value("xdp_prog_id", std::uint32_t{0});
    for (const auto& record : json.value("tc", nlohmann::json::array())) {
      state.tc.push_back({record.at("interface").get<std::string>(),
                          record.value("ingress_prog_id", std::uint32_t{0}),
                          record.value("egress_prog_id", std::uint32_t{0})});
    }
    state.pin_dir = json.value("pin_dir", "");
    state.firewall_undo = json.value("firewall_undo", std::vector<Argv>{});
  } catch (const std::exception& error) {
    return core::Error{std::string("malformed state file: ") + error.what()};
  }
  return state;
}

std::uint64_t current_netns() {
  struct stat info {};
  return stat("/proc/self/ns/net", &info) == 0 ? static_cast<std::uint64_t>(info.st_ino) : 0;
}

void RunStateFile::add_vips(const std::vector<config::Vip>& vips) {
  bool changed = false;
  for (const config::Vip& vip : vips) {
    if (std::find(state_.vips.begin(), state_.vips.end(), vip) != state_.vips.end()) continue;
    state_.vips.push_back(vip);
    changed = true;
  }
  if (changed) save();
}

void RunStateFile::remove_vips(const std::vector<config::Vip>& vips) {
  const std::size_t before = state_.vips.size();
  for (const config::Vip& vip : vips) std::erase(state_.vips, vip);
  if (state_.vips.size() != before) save();
}

void RunStateFile::save() {
  if (path_.empty()) return;
  if (core::Status status = write_atomically(path_, to_json(state_)); !status && !failure_logged_) {
    failure_logged_ = true;
    spdlog::warn(
        "cannot record the VIPs vipd adds in {}: {}; `vipd cleanup` will not know them after a "
        "crash (VRRP is not affected)",
        path_, status.message());
  }
}

void RunStateFile::remove() {
  if (path_.empty()) return;
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("cannot remove {}: {}", path_, core::errno_text(errno));
  }
}

core::Result<RunState> read_run_state(const std::string& path) {
  std::ifstream file(path);
  if (!file) return core::errno_error(path, errno);
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = parse_run_state(text.str());
  if (!parsed) return core::Error{path + ": " + parsed.message()};
  return parsed;
}

}  // namespace vipd::app
