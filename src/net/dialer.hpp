#pragma once
// One outgoing TCP connection attempt with a deadline: resolve, connect, or time out.

#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "chorus/protocol/messages.hpp"

namespace chorus::net {

using DialHandler = std::function<void(boost::system::error_code, boost::asio::ip::tcp::socket)>;

/// Resolves and connects to `target`; `done` gets timed_out if that takes longer than `timeout`.
void async_dial(boost::asio::io_context& io, const protocol::Endpoint& target,
                std::chrono::milliseconds timeout, DialHandler done);

}  // namespace chorus::net
