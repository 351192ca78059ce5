// Build identity: version, git commit and the libbpf linked at run time.
#pragma once

#include <string>

namespace vipd::app {

std::string version_text();
// "0.1.0 (commit abc123)"
std::string version_short();
// "0.1.0" and "abc123", for vipd_build_info.
std::string version_number();
std::string git_commit();

}  // namespace vipd::app
