// Preloaded before libfaketime into the nodes the sync tests and benchmarks run under a faked
// clock.
//
// Boost.Asio arms its timerfd with the absolute time {0, 1 ns} when a timer is already due ("fire
// now"). libfaketime 0.9.10 rewrites absolute timerfd times from the faked clock to the real one,
// and that value comes out as a time that never fires or as EINVAL: the node's timers then stop
// until some later timer re-arms the timerfd (seen as 0.4-0.7 s of silence from a faked node in
// about one sync-test run in eight, and as a faked node that never synced its clock). An absolute time that has already passed on any clock means
// "now", so it is passed on as a relative 1 µs (not 1 ns: libfaketime divides relative times by
// its clock rate, and 1 ns / 1.0001 rounds to 0, which disarms the timer); every other call is
// unchanged.

#include <dlfcn.h>
#include <sys/timerfd.h>

namespace {
using SetTime = int (*)(int, int, const itimerspec*, itimerspec*);
}  // namespace

extern "C" int timerfd_settime(int fd, int flags, const itimerspec* new_value, itimerspec* old_value) {
  static const auto next = reinterpret_cast<SetTime>(dlsym(RTLD_NEXT, "timerfd_settime"));
  const bool already_due = new_value != nullptr && (flags & TFD_TIMER_ABSTIME) != 0 &&
                           new_value->it_value.tv_sec == 0 && new_value->it_value.tv_nsec > 0 &&
                           new_value->it_value.tv_nsec <= 1000;
  if (!already_due) return next(fd, flags, new_value, old_value);
  itimerspec now = *new_value;
  now.it_value.tv_nsec = 1000;
  return next(fd, flags & ~TFD_TIMER_ABSTIME, &now, old_value);
}
