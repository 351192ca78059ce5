// journald: is our output stream the journal, and the priority prefix it understands there.
#pragma once

#include <string_view>

#include "log/record.h"

namespace vipd::log {

// True when `fd` is the stream systemd connected to the journal: JOURNAL_STREAM ("DEV:INODE",
// systemd.exec(5)) names its device and inode. `journal_stream` is the variable's value (null:
// unset). A redirect (vipd run > file) or a child that inherited the variable but not the stream
// breaks the match, so the prefixes go to journald only.
bool is_journal_stream(int fd, const char* journal_stream);
// is_journal_stream for stdout and this process's JOURNAL_STREAM.
bool stdout_is_journal();

// "<6>" for info etc. (sd-daemon(3)): journald strips it and stores it as the line's PRIORITY.
std::string_view journal_prefix(Level level);

}  // namespace vipd::log
