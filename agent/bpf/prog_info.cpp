#include "bpf/prog_info.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>

namespace vipd::bpf {

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

int program_fd(std::uint32_t id) {
  return bpf_prog_get_fd_by_id(id);
}

std::string program_name(std::uint32_t id) {
  OwnedFd fd(program_fd(id));
  if (fd.get() < 0) return {};
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
