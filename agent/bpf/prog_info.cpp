#include "bpf/prog_info.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "vipd/core/unique_fd.h"

namespace vipd::bpf {

PinnedPrograms::~PinnedPrograms() {
  for (const auto& [id, fd] : programs_) close(fd);
}

PinnedPrograms PinnedPrograms::open(const std::string& dir) {
  PinnedPrograms found;
  if (dir.empty()) return found;
  for (std::string_view name : kProgramPins) {
    const int fd = bpf_obj_get((dir + "/" + std::string(name)).c_str());
    if (fd < 0) continue;
    if (const std::uint32_t id = program_id(fd)) {
      found.programs_.emplace_back(id, fd);
    } else {
      close(fd);  // a map or something else under that name: not a program of ours
    }
  }
  return found;
}

const PinnedPrograms& PinnedPrograms::none() {
  static const PinnedPrograms empty;
  return empty;
}

int PinnedPrograms::fd_of(std::uint32_t id) const {
  for (const auto& [pinned_id, fd] : programs_) {
    if (pinned_id == id) return fcntl(fd, F_DUPFD_CLOEXEC, 0);
  }
  return -1;
}

int program_fd(std::uint32_t id, const PinnedPrograms& pinned) {
  const int fd = bpf_prog_get_fd_by_id(id);
  return fd >= 0 ? fd : pinned.fd_of(id);
}

std::string program_name(std::uint32_t id, const PinnedPrograms& pinned) {
  core::UniqueFd fd(program_fd(id, pinned));
  if (!fd.valid()) return {};
  bpf_prog_info info{};
  std::uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &length) != 0) return {};
  return std::string(info.name, strnlen(info.name, sizeof(info.name)));
}

std::uint32_t program_id(int prog_fd) {
  bpf_prog_info info{};
  std::uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &length) != 0) return 0;
  return info.id;
}

bool is_vipd_xdp_program(const std::string& name) {
  return name.starts_with("vipd_xdp");
}
bool is_vipd_tc_program(const std::string& name) {
  return name.starts_with("vipd_tc");
}

}  // namespace vipd::bpf
