// The metrics address (--metrics-address, VIPD_METRICS_ADDRESS): `HOST:PORT` with a numeric
// IPv4 host, `[IPv6]:PORT`, or `:PORT` for every address; empty disables the exporter. Names are
// refused: a daemon that starts before DNS must not depend on it to know where to listen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vipd/core/result.h"

namespace vipd::metrics {

// 9112: VRRP is IP protocol 112. Not node-exporter's 9100, nor keepalived-exporter's 9165 (or
// 2112, its older default), so vipd can run beside both during a migration.
inline constexpr std::uint16_t kDefaultPort = 9112;
inline constexpr std::string_view kDefaultAddress = ":9112";

struct ListenAddress {
  std::string host;  // "" (every address), "198.18.0.1", "::1"
  std::uint16_t port = 0;

  // civetweb's listening_ports form: "+9112" (every address, IPv4 and IPv6 on one socket), "9112"
  // (every IPv4 address: `dual_stack` false, for hosts without IPv6), "198.18.0.1:9112",
  // "[::1]:9112".
  std::string civetweb(bool dual_stack = true) const;
  // As an operator would write it: ":9112", "198.18.0.1:9112", "[::1]:9112".
  std::string text() const;
};

// nullopt for an empty text (exporter disabled); an error naming the bad value otherwise.
core::Result<std::optional<ListenAddress>> parse_listen_address(std::string_view text);

}  // namespace vipd::metrics
