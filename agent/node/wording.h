// keepalived's log wording for state changes and protocol events, so existing runbooks, alerts and
// greps keep working when ipfailover pods are replaced by vipd.
#pragma once

#include <optional>

#include <string>

#include "vipd/core/advert.h"
#include "vipd/core/instance.h"

namespace vipd::node {

// "(NAME) Entering MASTER STATE"; "(NAME) Entering BACKUP STATE (init)" at startup.
std::string entering_state(const std::string& name, const core::StateChange& change);
// The line explaining why a transition happened (vipd's addition; follows the keepalived line).
std::string transition_reason(const std::string& name, const core::StateChange& change,
                              const core::Instance& instance);
std::string note_text(const std::string& name, const core::Note& note, std::uint8_t our_priority);
// keepalived's receive-side complaint for an invalid advert.
// keepalived's wording for a rejected packet; `source` is unknown when the kernel counted it.
std::string reject_text(const std::string& interface, core::DecodeError reason,
                        const std::optional<core::IpAddress>& source);

}  // namespace vipd::node
