#include "bpf/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf/bpffs.h"
#include "bpf/privileges.h"
#include "bpf/prog_info.h"
#include "bpf/tc_attach.h"

// Generated skeletons embed the object file as one long string literal.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#include "vipd_tc.skel.h"
#include "vipd_xdp.skel.h"
#pragma GCC diagnostic pop

namespace vipd::bpf {

struct Dataplane::Skeletons {
  vipd_xdp* xdp = nullptr;
  vipd_tc* tc = nullptr;
  ring_buffer* events = nullptr;

  Skeletons() = default;
  Skeletons(const Skeletons&) = delete;
  Skeletons& operator=(const Skeletons&) = delete;
  ~Skeletons() {
    ring_buffer__free(events);
    vipd_tc__destroy(tc);
    vipd_xdp__destroy(xdp);
  }
};

namespace {

constexpr std::string_view kLoopback = "lo";

std::string load_failure(std::string_view object, int error) {
  std::string text = "BPF unavailable: bpf_object__load(" + std::string(object) +
                     ") failed: " + core::errno_text(error);
  if (error == -EPERM || error == -EACCES)
    text += " (" + bpf_permission_hint(effective_capabilities()) + ")";
  return text;
}

int find_map_fd(bpf_object* object, std::string_view name) {
  bpf_map* map = bpf_object__find_map_by_name(object, std::string(name).c_str());
  return map ? bpf_map__fd(map) : -1;
}

core::Status update_failure(std::string_view map, int error) {
  return core::Error{"updating " + std::string(map) + " failed: " + core::errno_text(error)};
}

vipd_addr to_abi(const core::IpAddress& address) {
  vipd_addr abi{};
  abi.family = static_cast<__u8>(address.family());
  std::memcpy(abi.addr, address.data(), address.size());
  return abi;
}

vipd_mac to_abi(const core::MacAddress& mac) {
  vipd_mac abi{};
  std::memcpy(abi.addr, mac.data(), mac.size());
  return abi;
}

template <typename Key>
bool same_key(const Key& a, const Key& b) {
  return std::memcmp(&a, &b, sizeof(Key)) == 0;
}

template <typename Key>
std::vector<Key> map_keys(int fd) {
  std::vector<Key> keys;
  Key key{};
  Key previous{};
  bool first = true;
  while (bpf_map_get_next_key(fd, first ? nullptr : &previous, &key) == 0) {
    keys.push_back(key);
    previous = key;
    first = false;
  }
  return keys;
}

// Deletes every key of `fd` that is not in `wanted`.
template <typename Key>
void delete_keys_except(int fd, const std::vector<Key>& wanted) {
  for (const Key& key : map_keys<Key>(fd)) {
    bool keep = std::any_of(wanted.begin(), wanted.end(),
                            [&](const Key& other) { return same_key(key, other); });
    if (!keep) bpf_map_delete_elem(fd, &key);
  }
}

// Makes the keys of a set-like map (value: a present byte) exactly `keys`.
template <typename Key>
core::Status replace_key_set(int fd, const std::vector<Key>& keys, std::string_view map) {
  delete_keys_except(fd, keys);
  const __u8 present = 1;
  for (const Key& key : keys) {
    if (bpf_map_update_elem(fd, &key, &present, BPF_ANY) != 0) return update_failure(map, errno);
  }
  return {};
}

// Per-CPU counter structs are all __u64 fields: summing is field-wise over the CPUs.
template <typename Value>
core::Result<Value> sum_per_cpu(int fd, const void* key, std::string_view map) {
  static_assert(sizeof(Value) % sizeof(__u64) == 0);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return core::Error{"cannot count possible CPUs: " + core::errno_text(cpus)};
  std::vector<Value> per_cpu(static_cast<std::size_t>(cpus));
  if (bpf_map_lookup_elem(fd, key, per_cpu.data()) != 0) {
    return core::Error{"lookup in " + std::string(map) + " failed: " + core::errno_text(errno)};
  }
  constexpr std::size_t kFields = sizeof(Value) / sizeof(__u64);
  std::array<__u64, kFields> sum{};
  for (const Value& value : per_cpu) {
    std::array<__u64, kFields> fields;
    std::memcpy(fields.data(), &value, sizeof(Value));
    for (std::size_t i = 0; i < kFields; ++i) sum[i] += fields[i];
  }
  Value total;
  std::memcpy(&total, sum.data(), sizeof(Value));
  return total;
}

template <typename Record>
bool decode_into(const void* data, std::size_t size, Event& event) {
  if (size < sizeof(Record)) return false;
  Record record;
  std::memcpy(&record, data, sizeof(Record));
  event = record;
  return true;
}

}  // namespace

core::Result<std::unique_ptr<Dataplane>> Dataplane::open(const Options& options) {
  auto skeletons = std::make_unique<Skeletons>();
  skeletons->xdp = vipd_xdp__open();
  if (!skeletons->xdp)
    return core::Error{"BPF unavailable: opening vipd_xdp failed: " + core::errno_text(errno)};
  skeletons->tc = vipd_tc__open();
  if (!skeletons->tc)
    return core::Error{"BPF unavailable: opening vipd_tc failed: " + core::errno_text(errno)};
  if (int error = vipd_xdp__load(skeletons->xdp))
    return core::Error{load_failure("vipd_xdp", error)};
  if (int error = vipd_tc__load(skeletons->tc)) return core::Error{load_failure("vipd_tc", error)};
  std::unique_ptr<Dataplane> dataplane(new Dataplane(options, std::move(skeletons)));
  if (core::Status status = dataplane->create_ring_buffer(); !status)
    return core::Error{status.message()};
  return dataplane;
}

Dataplane::Dataplane(Options options, std::unique_ptr<Skeletons> skeletons)
    : options_(std::move(options)), skel_(std::move(skeletons)) {}

Dataplane::~Dataplane() {
  if (skel_) detach();
}

core::Status Dataplane::create_ring_buffer() {
  // One ring_buffer over both objects' ring buffers: adverts and conflicts (XDP), port events (tc).
  skel_->events = ring_buffer__new(bpf_map__fd(skel_->tc->maps.vipd_tc_events),
                                   &Dataplane::on_record, this, nullptr);
  if (!skel_->events) return core::Error{"ring_buffer__new failed: " + core::errno_text(errno)};
  if (int error = ring_buffer__add(skel_->events, bpf_map__fd(skel_->xdp->maps.vipd_events),
                                   &Dataplane::on_record, this)) {
    return core::Error{"ring_buffer__add(vipd_events) failed: " + core::errno_text(error)};
  }
  return {};
}

int Dataplane::map_fd(std::string_view name) const {
  const int fd = find_map_fd(skel_->xdp->obj, name);
  return fd >= 0 ? fd : find_map_fd(skel_->tc->obj, name);
}

// ---- attach / detach ----------------------------------------------------------------------------

core::Status Dataplane::attach() {
  if (state_.xdp_attached || state_.tc_attached) return core::Error{"already attached"};
  ifindex_ = static_cast<int>(if_nametoindex(options_.interface.c_str()));
  if (!ifindex_) return core::Error{"interface " + options_.interface + " not found"};
  prepare_pin_dir();
  // A killed run's programs, through its pins: ours to replace even without CAP_SYS_ADMIN.
  const PinnedPrograms previous = PinnedPrograms::open(pin_dir_);
  if (options_.attach_xdp) {
    if (core::Status status = attach_xdp(previous); !status) {
      detach();
      return status;
    }
  }
  if (options_.attach_tc) {
    tc_targets_.push_back({ifindex_, options_.interface});
    if (options_.tc_on_loopback && options_.interface != kLoopback) {
      int lo = static_cast<int>(if_nametoindex(std::string(kLoopback).c_str()));
      if (lo) tc_targets_.push_back({lo, std::string(kLoopback)});
    }
    for (TcTarget& target : tc_targets_) {
      if (core::Status status = attach_tc_to(target, previous); !status) {
        detach();
        return status;
      }
    }
    state_.tc_attached = true;
    state_.tc_ingress_prog_id = tc_targets_.front().ingress_prog_id;
    state_.tc_egress_prog_id = tc_targets_.front().egress_prog_id;
    for (const TcTarget& target : tc_targets_) {
      state_.tc_filters.push_back({target.ifname, target.ingress_prog_id, target.egress_prog_id});
    }
  }
  pin_objects();
  return {};
}

core::Status Dataplane::attach_xdp(const PinnedPrograms& previous) {
  int prog_fd = bpf_program__fd(skel_->xdp->progs.vipd_xdp_advert);
  core::Result<XdpAttachment> attached =
      attach_xdp_program(ifindex_, options_.interface, prog_fd, options_.xdp_mode, previous);
  if (!attached) return attached.status();
  state_.xdp_attached = true;
  state_.xdp_mode = attached->mode;
  state_.xdp_prog_id = attached->prog_id;
  state_.replaced_stale_xdp = attached->replaced_stale;
  return {};
}

core::Status Dataplane::attach_tc_to(TcTarget& target, const PinnedPrograms& previous) {
  core::Result<bool> created = ensure_clsact(target.ifindex, target.ifname);
  if (!created) return created.status();
  std::string marker = clsact_marker(target.ifname);
  struct stat marker_stat {};
  bool marked = !marker.empty() && stat(marker.c_str(), &marker_stat) == 0;
  target.owns_clsact = *created || marked;
  // A directory in the pin dir remembers across a crash that the qdisc is ours to remove.
  if (*created && !marker.empty()) mkdir(marker.c_str(), 0700);
  const TcFilterId id{kTcHandle, kTcPriority};
  core::Result<std::uint32_t> ingress =
      attach_tc_filter(target.ifindex, target.ifname, TcDirection::Ingress,
                       bpf_program__fd(skel_->tc->progs.vipd_tc_ingress), id, previous);
  if (!ingress) return ingress.status();
  target.ingress_prog_id = *ingress;
  core::Result<std::uint32_t> egress =
      attach_tc_filter(target.ifindex, target.ifname, TcDirection::Egress,
                       bpf_program__fd(skel_->tc->progs.vipd_tc_egress), id, previous);
  if (!egress) return egress.status();
  target.egress_prog_id = *egress;
  return {};
}

void Dataplane::detach_tc_from(TcTarget& target) {
  const TcFilterId id{kTcHandle, kTcPriority};
  detach_tc_filter(target.ifindex, TcDirection::Ingress, id, target.ingress_prog_id);
  detach_tc_filter(target.ifindex, TcDirection::Egress, id, target.egress_prog_id);
  if (!target.owns_clsact) return;
  remove_clsact_if_empty(target.ifindex);
  if (std::string marker = clsact_marker(target.ifname); !marker.empty()) rmdir(marker.c_str());
}

void Dataplane::detach() {
  if (state_.xdp_attached) {
    int prog_fd = bpf_program__fd(skel_->xdp->progs.vipd_xdp_advert);
    detach_xdp_program(ifindex_, prog_fd, state_.xdp_mode);
  }
  for (TcTarget& target : tc_targets_) detach_tc_from(target);
  tc_targets_.clear();
  unpin_maps();
  state_ = AttachState{};
}

void Dataplane::abandon() {
  tc_targets_.clear();
  pin_dir_.clear();
  state_ = AttachState{};
}

// ---- pins ---------------------------------------------------------------------------------------

void Dataplane::prepare_pin_dir() {
  pin_dir_.clear();
  if (!options_.pin_maps) {
    state_.pin_note = "pinning disabled";
    return;
  }
  if (core::Status status = ensure_bpffs(options_.bpffs_root, options_.mount_bpffs); !status) {
    state_.pin_note = status.message() + "; running without pins";
    return;
  }
  std::string dir = options_.bpffs_root + "/vipd/" + bpffs_safe_name(options_.interface);
  if (core::Status status = make_directories(dir); !status) {
    state_.pin_note = status.message() + "; running without pins";
    return;
  }
  pin_dir_ = dir;
}

std::string Dataplane::clsact_marker(const std::string& ifname) const {
  return pin_dir_.empty() ? std::string() : pin_dir_ + "/clsact-created-" + bpffs_safe_name(ifname);
}

void Dataplane::pin_objects() {
  if (pin_dir_.empty()) return;
  remove_stale_pins(pin_dir_);
  auto pin_all = [&](bpf_object* object) -> core::Status {
    for (bpf_map* map = bpf_object__next_map(object, nullptr); map;
         map = bpf_object__next_map(object, map)) {
      if (bpf_map__is_internal(map)) continue;
      if (core::Status status = pin_map(map, pin_dir_ + "/" + bpf_map__name(map)); !status)
        return status;
    }
    return {};
  };
  core::Status status = pin_all(skel_->xdp->obj);
  if (status) status = pin_all(skel_->tc->obj);
  // The programs too (kProgramPins): the next run's way to recognise them (see attach()), and
  // `bpftool prog show pinned <dir>/vipd_xdp_advert` for operators.
  for (bpf_program* program : {skel_->xdp->progs.vipd_xdp_advert, skel_->tc->progs.vipd_tc_ingress,
                               skel_->tc->progs.vipd_tc_egress}) {
    if (status) status = pin_program(program, pin_dir_ + "/" + bpf_program__name(program));
  }
  if (!status) {
    state_.pin_note = status.message() + "; running without pins";
    remove_stale_pins(pin_dir_);
    return;
  }
  state_.pinned = true;
  state_.pin_dir = pin_dir_;
}

void Dataplane::unpin_maps() {
  if (pin_dir_.empty()) return;
  remove_stale_pins(pin_dir_);
  // <root>/vipd/<ifname>, then <root>/vipd if no other interface uses it.
  remove_empty_directories(pin_dir_, 2);
  pin_dir_.clear();
}

// ---- configuration ------------------------------------------------------------------------------

core::Status Dataplane::set_global_config(const GlobalConfig& config) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_cfg);
  vipd_global_cfg value{};
  value.stale_ns = static_cast<__u64>(config.stale.count());
  value.drop_invalid = config.drop_invalid ? 1 : 0;
  value.restrict_sources = config.restrict_sources ? 1 : 0;
  __u32 key = 0;
  if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) return update_failure("vipd_cfg", errno);
  return {};
}

core::Status Dataplane::set_vrid_config(const VridConfig& config) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vrid_cfg);
  vipd_vrid_cfg value{};
  value.enabled = 1;
  value.version = static_cast<__u8>(config.version);
  value.family = static_cast<__u8>(config.family);
  value.auth_type = static_cast<__u8>(config.auth_type);
  value.v2_interval_s = config.v2_interval_s;
  value.deliver_all = config.deliver_all ? 1 : 0;
  std::memcpy(value.auth_key, config.auth_key.data(), sizeof(value.auth_key));
  __u32 key = config.vrid;
  if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
    return update_failure("vipd_vrid_cfg", errno);
  }
  return {};
}

core::Status Dataplane::clear_vrid_config(std::uint8_t vrid) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vrid_cfg);
  vipd_vrid_cfg value{};
  __u32 key = vrid;
  if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
    return update_failure("vipd_vrid_cfg", errno);
  }
  return {};
}

core::Status Dataplane::set_deliver_all(std::uint8_t vrid, bool on) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vrid_cfg);
  __u32 key = vrid;
  vipd_vrid_cfg value{};
  if (bpf_map_lookup_elem(fd, &key, &value) != 0) return update_failure("vipd_vrid_cfg", errno);
  value.deliver_all = on ? 1 : 0;
  if (bpf_map_update_elem(fd, &key, &value, BPF_EXIST) != 0) {
    return update_failure("vipd_vrid_cfg", errno);
  }
  return {};
}

core::Status Dataplane::set_peers(std::span<const Peer> peers) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_peers);
  std::vector<vipd_addr> keys;
  for (const Peer& peer : peers) keys.push_back(to_abi(peer.address));
  delete_keys_except(fd, keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const __u8 flags = peers[i].ttl_exempt ? VIPD_PEER_TTL_EXEMPT : 0;
    if (bpf_map_update_elem(fd, &keys[i], &flags, BPF_ANY) != 0) {
      return update_failure("vipd_peers", errno);
    }
  }
  return {};
}

core::Status Dataplane::set_unicast_window(std::uint8_t vrid, core::Time until) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vrid_cfg);
  __u32 key = vrid;
  vipd_vrid_cfg value{};
  if (bpf_map_lookup_elem(fd, &key, &value) != 0) return update_failure("vipd_vrid_cfg", errno);
  value.unicast_open_until_ns = static_cast<__u64>(std::max<std::int64_t>(until.count(), 0));
  if (bpf_map_update_elem(fd, &key, &value, BPF_EXIST) != 0) {
    return update_failure("vipd_vrid_cfg", errno);
  }
  return {};
}

core::Status Dataplane::set_vips(std::span<const Vip> vips) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vips);
  std::map<core::IpAddress, std::uint8_t> wanted;
  for (const Vip& vip : vips) wanted.emplace(vip.address, vip.vrid);
  // Until the update succeeds the map's content is unknown: the next call replaces the set.
  std::optional<std::map<core::IpAddress, std::uint8_t>> installed = std::move(installed_vips_);
  installed_vips_.reset();
  if (!installed) {
    // The first call: the map may hold entries of an earlier run (pinned maps are reused).
    std::vector<vipd_addr> keys;
    for (const auto& [address, vrid] : wanted) keys.push_back(to_abi(address));
    delete_keys_except(fd, keys);
    installed.emplace();
  }
  for (const auto& [address, vrid] : *installed) {
    if (wanted.contains(address)) continue;
    const vipd_addr key = to_abi(address);
    bpf_map_delete_elem(fd, &key);
  }
  for (const auto& [address, vrid] : wanted) {
    const auto present = installed->find(address);
    if (present != installed->end() && present->second == vrid) continue;
    // A VIP that stays keeps its conflict counter and rate limit.
    const vipd_addr key = to_abi(address);
    vipd_vip_state state{};
    bpf_map_lookup_elem(fd, &key, &state);
    state.vrid = vrid;
    if (bpf_map_update_elem(fd, &key, &state, BPF_ANY) != 0) {
      return update_failure("vipd_vips", errno);
    }
  }
  installed_vips_ = std::move(wanted);
  return {};
}

core::Status Dataplane::set_own_macs(std::span<const core::MacAddress> macs) {
  std::vector<vipd_mac> keys;
  for (const core::MacAddress& mac : macs) keys.push_back(to_abi(mac));
  return replace_key_set(bpf_map__fd(skel_->xdp->maps.vipd_own_macs), keys, "vipd_own_macs");
}

core::Status Dataplane::set_monitored_ports(std::span<const std::uint16_t> ports) {
  const int cfg_fd = bpf_map__fd(skel_->tc->maps.vipd_ports);
  const int stat_fd = bpf_map__fd(skel_->tc->maps.vipd_port_stat);
  std::vector<__u16> keys(ports.begin(), ports.end());
  delete_keys_except(cfg_fd, keys);
  delete_keys_except(stat_fd, keys);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return core::Error{"cannot count possible CPUs: " + core::errno_text(cpus)};
  const std::vector<vipd_port_stat> zero_stats(static_cast<std::size_t>(cpus));
  const vipd_port_cfg fresh{};
  for (__u16 port : keys) {
    // BPF_NOEXIST: a port that stays keeps its counters and its refusal rate limit.
    if (bpf_map_update_elem(cfg_fd, &port, &fresh, BPF_NOEXIST) != 0 && errno != EEXIST) {
      return update_failure("vipd_ports", errno);
    }
    if (bpf_map_update_elem(stat_fd, &port, zero_stats.data(), BPF_NOEXIST) != 0 &&
        errno != EEXIST) {
      return update_failure("vipd_port_stat", errno);
    }
  }
  return {};
}

// ---- events and counters ------------------------------------------------------------------------

int Dataplane::event_fd() const {
  return ring_buffer__epoll_fd(skel_->events);
}

core::Result<int> Dataplane::consume(const EventHandler& handler) {
  handler_ = &handler;
  delivered_ = 0;
  int result = ring_buffer__consume(skel_->events);
  handler_ = nullptr;
  if (result < 0) return core::Error{"ring_buffer__consume failed: " + core::errno_text(result)};
  if (delivered_ > 0) ++wakeups_;
  return delivered_;
}

int Dataplane::on_record(void* context, void* data, std::size_t size) {
  auto* self = static_cast<Dataplane*>(context);
  if (size < sizeof(vipd_event_hdr) || !self->handler_) return 0;
  vipd_event_hdr header;
  std::memcpy(&header, data, sizeof(header));
  Event event;
  bool decoded = false;
  switch (header.type) {
    case VIPD_EVENT_ADVERT:
      decoded = decode_into<vipd_advert_event>(data, size, event);
      break;
    case VIPD_EVENT_VIP_CONFLICT:
      decoded = decode_into<vipd_conflict_event>(data, size, event);
      break;
    case VIPD_EVENT_PORT_REFUSED:
      decoded = decode_into<vipd_port_event>(data, size, event);
      break;
    default:
      break;
  }
  if (!decoded) return 0;  // a record from a newer program: skipped, not fatal
  ++self->delivered_;
  (*self->handler_)(event);
  return 0;
}

std::optional<vipd_last_adv> Dataplane::last_advert(std::uint8_t vrid) const {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_last_adv);
  __u32 key = vrid;
  vipd_last_adv record{};
  // Under the record's lock: the XDP program may be rewriting it on another CPU.
  if (bpf_map_lookup_elem_flags(fd, &key, &record, BPF_F_LOCK) != 0 || !record.valid) {
    return std::nullopt;
  }
  return record;
}

core::Status Dataplane::forget_last_advert(std::uint8_t vrid) {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_last_adv);
  const __u32 key = vrid;
  const vipd_last_adv empty{};
  if (bpf_map_update_elem(fd, &key, &empty, BPF_ANY | BPF_F_LOCK) != 0) {
    return core::errno_error("clearing vipd_last_adv[" + std::to_string(vrid) + "]", errno);
  }
  return {};
}

core::Result<vipd_vrid_stat> Dataplane::vrid_stats(std::uint8_t vrid) const {
  const int fd = bpf_map__fd(skel_->xdp->maps.vipd_vrid_stat);
  __u32 key = vrid;
  return sum_per_cpu<vipd_vrid_stat>(fd, &key, "vipd_vrid_stat");
}

core::Result<vipd_port_stat> Dataplane::port_stats(std::uint16_t port) const {
  const int fd = bpf_map__fd(skel_->tc->maps.vipd_port_stat);
  __u16 key = port;
  return sum_per_cpu<vipd_port_stat>(fd, &key, "vipd_port_stat");
}

}  // namespace vipd::bpf
