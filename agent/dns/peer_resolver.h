// Re-resolves the configured unicast peer names (OPENSHIFT_HA_UNICAST_PEERS entries that are DNS
// names, e.g. a headless Service of the DaemonSet) every interval with c-ares driven by the event
// loop: its sockets are polled there and its timeouts are loop timers, so no lookup ever blocks
// the loop and no thread is started. A name that fails is retried sooner and keeps its last
// addresses unless the DNS said it does not exist (or has no address of the family).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/event_loop.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/result.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace vipd::dns {

// One round's outcome: the addresses of all names together, and one line per name that failed.
struct Round {
  std::vector<core::IpAddress> addresses;
  std::vector<std::string> failures;  // "name: reason"
};

class PeerResolver {
 public:
  using Handler = std::function<void(const Round& round)>;

  PeerResolver(loop::EventLoop& loop, std::vector<std::string> names, core::Family family,
               core::Time interval, Handler on_round);
  ~PeerResolver();
  PeerResolver(const PeerResolver&) = delete;
  PeerResolver& operator=(const PeerResolver&) = delete;

  // Reads the resolver configuration (/etc/resolv.conf) and starts the first round at once.
  core::Status start();
  std::uint64_t rounds() const { return rounds_; }

  struct Lookup;

 private:
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* lookup, int status, int timeouts, ::ares_addrinfo* result);
  void start_round();
  void finish_lookup(const std::string& name, int status, ::ares_addrinfo* result);
  void process(int read_fd, int write_fd);
  void arm_timeout();

  loop::EventLoop& loop_;
  std::vector<std::string> names_;
  core::Family family_;
  core::Time interval_;
  Handler on_round_;
  ::ares_channeldata* channel_ = nullptr;
  std::uint64_t round_timer_ = 0;
  std::uint64_t timeout_timer_ = 0;
  std::unordered_map<std::string, std::vector<core::IpAddress>> last_;
  std::vector<std::string> failures_;
  std::size_t pending_ = 0;
  std::uint64_t rounds_ = 0;
  bool destroying_ = false;
};

}  // namespace vipd::dns
