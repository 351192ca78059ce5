// rtnetlink through libnl-route-3: interface state, addresses (the VIPs), and change events.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"

struct nl_sock;
struct nl_msg;

namespace vipd::net {

struct LinkState {
  int ifindex = 0;
  std::string name;
  core::MacAddress mac{};
  bool admin_up = false;  // IFF_UP
  bool carrier = false;   // IFF_RUNNING / IFF_LOWER_UP: the link can carry traffic
  bool usable() const { return admin_up && carrier; }
};

struct AddressEntry {
  int ifindex = 0;
  core::IpAddress address;
  std::uint8_t prefix = 0;
  std::uint32_t flags = 0;  // IFA_F_*
  bool secondary() const;
};

struct NetlinkEvent {
  enum class Kind { LinkChanged, LinkRemoved, AddressAdded, AddressRemoved, Resync };
  Kind kind = Kind::Resync;
  LinkState link;        // Link*
  AddressEntry address;  // Address*
};

class Netlink {
 public:
  using EventHandler = std::function<void(const NetlinkEvent&)>;

  Netlink() = default;
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Request socket only; subscribe_events() adds the event socket.
  core::Status open();
  core::Status subscribe_events(EventHandler handler);
  int event_fd() const;
  // Drains pending events into the handler (non-blocking).
  void read_events();

  std::optional<LinkState> link(const std::string& name);
  std::optional<LinkState> link(int ifindex);
  // Interface of the IPv4 default route, if any.
  std::optional<int> default_route_ifindex();
  // ifindex 0: every interface's addresses.
  std::vector<AddressEntry> addresses(int ifindex);
  // First non-secondary IPv4 address (excluding `exclude`), or the IPv6 link-local.
  std::optional<AddressEntry> primary_address(int ifindex, core::Family family,
                                              const std::vector<core::IpAddress>& exclude = {});

  // Idempotent: adding a present address or removing an absent one succeeds. IPv6 gets
  // IFA_F_NODAD.
  core::Status add_address(int ifindex, const core::IpAddress& address, std::uint8_t prefix);
  core::Status remove_address(int ifindex, const core::IpAddress& address, std::uint8_t prefix);

 private:
  static int on_message(::nl_msg* message, void* self);

  nl_sock* request_ = nullptr;
  nl_sock* events_ = nullptr;
  EventHandler handler_;
};

}  // namespace vipd::net
