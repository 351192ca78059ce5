#include "bpf/bpffs.h"

#include "bpf/prog_info.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vipd::bpf {
namespace {

constexpr mode_t kPinDirMode = 0700;
constexpr mode_t kPinMode = 0600;

bool is_bpffs(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 &&
         fs.f_type == static_cast<decltype(fs.f_type)>(BPF_FS_MAGIC);
}

}  // namespace

std::string bpffs_safe_name(std::string name) {
  std::replace(name.begin(), name.end(), '.', ':');
  return name;
}

core::Status ensure_bpffs(const std::string& root, bool may_mount) {
  if (is_bpffs(root)) return {};
  if (!may_mount) return core::Error{root + " is not a bpffs (mounting one is disabled)"};
  if (mkdir(root.c_str(), kPinDirMode) != 0 && errno != EEXIST) {
    return core::Error{root + " is not a bpffs and cannot be created: " + core::errno_text(errno)};
  }
  if (mount("bpf", root.c_str(), "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
    return core::Error{root + " is not a bpffs and mounting one failed: " +
                       core::errno_text(errno) + " (need CAP_SYS_ADMIN)"};
  }
  return {};
}

core::Status make_directories(const std::string& path) {
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), kPinDirMode) != 0 && errno != EEXIST) {
      return core::Error{"mkdir " + prefix + " failed: " + core::errno_text(errno)};
    }
    if (slash == std::string::npos) return {};
  }
}

namespace {

template <typename Pin>
core::Status pin_at(const std::string& path, Pin pin) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return core::Error{"cannot remove stale pin " + path + ": " + core::errno_text(errno)};
  }
  int error = pin(path.c_str());
  if (error) return core::Error{"pinning " + path + " failed: " + core::errno_text(-error)};
  if (chmod(path.c_str(), kPinMode) != 0) {
    return core::Error{"chmod 0600 " + path + " failed: " + core::errno_text(errno)};
  }
  return {};
}

}  // namespace

core::Status pin_map(bpf_map* map, const std::string& path) {
  return pin_at(path, [map](const char* where) { return bpf_map__pin(map, where); });
}

core::Status pin_program(bpf_program* program, const std::string& path) {
  return pin_at(path, [program](const char* where) { return bpf_program__pin(program, where); });
}

void remove_stale_pins(const std::string& dir) {
  DIR* stream = opendir(dir.c_str());
  if (!stream) return;
  while (const dirent* entry = readdir(stream)) {
    if (entry->d_type == DT_DIR) continue;
    unlink((dir + "/" + entry->d_name).c_str());
  }
  closedir(stream);
}

void remove_empty_directories(const std::string& path, int levels) {
  std::string current = path;
  for (int level = 0; level < levels && !current.empty(); ++level) {
    if (rmdir(current.c_str()) != 0) return;
    current = current.substr(0, current.rfind('/'));
  }
}

}  // namespace vipd::bpf
