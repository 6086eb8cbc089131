#include "chorus/net/connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"

namespace chorus::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string describe(const asio::ip::tcp::socket& socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, bool dialed, ConnectionObserver& observer,
                       TrafficCounters& counters, QueueLimits limits)
    : socket_(std::move(socket)),
      dialed_(dialed),
      observer_(observer),
      counters_(counters),
      limits_(limits),
      remote_(describe(socket_)) {
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

std::string Connection::remote_ip() const {
  auto colon = remote_.rfind(':');
  return colon == std::string::npos ? remote_ : remote_.substr(0, colon);
}

void Connection::start() { do_read(); }

void Connection::do_read() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      [self = shared_from_this()](const error_code& ec, std::size_t bytes) {
        self->on_read(ec, bytes, Clock::now());
      });
}

void Connection::on_read(const error_code& ec, std::size_t bytes, Clock::time_point received) {
  if (!open_) return;
  if (ec == asio::error::eof) {
    // The peer sends no more; deliver what we still owe it, then close.
    close_after_flush(retiring_ ? close_reason_ : "closed by peer");
    return;
  }
  if (ec) {
    shut(ec.message());
    return;
  }
  counters_.bytes_in += bytes;
  decoder_.feed(std::string_view(read_buffer_.data(), bytes));
  dispatch_frames(received);
  if (open_) do_read();
}

void Connection::dispatch_frames(Clock::time_point received) {
  while (open_) {
    auto result = decoder_.next();
    if (std::holds_alternative<protocol::NeedMore>(result)) return;
    if (auto* error = std::get_if<protocol::FrameError>(&result)) {
      ++counters_.decode_errors;
      shut("bad frame: " + error->detail);
      return;
    }
    ++counters_.frames_in;
    auto decoded = protocol::decode(std::get<protocol::Frame>(result).body);
    if (auto* error = std::get_if<protocol::DecodeError>(&decoded)) {
      if (error->code == protocol::DecodeErrorCode::unknown_type) {
        ++counters_.unknown_types;
        spdlog::debug("ignoring message from {}: {}", remote_, error->detail);
        continue;
      }
      ++counters_.decode_errors;
      shut("bad message: " + error->detail);
      return;
    }
    observer_.on_message(*this, std::move(std::get<protocol::Message>(decoded)), received);
  }
}

bool Connection::send(std::shared_ptr<const std::string> frame) {
  auto size = frame->size();
  return enqueue({std::move(frame), nullptr, size});
}

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
  if (queue_.size() == 1) do_write();
  return true;
}

void Connection::do_write() {
  auto& next = queue_.front();
  if (next.stamp) {
    next.frame = std::make_shared<const std::string>(next.stamp(now_us()));
    next.stamp = nullptr;
  }
  asio::async_write(socket_, asio::buffer(*next.frame),
                    [self = shared_from_this()](const error_code& ec, std::size_t bytes) {
                      self->on_write(ec, bytes);
                    });
}

void Connection::on_write(const error_code& ec, std::size_t bytes) {
  if (!open_) return;
  if (ec) {
    shut(ec.message());
    return;
  }
  counters_.bytes_out += bytes;
  ++counters_.frames_out;
  queued_bytes_ -= queue_.front().size;
  queue_.pop_front();
  if (!queue_.empty()) {
    do_write();
  } else {
    on_drained();
  }
}

void Connection::on_drained() {
  if (closing_after_flush_) {
    shut(close_reason_);
  } else if (retiring_) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

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

void Connection::shut(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  queue_.clear();
  queued_bytes_ = 0;
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // Posted so that the observer never sees its own call re-enter it.
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
    self->observer_.on_closed(*self, reason);
  });
}

}  // namespace chorus::net
