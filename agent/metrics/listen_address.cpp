#include "metrics/listen_address.h"

#include <charconv>

#include "vipd/core/ip_address.h"

namespace vipd::metrics {
namespace {

core::Error bad(std::string_view text, std::string_view why) {
  std::string message = "invalid metrics address '";
  message += text;
  message += "': ";
  message += why;
  message += " (expected HOST:PORT, [IPV6]:PORT or :PORT; empty disables metrics)";
  return core::Error{std::move(message)};
}

}  // namespace

std::string ListenAddress::civetweb(bool dual_stack) const {
  const std::string number = std::to_string(port);
  if (host.empty()) return dual_stack ? "+" + number : number;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + number;
  return host + ":" + number;
}

std::string ListenAddress::text() const {
  const std::string number = std::to_string(port);
  if (host.empty()) return ":" + number;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + number;
  return host + ":" + number;
}

core::Result<std::optional<ListenAddress>> parse_listen_address(std::string_view text) {
  if (text.empty()) return std::optional<ListenAddress>();
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad(text, "no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return bad(text, "port must be a number from 1 to 65535");
  }
  ListenAddress address;
  address.port = static_cast<std::uint16_t>(port);
  if (host.empty()) return std::optional<ListenAddress>(address);
  const bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 2 || host.back() != ']') return bad(text, "unclosed '['");
    host = host.substr(1, host.size() - 2);
  }
  const auto ip = core::IpAddress::parse(host);
  if (!ip) return bad(text, "the host must be a numeric IPv4 or IPv6 address");
  if (ip->is_v4() == bracketed) {
    return bad(text, bracketed ? "only IPv6 addresses go in brackets"
                               : "an IPv6 address goes in brackets: [ADDRESS]:PORT");
  }
  address.host = ip->to_string();
  return std::optional<ListenAddress>(address);
}

}  // namespace vipd::metrics
