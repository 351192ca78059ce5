// The daemon's event loop: deadline heap order, re-arming, cancellation, signals via signalfd.
#include "loop/event_loop.h"

#include <gtest/gtest.h>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <vector>

namespace vipd::loop {
namespace {

using std::chrono::milliseconds;

TEST(TimerHeap, PopsEarliestFirstAndOnlyWhenDue) {
  TimerHeap heap;
  heap.set(1, core::Time(30));
  heap.set(2, core::Time(10));
  heap.set(3, core::Time(20));
  EXPECT_EQ(heap.next(), core::Time(10));
  EXPECT_FALSE(heap.pop_due(core::Time(9)).has_value());
  EXPECT_EQ(heap.pop_due(core::Time(25)), 2u);
  EXPECT_EQ(heap.pop_due(core::Time(25)), 3u);
  EXPECT_FALSE(heap.pop_due(core::Time(25)).has_value());
  EXPECT_EQ(heap.size(), 1u);
}

TEST(TimerHeap, ResettingAnIdMovesItsDeadline) {
  TimerHeap heap;
  heap.set(7, core::Time(10));
  heap.set(7, core::Time(50));
  EXPECT_EQ(heap.size(), 1u);
  EXPECT_FALSE(heap.pop_due(core::Time(20)).has_value());
  EXPECT_EQ(heap.pop_due(core::Time(50)), 7u);
}

TEST(TimerHeap, NeverAndCancelRemoveTheTimer) {
  TimerHeap heap;
  heap.set(1, core::Time(10));
  heap.set(2, core::Time(10));
  heap.set(1, core::kNever);
  heap.cancel(2);
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(heap.next(), core::kNever);
}

TEST(EventLoop, FiresTimersInDeadlineOrderThenStops) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  std::vector<int> fired;
  const core::Time now = monotonic_now();
  loop.set_timer(1, now + milliseconds(20), [&](core::Time) { fired.push_back(1); });
  loop.set_timer(2, now + milliseconds(5), [&](core::Time) { fired.push_back(2); });
  loop.set_timer(3, now + milliseconds(30), [&](core::Time) {
    fired.push_back(3);
    loop.stop();
  });
  ASSERT_EQ(loop.run(), 0);
  EXPECT_EQ(fired, (std::vector<int>{2, 1, 3}));
  EXPECT_GE(monotonic_now() - now, milliseconds(30));
}

TEST(EventLoop, AHandlerThatMovesAnotherDueTimerPreventsItsStaleExpiry) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  std::vector<int> fired;
  const core::Time past = monotonic_now() - milliseconds(1);
  // Both are due in the same wake-up; the first pushes the second into the future.
  loop.set_timer(1, past - milliseconds(1), [&](core::Time) {
    fired.push_back(1);
    loop.set_timer(2, monotonic_now() + milliseconds(10), [&](core::Time) {
      fired.push_back(20);
      loop.stop();
    });
  });
  loop.set_timer(2, past, [&](core::Time) { fired.push_back(2); });
  ASSERT_EQ(loop.run(), 0);
  EXPECT_EQ(fired, (std::vector<int>{1, 20}));
}

TEST(EventLoop, DeliversSignalsThroughSignalfd) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({SIGUSR1}).ok());
  int received = 0;
  loop.on_signal([&](int signo) {
    received = signo;
    loop.stop();
  });
  loop.set_timer(1, monotonic_now(), [](core::Time) { raise(SIGUSR1); });
  ASSERT_EQ(loop.run(), 0);
  EXPECT_EQ(received, SIGUSR1);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &mask, nullptr);
}

TEST(EventLoop, IdleHandlerRunsAfterEachBatch) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  int idle = 0;
  loop.on_idle([&] {
    if (++idle == 1) loop.stop();
  });
  loop.set_timer(1, monotonic_now(), [](core::Time) {});
  ASSERT_EQ(loop.run(), 0);
  EXPECT_EQ(idle, 1);
  EXPECT_EQ(loop.wakeups(), 1u);
}

TEST(EventLoop, ModifyFdSwitchesTheEventsAndKeepsTheHandler) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  int sockets[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sockets), 0);
  // Nothing to read yet: waiting for EPOLLIN alone would never fire; after the switch to EPOLLOUT
  // (always ready on an empty socket) the same handler runs.
  std::vector<std::uint32_t> seen;
  ASSERT_TRUE(loop.add_fd(sockets[0], EPOLLIN,
                          [&](std::uint32_t events) {
                            seen.push_back(events);
                            loop.stop();
                          })
                  .ok());
  loop.set_timer(1, monotonic_now() + milliseconds(5),
                 [&](core::Time) { EXPECT_TRUE(loop.modify_fd(sockets[0], EPOLLOUT).ok()); });
  ASSERT_EQ(loop.run(), 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0] & EPOLLOUT);
  EXPECT_FALSE(seen[0] & EPOLLIN);
  loop.remove_fd(sockets[0]);
  close(sockets[0]);
  close(sockets[1]);
}

TEST(EventLoop, ModifyFdOfAnUnregisteredFdIsAnError) {
  EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  EXPECT_FALSE(loop.modify_fd(1000, EPOLLIN).ok());
}

}  // namespace
}  // namespace vipd::loop
