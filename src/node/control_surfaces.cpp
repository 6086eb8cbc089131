#include "chorus/node/control_surfaces.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "chorus/mpd/mpd_server.hpp"
#include "chorus/thread_name.hpp"
#include "chorus/web/http_server.hpp"

namespace chorus::node {

ControlSurfaces::ControlSurfaces(control::ControlPort& port, ControlConfig config, std::string host)
    : port_(port), config_(std::move(config)), host_(std::move(host)) {}

ControlSurfaces::~ControlSurfaces() { stop(); }

void ControlSurfaces::start() {
  // Both listen before the thread runs, so that their ports are known when start() returns.
  if (config_.mpd_port != 0) {
    mpd::MpdConfig mpd_config;
    mpd_config.host = host_;
    mpd_config.port = config_.mpd_port;
    if (config_.secrets) mpd_config.password = config_.secrets->mpd_password;
    mpd_ = std::make_unique<mpd::MpdServer>(io_, port_, std::move(mpd_config));
    if (mpd_->start()) mpd_port_ = mpd_->local_port();
  }
  if (config_.http_port != 0) {
    web::HttpConfig http_config;
    http_config.host = host_;
    http_config.port = config_.http_port;
    if (config_.secrets) http_config.token = config_.secrets->web_token;
    http_ = std::make_unique<web::HttpServer>(io_, port_, std::move(http_config));
    if (http_->start()) http_port_ = http_->local_port();
  }
  if (mpd_port_ == 0 && http_port_ == 0) return;  // nothing to serve: no thread
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    name_this_thread("chorus-control");
    io_.run();
  });
}

void ControlSurfaces::stop() {
  if (!thread_.joinable()) return;
  // The servers close their connections on their own thread, then it runs out of work.
  boost::asio::post(io_, [this] {
    if (mpd_) mpd_->stop();
    http_.reset();
    work_.reset();
  });
  thread_.join();
  mpd_.reset();
  io_.stop();
}

std::string access_text(const ControlSurfaces& surfaces, const std::string& host) {
  const auto& secrets = surfaces.config().secrets;
  std::string text;
  if (surfaces.mpd_port() == 0) {
    text += surfaces.config().mpd_port == 0 ? "mpd: off\n" : "mpd: not serving (see the log)\n";
  } else {
    text += fmt::format("mpd: {}:{}\n", host, surfaces.mpd_port());
    text += secrets ? fmt::format("mpd password: {}\n", secrets->mpd_password)
                    : "mpd password: none (the cluster has no key)\n";
  }
  if (surfaces.http_port() == 0) {
    text += surfaces.config().http_port == 0 ? "web: off" : "web: not serving (see the log)";
  } else {
    const auto base = fmt::format("http://{}:{}/", host, surfaces.http_port());
    text += secrets ? fmt::format("web: {}?token={}\n", base, secrets->web_token)
                    : fmt::format("web: {}\n", base);
    text += secrets ? fmt::format("metrics: {}metrics (Authorization: Bearer {})", base, secrets->web_token)
                    : fmt::format("metrics: {}metrics", base);
  }
  return text;
}

}  // namespace chorus::node
