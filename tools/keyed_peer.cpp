// keyed_peer: a peer that holds the cluster key, for the security system tests
// (tests/system/test_security.py). It connects to a node, completes the keyed handshake, sends a
// HELLO with the given id and waits for the node's answer; then it sends the given JSON frames,
// floods the node with frames as fast as the socket takes them, and/or holds the link open.
//
//   keyed_peer --key-file PATH --connect HOST PORT --id ID [--cluster NAME] [--priority N]
//              [--advertise-port P] [--send JSON]... [--flood SECONDS]
//              [--flood-type heartbeat|unknown] [--frame-bytes N] [--hold SECONDS]
//
// Each event is one JSON line on stdout:
//   {"event":"accepted","peer":ID}              the node answered our HELLO with its own
//   {"event":"refused","peer":ID,"reason":...}  it answered with HELLO_REJECT (exit code 3)
//   {"event":"done",...}                        what was sent and received, at the end
// Failures (handshake refused, connection closed, no answer) go to stderr with exit code 1.
//
// The flood writes sealed records with poll()+send() so that it stops at its deadline even when
// the node's flow control has filled the socket; a reader thread opens (and counts) whatever the
// node sends meanwhile, so the node's send queue towards us never backs up.

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "chorus/protocol/codec.hpp"
#include "chorus/protocol/frame.hpp"
#include "chorus/protocol/messages.hpp"
#include "chorus/security/handshake.hpp"
#include "chorus/security/key_file.hpp"
#include "chorus/time_base.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace chorus;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string key_file;
  std::vector<std::string> connect;
  std::string id;
  std::string cluster = "chorus";
  std::int64_t priority = -1000;
  std::uint16_t advertise_port = 1;
  std::vector<std::string> send;
  double flood_s = 0;
  std::string flood_type = "heartbeat";
  std::size_t frame_bytes = 0;
  double hold_s = 0;
  double answer_timeout_s = 3;
};

[[noreturn]] void die(const std::string& message) {
  std::cerr << "keyed_peer: " << message << std::endl;
  std::exit(1);
}

void emit(const json::object& event) { std::cout << json::serialize(event) << std::endl; }

/// Writes all of `bytes` unless `deadline` passes first; false then (or on a closed socket).
bool write_all(int fd, std::string_view bytes, Clock::time_point deadline, bool* closed) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      *closed = true;
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd want{fd, POLLOUT, 0};
    ::poll(&want, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
  return true;
}

/// Reads once (blocking up to `deadline`) into `out`; false when closed or the deadline passed.
bool read_some(int fd, std::string& out, std::size_t limit, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd want{fd, POLLIN, 0};
    if (::poll(&want, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[64 * 1024];
    ssize_t got = ::recv(fd, buffer, std::min(limit, sizeof buffer), 0);
    if (got > 0) {
      out.append(buffer, static_cast<std::size_t>(got));
      return true;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return false;
  }
}

/// One flood frame: a HEARTBEAT from `id`, or a frame of a type no node knows, padded to
/// `frame_bytes` (a node ignores and counts it).
std::string flood_body(const Options& options, std::uint64_t n) {
  if (options.flood_type == "heartbeat") {
    return protocol::encode(protocol::Heartbeat{options.id, now_us(), 0, 0});
  }
  std::string body = R"({"type":"FLOOD_PROBE","from":")" + options.id + R"(","n":)" + std::to_string(n) +
                     R"(,"pad":")";
  if (body.size() + 2 < options.frame_bytes) body.append(options.frame_bytes - body.size() - 2, 'x');
  return body + "\"}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A peer holding the cluster key: handshake, HELLO, then frames or a flood"};
  Options options;
  app.add_option("--key-file", options.key_file, "Cluster key file")->required();
  app.add_option("--connect", options.connect, "The node to connect to")->expected(2)->required();
  app.add_option("--id", options.id, "Node id to send in the HELLO")->required();
  app.add_option("--cluster", options.cluster, "Cluster name in the HELLO")->capture_default_str();
  app.add_option("--priority", options.priority, "Priority in the HELLO")->capture_default_str();
  app.add_option("--advertise-port", options.advertise_port,
                 "Port advertised in the HELLO (nothing listens there)")->capture_default_str();
  app.add_option("--send", options.send, "A JSON frame body to send after the HELLO (repeatable)");
  app.add_option("--flood", options.flood_s, "Flood the node with frames for this many seconds");
  app.add_option("--flood-type", options.flood_type, "heartbeat or unknown")
      ->check(CLI::IsMember({"heartbeat", "unknown"}))
      ->capture_default_str();
  app.add_option("--frame-bytes", options.frame_bytes, "Size of an unknown-type flood frame");
  app.add_option("--hold", options.hold_s, "Keep the link open this many seconds at the end");
  app.add_option("--answer-timeout", options.answer_timeout_s, "Seconds to wait for the node's answer")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  security::KeyRing keys;
  try {
    keys.primary = security::load_key_file(options.key_file);
  } catch (const security::KeyFileError& error) {
    die(error.what());
  }

  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  try {
    asio::ip::tcp::resolver resolver(io);
    asio::connect(socket, resolver.resolve(options.connect[0], options.connect[1]));
  } catch (const std::exception& error) {
    die(std::string("cannot connect: ") + error.what());
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  int fd = socket.native_handle();
  auto answer_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.answer_timeout_s));
  bool closed = false;

  // The keyed handshake, as the dialer: never read a byte beyond its messages.
  security::Handshake handshake(security::Role::dialer, keys, security::Ephemeral::generate());
  while (handshake.state() == security::Handshake::State::in_progress) {
    if (!write_all(fd, handshake.take_output(), answer_deadline, &closed)) die("handshake write failed");
    std::string received;
    if (!read_some(fd, received, handshake.wanted(), answer_deadline)) {
      die("the node closed the link (or said nothing) during the keyed handshake");
    }
    handshake.feed(received);
  }
  if (handshake.state() == security::Handshake::State::failed) die("handshake failed: " + handshake.failure());
  if (!write_all(fd, handshake.take_output(), answer_deadline, &closed)) die("handshake write failed");
  auto session = handshake.take_session();

  auto seal = [&](const std::string& body) { return session.sealer.seal(body); };
  std::mt19937_64 rng(std::random_device{}());
  protocol::HandshakeFields fields{options.id, options.priority, rng() | 1,
                                   {"127.0.0.1", options.advertise_port}, protocol::kProtocolVersion,
                                   options.cluster};
  if (!write_all(fd, seal(protocol::encode(protocol::Hello{fields})), answer_deadline, &closed)) {
    die("cannot send HELLO");
  }

  // The node's answer: its own HELLO (accepted) or HELLO_REJECT.
  std::string peer;
  while (peer.empty()) {
    auto next = session.opener.next();
    if (auto* error = std::get_if<protocol::FrameError>(&next)) die("bad record from the node: " + error->detail);
    if (auto* frame = std::get_if<protocol::Frame>(&next)) {
      auto decoded = protocol::decode(frame->body);
      auto* message = std::get_if<protocol::Message>(&decoded);
      if (!message) continue;
      if (auto* reject = std::get_if<protocol::HelloReject>(message)) {
        emit({{"event", "refused"}, {"peer", reject->from}, {"reason", reject->reason}});
        return 3;
      }
      if (auto* hello = std::get_if<protocol::Hello>(message)) peer = hello->from;
      continue;
    }
    std::string received;
    if (!read_some(fd, received, 64 * 1024, answer_deadline)) die("no answer to the HELLO");
    session.opener.feed(received);
  }
  emit({{"event", "accepted"}, {"peer", peer}});

  // From here on a thread reads (and opens) what the node sends.
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<bool> peer_closed{false};
  std::thread reader([&] {
    while (true) {
      for (auto next = session.opener.next(); std::holds_alternative<protocol::Frame>(next);
           next = session.opener.next()) {
        ++frames_in;
      }
      char buffer[64 * 1024];
      ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        peer_closed = true;
        return;
      }
      session.opener.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    }
  });

  auto far = Clock::now() + std::chrono::hours(1);
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_out = 0;
  for (const auto& body : options.send) {
    auto record = seal(body);
    if (!write_all(fd, record, far, &closed)) break;
    ++frames_out;
    bytes_out += record.size();
  }

  double flooded_s = 0;
  if (options.flood_s > 0 && !closed) {
    auto start = Clock::now();
    auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(options.flood_s));
    // Records are sealed in batches and written as one buffer; a batch cut short by the deadline
    // is abandoned with the link (the stream cannot resume mid-record).
    std::string batch;
    while (Clock::now() < deadline && !closed) {
      batch.clear();
      std::uint64_t in_batch = 0;
      for (; in_batch < 64; ++in_batch) batch += seal(flood_body(options, frames_out + in_batch));
      if (!write_all(fd, batch, deadline, &closed)) break;
      frames_out += in_batch;
      bytes_out += batch.size();
    }
    flooded_s = std::chrono::duration<double>(Clock::now() - start).count();
  }

  if (options.hold_s > 0 && !closed) {
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.hold_s));
    while (Clock::now() < until && !peer_closed) {
      auto record = seal(protocol::encode(protocol::Heartbeat{options.id, now_us(), 0, 0}));
      if (!write_all(fd, record, until, &closed)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  bool closed_by_peer = closed || peer_closed.load();
  ::shutdown(fd, SHUT_RDWR);
  reader.join();
  emit({{"event", "done"},
        {"frames_out", frames_out},
        {"bytes_out", bytes_out},
        {"flood_s", flooded_s},
        {"frames_in", frames_in.load()},
        {"closed_by_peer", closed_by_peer}});
  return 0;
}
