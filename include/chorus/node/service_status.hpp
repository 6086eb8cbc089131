#pragma once
// The one-line status a node run by systemd shows in `systemctl status` (sd_notify's STATUS=):
// its role, its leader, how many peers are up and what is playing. Pure: built from a snapshot.

#include <string>

#include "chorus/control/control_port.hpp"

namespace chorus::node {

/// E.g. `leader, 2 of 3 peers up, playing "Click track" (3/4)` or
/// `following node-a, 1 of 1 peer up, stopped` or `electing, no peers, paused "x.flac" (1/1)`.
/// Names from peers and tags are inert text already (checked when received) and are shortened
/// here so that the line stays one short line.
std::string service_status_line(const control::ClusterView& view);

}  // namespace chorus::node
