// The web server's HTTP side (docs/web.md, "HTTP").

#include "http_session.hpp"

#include <utility>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "chorus/web/metrics_text.hpp"
#include "chorus/web/page.hpp"
#include "chorus/web/request_auth.hpp"
#include "ws_session.hpp"

namespace chorus::web::detail {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::string_view kServerName = "chorus";
// The page is inline (script and style); it talks only to its own origin's WebSocket. The token
// may be in the page's URL: never sent on as a referrer, never cached.
constexpr std::string_view kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self' ws: wss:; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace

HttpSession::HttpSession(std::shared_ptr<ServerShared> shared, boost::asio::ip::tcp::socket socket)
    : shared_(std::move(shared)), stream_(std::move(socket)) {}

void HttpSession::start() { read_request(); }

void HttpSession::close() {
  beast::error_code ignored;
  stream_.socket().close(ignored);
}

void HttpSession::read_request() {
  const auto& limits = shared_->config.limits;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits.header_bytes));
  parser_->body_limit(limits.body_bytes);
  // One deadline for the whole request: a silent or trickling client is cut off.
  stream_.expires_after(limits.request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
}

void HttpSession::on_read(beast::error_code error) {
  if (error == http::error::header_limit) {
    return send_error(http::status::request_header_fields_too_large, "request header too large\n", false);
  }
  if (error == http::error::body_limit) return send_error(http::status::payload_too_large, "body too large\n", false);
  if (error == http::error::end_of_stream) {
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, error);
    return;
  }
  if (error == beast::error::timeout || error == boost::asio::error::operation_aborted) return;
  if (error) {
    // Malformed HTTP: say so once, then close.
    if (error.category() == http::make_error_code(http::error::bad_target).category()) {
      return send_error(http::status::bad_request, "bad request\n", false);
    }
    return;
  }
  Request request = parser_->release();
  if (shared_->stopped) return;
  if (beast::websocket::is_upgrade(request) && split_target(request.target()).path == "/ws") {
    return upgrade(std::move(request));
  }
  answer(request);
}

void HttpSession::answer(const Request& request) {
  const bool keep_alive = request.keep_alive();
  const bool head = request.method() == http::verb::head;
  if (request.method() != http::verb::get && !head) {
    Response response{http::status::method_not_allowed, request.version()};
    response.set(http::field::allow, "GET, HEAD");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "method not allowed\n";
    return send(std::move(response), false, keep_alive);
  }
  const auto target = split_target(request.target());
  const bool known = target.path == "/" || target.path == "/metrics" || target.path == "/ws";
  if (!known) return send_error(http::status::not_found, "not found\n", keep_alive);
  if (!authorized(shared_->config.token, target.query, request[http::field::authorization])) {
    return send_error(http::status::unauthorized, "a token is needed: open the page's URL with ?token=...\n",
                      keep_alive);
  }
  if (target.path == "/ws") return send_error(http::status::upgrade_required, "a WebSocket upgrade is needed\n", keep_alive);

  Response response{http::status::ok, request.version()};
  response.set(http::field::cache_control, "no-store");
  if (target.path == "/") {
    response.set(http::field::content_type, "text/html; charset=utf-8");
    response.set("Content-Security-Policy", kPagePolicy);
    response.set("Referrer-Policy", "no-referrer");
    response.set("X-Content-Type-Options", "nosniff");
    response.body() = std::string(page_html());
  } else {
    const auto view = shared_->bridge->view();
    if (view == nullptr) return send_error(http::status::service_unavailable, "stopping\n", false);
    response.set(http::field::content_type, kMetricsContentType);
    response.body() = metrics_text(*view);
  }
  send(std::move(response), head, keep_alive);
}

void HttpSession::upgrade(Request request) {
  const auto target = split_target(request.target());
  if (!authorized(shared_->config.token, target.query, request[http::field::authorization])) {
    return send_error(http::status::unauthorized, "a token is needed\n", false);
  }
  if (!same_origin(request[http::field::origin], request[http::field::host])) {
    return send_error(http::status::forbidden, "the page must come from this server\n", false);
  }
  // The WebSocket keeps its own timeouts (pings); the HTTP deadline no longer applies.
  stream_.expires_never();
  auto session = std::make_shared<WsSession>(shared_, std::move(stream_));
  shared_->add(session);
  session->start(std::move(request));
}

void HttpSession::send_error(http::status status, std::string text, bool keep_alive) {
  Response response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(text);
  send(std::move(response), false, keep_alive);
}

void HttpSession::send(Response response, bool head, bool keep_alive) {
  response.set(http::field::server, kServerName);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  stream_.expires_after(shared_->config.limits.request_timeout);
  const auto after = [self = shared_from_this(), keep_alive](beast::error_code error, std::size_t) {
    if (error) return;
    if (keep_alive && !self->shared_->stopped) return self->read_request();
    self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, error);
  };
  if (head) {
    // The same headers, Content-Length included, without the body.
    auto message = std::make_shared<http::response<http::empty_body>>(std::move(response.base()));
    http::async_write(stream_, *message, [message, after](beast::error_code error, std::size_t n) { after(error, n); });
  } else {
    auto message = std::make_shared<Response>(std::move(response));
    http::async_write(stream_, *message, [message, after](beast::error_code error, std::size_t n) { after(error, n); });
  }
}

}  // namespace chorus::web::detail
