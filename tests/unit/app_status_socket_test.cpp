// The status socket with a filesystem path: a stale file left by a killed run is replaced, a live
// one (another vipd) is refused and left alone, and only our own file is removed at exit; a
// snapshot larger than the default socket buffer (255 instances) reaches the client whole.
#include "app/status_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>

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

  // One request: connect, let the server answer, read it.
  std::optional<std::string> ask(StatusServer& server, const std::string& answer) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un where = address();
    if (connect(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
      close(fd);
      return std::nullopt;
    }
    server.serve([&] { return answer; });
    char buffer[256] = {};
    const ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    return n > 0 ? std::optional<std::string>(std::string(buffer, static_cast<std::size_t>(n)))
                 : std::nullopt;
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
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un where = address();
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where), 0);
  server.serve([&] { return big; });  // returns before the client reads anything
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
  EXPECT_EQ(ask(server, "{\"ok\":true}"), "{\"ok\":true}");
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
  EXPECT_EQ(ask(first, "first"), "first");
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
