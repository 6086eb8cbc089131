#pragma once
// This room's level between runs: a small JSON file, {"volume":40,"muted":false,"seq":12}, in the
// node's cache directory. The cache directory is the node's own (one per node id, never shared),
// survives restarts, and is already where it keeps what is worth keeping but can be lost: losing
// the file only means volume 100, unmuted.

#include <filesystem>
#include <string>

#include "chorus/node/room_mixer.hpp"

namespace chorus::node {

/// The level kept in `file`; volume 100, unmuted, seq 0 when it is missing or unreadable (then
/// `problem` says why, unless it is simply missing).
RoomLevel load_room_level(const std::filesystem::path& file, std::string* problem = nullptr);

/// Replaces `file` with `level` (written beside it, then renamed: a crash leaves the old or the
/// new one). False, with `problem`, if it cannot.
bool save_room_level(const std::filesystem::path& file, const RoomLevel& level,
                     std::string* problem = nullptr);

}  // namespace chorus::node
