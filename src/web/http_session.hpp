#pragma once
// One HTTP connection of the web server: reads requests (bounded in size and time), answers the
// page and /metrics, and hands a WebSocket upgrade of /ws over to a WsSession.

#include <memory>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server_shared.hpp"

namespace chorus::web::detail {

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<ServerShared> shared, boost::asio::ip::tcp::socket socket);
  void start();
  void close() override;

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void read_request();
  void on_read(boost::beast::error_code error);
  void answer(const Request& request);
  void upgrade(Request request);
  /// Sends `response` (headers only for HEAD); closes after it unless `keep_alive`.
  void send(Response response, bool head, bool keep_alive);
  void send_error(boost::beast::http::status status, std::string text, bool keep_alive);

  std::shared_ptr<ServerShared> shared_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
};

}  // namespace chorus::web::detail
