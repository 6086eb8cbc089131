// TEMPORARY stub until the servers are merged.
#include "chorus/mpd/mpd_server.hpp"
#include "chorus/web/http_server.hpp"
namespace chorus::mpd {
class MpdServer::Core {};
MpdServer::MpdServer(boost::asio::io_context&, control::ControlPort&, MpdConfig) {}
MpdServer::~MpdServer() = default;
bool MpdServer::start() { return false; }
void MpdServer::stop() {}
std::uint16_t MpdServer::local_port() const { return 0; }
}
namespace chorus::web {
class HttpServer::Core {};
HttpServer::HttpServer(boost::asio::io_context&, control::ControlPort&, HttpConfig) {}
HttpServer::~HttpServer() = default;
bool HttpServer::start() { return false; }
std::uint16_t HttpServer::local_port() const { return 0; }
}
