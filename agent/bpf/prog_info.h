// Identifying attached programs: vipd's programs are recognised by name, so a restart can tell a
// previous run's leftovers from someone else's program.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace vipd::bpf {

// The kernel's name for program `id` (at most 15 characters), or "" if it is gone.
std::string program_name(std::uint32_t id);

// A file descriptor for program `id`, or -1. The caller closes it.
int program_fd(std::uint32_t id);

std::uint32_t program_id(int prog_fd);

bool is_vipd_xdp_program(const std::string& name);
bool is_vipd_tc_program(const std::string& name);

// libbpf rejects an options struct whose bytes past the fields it knows (padding included) are not
// zero, and a struct copy need not preserve padding: option structs are cleared in place.
template <typename Opts>
void clear_opts(Opts& opts) {
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
}

// Wraps a file descriptor so every return path closes it.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace vipd::bpf
