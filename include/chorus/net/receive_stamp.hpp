#pragma once
// Receive stamps: when the kernel took a socket's bytes in, not when the io thread got round to
// reading them. A clock sample's receive instant read after the read returns includes the io
// thread's wake-up, tens of µs on an idle CPU of a virtual machine and different on a busy leader
// than on an idle follower, and half that difference went into every offset estimate.
//
// The kernel stamps received segments on the wall clock (SO_TIMESTAMPING, software receive
// stamps). The stamp's age is taken on that same clock, read by a system call so that a faked
// clock of the process (libfaketime) cannot shift it; the receive instant is now minus that age.

#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/system/error_code.hpp>

namespace chorus::net {

/// Asks the kernel to stamp what `fd` receives. False if it refuses: reads work unstamped.
bool enable_receive_stamps(int fd);

/// What one read took.
struct Received {
  std::size_t bytes = 0;
  /// How long before the read the kernel took in the last of these bytes; none when unstamped.
  std::optional<std::int64_t> age_us;
};

/// One non-blocking read of up to `limit` bytes. `ec`: would_block, eof, or the socket's error.
Received receive_some(int fd, char* buffer, std::size_t limit, boost::system::error_code& ec);

/// A stamp older than this is not believed: the wall clock was stepped between stamp and read.
inline constexpr std::int64_t kMaxStampAgeUs = 1'000'000;

/// The age of a kernel stamp `stamp_ns` read when the wall clock said `now_ns`; none when it
/// cannot be true (in the future, or older than kMaxStampAgeUs: the wall clock was stepped).
std::optional<std::int64_t> stamp_age_us(std::int64_t stamp_ns, std::int64_t now_ns);

}  // namespace chorus::net
