#include <spdlog/spdlog.h>

#include "server_core.hpp"

namespace chorus::mpd {
namespace {

using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

}  // namespace

MpdConnection::MpdConnection(tcp::socket socket, std::weak_ptr<MpdServer::Core> core,
                             const MpdConfig& config, control::ControlPort& port)
    : socket_(std::move(socket)),
      core_(std::move(core)),
      limits_(config.limits),
      port_(port),
      session_(SessionConfig{.password = config.password,
                             .max_command_list = config.limits.max_command_list}),
      timer_(socket_.get_executor()),
      last_command_(Clock::now()) {}

void MpdConnection::start() {
  send(Session::greeting());
  arm_timer();
  pump();
}

void MpdConnection::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
  outbox_.clear();
  queued_bytes_ = 0;
  if (auto core = this->core()) core->remove(this);
}

// ---- input ---------------------------------------------------------------------------------

void MpdConnection::read() {
  if (reading_ || closed_) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                    const error_code& ec, std::size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec) return self->close();
    self->input_.append(self->chunk_.data(), n);
    self->pump();
  });
}

/// Runs the complete lines held, one at a time; a line whose command is out waits for its outcome,
/// and no line runs while more than max_output_bytes of answers wait to be read. Reads more only
/// when it has no complete line, so a pipelining client (or one that does not read) is held back
/// by TCP rather than by our memory.
void MpdConnection::pump() {
  while (!closed_ && !close_after_write_ && !session_.awaiting_outcome() &&
         queued_bytes_ <= limits_.max_output_bytes) {
    const auto newline = input_.find('\n');
    if (newline == std::string::npos) {
      if (input_.size() > limits_.max_line_bytes) {
        send(ack_line(Ack::arg, 0, "", "line too long"));
        close_after_write_ = true;
        return write();
      }
      return read();
    }
    if (newline > limits_.max_line_bytes) {
      send(ack_line(Ack::arg, 0, "", "line too long"));
      close_after_write_ = true;
      return write();
    }
    std::string line = input_.substr(0, newline);
    input_.erase(0, newline + 1);
    last_command_ = Clock::now();
    spoken_ = true;
    auto core = this->core();
    if (!core) return close();
    handle(session_.on_line(line, *port_.view(), core->instant()));
  }
}

void MpdConnection::handle(Step step) {
  if (closed_) return;
  if (!step.output.empty()) send(std::move(step.output));
  if (closed_) return;  // send() closes a client that does not read
  if (step.close) {
    close_after_write_ = true;
    if (!writing_) close();
    return;
  }
  if (!step.command) return;
  // The outcome comes on the node's io thread: back to ours before touching the session.
  auto executor = socket_.get_executor();
  std::weak_ptr<MpdConnection> weak = weak_from_this();
  port_.run(std::move(*step.command), [executor, weak](control::Outcome outcome) {
    asio::post(executor, [weak, outcome = std::move(outcome)] {
      if (auto self = weak.lock()) self->on_outcome(outcome);
    });
  });
}

void MpdConnection::on_outcome(const control::Outcome& outcome) {
  if (closed_) return;
  auto core = this->core();
  if (!core) return close();
  handle(session_.on_outcome(outcome, *port_.view(), core->instant()));
  pump();
}

void MpdConnection::notify(control::Subsystems changed) {
  if (closed_) return;
  Step step = session_.on_changes(changed);
  if (!step.output.empty()) last_command_ = Clock::now();  // the idle ended: its silence starts now
  handle(std::move(step));
}

// ---- output --------------------------------------------------------------------------------

void MpdConnection::send(std::string text) {
  if (outbox_.empty()) last_write_ = Clock::now();  // the wait for the client to read starts
  queued_bytes_ += text.size();
  outbox_.push_back(std::move(text));
  write();
}

void MpdConnection::write() {
  if (writing_ || closed_) return;
  if (outbox_.empty()) {
    if (close_after_write_) close();
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(outbox_.front()),
                    [self = shared_from_this()](const error_code& ec, std::size_t n) {
                      self->writing_ = false;
                      if (self->closed_) return;
                      if (ec) return self->close();
                      self->queued_bytes_ -= n;
                      self->outbox_.pop_front();
                      self->last_write_ = Clock::now();
                      self->write();
                      self->pump();  // it may have waited for the answers to drain
                    });
}

// ---- silence -------------------------------------------------------------------------------

void MpdConnection::arm_timer() {
  timer_.expires_at(last_command_ + limits_.idle_timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->on_timer();
  });
}

/// A client waiting in idle, or for a command's outcome, is never timed out; any other silence
/// (a connection that never speaks, a half-open one) is, after idle_timeout; so is a client whose
/// answers wait that long without a byte of them read.
void MpdConnection::on_timer() {
  if (closed_) return;
  if (!outbox_.empty() && Clock::now() - last_write_ >= limits_.idle_timeout) {
    spdlog::info("MPD client closed: it read none of its {} bytes of answers for {} ms",
                 queued_bytes_, limits_.idle_timeout.count());
    return close();
  }
  const bool waiting = (session_.idling() && !close_after_write_) || session_.awaiting_outcome();
  if (waiting) last_command_ = Clock::now();
  if (!waiting && Clock::now() - last_command_ >= limits_.idle_timeout) {
    spdlog::debug("MPD client closed after {} ms without a command", limits_.idle_timeout.count());
    return close();
  }
  arm_timer();
}

}  // namespace chorus::mpd
