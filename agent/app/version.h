// Build identity: version, git commit and the libbpf linked at run time.
#pragma once

#include <string>

namespace vipd::app {

std::string version_text();

}  // namespace vipd::app
