#include "chorus/net/connection.hpp"

#include <sys/socket.h>

#include <array>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "chorus/net/receive_stamp.hpp"
#include "chorus/security/handshake.hpp"
#include "chorus/time_base.hpp"

namespace chorus::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// Frames one turn of a connection's read loop may handle before others get the io thread.
constexpr int kFramesPerTurn = 64;
/// Socket reads one turn may make.
constexpr int kReadsPerTurn = 4;

std::string describe(const asio::ip::tcp::socket& socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

/// The io thread's one read buffer: a connection keeps no buffer of its own while idle.
std::array<char, 64 * 1024>& read_buffer() {
  static thread_local std::array<char, 64 * 1024> buffer;
  return buffer;
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, bool dialed, ConnectionObserver& observer,
                       TrafficCounters& counters, const ConnectionPolicy& policy)
    : socket_(std::move(socket)),
      dialed_(dialed),
      observer_(observer),
      counters_(counters),
      limits_(policy.queue),
      remote_(describe(socket_)),
      decoder_(policy.max_frame_before_identity),
      budget_(policy.rate, now_us()),
      budget_timer_(socket_.get_executor()) {
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  enable_receive_stamps(socket_.native_handle());
  if (policy.keys) {
    handshake_ = std::make_unique<security::Handshake>(
        dialed ? security::Role::dialer : security::Role::acceptor, *policy.keys,
        security::Ephemeral::generate());
  }
}

Connection::~Connection() = default;

std::string Connection::remote_ip() const {
  auto colon = remote_.rfind(':');
  return colon == std::string::npos ? remote_ : remote_.substr(0, colon);
}

void Connection::start() {
  if (handshake_) {
    handshake_out_ = handshake_->take_output();
    do_write();
  }
  pump();
}

void Connection::identify(std::string id, std::uint64_t incarnation) {
  peer_id = std::move(id);
  peer_incarnation = incarnation;
  decoder_.set_max_frame_bytes(protocol::kMaxFrameBytes);
}

// ---- reading ---------------------------------------------------------------------------

void Connection::pump() {
  int frames = 0;
  int reads = 0;
  while (open_) {
    auto now = Clock::now();
    if (!budget_.allows(to_us(now))) return wait_for_budget(now);
    auto result = next_frame();
    if (auto* frame = std::get_if<protocol::Frame>(&result)) {
      budget_.spend(frame->body.size(), to_us(now));
      deliver(std::move(frame->body));
      if (++frames == kFramesPerTurn) return next_turn();
      continue;
    }
    if (auto* error = std::get_if<protocol::FrameError>(&result)) {
      ++counters_.decode_errors;
      return shut((session_ ? "bad record: " : "bad frame: ") + error->detail);
    }
    if (reads++ == kReadsPerTurn) return next_turn();
    if (!read_some()) return;  // waiting for the socket, or closed
  }
}

protocol::FrameResult Connection::next_frame() {
  if (handshake_) return protocol::NeedMore{};
  return session_ ? session_->opener.next() : decoder_.next();
}

void Connection::deliver(std::string body) {
  ++counters_.frames_in;
  auto decoded = protocol::decode(body);
  if (auto* error = std::get_if<protocol::DecodeError>(&decoded)) {
    if (error->code == protocol::DecodeErrorCode::unknown_type) {
      ++counters_.unknown_types;
      spdlog::debug("ignoring message from {}: {}", remote_, error->detail);
      return;
    }
    ++counters_.decode_errors;
    return shut("bad message: " + error->detail);
  }
  observer_.on_message(*this, std::move(std::get<protocol::Message>(decoded)), last_read_);
}

bool Connection::read_some() {
  auto& buffer = read_buffer();
  // Before the key is proved, not one byte beyond the handshake's own messages is taken.
  std::size_t limit = handshake_ ? handshake_->wanted() : buffer.size();
  error_code ec;
  auto received = receive_some(socket_.native_handle(), buffer.data(), limit, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    wait_readable();
    return false;
  }
  if (ec == asio::error::eof) {
    if (handshake_ && (dialed_ || read_anything_)) {
      fail_authentication("the peer closed the link during the keyed handshake (it holds another "
                          "cluster key, or none)");
    } else if (handshake_) {
      // Closed before it sent a byte, so no key was tried: a dial its node gave up because a
      // link already existed (two members dialling each other at once), or a port scan.
      shut("closed by peer before the keyed handshake");
    } else {
      // The peer sends no more; deliver what we still owe it, then close.
      close_after_flush(retiring_ ? close_reason_ : "closed by peer");
    }
    return false;
  }
  if (ec) {
    shut(ec.message());
    return false;
  }
  last_read_ = Clock::now() - std::chrono::microseconds(received.age_us.value_or(0));
  counters_.bytes_in += received.bytes;
  absorb(std::string_view(buffer.data(), received.bytes));
  return open_;
}

void Connection::absorb(std::string_view bytes) {
  if (handshake_) return absorb_handshake(bytes);
  if (session_) return session_->opener.feed(bytes);
  if (!read_anything_ && bytes.starts_with(security::kHandshakeMagic)) {
    return fail_authentication("the peer requires a cluster key and this node has none (--key-file)");
  }
  read_anything_ = true;
  decoder_.feed(bytes);
}

void Connection::absorb_handshake(std::string_view bytes) {
  read_anything_ = true;
  std::size_t taken = handshake_->feed(bytes);
  handshake_out_ += handshake_->take_output();
  switch (handshake_->state()) {
    case security::Handshake::State::failed:
      return fail_authentication(handshake_->failure());
    case security::Handshake::State::established:
      proven_key_ = handshake_->key_id();
      session_ = std::make_unique<security::SecureSession>(handshake_->take_session());
      handshake_.reset();
      session_->opener.feed(bytes.substr(taken));
      break;
    case security::Handshake::State::in_progress:
      break;
  }
  do_write();  // the handshake's answer, then (once established) what was queued meanwhile
}

void Connection::wait_readable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) {
                       if (!self->open_) return;
                       if (ec) return self->shut(ec.message());
                       self->pump();
                     });
}

void Connection::next_turn() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->open_) self->pump();
  });
}

void Connection::wait_for_budget(Clock::time_point now) {
  ++counters_.throttled;
  last_paced_ = now;
  throttle_log_.write(spdlog::level::warn,
                      fmt::format("{} ({}) sends faster than its budget; reading from it is slowed",
                                  peer_id.empty() ? "an unidentified peer" : peer_id, remote_),
                      now);
  budget_timer_.expires_after(std::chrono::microseconds(budget_.wait_us(to_us(now))));
  budget_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec && self->open_) self->pump();
  });
}

// ---- writing ---------------------------------------------------------------------------

bool Connection::send(std::shared_ptr<const std::string> frame) {
  auto size = frame->size();
  return enqueue({std::move(frame), nullptr, size});
}

namespace {

/// What a non-blocking send(2) takes of `bytes` at once: 0 on any failure, which the
/// asynchronous write that follows then meets and reports.
std::size_t send_now(int fd, const std::string& bytes) {
  const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

}  // namespace

bool Connection::send_stamped(StampedFrame make_frame) {
  constexpr std::size_t kTypicalStampedBytes = 256;
  return enqueue({nullptr, std::move(make_frame), kTypicalStampedBytes});
}

bool Connection::enqueue(Outgoing outgoing) {
  if (!open_ || closing_after_flush_ || retiring_) return false;
  if (queue_.size() + 1 > limits_.max_frames || queued_bytes_ + outgoing.size > limits_.max_bytes) {
    ++counters_.queue_overflows;
    shut("send queue overflow (" + std::to_string(queue_.size()) + " frames queued)");
    return false;
  }
  queued_bytes_ += outgoing.size;
  queue_.push_back(std::move(outgoing));
  last_sent_ = Clock::now();
  do_write();
  return true;
}

void Connection::do_write() {
  if (in_flight_ || !open_) return;
  if (!handshake_out_.empty()) {
    in_flight_is_handshake_ = true;
    in_flight_ = std::make_shared<const std::string>(std::exchange(handshake_out_, {}));
  } else if (handshake_ || queue_.empty()) {
    return;  // frames wait until both ends have proved the key
  } else {
    auto& next = queue_.front();
    const bool stamped = static_cast<bool>(next.stamp);
    if (stamped) {
      next.frame = std::make_shared<const std::string>(next.stamp(now_us()));
      next.stamp = nullptr;
    }
    in_flight_is_handshake_ = false;
    in_flight_ = session_ ? std::make_shared<const std::string>(session_->sealer.seal(
                                std::string_view(*next.frame).substr(protocol::kFrameHeaderBytes)))
                          : next.frame;
    // A stamped frame (clock sync) goes to the kernel now: left to the reactor, it would leave
    // only after whatever else this turn of the io thread does, and that wait, longer on one side
    // of a round trip than on the other, would be taken for clock offset.
    if (stamped) {
      const std::size_t sent = send_now(socket_.native_handle(), *in_flight_);
      if (sent == in_flight_->size()) return on_write({}, sent);
      return write_rest(sent);
    }
  }
  write_rest(0);
}

void Connection::write_rest(std::size_t sent) {
  asio::async_write(socket_, asio::buffer(*in_flight_) + sent,
                    [self = shared_from_this(), sent](const error_code& ec, std::size_t bytes) {
                      self->on_write(ec, sent + bytes);
                    });
}

void Connection::on_write(const error_code& ec, std::size_t bytes) {
  if (!open_) return;
  if (ec) return shut(ec.message());
  counters_.bytes_out += bytes;
  in_flight_.reset();
  if (!in_flight_is_handshake_) {
    ++counters_.frames_out;
    queued_bytes_ -= queue_.front().size;
    queue_.pop_front();
  }
  if (queue_.empty() && handshake_out_.empty()) return on_drained();
  do_write();
}

void Connection::on_drained() {
  if (closing_after_flush_) {
    shut(close_reason_);
  } else if (retiring_) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

// ---- closing ---------------------------------------------------------------------------

void Connection::retire(const std::string& reason) {
  if (!open_ || retiring_ || closing_after_flush_) return;
  retiring_ = true;
  close_reason_ = reason;
  if (queue_.empty()) on_drained();
}

void Connection::close(const std::string& reason) { shut(reason); }

void Connection::close_after_flush(const std::string& reason) {
  if (!open_) return;
  closing_after_flush_ = true;
  close_reason_ = reason;
  if (queue_.empty()) shut(reason);
}

void Connection::fail_authentication(const std::string& reason) {
  authentication_failed_ = true;
  ++counters_.failed_handshakes;
  shut("authentication failed: " + reason);
}

void Connection::shut(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  queue_.clear();
  queued_bytes_ = 0;
  handshake_.reset();
  session_.reset();
  error_code ignored;
  budget_timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // Posted so that the observer never sees its own call re-enter it.
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
    self->observer_.on_closed(*self, reason);
  });
}

}  // namespace chorus::net
