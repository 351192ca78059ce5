// `vipd check-config`: the resolved plan as text for operators or as stable JSON for scripts
// (schema in docs/CONFIG.md).
#pragma once

#include <string>
#include <vector>

#include "config/plan.h"

namespace vipd::app {

std::string plan_json(const config::Plan& plan, const std::vector<std::string>& errors);
std::string plan_text(const config::Plan& plan);

}  // namespace vipd::app
