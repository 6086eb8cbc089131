#include "chorus/net/receive_stamp.hpp"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/error.hpp>

namespace chorus::net {

namespace {

std::int64_t to_ns(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

/// The kernel's wall clock, past any interposed clock_gettime (libfaketime fakes the process's
/// clocks, never the kernel's stamps).
std::int64_t kernel_wall_ns() {
  timespec now{};
  ::syscall(SYS_clock_gettime, CLOCK_REALTIME, &now);
  return to_ns(now);
}

/// The software receive stamp among a read's control messages, if any.
std::optional<std::int64_t> find_stamp_ns(msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPING) continue;
    scm_timestamping stamps{};
    std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
    if (stamps.ts[0].tv_sec == 0 && stamps.ts[0].tv_nsec == 0) return std::nullopt;
    return to_ns(stamps.ts[0]);
  }
  return std::nullopt;
}

}  // namespace

bool enable_receive_stamps(int fd) {
  int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
  return ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
}

Received receive_some(int fd, char* buffer, std::size_t limit, boost::system::error_code& ec) {
  iovec data{buffer, limit};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(scm_timestamping))];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = ::recvmsg(fd, &message, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    ec = (errno == EAGAIN || errno == EWOULDBLOCK) ? boost::asio::error::would_block
                                                   : boost::system::error_code(errno, boost::system::system_category());
    return {};
  }
  if (got == 0 && limit > 0) {
    ec = boost::asio::error::eof;
    return {};
  }
  ec = {};
  Received received{static_cast<std::size_t>(got), std::nullopt};
  if (auto stamp = find_stamp_ns(message)) received.age_us = stamp_age_us(*stamp, kernel_wall_ns());
  return received;
}

std::optional<std::int64_t> stamp_age_us(std::int64_t stamp_ns, std::int64_t now_ns) {
  const std::int64_t age_ns = now_ns - stamp_ns;
  if (age_ns < 0 || age_ns > kMaxStampAgeUs * 1000) return std::nullopt;
  return age_ns / 1000;
}

}  // namespace chorus::net
