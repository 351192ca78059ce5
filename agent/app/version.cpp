#include "app/version.h"

#include <bpf/libbpf.h>

namespace vipd::app {

std::string version_text() {
  return std::string("vipd ") + VIPD_VERSION + "\ncommit " + VIPD_GIT_COMMIT + "\nlibbpf " +
         libbpf_version_string() + "\n";
}

std::string version_short() {
  return std::string(VIPD_VERSION) + " (commit " + VIPD_GIT_COMMIT + ")";
}

std::string version_number() {
  return VIPD_VERSION;
}

std::string git_commit() {
  return VIPD_GIT_COMMIT;
}

}  // namespace vipd::app
