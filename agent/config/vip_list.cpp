#include "config/vip_list.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "config/split.h"

namespace vipd::config {
namespace {

constexpr std::size_t kMaxVips = 4096;

std::optional<unsigned> parse_number(std::string_view text, int base) {
  if (text.empty() || text.size() > 8) return std::nullopt;
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct RangeEnd {
  std::optional<unsigned> last;  // last octet / hextet of the range's end
  std::string error;
};

// "Y" or a full address whose leading part equals the start's: the range's last octet/hextet.
RangeEnd parse_range_end(std::string_view end, const core::IpAddress& start,
                         std::string_view token) {
  const bool v4 = start.is_v4();
  if (end.find(v4 ? '.' : ':') == std::string_view::npos) {
    const auto value = parse_number(end, v4 ? 10 : 16);
    if (!value)
      return {std::nullopt,
              "invalid VIP range end '" + std::string(end) + "' in '" + std::string(token) + "'"};
    const unsigned limit = v4 ? 255 : 0xFFFF;
    if (*value > limit) {
      return {std::nullopt, "invalid VIP range '" + std::string(token) +
                                "': " + (v4 ? "octet " : "hextet ") + std::string(end) +
                                " is over " + (v4 ? "255" : "ffff")};
    }
    return {*value, {}};
  }
  const auto full = core::IpAddress::parse(end);
  if (!full || full->family() != start.family()) {
    return {std::nullopt,
            "invalid VIP range end '" + std::string(end) + "' in '" + std::string(token) + "'"};
  }
  const std::size_t fixed = v4 ? 3 : 14;
  if (!std::equal(start.data(), start.data() + fixed, full->data())) {
    return {std::nullopt, "invalid VIP range '" + std::string(token) + "': only the last " +
                              (v4 ? "octet" : "hextet") + " may vary"};
  }
  const unsigned last = v4 ? full->data()[3] : (unsigned{full->data()[14]} << 8 | full->data()[15]);
  return {last, {}};
}

core::IpAddress with_last(const core::IpAddress& start, unsigned last) {
  std::uint8_t bytes[16];
  std::copy_n(start.data(), start.size(), bytes);
  if (start.is_v4()) {
    bytes[3] = static_cast<std::uint8_t>(last);
  } else {
    bytes[14] = static_cast<std::uint8_t>(last >> 8);
    bytes[15] = static_cast<std::uint8_t>(last & 0xFF);
  }
  return core::IpAddress::from_bytes(start.family(), bytes);
}

void expand_token(std::string_view token, VipListResult& result) {
  // Appended, not "'" + string + "'": GCC 12 at -O3 misreads that as an overlapping copy
  // (-Wrestrict, GCC bug 105651).
  std::string quoted(1, '\'');
  quoted.append(token);
  quoted += '\'';
  std::string_view body = token;
  std::optional<unsigned> prefix;
  if (const auto slash = token.find('/'); slash != std::string_view::npos) {
    body = token.substr(0, slash);
    prefix = parse_number(token.substr(slash + 1), 10);
    if (!prefix) {
      result.errors.push_back("invalid VIP prefix in " + quoted);
      return;
    }
  }
  const auto dash = body.find('-');
  const std::string_view start_text = body.substr(0, dash);
  const auto start = core::IpAddress::parse(start_text);
  if (!start) {
    result.errors.push_back("invalid VIP " + quoted + ": not an IPv4 or IPv6 address");
    return;
  }
  if (start->is_unspecified() || start->is_multicast()) {
    const char* why = start->is_multicast() ? "a multicast address" : "the unspecified address";
    result.errors.push_back("invalid VIP " + quoted + ": " + why);
    return;
  }
  const unsigned max_prefix = start->is_v4() ? 32 : 128;
  if (prefix && (*prefix == 0 || *prefix > max_prefix)) {
    result.errors.push_back("invalid VIP prefix /" + std::to_string(*prefix) + " in " + quoted);
    return;
  }
  const auto vip_prefix = static_cast<std::uint8_t>(prefix.value_or(max_prefix));
  if (dash == std::string_view::npos) {
    result.vips.push_back({*start, vip_prefix});
    return;
  }
  const RangeEnd end = parse_range_end(body.substr(dash + 1), *start, token);
  if (!end.last) {
    result.errors.push_back(end.error);
    return;
  }
  const unsigned first =
      start->is_v4() ? start->data()[3] : (unsigned{start->data()[14]} << 8 | start->data()[15]);
  if (first > *end.last) {
    result.errors.push_back("invalid VIP range " + quoted + ": start is above end");
    return;
  }
  if (*end.last - first >= kMaxVips) {
    result.errors.push_back("invalid VIP range " + quoted + ": more than " +
                            std::to_string(kMaxVips) + " addresses");
    return;
  }
  for (unsigned last = first; last <= *end.last; ++last) {
    result.vips.push_back({with_last(*start, last), vip_prefix});
  }
}

// The same VIP in two places would be claimed by two instances (or twice by one).
void report_duplicates(VipListResult& result) {
  std::vector<core::IpAddress> sorted;
  for (const Vip& vip : result.vips) sorted.push_back(vip.address);
  std::sort(sorted.begin(), sorted.end());
  for (auto it = sorted.begin(); (it = std::adjacent_find(it, sorted.end())) != sorted.end();) {
    result.errors.push_back("duplicate VIP " + it->to_string());
    it = std::upper_bound(it, sorted.end(), *it);
  }
}

}  // namespace

VipListResult parse_vip_list(std::string_view text) {
  VipListResult result;
  for (const std::string& token : split_list(text)) expand_token(token, result);
  report_duplicates(result);
  return result;
}

std::vector<std::vector<Vip>> group_vips(const std::vector<Vip>& vips, unsigned groups) {
  const std::size_t total = vips.size();
  const std::size_t count = groups == 0 || groups > total ? total : groups;
  std::vector<std::vector<Vip>> result(count);
  if (count == 0) return result;
  const std::size_t base = total / count;
  const std::size_t extra = total % count;
  std::size_t next = 0;
  for (std::size_t group = 0; group < count; ++group) {
    const std::size_t size = base + (group < extra ? 1 : 0);
    result[group].assign(vips.begin() + static_cast<std::ptrdiff_t>(next),
                         vips.begin() + static_cast<std::ptrdiff_t>(next + size));
    next += size;
  }
  return result;
}

}  // namespace vipd::config
