// The HTTP client on the epoll loop (libcurl multi, socket and timer callbacks): bodies and
// statuses, refused connections, a server that never answers, aborting from the body handler,
// cancelling, many transfers at once, and the loop staying free meanwhile.
//
// The process moves into a network namespace of its own (unshare, needs root like the daemon),
// with 198.18.250.1 on its loopback, and Python's http.server serves files there: nothing of the
// host's network is touched, and everything disappears with the process.
#include "http/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace vipd::http {
namespace {

using std::chrono::milliseconds;

constexpr const char* kAddress = "198.18.250.1";
constexpr int kPort = 18080;
constexpr int kSilentPort = 18081;  // listens, never accepts: connects, then no answer

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root (a private network namespace)";
    ASSERT_EQ(std::system("ip link set lo up && ip addr add 198.18.250.1/32 dev lo"), 0);
    directory_ =
        std::filesystem::temp_directory_path() / ("vipd-http-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory_);
    std::ofstream(directory_ / "small.json") << R"({"localEndpoints": 1})";
    std::ofstream big(directory_ / "big.bin");
    big << std::string(3 * 1024 * 1024, 'x');
    big.close();
    server_ = fork();
    if (server_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      dup2(null, 2);
      execl("/usr/bin/python3", "python3", "-m", "http.server", std::to_string(kPort).c_str(),
            "--bind", kAddress, "--directory", directory_.c_str(), nullptr);
      _exit(127);
    }
    ASSERT_GT(server_, 0);
    silent_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(kSilentPort);
    inet_pton(AF_INET, kAddress, &address.sin_addr);
    ASSERT_EQ(bind(silent_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(listen(silent_, 16), 0);
    // Bounded wait until the server listens.
    address.sin_port = htons(kPort);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const bool up = connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
      close(probe);
      if (up) return;
      usleep(50'000);
    }
    FAIL() << "python3 -m http.server did not start";
  }

  static void TearDownTestSuite() {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
    }
    if (silent_ >= 0) close(silent_);
    std::filesystem::remove_all(directory_);
  }

  void SetUp() override {
    ASSERT_TRUE(loop_.init({}).ok());
    ASSERT_TRUE(client_.init().ok());
    // A safety net: a test never hangs the suite.
    loop_.set_timer(loop_.allocate_timer_id(), loop::monotonic_now() + std::chrono::seconds(10),
                    [this](core::Time) {
                      ADD_FAILURE() << "loop still running after 10 s";
                      loop_.stop();
                    });
  }

  static std::string url(const std::string& path, int port = kPort) {
    return "http://" + std::string(kAddress) + ":" + std::to_string(port) + path;
  }

  struct Outcome {
    std::string body;
    Result result;
    int done_calls = 0;
  };

  std::uint64_t get(const Request& request, Outcome& outcome, bool stop_when_done = true) {
    return client_.start(
        request,
        [&outcome](long, std::string_view chunk) {
          outcome.body.append(chunk);
          return true;
        },
        [this, &outcome, stop_when_done](const Result& result) {
          outcome.result = result;
          ++outcome.done_calls;
          if (stop_when_done) loop_.stop();
        });
  }

  static Request request_for(const std::string& target) {
    Request request;
    request.url = target;
    request.timeout = std::chrono::seconds(5);
    return request;
  }

  inline static pid_t server_ = -1;
  inline static int silent_ = -1;
  inline static std::filesystem::path directory_;
  loop::EventLoop loop_;
  Client client_{loop_};
};

TEST_F(HttpClientTest, FetchesABodyWithItsStatus) {
  Outcome outcome;
  get(request_for(url("/small.json")), outcome);
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(outcome.done_calls, 1);
  EXPECT_EQ(outcome.result.error, "");
  EXPECT_EQ(outcome.result.status, 200);
  EXPECT_EQ(outcome.body, R"({"localEndpoints": 1})");
  EXPECT_EQ(client_.active(), 0u);
}

TEST_F(HttpClientTest, AnErrorStatusIsAnAnswerNotATransportError) {
  Outcome outcome;
  get(request_for(url("/missing")), outcome);
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(outcome.result.error, "");
  EXPECT_EQ(outcome.result.status, 404);
}

TEST_F(HttpClientTest, ARefusedConnectionIsAnError) {
  Outcome outcome;
  get(request_for(url("/", 18099)), outcome);
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(outcome.done_calls, 1);
  EXPECT_NE(outcome.result.error, "");
  EXPECT_EQ(outcome.result.status, 0);
  EXPECT_FALSE(outcome.result.timed_out);
}

TEST_F(HttpClientTest, AServerThatNeverAnswersTimesOutWhileTheLoopRuns) {
  Outcome outcome;
  Request request = request_for(url("/", kSilentPort));
  request.timeout = milliseconds(300);
  const core::Time started = loop::monotonic_now();
  get(request, outcome);
  // The loop keeps serving timers while the transfer waits: nothing blocks.
  int ticks = 0;
  const std::uint64_t tick = loop_.allocate_timer_id();
  std::function<void(core::Time)> on_tick = [&](core::Time now) {
    ++ticks;
    loop_.set_timer(tick, now + milliseconds(20), on_tick);
  };
  loop_.set_timer(tick, started + milliseconds(20), on_tick);
  ASSERT_EQ(loop_.run(), 0);
  loop_.cancel_timer(tick);
  EXPECT_TRUE(outcome.result.timed_out) << outcome.result.error;
  EXPECT_GE(loop::monotonic_now() - started, milliseconds(300));
  EXPECT_GE(ticks, 8);
}

TEST_F(HttpClientTest, TheBodyHandlerCanAbort) {
  Outcome outcome;
  std::size_t seen = 0;
  client_.start(
      request_for(url("/big.bin")),
      [&](long status, std::string_view chunk) {
        EXPECT_EQ(status, 200);
        seen += chunk.size();
        return seen < 64 * 1024;
      },
      [&](const Result& result) {
        outcome.result = result;
        ++outcome.done_calls;
        loop_.stop();
      });
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(outcome.done_calls, 1);
  EXPECT_TRUE(outcome.result.aborted);
  EXPECT_EQ(outcome.result.error, "aborted by the body handler");
  EXPECT_LT(seen, std::size_t{3 * 1024 * 1024});
}

TEST_F(HttpClientTest, CancelledRequestsRunNoHandler) {
  Outcome cancelled;
  Outcome kept;
  const std::uint64_t id = get(request_for(url("/big.bin")), cancelled, false);
  get(request_for(url("/small.json")), kept);
  client_.cancel(id);
  client_.cancel(id);      // twice: ignored
  client_.cancel(999999);  // unknown: ignored
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(cancelled.done_calls, 0);
  EXPECT_EQ(cancelled.body, "");
  EXPECT_EQ(kept.result.status, 200);
  EXPECT_EQ(client_.active(), 0u);
}

TEST_F(HttpClientTest, ManyTransfersAtOnceAndFromADoneHandler) {
  constexpr int kCount = 20;
  std::vector<Outcome> outcomes(kCount);
  int finished = 0;
  Outcome chained;
  for (int i = 0; i < kCount; ++i) {
    client_.start(
        request_for(url(i % 2 == 0 ? "/small.json" : "/big.bin")),
        [&outcomes, i](long, std::string_view chunk) {
          outcomes[static_cast<std::size_t>(i)].body.append(chunk);
          return true;
        },
        [&, i](const Result& result) {
          outcomes[static_cast<std::size_t>(i)].result = result;
          if (++finished == kCount) get(request_for(url("/small.json")), chained);  // re-entry
        });
  }
  ASSERT_EQ(loop_.run(), 0);
  for (int i = 0; i < kCount; ++i) {
    const Outcome& outcome = outcomes[static_cast<std::size_t>(i)];
    EXPECT_EQ(outcome.result.status, 200) << i << ": " << outcome.result.error;
    EXPECT_EQ(outcome.body.size(), i % 2 == 0 ? 21u : std::size_t{3 * 1024 * 1024}) << i;
  }
  EXPECT_EQ(chained.result.status, 200);
  EXPECT_EQ(client_.active(), 0u);
}

TEST_F(HttpClientTest, DestroyingTheClientMidTransferLeavesTheLoopClean) {
  {
    Client temporary(loop_);
    ASSERT_TRUE(temporary.init().ok());
    // The silent server: the transfer is certainly still under way when the client goes.
    temporary.start(
        request_for(url("/", kSilentPort)), [](long, std::string_view) { return true; },
        [](const Result&) { ADD_FAILURE() << "no handler after destruction"; });
    loop_.set_timer(loop_.allocate_timer_id(), loop::monotonic_now() + milliseconds(30),
                    [this](core::Time) { loop_.stop(); });
    ASSERT_EQ(loop_.run(), 0);
  }
  // The loop still works, and no fd of the destroyed client fires into freed memory.
  Outcome outcome;
  get(request_for(url("/small.json")), outcome);
  ASSERT_EQ(loop_.run(), 0);
  EXPECT_EQ(outcome.result.status, 200);
}

}  // namespace
}  // namespace vipd::http
