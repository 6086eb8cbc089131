#pragma once
// What `queue [--json]` prints: the play queue (position, id, length, name), a marker on the
// current item, and the play modes.

#include <cstdint>
#include <optional>
#include <string>

#include "chorus/control/control_port.hpp"

namespace chorus::node {

/// `current`: the id of the item playing or paused (MPD's current song), if any.
std::string queue_text(const control::QueueView& queue, std::optional<std::uint64_t> current);
std::string queue_json(const control::QueueView& queue, std::optional<std::uint64_t> current);

}  // namespace chorus::node
