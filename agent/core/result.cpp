#include "vipd/core/result.h"

#include <cstdio>
#include <cstring>

#include "vipd/core/mac_address.h"

namespace vipd::core {

std::string errno_text(int err) {
  return std::strerror(err < 0 ? -err : err);  // libbpf returns -errno
}

Error errno_error(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += errno_text(err);
  return Error{std::move(message)};
}

std::string to_string(const MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

}  // namespace vipd::core
