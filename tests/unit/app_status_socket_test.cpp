// The status socket with a filesystem path: a stale file left by a killed run is replaced, a live
// one (another vipd) is refused and left alone, and only our own file is removed at exit. Its
// request protocol: a request line is answered at once, a silent client (an older `vipd status`)
// gets the status, and the loop never waits for a client; a snapshot larger than the default
// socket buffer (255 instances) reaches the client whole.
#include "app/status_socket.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

namespace vipd::app {
namespace {

class StatusSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vipd-status-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "vipd.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  sockaddr_un address() const {
    sockaddr_un result{};
    result.sun_family = AF_UNIX;
    std::strncpy(result.sun_path, path_.c_str(), sizeof(result.sun_path) - 1);
    return result;
  }

  // A socket file nobody listens on, as a SIGKILLed vipd leaves it.
  void leave_stale_file() {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un where = address();
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where), 0);
    close(fd);
  }

  // Runs `loop` until `done` or `limit` passed.
  static void run_until(loop::EventLoop& loop, const std::function<bool()>& done,
                        std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const std::uint64_t tick = loop.allocate_timer_id();
    const core::Time end = loop::monotonic_now() + limit;
    std::function<void(core::Time)> check = [&](core::Time now) {
      if (done() || now >= end) {
        loop.stop();
        return;
      }
      loop.set_timer(tick, now + std::chrono::milliseconds(1), check);
    };
    loop.set_timer(tick, loop::monotonic_now(), check);
    loop.run();
  }

  int connect_client() {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un where = address();
    if (connect(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  static std::optional<std::string> read_all(int fd) {
    std::string text;
    char buffer[256];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
  }

  // One request: connect, optionally send `request`, let the server answer, read it.
  std::optional<std::string> ask(StatusServer& server, const std::string& answer,
                                 const std::optional<std::string>& request = std::nullopt) {
    loop::EventLoop loop;
    EXPECT_TRUE(loop.init({}).ok());
    std::string seen;
    EXPECT_TRUE(server
                    .attach(loop,
                            [&](std::string_view line) {
                              seen = line;
                              return answer + ":" + seen;
                            })
                    .ok());
    const int fd = connect_client();
    if (fd < 0) return std::nullopt;
    if (request) {
      EXPECT_EQ(write(fd, request->data(), request->size()), static_cast<ssize_t>(request->size()));
    }
    // Until our client has its answer (a probe's connection left in the backlog, as in
    // ALiveSocketIsRefusedAndKept, is answered too, first).
    run_until(loop, [&] {
      pollfd readable{fd, POLLIN, 0};
      return poll(&readable, 1, 0) > 0;
    });
    server.detach();
    return read_all(fd);
  }

  ino_t inode() const {
    struct stat info {};
    return stat(path_.c_str(), &info) == 0 ? info.st_ino : 0;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(StatusSocketTest, ALargeSnapshotArrivesWhole) {
  StatusServer server;
  ASSERT_TRUE(server.listen(path_).ok());
  // 255 instances' status was ~220 KiB and arrived cut at the default buffer (~208 KiB).
  std::string big(1u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + i % 26);
  loop::EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  ASSERT_TRUE(server.attach(loop, [&](std::string_view) { return big; }).ok());
  const int fd = connect_client();
  ASSERT_GE(fd, 0);
  const std::string request = "status\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // The server answers and closes before the client reads anything.
  run_until(loop, [&] {
    pollfd readable{fd, POLLIN, 0};
    return poll(&readable, 1, 0) > 0;
  });
  server.detach();
  std::string received;
  char buffer[65536];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0)
    received.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  EXPECT_EQ(received.size(), big.size());
  EXPECT_TRUE(received == big);
}

TEST_F(StatusSocketTest, AStaleFileIsReplacedAndAnswers) {
  leave_stale_file();
  StatusServer server;
  ASSERT_TRUE(server.listen(path_).ok());
  EXPECT_EQ(ask(server, "{\"ok\":true}"), "{\"ok\":true}:status");
}

TEST_F(StatusSocketTest, ARequestLineIsAnsweredAndASilentClientGetsTheStatus) {
  {
    StatusServer server;
    ASSERT_TRUE(server.listen(path_).ok());
    EXPECT_EQ(ask(server, "answer", std::string("reload\n")), "answer:reload");
  }
  {
    StatusServer server;
    ASSERT_TRUE(server.listen(path_).ok());
    EXPECT_EQ(ask(server, "answer", std::string("status\r\n")), "answer:status");
  }
  {
    // An older client sends nothing: after kSilentClientWait it gets the status.
    StatusServer server;
    ASSERT_TRUE(server.listen(path_).ok());
    const auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(ask(server, "answer"), "answer:status");
    EXPECT_GE(std::chrono::steady_clock::now() - asked, kSilentClientWait);
  }
}

TEST_F(StatusSocketTest, ASilentClientDoesNotHoldUpTheOthers) {
  loop::EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  StatusServer server;
  ASSERT_TRUE(server.listen(path_).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(server
                  .attach(loop,
                          [&](std::string_view line) {
                            seen.emplace_back(line);
                            return std::string(line);
                          })
                  .ok());
  const int silent = connect_client();
  const int talking = connect_client();
  ASSERT_GE(silent, 0);
  ASSERT_GE(talking, 0);
  ASSERT_EQ(write(talking, "reload\n", 7), 7);
  run_until(loop, [&] { return seen.size() == 2; });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "reload") << "the request was not kept waiting behind the silent client";
  EXPECT_EQ(seen[1], "status");
  EXPECT_EQ(read_all(talking), "reload");
  EXPECT_EQ(read_all(silent), "status");
}

TEST_F(StatusSocketTest, QuerySendsItsRequest) {
  loop::EventLoop loop;
  ASSERT_TRUE(loop.init({}).ok());
  StatusServer server;
  ASSERT_TRUE(server.listen(path_).ok());
  ASSERT_TRUE(
      server.attach(loop, [](std::string_view line) { return "got " + std::string(line); }).ok());
  // query() blocks until the answer: run it on a thread while the loop serves.
  core::Result<std::string> answer = core::Error{"not asked"};
  std::thread client([&] { answer = query(path_, "reload", std::chrono::milliseconds(2000)); });
  run_until(
      loop, [&] { return false; }, std::chrono::milliseconds(200));
  client.join();
  ASSERT_TRUE(answer.ok()) << answer.message();
  EXPECT_EQ(*answer, "got reload");
}

TEST_F(StatusSocketTest, ALiveSocketIsRefusedAndKept) {
  StatusServer first;
  ASSERT_TRUE(first.listen(path_).ok());
  const ino_t before = inode();
  {
    StatusServer second;
    const std::string error = second.listen(path_).message();
    EXPECT_NE(error.find("in use (is another vipd running on this interface?)"), std::string::npos)
        << error;
  }
  EXPECT_EQ(inode(), before) << "the refused server removed or replaced the live socket";
  EXPECT_EQ(ask(first, "first"), "first:status");
}

TEST_F(StatusSocketTest, AtExitOnlyOurOwnFileIsRemoved) {
  {
    StatusServer server;
    ASSERT_TRUE(server.listen(path_).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path_)) << "a clean exit removes its own file";
  {
    StatusServer old;
    ASSERT_TRUE(old.listen(path_).ok());
    // Someone else's file took the path since (a later run after we were thought dead).
    std::filesystem::remove(path_);
    leave_stale_file();
  }
  EXPECT_TRUE(std::filesystem::exists(path_)) << "exit removed a file that was not ours";
}

}  // namespace
}  // namespace vipd::app
