#include "net/netlink.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace vipd::net {
namespace {

core::Error nl_error(const std::string& what, int code) {
  return core::Error{what + ": " + nl_geterror(code)};
}

std::optional<core::IpAddress> to_ip(const nl_addr* address) {
  if (address == nullptr) return std::nullopt;
  const int family = nl_addr_get_family(address);
  const auto length = nl_addr_get_len(address);
  const auto* bytes = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(address));
  if (family == AF_INET && length == 4) return core::IpAddress::from_bytes(core::Family::V4, bytes);
  if (family == AF_INET6 && length == 16)
    return core::IpAddress::from_bytes(core::Family::V6, bytes);
  return std::nullopt;
}

LinkState to_link_state(rtnl_link* link) {
  LinkState state;
  state.ifindex = rtnl_link_get_ifindex(link);
  if (const char* name = rtnl_link_get_name(link)) state.name = name;
  const unsigned flags = rtnl_link_get_flags(link);
  state.admin_up = (flags & IFF_UP) != 0;
  state.carrier = (flags & IFF_RUNNING) != 0 || (flags & IFF_LOWER_UP) != 0;
  if (const nl_addr* mac = rtnl_link_get_addr(link); mac != nullptr && nl_addr_get_len(mac) == 6) {
    std::memcpy(state.mac.data(), nl_addr_get_binary_addr(mac), 6);
  }
  return state;
}

std::optional<AddressEntry> to_address_entry(rtnl_addr* address) {
  const auto ip = to_ip(rtnl_addr_get_local(address));
  if (!ip) return std::nullopt;
  AddressEntry entry;
  entry.ifindex = rtnl_addr_get_ifindex(address);
  entry.address = *ip;
  entry.prefix = static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(address));
  entry.flags = static_cast<std::uint32_t>(rtnl_addr_get_flags(address));
  return entry;
}

struct AddrDeleter {
  void operator()(rtnl_addr* address) const { rtnl_addr_put(address); }
};
using AddrPtr = std::unique_ptr<rtnl_addr, AddrDeleter>;

AddrPtr build_address(int ifindex, const core::IpAddress& ip, std::uint8_t prefix) {
  AddrPtr address(rtnl_addr_alloc());
  if (!address) return nullptr;
  const int family = ip.is_v4() ? AF_INET : AF_INET6;
  nl_addr* local = nl_addr_build(family, ip.data(), static_cast<unsigned>(ip.size()));
  if (local == nullptr) return nullptr;
  nl_addr_set_prefixlen(local, prefix);
  rtnl_addr_set_ifindex(address.get(), ifindex);
  rtnl_addr_set_local(address.get(), local);
  rtnl_addr_set_prefixlen(address.get(), prefix);
  nl_addr_put(local);
  return address;
}

}  // namespace

bool AddressEntry::secondary() const {
  return (flags & IFA_F_SECONDARY) != 0;
}

Netlink::~Netlink() {
  if (events_ != nullptr) nl_socket_free(events_);
  if (request_ != nullptr) nl_socket_free(request_);
}

core::Status Netlink::open() {
  request_ = nl_socket_alloc();
  if (request_ == nullptr) return core::Error{"netlink: out of memory"};
  if (const int err = nl_connect(request_, NETLINK_ROUTE); err < 0) {
    return nl_error("netlink connect", err);
  }
  return {};
}

core::Status Netlink::subscribe_events(EventHandler handler) {
  handler_ = std::move(handler);
  events_ = nl_socket_alloc();
  if (events_ == nullptr) return core::Error{"netlink: out of memory"};
  nl_socket_disable_seq_check(events_);
  nl_socket_modify_cb(events_, NL_CB_VALID, NL_CB_CUSTOM, &Netlink::on_message, this);
  if (const int err = nl_connect(events_, NETLINK_ROUTE); err < 0) {
    return nl_error("netlink connect (events)", err);
  }
  if (const int err = nl_socket_add_memberships(events_, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                                                RTNLGRP_IPV6_IFADDR, 0);
      err < 0) {
    return nl_error("netlink subscribe", err);
  }
  nl_socket_set_nonblocking(events_);
  nl_socket_set_buffer_size(events_, 1 << 20, 0);
  return {};
}

int Netlink::event_fd() const {
  return events_ == nullptr ? -1 : nl_socket_get_fd(events_);
}

void Netlink::read_events() {
  if (events_ == nullptr) return;
  for (int round = 0; round < 64; ++round) {
    const int err = nl_recvmsgs_default(events_);
    if (err >= 0) continue;
    if (err == -NLE_AGAIN) return;
    // Overrun (ENOBUFS) or anything else: events were lost, the owner re-reads the state.
    if (handler_) handler_(NetlinkEvent{});
    if (err != -NLE_NOMEM && err != -NLE_INTR) return;
  }
}

int Netlink::on_message(::nl_msg* message, void* self) {
  auto* netlink = static_cast<Netlink*>(self);
  std::pair<Netlink*, int> context{netlink, nlmsg_hdr(message)->nlmsg_type};
  nl_msg_parse(
      message,
      [](nl_object* object, void* arg) {
        auto* parsed = static_cast<std::pair<Netlink*, int>*>(arg);
        Netlink* owner = parsed->first;
        if (!owner->handler_) return;
        const std::string type_name = nl_object_get_type(object);
        NetlinkEvent event;
        if (type_name == "route/link") {
          event.kind = parsed->second == RTM_DELLINK ? NetlinkEvent::Kind::LinkRemoved
                                                     : NetlinkEvent::Kind::LinkChanged;
          event.link = to_link_state(reinterpret_cast<rtnl_link*>(object));
        } else if (type_name == "route/addr") {
          auto entry = to_address_entry(reinterpret_cast<rtnl_addr*>(object));
          if (!entry) return;
          event.kind = parsed->second == RTM_DELADDR ? NetlinkEvent::Kind::AddressRemoved
                                                     : NetlinkEvent::Kind::AddressAdded;
          event.address = *entry;
        } else {
          return;
        }
        owner->handler_(event);
      },
      &context);
  return NL_OK;
}

std::optional<LinkState> Netlink::link(const std::string& name) {
  rtnl_link* link = nullptr;
  if (rtnl_link_get_kernel(request_, 0, name.c_str(), &link) < 0 || link == nullptr) {
    return std::nullopt;
  }
  LinkState state = to_link_state(link);
  rtnl_link_put(link);
  return state;
}

std::optional<LinkState> Netlink::link(int ifindex) {
  rtnl_link* link = nullptr;
  if (rtnl_link_get_kernel(request_, ifindex, nullptr, &link) < 0 || link == nullptr) {
    return std::nullopt;
  }
  LinkState state = to_link_state(link);
  rtnl_link_put(link);
  return state;
}

std::optional<int> Netlink::default_route_ifindex() {
  nl_cache* cache = nullptr;
  if (rtnl_route_alloc_cache(request_, AF_INET, 0, &cache) < 0) return std::nullopt;
  std::optional<int> found;
  for (nl_object* object = nl_cache_get_first(cache); object != nullptr && !found;
       object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    const nl_addr* dst = rtnl_route_get_dst(route);
    if (dst != nullptr && nl_addr_get_prefixlen(dst) != 0) continue;
    if (rtnl_route_get_nnexthops(route) < 1) continue;
    const int ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
    if (ifindex > 0) found = ifindex;
  }
  nl_cache_free(cache);
  return found;
}

std::vector<AddressEntry> Netlink::addresses(int ifindex) {
  std::vector<AddressEntry> result;
  nl_cache* cache = nullptr;
  if (rtnl_addr_alloc_cache(request_, &cache) < 0) return result;
  for (nl_object* object = nl_cache_get_first(cache); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    if (ifindex != 0 && rtnl_addr_get_ifindex(address) != ifindex) continue;
    if (auto entry = to_address_entry(address)) result.push_back(*entry);
  }
  nl_cache_free(cache);
  return result;
}

std::optional<AddressEntry> Netlink::primary_address(int ifindex, core::Family family,
                                                     const std::vector<core::IpAddress>& exclude) {
  for (const AddressEntry& entry : addresses(ifindex)) {
    if (entry.address.family() != family) continue;
    if (std::find(exclude.begin(), exclude.end(), entry.address) != exclude.end()) continue;
    if (family == core::Family::V4 && !entry.secondary()) return entry;
    if (family == core::Family::V6 && entry.address.is_link_local()) return entry;
  }
  return std::nullopt;
}

core::Status Netlink::add_address(int ifindex, const core::IpAddress& address,
                                  std::uint8_t prefix) {
  AddrPtr request = build_address(ifindex, address, prefix);
  if (!request) return core::Error{"netlink: cannot build address " + address.to_string()};
  if (!address.is_v4()) rtnl_addr_set_flags(request.get(), IFA_F_NODAD);
  const int err = rtnl_addr_add(request_, request.get(), 0);
  if (err < 0 && err != -NLE_EXIST) {
    return nl_error("add " + address.to_string() + "/" + std::to_string(prefix), err);
  }
  return {};
}

core::Status Netlink::remove_address(int ifindex, const core::IpAddress& address,
                                     std::uint8_t prefix) {
  AddrPtr request = build_address(ifindex, address, prefix);
  if (!request) return core::Error{"netlink: cannot build address " + address.to_string()};
  const int err = rtnl_addr_delete(request_, request.get(), 0);
  if (err < 0 && err != -NLE_NOADDR && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) {
    return nl_error("delete " + address.to_string() + "/" + std::to_string(prefix), err);
  }
  return {};
}

}  // namespace vipd::net
