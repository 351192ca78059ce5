#include "dns/peer_resolver.h"

#include <ares.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <algorithm>
#include <chrono>

namespace vipd::dns {

// What an answer callback needs: its resolver and the name it asked for.
struct PeerResolver::Lookup {
  PeerResolver* resolver;
  std::string name;
};

namespace {

// A failed round is retried after this long (or the interval, if shorter).
constexpr core::Time kRetryAfterFailure = std::chrono::seconds(5);

bool library_ready() {
  static const bool ready = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
  return ready;
}

// The DNS answered that the name (or an address of the family) does not exist: no addresses.
bool authoritative_none(int status) {
  return status == ARES_ENOTFOUND || status == ARES_ENODATA;
}

}  // namespace

PeerResolver::PeerResolver(loop::EventLoop& loop, std::vector<std::string> names,
                           core::Family family, core::Time interval, Handler on_round)
    : loop_(loop),
      names_(std::move(names)),
      family_(family),
      interval_(interval),
      on_round_(std::move(on_round)) {}

PeerResolver::~PeerResolver() {
  destroying_ = true;
  if (channel_ != nullptr) ares_destroy(channel_);  // runs pending callbacks with ARES_EDESTRUCTION
  if (round_timer_ != 0) loop_.cancel_timer(round_timer_);
  if (timeout_timer_ != 0) loop_.cancel_timer(timeout_timer_);
}

core::Status PeerResolver::start() {
  if (!library_ready()) return core::Error{"c-ares library initialisation failed"};
  ares_options options{};
  options.sock_state_cb = &PeerResolver::on_socket_state;
  options.sock_state_cb_data = this;
  if (const int status = ares_init_options(&channel_, &options, ARES_OPT_SOCK_STATE_CB);
      status != ARES_SUCCESS) {
    channel_ = nullptr;
    return core::Error{std::string("cannot set up the DNS resolver: ") + ares_strerror(status)};
  }
  round_timer_ = loop_.allocate_timer_id();
  timeout_timer_ = loop_.allocate_timer_id();
  start_round();
  return {};
}

void PeerResolver::start_round() {
  if (pending_ != 0) return;  // the previous round is still waiting for answers
  failures_.clear();
  pending_ = names_.size();
  ares_addrinfo_hints hints{};
  hints.ai_family = family_ == core::Family::V4 ? AF_INET : AF_INET6;
  hints.ai_socktype = 0;
  for (const std::string& name : names_) {
    auto* lookup = new Lookup{this, name};
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &PeerResolver::on_answer, lookup);
  }
  arm_timeout();
}

void PeerResolver::on_answer(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  if (lookup->resolver->destroying_) {
    if (result != nullptr) ares_freeaddrinfo(result);
    return;
  }
  lookup->resolver->finish_lookup(lookup->name, status, result);
}

void PeerResolver::finish_lookup(const std::string& name, int status, ares_addrinfo* result) {
  if (status == ARES_SUCCESS && result != nullptr) {
    std::vector<core::IpAddress> addresses;
    for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_family == AF_INET && family_ == core::Family::V4) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
        addresses.push_back(core::IpAddress::from_bytes(
            core::Family::V4, reinterpret_cast<const std::uint8_t*>(&in->sin_addr)));
      } else if (node->ai_family == AF_INET6 && family_ == core::Family::V6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
        addresses.push_back(core::IpAddress::from_bytes(
            core::Family::V6, reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr)));
      }
    }
    last_[name] = std::move(addresses);
  } else {
    failures_.push_back(name + ": " + ares_strerror(status));
    if (authoritative_none(status)) last_[name].clear();
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  if (pending_ > 0) --pending_;
  if (pending_ != 0) return;

  ++rounds_;
  Round round;
  for (const std::string& each : names_) {
    for (const core::IpAddress& address : last_[each]) {
      if (std::find(round.addresses.begin(), round.addresses.end(), address) ==
          round.addresses.end()) {
        round.addresses.push_back(address);
      }
    }
  }
  round.failures = failures_;
  const core::Time next = failures_.empty() ? interval_ : std::min(interval_, kRetryAfterFailure);
  loop_.set_timer(round_timer_, loop::monotonic_now() + next,
                  [this](core::Time) { start_round(); });
  on_round_(round);
}

void PeerResolver::on_socket_state(void* self, int fd, int readable, int writable) {
  auto* resolver = static_cast<PeerResolver*>(self);
  loop::EventLoop& loop = resolver->loop_;
  if (!readable && !writable) {
    loop.remove_fd(fd);
    return;
  }
  if (resolver->destroying_) return;
  const std::uint32_t events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  // c-ares reports a socket again when its interest changes: modify, or add it the first time.
  if (loop.modify_fd(fd, events)) return;
  loop.add_fd(fd, events, [resolver, fd](std::uint32_t happened) {
    const bool in = (happened & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    const bool out = (happened & EPOLLOUT) != 0;
    resolver->process(in ? fd : ARES_SOCKET_BAD, out ? fd : ARES_SOCKET_BAD);
  });
}

void PeerResolver::process(int read_fd, int write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  arm_timeout();
}

// c-ares's own retransmissions and timeouts happen when it is called after its deadline.
void PeerResolver::arm_timeout() {
  timeval wait{};
  if (ares_timeout(channel_, nullptr, &wait) == nullptr) {
    loop_.cancel_timer(timeout_timer_);
    return;
  }
  const core::Time delay =
      std::chrono::seconds(wait.tv_sec) + std::chrono::microseconds(wait.tv_usec);
  loop_.set_timer(timeout_timer_, loop::monotonic_now() + delay,
                  [this](core::Time) { process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); });
}

}  // namespace vipd::dns
