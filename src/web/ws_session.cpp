// The web page's WebSocket (docs/web.md, "WebSocket").

#include "ws_session.hpp"

#include <utility>
#include <variant>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/stream_base.hpp>
#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"
#include "chorus/web/server_message.hpp"

namespace chorus::web::detail {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

}  // namespace

WsSession::WsSession(std::shared_ptr<ServerShared> shared, beast::tcp_stream stream)
    : shared_(std::move(shared)), socket_(std::move(stream)) {}

WsSession::~WsSession() {
  if (counted_) shared_->bridge->clients_changed(-1);
}

void WsSession::start(Request upgrade) {
  const auto& limits = shared_->config.limits;
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = limits.request_timeout;
  timeout.idle_timeout = limits.idle_timeout;
  timeout.keep_alive_pings = true;  // an idle page that answers pings stays
  socket_.set_option(timeout);
  socket_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(beast::http::field::server, "chorus"); }));
  socket_.read_message_max(limits.message_bytes);
  socket_.async_accept(upgrade, [self = shared_from_this()](beast::error_code error) { self->on_accepted(error); });
}

void WsSession::close() {
  closed_ = true;
  beast::error_code ignored;
  beast::get_lowest_layer(socket_).socket().close(ignored);
}

void WsSession::view_changed() {
  view_wanted_ = true;
  write_next();
}

void WsSession::on_accepted(beast::error_code error) {
  if (error || closed_) return;
  counted_ = true;
  shared_->bridge->clients_changed(+1);
  socket_.text(true);
  read_message();
  write_next();
}

void WsSession::read_message() {
  socket_.async_read(incoming_, [self = shared_from_this()](beast::error_code error, std::size_t) {
    self->on_message(error);
  });
}

void WsSession::on_message(beast::error_code error) {
  if (error) {
    // Too big, closed by the page, timed out: the connection ends (Beast answers a close frame).
    if (error == websocket::error::message_too_big) spdlog::debug("web: a page sent an oversized message");
    return close();
  }
  if (closed_) return;
  if (!socket_.got_text()) {
    send(error_message(nullptr, "messages are JSON text"));
  } else {
    handle(beast::buffers_to_string(incoming_.data()));
  }
  incoming_.consume(incoming_.size());
  read_message();
}

void WsSession::handle(const std::string& text) {
  ClientMessage message = parse_client_message(text);
  if (auto* command = std::get_if<CommandMessage>(&message)) return run(std::move(*command));
  if (const auto* query = std::get_if<LibraryQuery>(&message)) return answer_library(*query);
  const auto& refused = std::get<MessageError>(message);
  send(error_message(refused.id, refused.text));
}

void WsSession::run(CommandMessage message) {
  if (in_flight_ >= shared_->config.limits.commands_in_flight) {
    return send(error_message(message.id, "too many commands in flight: wait for their replies"));
  }
  ++in_flight_;
  // The outcome arrives on the node's io thread: back to the strand, and only if the page is
  // still here.
  std::weak_ptr<WsSession> weak = weak_from_this();
  auto bridge = shared_->bridge;
  bridge->run(std::move(message.command), [weak, bridge, id = message.id](control::Outcome outcome) {
    bridge->post([weak, id, outcome = std::move(outcome)] {
      if (auto self = weak.lock()) {
        --self->in_flight_;
        self->send(reply_message(id, outcome));
      }
    });
  });
}

void WsSession::answer_library(const LibraryQuery& query) {
  const auto view = shared_->bridge->view();
  if (view == nullptr) return;
  send(library_message(*view->library, query));
}

void WsSession::send(std::string message) {
  if (closed_) return;
  queued_bytes_ += message.size();
  if (queued_bytes_ > shared_->config.limits.write_queue_bytes) {
    spdlog::info("web: closing a page that does not read its answers ({} bytes queued)", queued_bytes_);
    return close();
  }
  queued_.push_back(std::move(message));
  write_next();
}

void WsSession::write_next() {
  if (write_pending_ || closed_ || !counted_) return;
  if (!queued_.empty()) {
    writing_ = std::move(queued_.front());
    queued_.pop_front();
    queued_bytes_ -= writing_.size();
  } else if (view_wanted_) {
    const auto view = shared_->bridge->view();
    if (view == nullptr) return;
    view_wanted_ = false;
    writing_ = view_message(*view, now_us());
  } else {
    return;
  }
  write_pending_ = true;
  socket_.async_write(boost::asio::buffer(writing_), [self = shared_from_this()](beast::error_code error, std::size_t) {
    self->write_pending_ = false;
    if (error) return self->close();
    self->write_next();
  });
}

}  // namespace chorus::web::detail
