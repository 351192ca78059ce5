// Identifying attached programs: vipd's programs are recognised by name, so a restart can tell a
// previous run's leftovers from someone else's program. Reaching a program by its id needs
// CAP_SYS_ADMIN (BPF_PROG_GET_FD_BY_ID); a vipd with only CAP_BPF (a pod with four capabilities)
// reaches its own previous programs through the pins that run left in the pin directory.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vipd::bpf {

// The names vipd pins its programs under, in its pin directory.
inline constexpr std::string_view kProgramPins[] = {"vipd_xdp_advert", "vipd_tc_ingress",
                                                    "vipd_tc_egress"};

// Programs a previous vipd pinned in one pin directory, held open by descriptor, by id.
class PinnedPrograms {
 public:
  PinnedPrograms() = default;
  ~PinnedPrograms();
  PinnedPrograms(PinnedPrograms&& other) noexcept : programs_(std::move(other.programs_)) {}
  PinnedPrograms& operator=(PinnedPrograms&&) = delete;
  PinnedPrograms(const PinnedPrograms&) = delete;
  PinnedPrograms& operator=(const PinnedPrograms&) = delete;

  // Opens the kProgramPins found in `dir`; none for an empty or missing directory.
  static PinnedPrograms open(const std::string& dir);
  static const PinnedPrograms& none();

  // A new descriptor for program `id` if one of the pins holds it, else -1.
  int fd_of(std::uint32_t id) const;
  std::size_t size() const { return programs_.size(); }

 private:
  std::vector<std::pair<std::uint32_t, int>> programs_;  // id, descriptor
};

// The kernel's name for program `id` (at most 15 characters), or "" if it is gone or cannot be
// reached (neither by id nor through `pinned`).
std::string program_name(std::uint32_t id, const PinnedPrograms& pinned = PinnedPrograms::none());

// A file descriptor for program `id` (by id, else through `pinned`), or -1. The caller closes it.
int program_fd(std::uint32_t id, const PinnedPrograms& pinned = PinnedPrograms::none());

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

}  // namespace vipd::bpf
