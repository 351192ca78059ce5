#include "metrics/statistics.h"

namespace vipd::metrics {
namespace {

// "bad_ttl=3 auth_mismatch=1", or "none".
std::string rejects_text(const RejectCounts& counts) {
  std::string text;
  for (const core::DecodeError reason : core::reject_reasons()) {
    const std::uint64_t count = counts[static_cast<std::size_t>(reason)];
    if (count == 0) continue;
    if (!text.empty()) text += ' ';
    text += core::reason_label(reason);
    text += '=';
    text += std::to_string(count);
  }
  return text.empty() ? "none" : text;
}

}  // namespace

std::vector<std::string> statistics_lines(const Snapshot& s) {
  std::vector<std::string> lines;
  std::string node = "Statistics on ";
  node += s.interface;
  node += ": receive path ";
  node += s.dataplane == Dataplane::Xdp ? "xdp" : "raw-socket";
  node += ", adverts accepted " + std::to_string(s.adverts_accepted);
  node += ", send errors " + std::to_string(s.advert_send_errors);
  node += ", announcements sent " + std::to_string(s.announcements_sent);
  node += ", event loop wakeups " + std::to_string(s.loop_wakeups);
  node += ", rejected: " + rejects_text(s.rejects);
  for (const auto& [port, count] : s.port_refusals) {
    node += ", port " + std::to_string(port) + " refusals " + std::to_string(count);
  }
  lines.push_back(std::move(node));
  for (const InstanceSample& i : s.instances) {
    std::string line = "(" + i.name + ") statistics: state ";
    line += core::to_string(i.state);
    line += ", adverts sent " + std::to_string(i.adverts_sent);
    line += ", received " + std::to_string(i.adverts_received);
    line += ", priority 0 sent " + std::to_string(i.priority_zero_sent);
    line += ", received " + std::to_string(i.priority_zero_received);
    line += ", became master " + std::to_string(i.become_master);
    line += ", released master " + std::to_string(i.release_master);
    line += ", rejected: " + rejects_text(i.rejects);
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace vipd::metrics
