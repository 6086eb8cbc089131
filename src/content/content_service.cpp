#include "chorus/content/content_service.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/content/chunking.hpp"
#include "chorus/content/have_bitmap.hpp"
#include "chorus/content/upload_queue.hpp"
#include "chorus/net/liveness.hpp"
#include "chorus/net/rate_budget.hpp"
#include "chorus/net/rate_limited_log.hpp"
#include "chorus/protocol/frame.hpp"
#include "chorus/thread_name.hpp"
#include "chorus/time_base.hpp"
#include "chunk_source.hpp"

namespace chorus::content {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

constexpr auto kTick = milliseconds(50);
constexpr std::int64_t kManifestTimeoutUs = 3'000'000;
constexpr std::int64_t kRetryUs = 2'000'000;
/// How long a fetch waits after a peer refused one of its chunk requests.
constexpr std::int64_t kRefusedPauseUs = 200'000;
constexpr std::int64_t kDialRetryUs = 1'000'000;
/// Serve a link's next chunk only once its queue is this short: chunks wait here, where the
/// budget and fairness apply, rather than in the socket's queue.
constexpr std::size_t kMaxChunksInFlightPerLink = 2;
/// Progress reports to the owner for one track, at most this often (and always for a whole track).
constexpr std::int64_t kProgressEveryUs = 50'000;
/// Largest catalog accepted from one peer.
constexpr std::uint64_t kMaxCatalogEntries = 200'000;
/// Bytes of catalog entries per page, at most (a frame is 1 MiB).
constexpr std::size_t kCatalogPageBytes = 256 * 1024;

std::shared_ptr<const std::string> frame_of(const protocol::Message& message) {
  return std::make_shared<const std::string>(protocol::encode_message_frame(message));
}

std::size_t entry_bytes(const protocol::CatalogEntry& e) {
  return 256 + e.name.size() + e.title.size() + e.artist.size() + e.album.size() + e.format.size();
}

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

}  // namespace

// -------------------------------------------------------------------------------------------
class ContentService::Impl {
 public:
  Impl(ContentService& owner, ContentConfig config, const LocalTracks& local, Callbacks callbacks,
       ContentCache& cache)
      : owner_(owner),
        config_(std::move(config)),
        local_(local),
        callbacks_(std::move(callbacks)),
        cache_(cache),
        chunks_(local, cache),
        acceptor_(io_),
        accept_retry_(io_),
        accept_backoff_(milliseconds(10), milliseconds(1000)),
        tick_(io_),
        serve_timer_(io_),
        upload_(upload_limits(config_.upload_bytes_per_second), now_us()),
        uploads_(config_.max_queued_requests_per_peer),
        corrupt_log_(std::chrono::seconds(5)) {}

  asio::io_context& io() { return io_; }

  /// Runs an input on the service's thread, then settles.
  template <class Input>
  void post(Input input) {
    asio::post(io_, [this, input = std::move(input)]() mutable {
      input();
      settle();
    });
  }

  /// After any event: starts the tick if the event gave it work; the view is published by the
  /// tick while it runs (within one tick), at once otherwise.
  void settle() {
    if (stopping_) return;
    arm_tick();
    if (!tick_armed_) publish_view();
  }

  std::uint16_t bind() {
    const tcp::endpoint endpoint(asio::ip::make_address(config_.listen.host), config_.listen.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    return acceptor_.local_endpoint().port();
  }

  void run_thread() {
    thread_ = std::thread([this] {
      name_this_thread("chorus-content");
      accept();
      refresh_own_catalog();
      settle();
      io_.run();
    });
  }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      stopping_ = true;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      accept_retry_.cancel();
      tick_.cancel();
      serve_timer_.cancel();
      for (auto& [connection, link] : links_) link.connection->close("node stopping");
      for (auto& [hash, fetch] : fetches_) {
        if (fetch.file) fetch.file->abandon();
      }
    });
    // Closing posts the links' last handlers; let them run, then end.
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

  // ---- inputs from the owner (posted) ------------------------------------------------------

  void peer_up(const std::string& id, const std::string& host, std::uint16_t port) {
    if (port == 0 || id == config_.id) return;
    peers_[id] = PeerAddress{host, port, 0};
  }

  void peer_down(const std::string& id) {
    peers_.erase(id);
    if (auto it = by_peer_.find(id); it != by_peer_.end()) it->second->close("peer down");
    forget_holder(id);
  }

  void want(std::vector<WantedTrack> tracks) {
    std::set<std::string> wanted;
    for (const auto& t : tracks) wanted.insert(t.hash);
    // Only a track no longer protected can make room, and a fetch that found none keeps its
    // pause otherwise (the list comes when the tracks to keep change).
    const bool released = cache_.protect(wanted);
    for (auto it = fetches_.begin(); it != fetches_.end();) {
      if (wanted.contains(it->first)) {
        if (released && !it->second.file) it->second.paused_until = 0;
        ++it;
        continue;
      }
      spdlog::debug("content: no longer fetching {}", short_hash(it->first));
      it = fetches_.erase(it);
    }
    want_order_.clear();
    for (auto& t : tracks) {
      want_order_.push_back(t.hash);
      if (fetches_.contains(t.hash)) continue;
      if (chunks_.holds_whole(t.hash)) {
        announce_progress(t.hash);
        continue;
      }
      if (!valid_track(t)) continue;
      start_fetch(std::move(t));
    }
    step_all();
  }

  void played(const std::string& hash) { cache_.touch(hash); }

  void refresh_own_catalog() {
    auto fresh = make_catalog(local_.catalog());
    if (fresh.version == own_.version) return;
    own_ = std::move(fresh);
    for (auto& [peer, connection] : by_peer_) {
      connection->send(frame_of(protocol::CatalogNotice{config_.id, own_.version, own_.entries.size()}));
    }
    publish_catalog();
  }

  // ---- links ---------------------------------------------------------------------------------

  void on_message(net::Connection& connection, const protocol::Message& message) {
    auto it = links_.find(&connection);
    if (it == links_.end()) return;
    Link& link = it->second;
    if (link.peer.empty()) {
      auto* hello = std::get_if<protocol::ContentHello>(&message);
      if (hello == nullptr) {
        return connection.close(fmt::format("content link: expected CONTENT_HELLO first, not {}",
                                            protocol::type_name(message)));
      }
      return identify(link, *hello);
    }
    if (protocol::sender(message) != link.peer) return connection.close("content link: sender changed");
    std::visit([&](const auto& m) { handle(link, m); }, message);
  }

  void on_closed(net::Connection& connection) {
    auto it = links_.find(&connection);
    if (it == links_.end()) return;
    const std::string peer = it->second.peer;
    if (auto dialed = peers_.find(it->second.dialed_peer); dialed != peers_.end() && peer.empty()) {
      dialed->second.dialing = false;
      dialed->second.next_dial = now_us() + kDialRetryUs;
    }
    links_.erase(it);
    if (peer.empty()) return;
    if (auto own = by_peer_.find(peer); own != by_peer_.end() && own->second.get() == &connection) {
      by_peer_.erase(own);
      uploads_.forget(peer);
      forget_holder(peer);
      if (auto address = peers_.find(peer); address != peers_.end()) address->second.next_dial = now_us() + kDialRetryUs;
    }
  }

  ContentView view() const {
    std::lock_guard lock(view_mutex_);
    return view_;
  }

  ContentService& owner_;

 private:
  struct PeerAddress {
    std::string host;
    std::uint16_t port = 0;
    std::int64_t next_dial = 0;
    bool dialing = false;
  };
  struct Link {
    std::shared_ptr<net::Connection> connection;
    std::string peer;                          ///< empty until its CONTENT_HELLO
    std::set<std::string> wants;               ///< hashes it fetches: it hears our HAVEs of them
    std::string dialed_peer;                   ///< whom this node dialed it to reach, if it did
  };
  struct PeerCatalog {
    Catalog held;                                 ///< the last complete list
    std::string announced;                        ///< the version it says it has now
    std::vector<protocol::CatalogEntry> pulling;  ///< pages of the pull under way
    bool pull_active = false;
  };
  struct Fetch {
    WantedTrack track;
    std::shared_ptr<PartialFile> file;
    std::optional<FetchPlanner> planner;
    std::set<std::string> manifest_tried;
    std::optional<std::string> manifest_from;
    std::int64_t manifest_deadline = 0;
    std::int64_t paused_until = 0;
    std::int64_t last_progress = 0;
    std::string problem;
    /// When each chunk was last asked for, for the debug log's answer times.
    std::map<std::uint64_t, std::int64_t> asked_at;
  };

  static net::RateLimits upload_limits(std::uint64_t bytes_per_second) {
    net::RateLimits limits;
    limits.frames_per_s = 100'000;
    limits.frame_burst = 100'000;
    const auto rate = bytes_per_second == 0 ? std::int64_t{1} << 40 : static_cast<std::int64_t>(bytes_per_second);
    limits.bytes_per_s = rate;
    limits.byte_burst = std::max<std::int64_t>(rate / 4, 2 * static_cast<std::int64_t>(kChunkBytes));
    return limits;
  }

  bool valid_track(const WantedTrack& t) {
    if (!digest_from_hex(t.hash) || !digest_from_hex(t.root)) {
      spdlog::warn("content: cannot fetch '{}': it has no valid content hash and chunk root", t.name);
      return false;
    }
    if (t.size == 0 || chunk_count(t.size) > kMaxChunks) {
      spdlog::warn("content: cannot fetch '{}': {} bytes is outside what can be shared", t.name, t.size);
      return false;
    }
    return true;
  }

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (stopping_ || ec == asio::error::operation_aborted) return;
      if (ec) return retry_accept(ec);
      accept_backoff_.reset();
      if (links_.size() >= config_.max_links) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        add_link(std::move(socket), false);
      }
      accept();
    });
  }

  /// A failing accept (no descriptors left, say) fails again at once if retried at once.
  void retry_accept(const boost::system::error_code& ec) {
    const auto delay = accept_backoff_.next();
    accept_log_.write(spdlog::level::warn,
                      fmt::format("content links: accept failed: {}; retrying in {} ms", ec.message(), delay.count()));
    accept_retry_.expires_after(delay);
    accept_retry_.async_wait([this](const boost::system::error_code& wait_ec) {
      if (!wait_ec && !stopping_) accept();
    });
  }

  void dial(const std::string& id, PeerAddress& address) {
    address.dialing = true;
    auto socket = std::make_shared<tcp::socket>(io_);
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address.host, ec);
    if (ec) {
      address.dialing = false;
      address.next_dial = now_us() + kDialRetryUs;
      return;
    }
    socket->async_connect(tcp::endpoint(ip, address.port), [this, id, socket](const boost::system::error_code& error) {
      auto it = peers_.find(id);
      if (stopping_) return;
      if (error) {
        if (it != peers_.end()) {
          it->second.dialing = false;
          it->second.next_dial = now_us() + kDialRetryUs;
        }
        return settle();
      }
      // Still "dialing" until this link is identified or closed: no second link meanwhile.
      add_link(std::move(*socket), true, id);
    });
  }

  void add_link(tcp::socket socket, bool dialed, std::string dialed_peer = {}) {
    auto connection = std::make_shared<net::Connection>(std::move(socket), dialed, owner_, counters_, config_.connection);
    links_[connection.get()] = Link{connection, {}, {}, std::move(dialed_peer)};
    // Queued before start(): starting may read and handle the peer's CONTENT_HELLO at once, and
    // what that sends must follow ours.
    connection->send(frame_of(protocol::ContentHello{config_.id, config_.cluster, protocol::kProtocolVersion,
                                                     own_.version, own_.entries.size()}));
    connection->start();
  }

  void identify(Link& link, const protocol::ContentHello& hello) {
    if (hello.cluster != config_.cluster) return link.connection->close("content link: another cluster");
    if (hello.version != protocol::kProtocolVersion) return link.connection->close("content link: another version");
    if (hello.from == config_.id) return link.connection->close("content link: our own id");
    if (auto old = by_peer_.find(hello.from); old != by_peer_.end()) {
      // A newer link from the same peer (it redialled): the old one is dead or dying.
      auto previous = old->second;
      by_peer_.erase(old);
      previous->close("content link replaced");
    }
    link.peer = hello.from;
    if (auto dialed = peers_.find(link.dialed_peer); dialed != peers_.end()) dialed->second.dialing = false;
    link.connection->identify(hello.from, 0);
    by_peer_[hello.from] = link.connection;
    catalog_announced(hello.from, hello.catalog, hello.tracks);
    for (auto& [hash, fetch] : fetches_) {
      link.connection->send(frame_of(protocol::Want{config_.id, hash}));
      // A fetch that found nobody to ask may ask this peer now.
      if (!fetch.file) fetch.paused_until = 0;
    }
    step_all();
  }

  // ---- message handlers ----------------------------------------------------------------------

  template <class M>
  void handle(Link&, const M&) {}  // not a content message: ignored here

  void handle(Link& link, const protocol::ContentHello&) { link.connection->close("content link: second CONTENT_HELLO"); }

  void handle(Link& link, const protocol::CatalogNotice& notice) {
    catalog_announced(link.peer, notice.catalog, notice.tracks);
  }

  void handle(Link& link, const protocol::CatalogRequest& request) {
    protocol::CatalogPage page{config_.id, own_.version, request.offset, own_.entries.size(), {}};
    std::size_t bytes = 0;
    for (auto i = request.offset; i < own_.entries.size() && page.entries.size() < protocol::kMaxCatalogPageEntries;
         ++i) {
      bytes += entry_bytes(own_.entries[i]);
      if (bytes > kCatalogPageBytes && !page.entries.empty()) break;
      page.entries.push_back(own_.entries[i]);
    }
    link.connection->send(frame_of(page));
  }

  void handle(Link& link, const protocol::CatalogPage& page) {
    auto& pc = peer_catalogs_[link.peer];
    if (!pc.pull_active) return;
    if (page.total > kMaxCatalogEntries) {
      pc.pull_active = false;
      spdlog::warn("content: {} offers {} tracks, more than {}; its list is ignored", link.peer, page.total,
                   kMaxCatalogEntries);
      return;
    }
    if (page.offset != pc.pulling.size() || page.catalog != pc.announced) {
      pc.announced = page.catalog;
      return pull_catalog(link, pc, 0);
    }
    pc.pulling.insert(pc.pulling.end(), page.entries.begin(), page.entries.end());
    if (pc.pulling.size() < page.total && !page.entries.empty()) return pull_catalog(link, pc, pc.pulling.size());
    pc.pull_active = false;
    pc.held = make_catalog(std::move(pc.pulling));
    pc.pulling.clear();
    spdlog::info("content: {} offers {} tracks", link.peer, pc.held.entries.size());
    publish_catalog();
  }

  void handle(Link& link, const protocol::Want& want) {
    if (link.wants.size() >= 64 && !link.wants.contains(want.hash)) return;  // a bounded table per peer
    link.wants.insert(want.hash);
    auto held = chunks_.held(want.hash);
    const auto bits = held.value_or(std::vector<bool>{});
    link.connection->send(frame_of(protocol::Have{config_.id, want.hash, bits.size(), encode_bitmap(bits)}));
    if (auto it = fetches_.find(want.hash); it != fetches_.end()) step(it->second, now_us());
  }

  void handle(Link& link, const protocol::Have& have) {
    auto it = fetches_.find(have.hash);
    if (it == fetches_.end()) return;
    Fetch& fetch = it->second;
    const auto chunks = chunk_count(fetch.track.size);
    std::vector<bool> bits;
    if (have.chunks != 0) {
      auto decoded = decode_bitmap(have.bitmap, have.chunks);
      if (!decoded || have.chunks != chunks) {
        spdlog::warn("content: {} sent a malformed HAVE for {}; ignored", link.peer, fetch.track.name);
        return;
      }
      bits = std::move(*decoded);
    }
    holders_[have.hash][link.peer] = bits;
    if (fetch.planner) fetch.planner->holder(link.peer, bits);
    step(fetch, now_us());
  }

  void handle(Link& link, const protocol::ManifestRequest& request) {
    auto manifest = chunks_.manifest(request.hash);
    if (!manifest) {
      link.connection->send(frame_of(protocol::ContentRefused{config_.id, request.hash, -1, "not held here"}));
      return;
    }
    link.connection->send(
        frame_of(protocol::Manifest{config_.id, request.hash, manifest->size, encode_digests(manifest->digests)}));
  }

  void handle(Link& link, const protocol::Manifest& manifest) {
    auto it = fetches_.find(manifest.hash);
    if (it == fetches_.end() || it->second.file) return;
    Fetch& fetch = it->second;
    fetch.manifest_from.reset();
    auto digests = decode_digests(manifest.digests);
    if (!digests || manifest.size != fetch.track.size || digests->size() != chunk_count(fetch.track.size) ||
        to_hex(chunk_root(*digests)) != fetch.track.root) {
      fetch.manifest_tried.insert(link.peer);
      fetch.problem = fmt::format("the chunk list from {} does not match the track's root", link.peer);
      spdlog::warn("content: {}: {}", fetch.track.name, fetch.problem);
      return step(fetch, now_us());
    }
    begin_transfer(fetch, std::move(*digests));
    step(fetch, now_us());
  }

  void handle(Link& link, const protocol::ChunkRequest& request) {
    if (!uploads_.push(QueuedChunk{link.peer, request.hash, request.chunk, now_us()})) {
      ++refused_;
      link.connection->send(frame_of(protocol::ContentRefused{config_.id, request.hash,
                                                              static_cast<std::int64_t>(request.chunk), "busy"}));
      return;
    }
    serve();
  }

  void handle(Link& link, const protocol::ChunkData& data) {
    auto it = fetches_.find(data.hash);
    if (it == fetches_.end() || !it->second.file || !it->second.planner) return;
    Fetch& fetch = it->second;
    const auto now = now_us();
    auto bytes = from_base64(data.data);
    std::string error;
    const auto result = bytes ? fetch.file->store(data.chunk, *bytes, error) : StoreResult::corrupt;
    switch (result) {
      case StoreResult::stored:
        log_arrival(fetch, link.peer, data.chunk, now);
        bytes_fetched_ += bytes->size();
        fetch.planner->received(now, link.peer, data.chunk);
        fetch.problem.clear();
        tell_wanters(fetch);
        report_progress(fetch, now, data.chunk);
        if (fetch.planner->done()) return complete(fetch);
        break;
      case StoreResult::already_held:
        break;
      case StoreResult::corrupt:
        ++corrupt_;
        fetch.planner->failed(now, link.peer, data.chunk, ChunkFailure::corrupt);
        fetch.problem = fmt::format("chunk {} from {} failed verification; fetching it again", data.chunk, link.peer);
        corrupt_log_.write(spdlog::level::warn, fmt::format("content: {}: {}", fetch.track.name, fetch.problem));
        break;
      case StoreResult::out_of_range:
        fetch.planner->failed(now, link.peer, data.chunk, ChunkFailure::refused);
        break;
      case StoreResult::write_failed:
        fetch.planner->failed(now, link.peer, data.chunk, ChunkFailure::refused);
        fetch.problem = "cannot store: " + error;
        fetch.paused_until = now + kRetryUs;
        spdlog::warn("content: {}: {}", fetch.track.name, fetch.problem);
        break;
    }
    step(fetch, now);
  }

  void handle(Link& link, const protocol::ContentRefused& refused) {
    auto it = fetches_.find(refused.hash);
    if (it == fetches_.end()) return;
    Fetch& fetch = it->second;
    const auto now = now_us();
    if (refused.chunk < 0) {
      // Not asked again for this fetch's manifest until every other peer was: a holder of a
      // file that fails its whole-file check refuses every time, and the others must be tried.
      fetch.manifest_tried.insert(link.peer);
      fetch.manifest_from.reset();
    } else if (fetch.planner) {
      fetch.planner->failed(now, link.peer, static_cast<std::uint64_t>(refused.chunk), ChunkFailure::refused);
      // A reason other than a full queue (a file changed on disk, say) is the user's to see.
      if (refused.reason != "busy") {
        fetch.problem = fmt::format("{} refused chunk {}: {}", link.peer, refused.chunk, refused.reason);
      }
      // Asking again at once would only be refused again (a full queue drains in chunk times,
      // a changed file stays changed): a pause keeps both ends out of a request loop.
      fetch.paused_until = now + kRefusedPauseUs;
      return;
    }
    step(fetch, now);
  }

  // ---- catalogs ------------------------------------------------------------------------------

  void catalog_announced(const std::string& peer, const std::string& version, std::uint64_t tracks) {
    auto& pc = peer_catalogs_[peer];
    pc.announced = version;
    if (version == pc.held.version || (tracks == 0 && pc.held.entries.empty())) return;
    if (auto it = by_peer_.find(peer); it != by_peer_.end()) {
      auto link = links_.find(it->second.get());
      if (link != links_.end()) pull_catalog(link->second, pc, 0);
    }
  }

  void pull_catalog(Link& link, PeerCatalog& pc, std::uint64_t offset) {
    if (offset == 0) pc.pulling.clear();
    pc.pull_active = true;
    link.connection->send(frame_of(protocol::CatalogRequest{config_.id, offset}));
  }

  void publish_catalog() {
    std::map<std::string, Catalog> peers;
    for (const auto& [peer, pc] : peer_catalogs_) peers[peer] = pc.held;
    auto merged = std::make_shared<const Catalog>(merge_catalogs(own_, peers));
    if (merged->version == published_version_) return;
    published_version_ = merged->version;
    callbacks_.post([cb = callbacks_.catalog_changed, merged] { cb(merged); });
  }

  // ---- fetching ------------------------------------------------------------------------------

  void start_fetch(WantedTrack track) {
    auto hash = track.hash;
    Fetch fetch;
    fetch.track = std::move(track);
    auto [it, inserted] = fetches_.emplace(hash, std::move(fetch));
    spdlog::info("content: fetching {} ({} bytes) from peers", it->second.track.name, it->second.track.size);
    for (auto& [peer, connection] : by_peer_) connection->send(frame_of(protocol::Want{config_.id, hash}));
    if (auto existing = cache_.partial(hash)) begin_transfer(it->second, existing->digests());
  }

  void begin_transfer(Fetch& fetch, std::vector<Digest> digests) {
    std::string error;
    auto file = cache_.begin(fetch.track.hash, fetch.track.size, std::move(digests), error);
    if (!file) {
      auto problem = "cannot cache: " + error;
      // Every retry meets the same refusal while the cache stays as it is: said once.
      const auto level = problem == fetch.problem ? spdlog::level::debug : spdlog::level::warn;
      fetch.problem = std::move(problem);
      fetch.paused_until = now_us() + kRetryUs;
      spdlog::log(level, "content: {}: {}", fetch.track.name, fetch.problem);
      return;
    }
    fetch.file = std::move(file);
    fetch.file->on_demand([this, hash = fetch.track.hash](std::uint64_t chunk) {
      post([this, hash, chunk] { demanded(hash, chunk); });
    });
    fetch.planner.emplace(config_.id, fetch.file->held(), config_.fetch);
    for (const auto& [peer, bits] : holders_[fetch.track.hash]) fetch.planner->holder(peer, bits);
    fetch.planner->demand(chunk_at_frame(fetch.track.size, fetch.track.frames, fetch.track.start_frame));
    if (fetch.planner->done()) complete(fetch);
  }

  void demanded(const std::string& hash, std::uint64_t chunk) {
    auto it = fetches_.find(hash);
    if (it == fetches_.end() || !it->second.planner) return;
    it->second.planner->demand(chunk);
    step(it->second, now_us());
  }

  void complete(Fetch& fetch) {
    std::string error;
    const auto hash = fetch.track.hash;
    if (!cache_.finish(hash, error)) {
      fetch.problem = "the fetched file failed its whole-file check: " + error + "; fetching it again";
      spdlog::warn("content: {}: {}", fetch.track.name, fetch.problem);
      cache_.remove(hash);
      fetch.file.reset();
      fetch.planner.reset();
      return;
    }
    spdlog::info("content: {} is complete ({} bytes)", fetch.track.name, fetch.track.size);
    auto track = fetch.track;
    fetches_.erase(hash);
    for (auto& [connection, link] : links_) {
      if (link.wants.contains(hash)) send_have(link, hash);
    }
    announce_progress(track.hash);
  }

  void log_arrival(Fetch& fetch, const std::string& peer, std::uint64_t chunk, std::int64_t now) {
    const auto asked = fetch.asked_at.find(chunk);
    const auto waited_ms = asked == fetch.asked_at.end() ? -1 : (now - asked->second) / 1000;
    if (asked != fetch.asked_at.end()) fetch.asked_at.erase(asked);
    spdlog::debug("content: {}: chunk {} from {} {} ms after asking (reader at chunk {})",
                  short_hash(fetch.track.hash), chunk, peer, waited_ms, fetch.planner->demand_cursor());
  }

  void step_all() {
    const auto now = now_us();
    for (auto& hash : want_order_) {
      if (auto it = fetches_.find(hash); it != fetches_.end()) step(it->second, now);
    }
  }

  void step(Fetch& fetch, std::int64_t now) {
    if (now < fetch.paused_until) return;
    if (!fetch.file) return ask_manifest(fetch, now);
    if (!fetch.planner) return;
    fetch.planner->cofetchers(cofetchers(fetch.track.hash));
    for (const auto& ask : fetch.planner->next(now)) {
      spdlog::debug("content: {}: chunk {} asked of {}{}", short_hash(fetch.track.hash), ask.chunk, ask.peer,
                    fetch.planner->urgent(ask.chunk) ? " (urgent)" : "");
      fetch.asked_at[ask.chunk] = now;
      auto it = by_peer_.find(ask.peer);
      if (it == by_peer_.end() ||
          !it->second->send(frame_of(protocol::ChunkRequest{config_.id, fetch.track.hash, ask.chunk}))) {
        fetch.planner->failed(now, ask.peer, ask.chunk, ChunkFailure::refused);
      }
    }
    if (fetch.planner->outstanding() == 0 && !fetch.planner->unavailable().empty() && fetch.problem.empty()) {
      fetch.problem = fmt::format("{} chunks are held by no reachable peer", fetch.planner->unavailable().size());
    }
  }

  std::set<std::string> cofetchers(const std::string& hash) const {
    std::set<std::string> peers;
    for (const auto& [connection, link] : links_) {
      if (!link.peer.empty() && link.wants.contains(hash) && !holds_all(hash, link.peer)) peers.insert(link.peer);
    }
    return peers;
  }

  bool holds_all(const std::string& hash, const std::string& peer) const {
    auto h = holders_.find(hash);
    if (h == holders_.end()) return false;
    auto p = h->second.find(peer);
    return p != h->second.end() && !p->second.empty() &&
           std::all_of(p->second.begin(), p->second.end(), [](bool b) { return b; });
  }

  void ask_manifest(Fetch& fetch, std::int64_t now) {
    if (fetch.manifest_from && now < fetch.manifest_deadline) return;
    if (fetch.manifest_from) fetch.manifest_tried.insert(*fetch.manifest_from);
    fetch.manifest_from.reset();
    // A peer known to hold the whole file first, then anyone not asked yet.
    std::optional<std::string> chosen;
    for (const auto& [peer, connection] : by_peer_) {
      if (fetch.manifest_tried.contains(peer)) continue;
      if (holds_all(fetch.track.hash, peer)) {
        chosen = peer;
        break;
      }
      if (!chosen) chosen = peer;
    }
    if (!chosen) {
      if (!fetch.manifest_tried.empty() || by_peer_.empty()) {
        fetch.problem = by_peer_.empty() ? "no peer to fetch from" : "no peer holds this track";
      }
      fetch.manifest_tried.clear();
      fetch.paused_until = now + kRetryUs;
      return;
    }
    fetch.manifest_from = chosen;
    fetch.manifest_deadline = now + kManifestTimeoutUs;
    by_peer_[*chosen]->send(frame_of(protocol::ManifestRequest{config_.id, fetch.track.hash}));
  }

  void tell_wanters(const Fetch& fetch) {
    for (auto& [connection, link] : links_) {
      if (link.wants.contains(fetch.track.hash)) send_have(link, fetch.track.hash);
    }
  }

  void send_have(Link& link, const std::string& hash) {
    auto held = chunks_.held(hash).value_or(std::vector<bool>{});
    link.connection->send(frame_of(protocol::Have{config_.id, hash, held.size(), encode_bitmap(held)}));
  }

  void report_progress(Fetch& fetch, std::int64_t now, std::uint64_t chunk) {
    const bool landmark = chunk == 0 || chunk + 1 == fetch.file->chunk_count() || chunk == fetch.file->demanded();
    if (!landmark && now - fetch.last_progress < kProgressEveryUs) return;
    fetch.last_progress = now;
    announce_progress(fetch.track.hash);
  }

  void announce_progress(const std::string& hash) {
    callbacks_.post([cb = callbacks_.progress, hash] { cb(hash); });
  }

  void forget_holder(const std::string& peer) {
    for (auto& [hash, peers] : holders_) peers.erase(peer);
    for (auto& [hash, fetch] : fetches_) {
      if (fetch.planner) fetch.planner->holder_gone(peer);
      if (fetch.manifest_from == peer) fetch.manifest_from.reset();
    }
    step_all();
  }

  // ---- serving -------------------------------------------------------------------------------

  void serve() {
    const auto now = now_us();
    // A link whose socket queue is full takes no chunk now: the chunks wait here, where the
    // budget and the turns apply, rather than in its socket's queue.
    const auto ready = [this](const std::string& peer) {
      const auto it = by_peer_.find(peer);
      return it != by_peer_.end() && it->second->queue_depth() < kMaxChunksInFlightPerLink;
    };
    while (!uploads_.empty()) {
      if (!upload_.allows(now)) return arm_serve(upload_.wait_us(now));
      auto next = uploads_.pop(ready);
      if (!next) break;
      serve_one(*next, now);
    }
    if (!uploads_.empty()) arm_serve(kTick.count() * 1000 / 5);
  }

  void serve_one(const QueuedChunk& request, std::int64_t now) {
    auto& connection = *by_peer_.at(request.peer);
    spdlog::debug("content: {}: chunk {} to {} after {} ms queued here ({} more queued for it, {} in all)",
                  short_hash(request.hash), request.chunk, request.peer, (now - request.since) / 1000,
                  uploads_.queued(request.peer), uploads_.size());
    auto chunk = chunks_.read(request.hash, request.chunk);
    if (!chunk.bytes) {
      ++refused_;
      if (!chunk.problem.empty()) spdlog::warn("content: not serving chunk {} of {}: {}", request.chunk,
                                               short_hash(request.hash), chunk.problem);
      connection.send(frame_of(protocol::ContentRefused{config_.id, request.hash,
                                                        static_cast<std::int64_t>(request.chunk),
                                                        chunk.problem.empty() ? "not held here" : chunk.problem}));
      return;
    }
    upload_.spend(chunk.bytes->size(), now);
    bytes_served_ += chunk.bytes->size();
    ++chunks_served_;
    connection.send(frame_of(protocol::ChunkData{config_.id, request.hash, request.chunk, to_base64(*chunk.bytes)}));
  }

  void arm_serve(std::int64_t after_us) {
    if (serve_armed_) return;
    serve_armed_ = true;
    serve_timer_.expires_after(std::chrono::microseconds(std::max<std::int64_t>(after_us, 1000)));
    serve_timer_.async_wait([this](const boost::system::error_code& ec) {
      serve_armed_ = false;
      if (ec || stopping_) return;
      serve();
      settle();
    });
  }

  // ---- the tick ------------------------------------------------------------------------------

  // The tick runs only while it has work: a fetch, a queued upload or a peer to (re)dial. An idle
  // service sleeps instead of waking 20 times a second (every node, all day); whatever gives it
  // work again comes in through settle().
  void arm_tick() {
    if (tick_armed_ || stopping_ || !needs_tick()) return;
    tick_armed_ = true;
    tick_.expires_after(kTick);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      tick_armed_ = false;
      if (ec || stopping_) return;
      on_tick();
      arm_tick();
    });
  }

  bool needs_tick() const {
    if (!fetches_.empty() || !uploads_.empty()) return true;
    return std::any_of(peers_.begin(), peers_.end(),
                       [this](const auto& peer) { return to_dial(peer.first, peer.second); });
  }

  /// A peer this node must link to and is not linking to yet (one link per pair: the smaller id
  /// dials), whether or not its redial is due.
  bool to_dial(const std::string& id, const PeerAddress& address) const {
    return config_.id < id && !by_peer_.contains(id) && !address.dialing;
  }

  void on_tick() {
    const auto now = now_us();
    for (auto& [id, address] : peers_) {
      if (to_dial(id, address) && now >= address.next_dial) dial(id, address);
    }
    step_all();
    serve();
    publish_view();
  }

  void publish_view() {
    ContentView v;
    v.port = acceptor_.is_open() ? acceptor_.local_endpoint().port() : 0;
    v.cache_error = cache_.error();
    v.cache_used = cache_.used_bytes();
    v.cache_max = cache_.config().max_bytes;
    v.evictions = cache_.evictions();
    for (const auto& hash : want_order_) {
      auto it = fetches_.find(hash);
      if (it == fetches_.end()) continue;
      const Fetch& f = it->second;
      FetchView fv;
      fv.hash = hash;
      fv.name = f.track.name;
      fv.chunks = chunk_count(f.track.size);
      if (f.planner) {
        fv.held = f.planner->held_count();
        fv.held_ranges = held_ranges(f.planner->held());
        fv.received_from = f.planner->received_from();
        fv.corrupt = f.planner->corrupt_count();
        fv.unavailable = f.planner->unavailable().size();
        fv.complete = f.planner->done();
      }
      fv.problem = f.problem;
      v.fetches.push_back(std::move(fv));
    }
    v.bytes_served = bytes_served_;
    v.chunks_served = chunks_served_;
    v.bytes_fetched = bytes_fetched_;
    v.corrupt_chunks = corrupt_;
    v.refused_requests = refused_;
    v.links = by_peer_.size();
    std::lock_guard lock(view_mutex_);
    view_ = std::move(v);
  }

  ContentConfig config_;
  const LocalTracks& local_;
  Callbacks callbacks_;
  ContentCache& cache_;
  ChunkSource chunks_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  net::Backoff accept_backoff_;
  net::RateLimitedLog accept_log_;
  asio::steady_timer tick_;
  bool tick_armed_ = false;
  asio::steady_timer serve_timer_;
  bool serve_armed_ = false;
  bool stopping_ = false;
  std::thread thread_;
  net::TrafficCounters counters_;
  net::RateBudget upload_;
  UploadQueue uploads_;
  net::RateLimitedLog corrupt_log_;

  std::map<std::string, PeerAddress> peers_;
  std::map<net::Connection*, Link> links_;
  std::map<std::string, std::shared_ptr<net::Connection>> by_peer_;
  Catalog own_;
  std::map<std::string, PeerCatalog> peer_catalogs_;
  std::string published_version_;
  std::map<std::string, Fetch> fetches_;
  std::vector<std::string> want_order_;
  std::map<std::string, std::map<std::string, std::vector<bool>>> holders_;

  std::uint64_t bytes_served_ = 0;
  std::uint64_t chunks_served_ = 0;
  std::uint64_t bytes_fetched_ = 0;
  std::uint64_t corrupt_ = 0;
  std::uint64_t refused_ = 0;

  mutable std::mutex view_mutex_;  // guards view_
  ContentView view_;
};

// -------------------------------------------------------------------------------------------

ContentService::ContentService(ContentConfig config, const LocalTracks& local, Callbacks callbacks)
    : cache_(std::make_unique<ContentCache>(config.cache)) {
  if (!cache_->error().empty()) spdlog::warn("cache: {}; tracks this node lacks cannot be fetched", cache_->error());
  impl_ = std::make_unique<Impl>(*this, std::move(config), local, std::move(callbacks), *cache_);
}

ContentService::~ContentService() { stop(); }

void ContentService::start() {
  port_ = impl_->bind();
  impl_->run_thread();
}

void ContentService::stop() { impl_->stop(); }

void ContentService::peer_up(const std::string& id, const std::string& host, std::uint16_t content_port) {
  impl_->post([this, id, host, content_port] { impl_->peer_up(id, host, content_port); });
}

void ContentService::peer_down(const std::string& id) {
  impl_->post([this, id] { impl_->peer_down(id); });
}

void ContentService::want(std::vector<WantedTrack> tracks) {
  impl_->post([this, tracks = std::move(tracks)]() mutable { impl_->want(std::move(tracks)); });
}

void ContentService::local_catalog_changed() {
  impl_->post([this] { impl_->refresh_own_catalog(); });
}

void ContentService::played(const std::string& hash) {
  impl_->post([this, hash] { impl_->played(hash); });
}

ContentView ContentService::view() const { return impl_->view(); }

void ContentService::on_message(net::Connection& connection, protocol::Message message, net::Clock::time_point) {
  impl_->on_message(connection, message);
  impl_->settle();
}

void ContentService::on_closed(net::Connection& connection, const std::string& reason) {
  spdlog::debug("content link {} closed: {}", connection.remote(), reason);
  impl_->on_closed(connection);
  impl_->settle();
}

}  // namespace chorus::content
