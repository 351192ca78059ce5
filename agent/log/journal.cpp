#include "log/journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace vipd::log {
namespace {

// sd-daemon(3)'s SD_DEBUG ... SD_CRIT: syslog priorities journald reads from a line's start.
// Spelled out rather than taken from <systemd/sd-daemon.h>: five fixed strings are not worth a
// build dependency (and the container image builds without libsystemd-dev).
constexpr std::string_view kDebug = "<7>";
constexpr std::string_view kInfo = "<6>";
constexpr std::string_view kWarning = "<4>";
constexpr std::string_view kErr = "<3>";
constexpr std::string_view kCrit = "<2>";

// "DEV:INODE", both decimal; false on anything else.
bool parse_dev_inode(std::string_view text, unsigned long long& dev, unsigned long long& inode) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const char* end = text.data() + text.size();
  auto [dev_end, dev_error] = std::from_chars(text.data(), text.data() + colon, dev);
  if (dev_error != std::errc() || dev_end != text.data() + colon || colon == 0) return false;
  const char* inode_begin = text.data() + colon + 1;
  auto [inode_end, inode_error] = std::from_chars(inode_begin, end, inode);
  return inode_error == std::errc() && inode_end == end && inode_begin != end;
}

}  // namespace

bool is_journal_stream(int fd, const char* journal_stream) {
  if (journal_stream == nullptr) return false;
  unsigned long long dev = 0;
  unsigned long long inode = 0;
  if (!parse_dev_inode(journal_stream, dev, inode)) return false;
  struct stat info {};
  if (fstat(fd, &info) != 0) return false;
  return static_cast<unsigned long long>(info.st_dev) == dev &&
         static_cast<unsigned long long>(info.st_ino) == inode;
}

bool stdout_is_journal() {
  return is_journal_stream(STDOUT_FILENO, std::getenv("JOURNAL_STREAM"));
}

std::string_view journal_prefix(Level level) {
  switch (level) {
    case Level::trace:
    case Level::debug:
      return kDebug;
    case Level::info:
      return kInfo;
    case Level::warn:
      return kWarning;
    case Level::error:
      return kErr;
    case Level::critical:
      return kCrit;
  }
  return kInfo;
}

}  // namespace vipd::log
