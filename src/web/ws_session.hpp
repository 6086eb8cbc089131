#pragma once
// One WebSocket of the web page: pushes the cluster's view (on connect and after changes,
// coalesced: a view is rendered when it is its turn to be written, so a slow page gets the newest
// one rather than a backlog), answers library searches, and runs the page's commands through the
// ControlPort. Bounded: message size, answers queued for a page that does not read, commands in
// flight; an idle page is pinged and a silent one closed.

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "chorus/web/client_message.hpp"
#include "server_shared.hpp"

namespace chorus::web::detail {

class WsSession : public Connection, public std::enable_shared_from_this<WsSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsSession(std::shared_ptr<ServerShared> shared, boost::beast::tcp_stream stream);
  ~WsSession() override;
  /// Completes the handshake of `upgrade` and starts.
  void start(Request upgrade);
  void close() override;
  void view_changed() override;

 private:
  void on_accepted(boost::beast::error_code error);
  void read_message();
  void on_message(boost::beast::error_code error);
  void handle(const std::string& text);
  void run(CommandMessage message);
  void answer_library(const LibraryQuery& query);
  /// Queues an answer; a page that lets answers pile up past the limit is closed.
  void send(std::string message);
  void write_next();

  std::shared_ptr<ServerShared> shared_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> socket_;
  boost::beast::flat_buffer incoming_;
  std::deque<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  std::string writing_;  ///< the message being written (alive until its write completes)
  bool write_pending_ = false;
  bool view_wanted_ = true;  ///< the next write (after queued answers) is the newest view
  std::size_t in_flight_ = 0;
  bool counted_ = false;  ///< counted as a control client
  bool closed_ = false;
};

}  // namespace chorus::web::detail
