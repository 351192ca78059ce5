// An Ethernet MAC address, the one type every room uses for it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace vipd::core {

using MacAddress = std::array<std::uint8_t, 6>;

// "02:00:5e:00:01:0a"
std::string to_string(const MacAddress& mac);

}  // namespace vipd::core
