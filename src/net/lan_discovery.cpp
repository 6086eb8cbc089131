#include "chorus/net/lan_discovery.hpp"

#include <net/if.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/protocol/inert_text.hpp"
#include "chorus/thread_name.hpp"

namespace chorus::net {

namespace {

/// A DNS-SD instance name is one DNS label: at most 63 bytes.
constexpr std::size_t kMaxServiceNameBytes = 63;
/// Resolutions in flight at once: a host announcing thousands of services cannot make this node
/// hold thousands of D-Bus objects.
constexpr int kMaxResolversInFlight = 32;
/// TXT entries looked at in one record: ours has five.
constexpr std::size_t kMaxTxtEntries = 16;
/// How long an IPv6 address waits for the same member's IPv4 one before it is used.
constexpr std::chrono::milliseconds kIpv6Grace{300};
/// Without a D-Bus system bus, a new Avahi client is tried this often.
constexpr unsigned kClientRetryMs = 5000;

/// The node id cut to one DNS label, never inside a UTF-8 character.
std::string service_name_for(const std::string& node_id) {
  if (node_id.size() <= kMaxServiceNameBytes) return node_id;
  std::size_t end = kMaxServiceNameBytes;
  while (end > 0 && (static_cast<unsigned char>(node_id[end]) & 0xC0) == 0x80) --end;
  return node_id.substr(0, end);
}

std::vector<std::string> txt_entries(AvahiStringList* list) {
  std::vector<std::string> entries;
  for (; list && entries.size() < kMaxTxtEntries; list = avahi_string_list_get_next(list)) {
    const auto* text = reinterpret_cast<const char*>(avahi_string_list_get_text(list));
    entries.emplace_back(text, avahi_string_list_get_size(list));
  }
  return entries;
}

std::string interface_name(AvahiIfIndex index) {
  char name[IF_NAMESIZE] = {};
  if (index < 0 || !::if_indextoname(static_cast<unsigned>(index), name)) return {};
  return name;
}

/// This node as decide() sees it: what it announces, and every key it accepts.
LocalIdentity identity_of(const LanDiscoverySettings& settings) {
  LocalIdentity self{settings.record.cluster, settings.record.version, settings.record.node_id, {}};
  if (!settings.record.key_id.empty()) self.key_ids.push_back(settings.record.key_id);
  self.key_ids.insert(self.key_ids.end(), settings.also_accepted_key_ids.begin(),
                      settings.also_accepted_key_ids.end());
  return self;
}

}  // namespace

/// Everything here runs on Avahi's thread (or with its lock held), and touches no io-thread state.
class LanDiscovery::Avahi {
 public:
  using Post = std::function<void(Sighting)>;

  Avahi(const LanDiscoverySettings& settings, Post post)
      : name_(service_name_for(settings.record.node_id)),
        txt_(encode_txt(settings.record)),
        port_(settings.port),
        post_(std::move(post)) {
    if (auto check = decode_txt(txt_); !check.record) {
      spdlog::warn("mDNS: this node cannot be announced ({}); it still looks for others",
                   check.problem);
      announce_ = false;
    }
  }

  ~Avahi() { stop(); }

  bool start() {
    poll_ = avahi_threaded_poll_new();
    if (!poll_) return false;
    avahi_threaded_poll_lock(poll_);
    new_client();
    name_poll_thread_when_it_runs();
    avahi_threaded_poll_unlock(poll_);
    return avahi_threaded_poll_start(poll_) == 0;
  }

  void stop() {
    if (!poll_) return;
    avahi_threaded_poll_lock(poll_);
    // Freeing the client frees its entry group: avahi-daemon withdraws the service and says so.
    if (client_) avahi_client_free(std::exchange(client_, nullptr));
    if (retry_) avahi_threaded_poll_get(poll_)->timeout_free(std::exchange(retry_, nullptr));
    if (naming_) avahi_threaded_poll_get(poll_)->timeout_free(std::exchange(naming_, nullptr));
    group_ = nullptr;
    browser_ = nullptr;
    avahi_threaded_poll_unlock(poll_);
    avahi_threaded_poll_stop(poll_);
    avahi_threaded_poll_free(std::exchange(poll_, nullptr));
  }

 private:
  void new_client() {
    int error = 0;
    // NO_FAIL: no daemon is not an error; the client waits for one to appear. Without a D-Bus
    // system bus at all there is no client: another is tried a few seconds later.
    client_ = avahi_client_new(avahi_threaded_poll_get(poll_), AVAHI_CLIENT_NO_FAIL,
                               &Avahi::client_changed, this, &error);
    if (client_) return;
    warn_unreachable(error == AVAHI_ERR_NO_DAEMON ? "avahi-daemon is not running (no D-Bus system bus)"
                                                  : avahi_strerror(error));
    retry_client_later();
  }

  void retry_client_later() {
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    timeval due{};
    avahi_elapse_time(&due, kClientRetryMs, 0);
    if (retry_) {
      api->timeout_update(retry_, &due);
    } else {
      retry_ = api->timeout_new(api, &due, &Avahi::retry_due, this);
    }
  }

  // Avahi starts its poll thread itself, with no hook: a timeout due at once runs on it as soon as
  // it starts, and names it for top -H, ps -L and gdb.
  void name_poll_thread_when_it_runs() {
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    timeval now{};
    avahi_elapse_time(&now, 0, 0);
    naming_ = api->timeout_new(api, &now, &Avahi::name_poll_thread, this);
  }

  static void name_poll_thread(AvahiTimeout*, void* self) {
    auto& avahi = *static_cast<Avahi*>(self);
    name_this_thread("chorus-mdns");
    avahi_threaded_poll_get(avahi.poll_)->timeout_free(std::exchange(avahi.naming_, nullptr));
  }

  static void retry_due(AvahiTimeout*, void* self) {
    auto& avahi = *static_cast<Avahi*>(self);
    if (!avahi.client_) avahi.new_client();
  }

  static void client_changed(AvahiClient* client, AvahiClientState state, void* self) {
    static_cast<Avahi*>(self)->on_client(client, state);
  }

  void on_client(AvahiClient* client, AvahiClientState state) {
    switch (state) {
      case AVAHI_CLIENT_S_RUNNING:
        if (warned_) spdlog::info("mDNS: avahi-daemon is reachable now");
        warned_ = false;
        announce(client);
        browse(client);
        break;
      case AVAHI_CLIENT_S_COLLISION:
      case AVAHI_CLIENT_S_REGISTERING:
        // The host name is being (re)probed: the service is announced again once it runs.
        if (group_) avahi_entry_group_reset(group_);
        break;
      case AVAHI_CLIENT_CONNECTING:
        warn_unreachable("avahi-daemon is not running");
        // Objects of a daemon that went away are dead (the client frees them): new ones are made
        // once it runs again.
        group_ = nullptr;
        browser_ = nullptr;
        break;
      case AVAHI_CLIENT_FAILURE:
        if (avahi_client_errno(client) == AVAHI_ERR_DISCONNECTED) {
          // The daemon or the bus went away: a new client waits for them to come back.
          warn_unreachable("lost avahi-daemon");
          group_ = nullptr;
          browser_ = nullptr;
          resolvers_ = 0;
          avahi_client_free(client);
          client_ = nullptr;
          new_client();
        } else {
          spdlog::warn("mDNS: Avahi client failed: {}", avahi_strerror(avahi_client_errno(client)));
        }
        break;
    }
  }

  void warn_unreachable(const char* what) {
    if (warned_) return;
    warned_ = true;
    spdlog::warn("mDNS: {}; until it is back this node neither announces itself nor finds peers "
                 "on the LAN (--leader and --bootstrap still work)", what);
  }

  // ---- the announcement ----

  void announce(AvahiClient* client) {
    if (!announce_) return;
    if (!group_) group_ = avahi_entry_group_new(client, &Avahi::group_changed, this);
    if (!group_) {
      spdlog::warn("mDNS: cannot announce: {}", avahi_strerror(avahi_client_errno(client)));
      return;
    }
    if (!avahi_entry_group_is_empty(group_)) return;
    add_service(client);
  }

  void add_service(AvahiClient* client) {
    AvahiStringList* txt = nullptr;
    for (auto it = txt_.rbegin(); it != txt_.rend(); ++it) {
      txt = avahi_string_list_add_arbitrary(txt, reinterpret_cast<const std::uint8_t*>(it->data()),
                                            it->size());
    }
    int error = avahi_entry_group_add_service_strlst(
        group_, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, AvahiPublishFlags{}, name_.c_str(),
        std::string(kServiceType).c_str(), nullptr, nullptr, port_, txt);
    avahi_string_list_free(txt);
    if (error == AVAHI_ERR_COLLISION) return rename(client);
    if (error == 0) error = avahi_entry_group_commit(group_);
    if (error != 0) spdlog::warn("mDNS: cannot announce '{}': {}", protocol::inert(name_), avahi_strerror(error));
  }

  /// Another service on the LAN has this name: take the next alternative ("name #2", ...).
  void rename(AvahiClient* client) {
    char* alternative = avahi_alternative_service_name(name_.c_str());
    spdlog::info("mDNS: service name '{}' is taken; announcing as '{}'", protocol::inert(name_),
                 protocol::inert(alternative));
    name_ = alternative;
    avahi_free(alternative);
    avahi_entry_group_reset(group_);
    add_service(client);
  }

  static void group_changed(AvahiEntryGroup* group, AvahiEntryGroupState state, void* self) {
    static_cast<Avahi*>(self)->on_group(group, state);
  }

  void on_group(AvahiEntryGroup* group, AvahiEntryGroupState state) {
    group_ = group;  // also called from inside avahi_entry_group_new, before it returns
    if (state == AVAHI_ENTRY_GROUP_ESTABLISHED) {
      spdlog::info("mDNS: announced as '{}' ({})", protocol::inert(name_), kServiceType);
    } else if (state == AVAHI_ENTRY_GROUP_COLLISION) {
      rename(avahi_entry_group_get_client(group));
    } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
      auto* client = avahi_entry_group_get_client(group);
      spdlog::warn("mDNS: announcement failed: {}", avahi_strerror(avahi_client_errno(client)));
    }
  }

  // ---- browsing ----

  void browse(AvahiClient* client) {
    if (browser_) return;
    browser_ = avahi_service_browser_new(client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                         std::string(kServiceType).c_str(), nullptr,
                                         AvahiLookupFlags{}, &Avahi::browsed, this);
    if (!browser_) spdlog::warn("mDNS: cannot browse: {}", avahi_strerror(avahi_client_errno(client)));
  }

  static void browsed(AvahiServiceBrowser* browser, AvahiIfIndex interface, AvahiProtocol protocol,
                      AvahiBrowserEvent event, const char* name, const char* type,
                      const char* domain, AvahiLookupResultFlags, void* self) {
    auto& avahi = *static_cast<Avahi*>(self);
    if (event == AVAHI_BROWSER_FAILURE) {
      auto* client = avahi_service_browser_get_client(browser);
      spdlog::warn("mDNS: browsing failed: {}", avahi_strerror(avahi_client_errno(client)));
      avahi_service_browser_free(browser);
      avahi.browser_ = nullptr;  // browsed again when the client runs again
      return;
    }
    if (event != AVAHI_BROWSER_NEW) return;
    if (avahi.resolvers_ >= kMaxResolversInFlight) {
      spdlog::debug("mDNS: {} resolutions in flight; '{}' skipped", avahi.resolvers_,
                    protocol::inert(name));
      return;
    }
    // The address family of the transport the service was seen on: A over IPv4, AAAA over IPv6.
    auto* client = avahi_service_browser_get_client(browser);
    if (avahi_service_resolver_new(client, interface, protocol, name, type, domain, protocol,
                                   AvahiLookupFlags{}, &Avahi::resolved, self)) {
      ++avahi.resolvers_;
    }
  }

  static void resolved(AvahiServiceResolver* resolver, AvahiIfIndex interface, AvahiProtocol,
                       AvahiResolverEvent event, const char* name, const char*, const char*,
                       const char*, const AvahiAddress* address, std::uint16_t port,
                       AvahiStringList* txt, AvahiLookupResultFlags, void* self) {
    auto& avahi = *static_cast<Avahi*>(self);
    --avahi.resolvers_;
    if (event == AVAHI_RESOLVER_FOUND && address) {
      char text[AVAHI_ADDRESS_STR_MAX] = {};
      avahi_address_snprint(text, sizeof text, address);
      avahi.post_(Sighting{txt_entries(txt), text, interface_name(interface), port});
    } else {
      spdlog::debug("mDNS: '{}' did not resolve", protocol::inert(name ? name : ""));
    }
    avahi_service_resolver_free(resolver);
  }

  std::string name_;
  std::vector<std::string> txt_;
  std::uint16_t port_;
  Post post_;
  bool announce_ = true;
  bool warned_ = false;
  int resolvers_ = 0;
  AvahiThreadedPoll* poll_ = nullptr;
  AvahiClient* client_ = nullptr;
  AvahiEntryGroup* group_ = nullptr;
  AvahiServiceBrowser* browser_ = nullptr;
  AvahiTimeout* retry_ = nullptr;  ///< the next attempt at a client, while there is no bus
  AvahiTimeout* naming_ = nullptr; ///< names the poll thread, until it has run
};

LanDiscovery::LanDiscovery(boost::asio::io_context& io, LanDiscoverySettings settings, Found found)
    : io_(io), settings_(std::move(settings)), self_(identity_of(settings_)), found_(std::move(found)) {}

LanDiscovery::~LanDiscovery() { stop(); }

void LanDiscovery::start() {
  if (avahi_) return;
  alive_ = std::make_shared<bool>(true);
  avahi_ = std::make_unique<Avahi>(settings_, [this, alive = alive_](Sighting sighting) {
    boost::asio::post(io_, [this, alive, sighting = std::move(sighting)] {
      if (*alive) on_sighting(sighting);
    });
  });
  if (!avahi_->start()) {
    spdlog::warn("mDNS off: cannot start Avahi's thread");
    stop();
  }
}

void LanDiscovery::stop() {
  if (alive_) *alive_ = false;
  avahi_.reset();  // joins Avahi's thread: nothing is posted after this
}

void LanDiscovery::on_sighting(const Sighting& sighting) {
  auto decision = decide(self_, sighting);
  if (decision.verdict != Verdict::dial) {
    if (decision.verdict != Verdict::own) {
      ignored_log_.write(spdlog::level::debug,
                         fmt::format("mDNS: ignoring a service at {}:{}: {}{}{}",
                                     protocol::inert(sighting.address, 64), sighting.port,
                                     to_string(decision.verdict), decision.problem.empty() ? "" : ": ",
                                     decision.problem));
    }
    return;
  }
  const auto& member = *decision.member;
  if (!decision.ipv6) return hand_over(member, /*ipv6=*/false);
  // The same service usually resolves over IPv4 too, a moment later: its IPv6 address is used
  // only if none has come by then (a node listening on 0.0.0.0 takes no IPv6 connection).
  auto wait = std::make_shared<boost::asio::steady_timer>(io_, kIpv6Grace);
  wait->async_wait([this, alive = alive_, wait, member](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    hand_over(member, /*ipv6=*/true);
  });
}

void LanDiscovery::hand_over(const protocol::Member& member, bool ipv6) {
  if (auto known = reached_by_ipv6_.find(member.id);
      known != reached_by_ipv6_.end() && passed_over(known->second, ipv6)) {
    return;
  }
  if (reached_by_ipv6_.size() >= 4096) reached_by_ipv6_.clear();  // bounded, whatever the LAN says
  reached_by_ipv6_[member.id] = ipv6;
  spdlog::debug("mDNS: found {} at {}:{}", member.id, member.endpoint.host, member.endpoint.port);
  found_(member);
}

}  // namespace chorus::net
