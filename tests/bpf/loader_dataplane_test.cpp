// agent/bpf (vipd::bpf::Dataplane) in a scratch namespace with a veth pair: attach, pins, restart
// after a crash, coexistence with foreign XDP and tc users, bpffs handling, maps and events.
//
// The whole binary runs in a private mount namespace, so every bpffs it mounts stays invisible to
// the host (the host's /sys/fs/bpf may not be a bpffs at all: that is the `ip netns exec` case).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bpf/dataplane.h"
#include "bpf/prog_info.h"
#include "tc_test_support.h"

namespace vipd::bpf {

// The seam Dataplane opens to tests: a SIGKILL leaves attachments and pins behind.
class DataplaneTestAccess {
 public:
  static void abandon(Dataplane& dataplane) { dataplane.abandon(); }
};

namespace test {
namespace {

constexpr const char* kInterface = "vipdt0";
constexpr const char* kPeer = "vipdt1";
const std::string kPinDir = "/sys/fs/bpf/vipd/vipdt0";

struct XdpIds {
  std::uint32_t native = 0;
  std::uint32_t generic = 0;
};

XdpIds xdp_ids(int ifindex) {
  bpf_xdp_query_opts query;
  clear_opts(query);
  EXPECT_EQ(bpf_xdp_query(ifindex, 0, &query), 0);
  return {query.drv_prog_id, query.skb_prog_id};
}

// Our filter's program id on one hook, 0 if none.
std::uint32_t our_tc_prog_id(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook;
  clear_opts(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  bpf_tc_opts opts;
  clear_opts(opts);
  opts.handle = Dataplane::kTcHandle;
  opts.priority = Dataplane::kTcPriority;
  libbpf_print_fn_t previous = libbpf_set_print(nullptr);  // "not found" is an answer here
  int error = bpf_tc_query(&hook, &opts);
  libbpf_set_print(previous);
  return error == 0 ? opts.prog_id : 0;
}

std::string command_output(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  pclose(pipe);
  return output;
}

int count_occurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// tc's own view: lines of our filters (by handle) on one hook.
int tc_filters_with_our_handle(const std::string& dev, const std::string& hook) {
  return count_occurrences(command_output("tc filter show dev " + dev + " " + hook),
                           "handle 0x56495044");
}

bool has_clsact(const std::string& dev) {
  return command_output("tc qdisc show dev " + dev).find("clsact") != std::string::npos;
}

bool path_exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

mode_t file_mode(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

std::uint32_t pinned_map_id(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return 0;
  bpf_map_info info{};
  std::uint32_t length = sizeof(info);
  std::uint32_t id = bpf_obj_get_info_by_fd(fd, &info, &length) == 0 ? info.id : 0;
  close(fd);
  return id;
}

std::uint32_t map_id(const Dataplane& dataplane, std::string_view name) {
  bpf_map_info info{};
  std::uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(dataplane.map_fd(name), &info, &length) != 0) return 0;
  return info.id;
}

long filesystem_type(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) return 0;
  return static_cast<long>(fs.f_type);
}

// A minimal XDP program that is not vipd's: r0 = XDP_PASS; exit.
int load_foreign_xdp() {
  const bpf_insn program[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_xdp", "GPL", program, 2, nullptr);
}

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { enter_private_mount_namespace(); }

  void SetUp() override {
    netns_ = std::make_unique<ScratchNetns>("ld");
    ASSERT_TRUE(netns_->ok()) << "cannot create namespace " << netns_->name();
    ASSERT_EQ(
        run_command(std::string("ip link add ") + kInterface + " type veth peer name " + kPeer), 0);
    ASSERT_EQ(run_command(std::string("ip link set ") + kInterface + " up"), 0);
    ASSERT_EQ(run_command(std::string("ip link set ") + kPeer + " up"), 0);
    ifindex_ = static_cast<int>(if_nametoindex(kInterface));
    lo_ = static_cast<int>(if_nametoindex("lo"));
    ASSERT_GT(ifindex_, 0);
  }

  void TearDown() override { netns_.reset(); }

  static Options options() {
    Options options;
    options.interface = kInterface;
    return options;
  }

  static std::unique_ptr<Dataplane> open_and_attach(const Options& options) {
    core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options);
    EXPECT_TRUE(opened.ok()) << opened.message();
    if (!opened) return nullptr;
    std::unique_ptr<Dataplane> dataplane = std::move(*opened);
    core::Status attached = dataplane->attach();
    EXPECT_TRUE(attached.ok()) << attached.message();
    return attached ? std::move(dataplane) : nullptr;
  }

  void expect_exactly_attached(const Dataplane& dataplane) {
    XdpIds ids = xdp_ids(ifindex_);
    EXPECT_EQ(ids.native, dataplane.state().xdp_prog_id);
    EXPECT_EQ(ids.generic, 0u);
    for (int ifindex : {ifindex_, lo_}) {
      EXPECT_EQ(our_tc_prog_id(ifindex, BPF_TC_INGRESS), dataplane.state().tc_ingress_prog_id);
      EXPECT_EQ(our_tc_prog_id(ifindex, BPF_TC_EGRESS), dataplane.state().tc_egress_prog_id);
    }
    for (const char* dev : {kInterface, "lo"}) {
      EXPECT_EQ(tc_filters_with_our_handle(dev, "ingress"), 1) << dev;
      EXPECT_EQ(tc_filters_with_our_handle(dev, "egress"), 1) << dev;
    }
  }

  void expect_nothing_attached() {
    XdpIds ids = xdp_ids(ifindex_);
    EXPECT_EQ(ids.native, 0u);
    EXPECT_EQ(ids.generic, 0u);
    for (int ifindex : {ifindex_, lo_}) {
      EXPECT_EQ(our_tc_prog_id(ifindex, BPF_TC_INGRESS), 0u);
      EXPECT_EQ(our_tc_prog_id(ifindex, BPF_TC_EGRESS), 0u);
    }
    EXPECT_FALSE(path_exists(kPinDir));
  }

  std::unique_ptr<ScratchNetns> netns_;
  int ifindex_ = 0;
  int lo_ = 0;
};

TEST_F(LoaderTest, AttachesOnceAndPinsAndCleanStopRemovesEverything) {
  std::unique_ptr<Dataplane> dataplane = open_and_attach(options());
  ASSERT_NE(dataplane, nullptr);
  const AttachState& state = dataplane->state();
  EXPECT_EQ(state.xdp_mode, XdpMode::Native) << "veth supports native XDP";
  EXPECT_FALSE(state.replaced_stale_xdp);
  EXPECT_NE(state.xdp_prog_id, 0u);
  expect_exactly_attached(*dataplane);
  EXPECT_TRUE(has_clsact(kInterface));

  ASSERT_TRUE(state.pinned) << state.pin_note;
  EXPECT_EQ(state.pin_dir, kPinDir);
  EXPECT_EQ(filesystem_type("/sys/fs/bpf"), static_cast<long>(BPF_FS_MAGIC));
  for (const char* name : {"vipd_cfg", "vipd_vrid_cfg", "vipd_vrid_stat", "vipd_last_adv",
                           "vipd_events", "vipd_ports", "vipd_port_stat", "vipd_tc_events"}) {
    std::string path = kPinDir + "/" + name;
    EXPECT_TRUE(path_exists(path)) << path;
    EXPECT_EQ(file_mode(path), 0600u) << path;
  }
  EXPECT_EQ(pinned_map_id(kPinDir + "/vipd_tc_events"), map_id(*dataplane, "vipd_tc_events"));
  EXPECT_EQ(pinned_map_id(kPinDir + "/vipd_events"), map_id(*dataplane, "vipd_events"));

  dataplane.reset();
  expect_nothing_attached();
  EXPECT_FALSE(has_clsact(kInterface)) << "we created it, nobody else uses it";
  EXPECT_FALSE(has_clsact("lo"));
}

TEST_F(LoaderTest, ForcedGenericMode) {
  Options generic = options();
  generic.xdp_mode = XdpMode::Generic;
  std::unique_ptr<Dataplane> dataplane = open_and_attach(generic);
  ASSERT_NE(dataplane, nullptr);
  EXPECT_EQ(dataplane->state().xdp_mode, XdpMode::Generic);
  XdpIds ids = xdp_ids(ifindex_);
  EXPECT_EQ(ids.generic, dataplane->state().xdp_prog_id);
  EXPECT_EQ(ids.native, 0u);
  dataplane.reset();
  EXPECT_EQ(xdp_ids(ifindex_).generic, 0u);
}

TEST_F(LoaderTest, AutoModeFallsBackToGenericWhereTheDriverHasNoXdp) {
  Options loopback = options();
  loopback.interface = "lo";  // no native XDP; tc goes on lo once
  std::unique_ptr<Dataplane> dataplane = open_and_attach(loopback);
  ASSERT_NE(dataplane, nullptr);
  EXPECT_EQ(dataplane->state().xdp_mode, XdpMode::Generic);
  EXPECT_EQ(xdp_ids(lo_).generic, dataplane->state().xdp_prog_id);
  EXPECT_EQ(tc_filters_with_our_handle("lo", "ingress"), 1);
  dataplane.reset();
  EXPECT_EQ(xdp_ids(lo_).generic, 0u);
  EXPECT_FALSE(has_clsact("lo"));
}

TEST_F(LoaderTest, ForcedNativeModeFailsClearlyWithoutDriverSupport) {
  Options loopback = options();
  loopback.interface = "lo";
  loopback.xdp_mode = XdpMode::Native;
  core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(loopback);
  ASSERT_TRUE(opened.ok()) << opened.message();
  core::Status attached = (*opened)->attach();
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.message().rfind("attaching XDP to lo failed (native: ", 0), 0u)
      << attached.message();
  EXPECT_EQ(attached.message().find("generic"), std::string::npos) << "no fallback when forced";
  EXPECT_EQ(xdp_ids(lo_).generic, 0u);
  EXPECT_FALSE(has_clsact("lo")) << "the failed attach removed what it created";
}

TEST_F(LoaderTest, RestartAfterLeakReplacesProgramsFiltersAndPins) {
  std::unique_ptr<Dataplane> crashed = open_and_attach(options());
  ASSERT_NE(crashed, nullptr);
  const std::uint32_t old_xdp = crashed->state().xdp_prog_id;
  const std::uint32_t old_ingress = crashed->state().tc_ingress_prog_id;
  const std::uint32_t old_events_map = map_id(*crashed, "vipd_tc_events");
  DataplaneTestAccess::abandon(*crashed);
  crashed.reset();
  ASSERT_EQ(xdp_ids(ifindex_).native, old_xdp) << "the leaked program stays attached";
  ASSERT_TRUE(path_exists(kPinDir + "/vipd_tc_events"));
  ASSERT_TRUE(path_exists(kPinDir + "/clsact-created-vipdt0"));

  std::unique_ptr<Dataplane> restarted = open_and_attach(options());
  ASSERT_NE(restarted, nullptr);
  EXPECT_TRUE(restarted->state().replaced_stale_xdp);
  EXPECT_NE(restarted->state().xdp_prog_id, old_xdp);
  EXPECT_NE(restarted->state().tc_ingress_prog_id, old_ingress);
  expect_exactly_attached(*restarted);
  std::uint32_t pinned = pinned_map_id(kPinDir + "/vipd_tc_events");
  EXPECT_NE(pinned, old_events_map);
  EXPECT_EQ(pinned, map_id(*restarted, "vipd_tc_events"));

  restarted.reset();
  expect_nothing_attached();
  EXPECT_FALSE(has_clsact(kInterface)) << "the crashed run created it; the marker says so";
}

// In a child that holds CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN but not CAP_SYS_ADMIN (a pod with
// four capabilities): open and attach, report "y<replaced 0/1>" or "n<message>", exit.
std::string restart_without_sys_admin(const Options& options) {
  int report[2];
  if (pipe(report) != 0) return "pipe failed";
  pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (syscall(SYS_capget, &header, data) != 0) _exit(2);
    data[0].effective &= ~(1U << CAP_SYS_ADMIN);
    if (syscall(SYS_capset, &header, data) != 0) _exit(3);
    core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options);
    std::string outcome;
    if (!opened) {
      outcome = "n" + opened.message();
    } else if (core::Status status = (*opened)->attach(); !status) {
      outcome = "n" + status.message();
    } else {
      outcome = std::string("y") + ((*opened)->state().replaced_stale_xdp ? "1" : "0");
    }
    if (write(report[1], outcome.data(), outcome.size()) < 0) _exit(4);
    _exit(0);  // no destructor runs: what the child attached stays behind, as a crashed run's
  }
  close(report[1]);
  std::string outcome;
  char buffer[512];
  for (ssize_t got; (got = read(report[0], buffer, sizeof(buffer))) > 0;) {
    outcome.append(buffer, static_cast<std::size_t>(got));
  }
  close(report[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return outcome;
}

// A pod with four capabilities cannot reach a program by id (BPF_PROG_GET_FD_BY_ID needs
// CAP_SYS_ADMIN): its restart after a crash recognises the dead run's programs through their pins
// and replaces them; without those pins it could only refuse them as foreign.
TEST_F(LoaderTest, RestartWithoutSysAdminReplacesThroughTheProgramPins) {
  std::unique_ptr<Dataplane> crashed = open_and_attach(options());
  ASSERT_NE(crashed, nullptr);
  const std::uint32_t old_xdp = crashed->state().xdp_prog_id;
  DataplaneTestAccess::abandon(*crashed);
  crashed.reset();
  ASSERT_TRUE(path_exists(kPinDir + "/vipd_xdp_advert"));
  ASSERT_TRUE(path_exists(kPinDir + "/vipd_tc_ingress"));

  EXPECT_EQ(restart_without_sys_admin(options()), "y1");
  // The child exited without detaching: what it attached is its own leftover now, and replaced
  // in turn by a privileged restart, which then cleans up.
  EXPECT_NE(xdp_ids(ifindex_).native, old_xdp);
  std::unique_ptr<Dataplane> restarted = open_and_attach(options());
  ASSERT_NE(restarted, nullptr);
  expect_exactly_attached(*restarted);
  restarted.reset();
  expect_nothing_attached();
}

TEST_F(LoaderTest, RestartWithoutSysAdminAndWithoutPinsRefusesTheLeftover) {
  std::unique_ptr<Dataplane> crashed = open_and_attach(options());
  ASSERT_NE(crashed, nullptr);
  DataplaneTestAccess::abandon(*crashed);
  crashed.reset();
  for (const char* name : {"vipd_xdp_advert", "vipd_tc_ingress", "vipd_tc_egress"}) {
    ASSERT_EQ(unlink((kPinDir + "/" + name).c_str()), 0) << name;
  }
  const std::string outcome = restart_without_sys_admin(options());
  EXPECT_EQ(outcome.rfind("n", 0), 0u) << outcome;
  EXPECT_NE(outcome.find("that is not vipd's; refusing to replace it"), std::string::npos)
      << outcome;
  std::unique_ptr<Dataplane> restarted = open_and_attach(options());
  ASSERT_NE(restarted, nullptr);
  restarted.reset();
  expect_nothing_attached();
}

TEST_F(LoaderTest, RestartAfterSigkillLeavesOneCopy) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options());
    char outcome = opened && (*opened)->attach() ? 'y' : 'n';
    if (write(ready[1], &outcome, 1) != 1) _exit(2);
    pause();  // until SIGKILL
    _exit(0);
  }
  close(ready[1]);
  char outcome = 0;
  ASSERT_EQ(read(ready[0], &outcome, 1), 1);
  close(ready[0]);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(outcome, 'y');
  const std::uint32_t dead_xdp = xdp_ids(ifindex_).native;
  ASSERT_NE(dead_xdp, 0u);

  std::unique_ptr<Dataplane> restarted = open_and_attach(options());
  ASSERT_NE(restarted, nullptr);
  EXPECT_NE(restarted->state().xdp_prog_id, dead_xdp);
  expect_exactly_attached(*restarted);
  restarted.reset();
  expect_nothing_attached();
}

TEST_F(LoaderTest, RestartInAnotherXdpModeReplacesTheStaleCopy) {
  Options generic = options();
  generic.xdp_mode = XdpMode::Generic;
  std::unique_ptr<Dataplane> crashed = open_and_attach(generic);
  ASSERT_NE(crashed, nullptr);
  DataplaneTestAccess::abandon(*crashed);
  crashed.reset();
  ASSERT_NE(xdp_ids(ifindex_).generic, 0u);

  std::unique_ptr<Dataplane> restarted = open_and_attach(options());
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->state().xdp_mode, XdpMode::Native);
  expect_exactly_attached(*restarted);
}

TEST_F(LoaderTest, RestartInAutoModeWhereOnlyGenericWorksReplacesTheStaleGenericCopy) {
  // Auto tries native first, so the stale generic copy is removed before native fails on lo; the
  // generic attempt then attaches afresh. (Asking the kernel to replace the removed program also
  // works while nothing else holds it, since "no program" matches; the loader no longer relies on
  // that.)
  Options loopback = options();
  loopback.interface = "lo";
  std::unique_ptr<Dataplane> crashed = open_and_attach(loopback);
  ASSERT_NE(crashed, nullptr);
  ASSERT_EQ(crashed->state().xdp_mode, XdpMode::Generic);
  const std::uint32_t old_xdp = crashed->state().xdp_prog_id;
  DataplaneTestAccess::abandon(*crashed);
  crashed.reset();
  ASSERT_EQ(xdp_ids(lo_).generic, old_xdp) << "the leaked program stays attached";

  std::unique_ptr<Dataplane> restarted = open_and_attach(loopback);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->state().xdp_mode, XdpMode::Generic);
  EXPECT_TRUE(restarted->state().replaced_stale_xdp);
  EXPECT_NE(restarted->state().xdp_prog_id, old_xdp);
  EXPECT_EQ(xdp_ids(lo_).generic, restarted->state().xdp_prog_id);
  restarted.reset();
  EXPECT_EQ(xdp_ids(lo_).generic, 0u);
}

TEST_F(LoaderTest, ForeignXdpProgramIsRefusedAndKept) {
  int foreign = load_foreign_xdp();
  ASSERT_GE(foreign, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_xdp_attach(ifindex_, foreign, XDP_FLAGS_DRV_MODE, nullptr), 0);
  core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options());
  ASSERT_TRUE(opened.ok()) << opened.message();
  core::Status attached = (*opened)->attach();
  ASSERT_FALSE(attached.ok());
  EXPECT_NE(attached.message().find("'foreign_xdp'"), std::string::npos) << attached.message();
  EXPECT_NE(attached.message().find("not vipd's"), std::string::npos) << attached.message();
  EXPECT_EQ(xdp_ids(ifindex_).native, program_id(foreign));
  // The failed attach left no tc filters behind.
  EXPECT_EQ(our_tc_prog_id(ifindex_, BPF_TC_INGRESS), 0u);
  close(foreign);
}

TEST_F(LoaderTest, ForeignTcFilterAddedBeforeSurvivesAttachAndDetach) {
  ASSERT_EQ(run_command("tc qdisc add dev vipdt0 clsact"), 0);
  ASSERT_EQ(run_command("tc filter add dev vipdt0 ingress prio 1 u32 match u32 0 0"), 0);
  std::unique_ptr<Dataplane> dataplane = open_and_attach(options());
  ASSERT_NE(dataplane, nullptr);
  EXPECT_NE(command_output("tc filter show dev vipdt0 ingress").find("pref 1 u32"),
            std::string::npos);
  dataplane.reset();
  std::string remaining = command_output("tc filter show dev vipdt0 ingress");
  EXPECT_NE(remaining.find("pref 1 u32"), std::string::npos) << remaining;
  EXPECT_EQ(tc_filters_with_our_handle(kInterface, "ingress"), 0);
  EXPECT_TRUE(has_clsact(kInterface)) << "not ours to delete";
}

TEST_F(LoaderTest, ForeignTcFilterAddedAfterSurvivesDetach) {
  std::unique_ptr<Dataplane> dataplane = open_and_attach(options());
  ASSERT_NE(dataplane, nullptr);
  ASSERT_EQ(run_command("tc filter add dev vipdt0 egress prio 1 u32 match u32 0 0"), 0);
  dataplane.reset();
  std::string remaining = command_output("tc filter show dev vipdt0 egress");
  EXPECT_NE(remaining.find("pref 1 u32"), std::string::npos) << remaining;
  EXPECT_EQ(tc_filters_with_our_handle(kInterface, "egress"), 0);
  EXPECT_TRUE(has_clsact(kInterface)) << "still in use by the foreign filter";
}

TEST_F(LoaderTest, MountsBpffsOverANonBpffsDirectory) {
  // As under `ip netns exec` (a fresh sysfs) or a container: /sys/fs/bpf is something else.
  ASSERT_EQ(mount("tmpfs", "/sys/fs/bpf", "tmpfs", 0, "mode=0755"), 0) << std::strerror(errno);
  ASSERT_EQ(filesystem_type("/sys/fs/bpf"), static_cast<long>(TMPFS_MAGIC));
  {
    std::unique_ptr<Dataplane> dataplane = open_and_attach(options());
    ASSERT_NE(dataplane, nullptr);
    EXPECT_TRUE(dataplane->state().pinned) << dataplane->state().pin_note;
    EXPECT_EQ(filesystem_type("/sys/fs/bpf"), static_cast<long>(BPF_FS_MAGIC));
    EXPECT_EQ(file_mode(kPinDir + "/vipd_ports"), 0600u);
  }
  EXPECT_EQ(umount2("/sys/fs/bpf", MNT_DETACH), 0);  // our bpffs
  EXPECT_EQ(umount2("/sys/fs/bpf", MNT_DETACH), 0);  // the tmpfs
}

TEST_F(LoaderTest, RunsWithoutPinsWhenNoBpffsMayBeMounted) {
  char scratch[] = "/tmp/vipdt-pins-XXXXXX";
  ASSERT_NE(mkdtemp(scratch), nullptr);
  Options no_mount = options();
  no_mount.bpffs_root = scratch;
  no_mount.mount_bpffs = false;
  std::unique_ptr<Dataplane> dataplane = open_and_attach(no_mount);
  ASSERT_NE(dataplane, nullptr);
  EXPECT_FALSE(dataplane->state().pinned);
  EXPECT_NE(dataplane->state().pin_note.find("not a bpffs"), std::string::npos)
      << dataplane->state().pin_note;
  EXPECT_NE(dataplane->state().pin_note.find("running without pins"), std::string::npos);
  EXPECT_NE(xdp_ids(ifindex_).native, 0u);
  dataplane.reset();
  EXPECT_EQ(rmdir(scratch), 0) << "nothing was created in it";
}

TEST_F(LoaderTest, DottedInterfaceNameGetsAPinDirectory) {
  // bpffs refuses '.' in names; VLAN interfaces are called like this.
  ASSERT_EQ(run_command("ip link add vipdt2.5 type veth peer name vipdt3"), 0);
  ASSERT_EQ(run_command("ip link set vipdt2.5 up"), 0);
  Options dotted = options();
  dotted.interface = "vipdt2.5";
  dotted.tc_on_loopback = false;
  std::unique_ptr<Dataplane> dataplane = open_and_attach(dotted);
  ASSERT_NE(dataplane, nullptr);
  EXPECT_TRUE(dataplane->state().pinned) << dataplane->state().pin_note;
  EXPECT_EQ(dataplane->state().pin_dir, "/sys/fs/bpf/vipd/vipdt2:5");
  EXPECT_EQ(file_mode("/sys/fs/bpf/vipd/vipdt2:5/vipd_ports"), 0600u);
  EXPECT_EQ(our_tc_prog_id(lo_, BPF_TC_INGRESS), 0u) << "lo left alone when asked";
  dataplane.reset();
  EXPECT_FALSE(path_exists("/sys/fs/bpf/vipd/vipdt2:5"));
}

TEST_F(LoaderTest, UnprivilegedOpenReportsOneLineCause) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(report[0]);
    // Dropping root drops every capability, CAP_BPF included.
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options());
    std::string message = opened ? "unexpectedly loaded" : opened.message();
    if (write(report[1], message.data(), message.size()) < 0) _exit(3);
    _exit(0);
  }
  close(report[1]);
  std::string message;
  char buffer[512];
  for (ssize_t got; (got = read(report[0], buffer, sizeof(buffer))) > 0;) {
    message.append(buffer, static_cast<std::size_t>(got));
  }
  close(report[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(message.rfind("BPF unavailable: ", 0), 0u) << message;
  EXPECT_NE(message.find("Operation not permitted"), std::string::npos) << message;
  EXPECT_NE(message.find("(CAP_BPF and CAP_PERFMON missing from the effective set"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
}

TEST_F(LoaderTest, ConfigurationMapsFollowTheStructs) {
  core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options());
  ASSERT_TRUE(opened.ok()) << opened.message();
  Dataplane& dataplane = **opened;

  ASSERT_TRUE(dataplane.set_global_config({std::chrono::seconds(3), true}).ok());
  vipd_global_cfg global{};
  __u32 zero = 0;
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_cfg"), &zero, &global), 0);
  EXPECT_EQ(global.stale_ns, 3000000000ull);
  EXPECT_EQ(global.drop_invalid, 1);

  VridConfig vrid;
  vrid.vrid = 51;
  vrid.version = core::VrrpVersion::V2;
  vrid.auth_type = core::AuthType::SimplePassword;
  vrid.v2_interval_s = 1;
  vrid.auth_key = core::make_auth_key("secret");
  ASSERT_TRUE(dataplane.set_vrid_config(vrid).ok());
  vipd_vrid_cfg stored{};
  __u32 key = 51;
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.enabled, 1);
  EXPECT_EQ(stored.version, 2);
  EXPECT_EQ(stored.family, 4);
  EXPECT_EQ(stored.auth_type, 1);
  EXPECT_EQ(stored.v2_interval_s, 1);
  EXPECT_EQ(std::memcmp(stored.auth_key, "secret\0\0", 8), 0);
  EXPECT_EQ(stored.deliver_all, 0);
  // set_deliver_all flips that byte only; the rest of the entry stays.
  ASSERT_TRUE(dataplane.set_deliver_all(51, true).ok());
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.deliver_all, 1);
  EXPECT_EQ(stored.enabled, 1);
  EXPECT_EQ(stored.v2_interval_s, 1);
  EXPECT_EQ(std::memcmp(stored.auth_key, "secret\0\0", 8), 0);
  ASSERT_TRUE(dataplane.set_deliver_all(51, false).ok());
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.deliver_all, 0);
  EXPECT_EQ(stored.auth_type, 1);
  vrid.deliver_all = true;
  ASSERT_TRUE(dataplane.set_vrid_config(vrid).ok());
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.deliver_all, 1);
  ASSERT_TRUE(dataplane.clear_vrid_config(51).ok());
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.enabled, 0);

  core::IpAddress peer_a = *core::IpAddress::parse("198.18.0.2");
  core::IpAddress peer_b = *core::IpAddress::parse("fd00:198:18::2");
  std::vector<Peer> peers = {{peer_a, true}, {peer_b, true}};
  ASSERT_TRUE(dataplane.set_peers(peers).ok());
  std::vector<Peer> fewer = {{peer_b, false}};
  ASSERT_TRUE(dataplane.set_peers(fewer).ok());
  vipd_addr abi{};
  __u8 present = 0xFF;
  abi.family = 6;
  std::memcpy(abi.addr, peer_b.data(), 16);
  EXPECT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_peers"), &abi, &present), 0);
  EXPECT_EQ(present, 0) << "a learned peer: known, not TTL-exempt";
  ASSERT_TRUE(dataplane.set_peers(peers).ok());
  EXPECT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_peers"), &abi, &present), 0);
  EXPECT_EQ(present, VIPD_PEER_TTL_EXEMPT);
  ASSERT_TRUE(dataplane.set_peers(fewer).ok());

  // The unicast window is one field of the VRID's entry; the rest stays.
  ASSERT_TRUE(dataplane.set_vrid_config(vrid).ok());
  ASSERT_TRUE(dataplane.set_unicast_window(51, core::Time(123456789)).ok());
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vrid_cfg"), &key, &stored), 0);
  EXPECT_EQ(stored.unicast_open_until_ns, 123456789u);
  EXPECT_EQ(stored.enabled, 1);
  EXPECT_EQ(stored.auth_type, 1);
  abi = {};
  abi.family = 4;
  std::memcpy(abi.addr, peer_a.data(), 4);
  EXPECT_NE(bpf_map_lookup_elem(dataplane.map_fd("vipd_peers"), &abi, &present), 0)
      << "removed from the set";

  std::vector<Vip> vips = {{*core::IpAddress::parse("198.18.1.10"), 51}};
  ASSERT_TRUE(dataplane.set_vips(vips).ok());
  vipd_vip_state vip_state{};
  abi = {};
  abi.family = 4;
  std::memcpy(abi.addr, vips[0].address.data(), 4);
  ASSERT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_vips"), &abi, &vip_state), 0);
  EXPECT_EQ(vip_state.vrid, 51u);

  std::vector<core::MacAddress> macs = {{0x02, 0, 0, 0, 0, 0x01}};
  ASSERT_TRUE(dataplane.set_own_macs(macs).ok());
  vipd_mac mac{};
  mac.addr[0] = 0x02;
  mac.addr[5] = 0x01;
  EXPECT_EQ(bpf_map_lookup_elem(dataplane.map_fd("vipd_own_macs"), &mac, &present), 0);

  std::vector<std::uint16_t> ports = {8080, 8081};
  ASSERT_TRUE(dataplane.set_monitored_ports(ports).ok());
  std::vector<std::uint16_t> one_port = {8081};
  ASSERT_TRUE(dataplane.set_monitored_ports(one_port).ok());
  core::Result<vipd_port_stat> kept = dataplane.port_stats(8081);
  ASSERT_TRUE(kept.ok()) << kept.message();
  EXPECT_EQ(kept->syn_rx, 0u);
  EXPECT_FALSE(dataplane.port_stats(8080).ok()) << "no longer monitored";

  core::Result<vipd_vrid_stat> vrid_stats = dataplane.vrid_stats(51);
  ASSERT_TRUE(vrid_stats.ok()) << vrid_stats.message();
  EXPECT_EQ(vrid_stats->rx_valid, 0u);
  EXPECT_FALSE(dataplane.last_advert(51).has_value());
}

// set_vips changes only what differs from its previous call (a whole node taking over 255
// instances calls it once per instance: replacing the full set each time cost ~1.2 s at 1020 VIPs),
// yet the first call still clears what an earlier run left in the pinned map, and a VIP that
// stays keeps its conflict counter.
TEST_F(LoaderTest, VipSetUpdatesAreIncrementalAndKeepCounters) {
  core::Result<std::unique_ptr<Dataplane>> opened = Dataplane::open(options());
  ASSERT_TRUE(opened.ok()) << opened.message();
  Dataplane& dataplane = **opened;
  const int fd = dataplane.map_fd("vipd_vips");
  auto key_of = [](const char* text) {
    vipd_addr key{};
    key.family = 4;
    std::memcpy(key.addr, core::IpAddress::parse(text)->data(), 4);
    return key;
  };
  auto keys = [&] {
    std::vector<std::string> found;
    vipd_addr key{};
    vipd_addr next{};
    const void* previous = nullptr;
    while (bpf_map_get_next_key(fd, previous, &next) == 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, next.addr, text, sizeof text);
      found.emplace_back(text);
      key = next;
      previous = &key;
    }
    std::sort(found.begin(), found.end());
    return found;
  };
  auto state_of = [&](const char* text) {
    vipd_vip_state state{};
    const vipd_addr key = key_of(text);
    EXPECT_EQ(bpf_map_lookup_elem(fd, &key, &state), 0) << text;
    return state;
  };
  auto vip = [](const char* text, std::uint8_t vrid) {
    return Vip{*core::IpAddress::parse(text), vrid};
  };

  vipd_vip_state leftover{};
  const vipd_addr stale = key_of("198.18.9.9");
  ASSERT_EQ(bpf_map_update_elem(fd, &stale, &leftover, BPF_ANY), 0);  // an earlier run's entry

  std::vector<Vip> first = {vip("198.18.1.10", 1), vip("198.18.1.11", 1)};
  ASSERT_TRUE(dataplane.set_vips(first).ok());
  EXPECT_EQ(keys(), (std::vector<std::string>{"198.18.1.10", "198.18.1.11"}));

  vipd_vip_state counted = state_of("198.18.1.10");
  counted.conflicts = 7;
  const vipd_addr kept = key_of("198.18.1.10");
  ASSERT_EQ(bpf_map_update_elem(fd, &kept, &counted, BPF_ANY), 0);  // as XDP counts a conflict

  std::vector<Vip> second = {vip("198.18.1.10", 1), vip("198.18.1.12", 2)};
  ASSERT_TRUE(dataplane.set_vips(second).ok());
  EXPECT_EQ(keys(), (std::vector<std::string>{"198.18.1.10", "198.18.1.12"}));
  EXPECT_EQ(state_of("198.18.1.10").conflicts, 7u);
  EXPECT_EQ(state_of("198.18.1.12").vrid, 2u);

  std::vector<Vip> moved = {vip("198.18.1.10", 3), vip("198.18.1.12", 2)};
  ASSERT_TRUE(dataplane.set_vips(moved).ok());
  EXPECT_EQ(state_of("198.18.1.10").vrid, 3u);
  EXPECT_EQ(state_of("198.18.1.10").conflicts, 7u);

  ASSERT_TRUE(dataplane.set_vips({}).ok());
  EXPECT_TRUE(keys().empty());
}

TEST_F(LoaderTest, RefusedConnectionOnLoopbackReachesTheEventLoop) {
  ASSERT_EQ(run_command("ip addr add 198.18.0.1/32 dev lo"), 0);
  std::unique_ptr<Dataplane> dataplane = open_and_attach(options());
  ASSERT_NE(dataplane, nullptr);
  std::vector<std::uint16_t> ports = {8081};
  ASSERT_TRUE(dataplane->set_monitored_ports(ports).ok());

  int epoll = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(epoll, 0);
  epoll_event interest{};
  interest.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(epoll, EPOLL_CTL_ADD, dataplane->event_fd(), &interest), 0);

  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(8081);
  inet_pton(AF_INET, "198.18.0.1", &address.sin_addr);
  EXPECT_NE(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(client);

  epoll_event ready{};
  ASSERT_EQ(epoll_wait(epoll, &ready, 1, 2000), 1);
  close(epoll);
  std::vector<Event> events;
  core::Result<int> delivered =
      dataplane->consume([&](const Event& event) { events.push_back(event); });
  ASSERT_TRUE(delivered.ok()) << delivered.message();
  EXPECT_EQ(*delivered, 1);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<vipd_port_event>(events[0]));
  EXPECT_EQ(std::get<vipd_port_event>(events[0]).port, 8081);
  EXPECT_EQ(std::get<vipd_port_event>(events[0]).hdr.ifindex, static_cast<std::uint32_t>(lo_));
  EXPECT_EQ(dataplane->wakeups(), 1u);

  core::Result<int> nothing = dataplane->consume([&](const Event&) { ADD_FAILURE(); });
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(*nothing, 0);
  EXPECT_EQ(dataplane->wakeups(), 1u) << "an empty consume is no wake-up";

  core::Result<vipd_port_stat> counters = dataplane->port_stats(8081);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->syn_rx, 1u);
  EXPECT_EQ(counters->rst_tx, 1u);
  EXPECT_EQ(counters->refused_events, 1u);
}

}  // namespace
}  // namespace test
}  // namespace vipd::bpf
