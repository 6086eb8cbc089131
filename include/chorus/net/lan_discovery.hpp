#pragma once
// LanDiscovery: announces this node on the LAN by mDNS/DNS-SD (service _chorus._tcp) and browses
// for the other members of its cluster, through avahi-daemon (libavahi-client, over D-Bus).
// docs/discovery.md describes the records and the behaviour.
//
// Threads: Avahi's callbacks run on its own thread (an AvahiThreadedPoll); they only copy what
// was resolved and post it to the io thread, where mdns_record's decide() says whether to dial it
// and `found` hands the member to the NetworkManager. Nothing here blocks the io thread except
// the local D-Bus calls of start() and stop(), made once each.
//
// Without avahi-daemon (or without a system bus) the node logs that once and runs as before;
// the client is made with AVAHI_CLIENT_NO_FAIL, so a daemon that appears or restarts later gets
// the announcement and the browser again. A service name already taken on the LAN is replaced by
// avahi_alternative_service_name().
//
// start(), stop() and the destructor must be called on the io thread. After stop() returns no
// callback runs and the announcement is withdrawn (avahi-daemon sends its goodbye).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chorus/net/mdns_record.hpp"
#include "chorus/net/rate_limited_log.hpp"

namespace boost::asio {
class io_context;
}

namespace chorus::net {

struct LanDiscoverySettings {
  ServiceRecord record;      ///< what this node announces
  std::uint16_t port = 0;    ///< the port peers should dial (advertised, else listen port)
  /// Hex ids of the keys accepted besides the record's own (while a cluster key is rotated).
  std::vector<std::string> also_accepted_key_ids;
};

class LanDiscovery {
 public:
  using Found = std::function<void(const protocol::Member&)>;

  LanDiscovery(boost::asio::io_context& io, LanDiscoverySettings settings, Found found);
  ~LanDiscovery();
  LanDiscovery(const LanDiscovery&) = delete;
  LanDiscovery& operator=(const LanDiscovery&) = delete;

  void start();
  void stop();

 private:
  class Avahi;  // the part that lives on Avahi's thread
  void on_sighting(const Sighting& sighting);
  /// Gives `found` a member to dial, unless it was reached over IPv4 and this is IPv6.
  void hand_over(const protocol::Member& member, bool ipv6);

  boost::asio::io_context& io_;
  LanDiscoverySettings settings_;
  LocalIdentity self_;  ///< what decide() compares announcements with: the record's fields
  Found found_;
  std::unique_ptr<Avahi> avahi_;
  /// Whether posted sightings may still be delivered; read and written on the io thread only.
  std::shared_ptr<bool> alive_;
  /// Members handed over, and whether through an IPv6 address: an IPv6 one is not used for a
  /// member reached through IPv4.
  std::unordered_map<std::string, bool> reached_by_ipv6_;
  RateLimitedLog ignored_log_{std::chrono::seconds(10)};
};

}  // namespace chorus::net
