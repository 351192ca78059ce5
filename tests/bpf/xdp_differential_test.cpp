// Differential test: random and mutated frames go through the XDP program (test_run) and through
// vipd::core's codec (decode_advert + check_advert on the same frame, parsed by the XDP program's
// frame rules); both must agree on valid/invalid, the reason, the counter slot and the verdict, and
// the program's counters must equal what the codec's verdicts add up to. Needs root.
//
// VIPD_DIFF_SEED=<n> and VIPD_DIFF_PACKETS=<n> override the seed and the packet count.
#include <linux/bpf.h>

#include <array>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "vipd/core/checksum.h"
#include "vipd/core/source_filter.h"
#include "xdp_harness.h"

namespace vipd::test {
namespace {

using core::DecodeError;
using core::Expectation;
using core::Family;
using core::IpAddress;
using core::VrrpVersion;

constexpr std::uint64_t kDefaultSeed = 0x5EED'1234'ABCDull;
constexpr std::uint64_t kDefaultPackets = 300'000;

const IpAddress kSource4 = *IpAddress::parse("198.18.0.2");
const IpAddress kPeer4 = *IpAddress::parse("198.18.0.9");
const IpAddress kSource6 = *IpAddress::parse("fd00:198:18::2");
const IpAddress kPeer6 = *IpAddress::parse("fd00:198:18::9");
const IpAddress kGroup4 = *IpAddress::parse("224.0.0.18");
const IpAddress kGroup6 = *IpAddress::parse("ff02::12");

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text ? std::strtoull(text, nullptr, 0) : fallback;
}

// The configured VRIDs; every other VRID is unknown.
const std::map<std::uint8_t, Expectation>& expectations() {
  static const std::map<std::uint8_t, Expectation> table{
      {1, {.version = VrrpVersion::V2, .family = Family::V4}},
      {2,
       {.version = VrrpVersion::V2,
        .family = Family::V4,
        .auth_type = core::AuthType::SimplePassword,
        .auth_key = core::make_auth_key("secret"),
        .v2_interval_s = 1}},
      {3, {.version = VrrpVersion::V3, .family = Family::V4}},
      {4, {.version = VrrpVersion::V3, .family = Family::V6}},
      {5,
       {.version = VrrpVersion::V2,
        .family = Family::V4,
        .auth_type = core::AuthType::SimplePassword,
        .auth_key = core::make_auth_key("pw"),
        .v2_interval_s = 3}},
      {6, {.version = VrrpVersion::V2, .family = Family::V4, .v2_interval_s = 2}},
  };
  return table;
}

bool is_peer(const IpAddress& address) {
  return address == kPeer4 || address == kPeer6;
}

// The user-space twin of the program's source check, told the same peers as the harness.
const core::SourceFilter& source_filter() {
  static const core::SourceFilter filter = [] {
    core::SourceFilter made;
    const std::array<core::AcceptedSource, 2> peers{{{kPeer4, true}, {kPeer6, true}}};
    made.set_peers(peers);
    return made;
  }();
  return filter;
}

struct Verdict {
  bool vrrp = false;  // false: the program must not look at it
  std::uint32_t reason = 0;
  std::uint32_t slot = 0;
  core::Advert advert{};  // when reason == OK
};

// What the codec says about `frame`.
Verdict reference_verdict(std::span<const std::uint8_t> frame) {
  Verdict verdict;
  auto parsed = parse_vrrp_frame(frame);
  if (!parsed) return verdict;
  verdict.vrrp = true;
  verdict.reason = VIPD_REASON_TRUNCATED;
  if (!parsed->header_readable(frame.size())) return verdict;
  const std::uint8_t vrid = frame[parsed->message_offset + 1];
  const auto config = expectations().find(vrid);
  if (config != expectations().end()) verdict.slot = vrid;
  if (parsed->frame_short) return verdict;

  parsed->meta.ttl_exempt = is_peer(parsed->meta.source);
  const core::DecodeResult decoded = core::decode_advert(parsed->message(frame), parsed->meta);
  if (!decoded) {
    verdict.reason = static_cast<std::uint32_t>(decoded.error());
    return verdict;
  }
  if (config == expectations().end()) {
    verdict.reason = VIPD_REASON_UNKNOWN_VRID;
    return verdict;
  }
  verdict.reason = static_cast<std::uint32_t>(core::check_advert(decoded.advert(), config->second));
  if (verdict.reason == VIPD_REASON_OK) {
    // Sources are not restricted: mutated destinations that are neither the group nor a held
    // VIP, from a source that is not a peer, are NotPeer.
    verdict.reason =
        static_cast<std::uint32_t>(source_filter().check(parsed->meta, vrid, core::Time{0}));
  }
  verdict.advert = decoded.advert();
  return verdict;
}

// The vipd_vrid_stat counter a reason is counted in: its own slot, for every reason.
__u64& counter_for(vipd_vrid_stat& stat, std::uint32_t reason) {
  return reason == VIPD_REASON_OK ? stat.rx_valid : stat.rx_invalid[reason];
}

class FrameGenerator {
 public:
  explicit FrameGenerator(std::uint64_t seed) : rng_(seed) {}

  Bytes next() {
    Bytes frame = base_advert();
    if (chance(0.75)) {
      const int mutations = uniform(1, 3);
      for (int i = 0; i < mutations && !frame.empty(); ++i) mutate(frame);
    }
    if (chance(0.5)) fix_checksum(frame);
    if (frame.size() < kEthernetHeaderSize) frame.resize(kEthernetHeaderSize, 0);
    return frame;
  }

 private:
  int uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::uint8_t byte() { return static_cast<std::uint8_t>(uniform(0, 255)); }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(uniform(0, static_cast<int>(items.size()) - 1))];
  }

  IpAddress random_address(Family family) {
    if (family == Family::V4)
      return IpAddress::v4(0xC6120000u | static_cast<std::uint32_t>(uniform(1, 0xFFFF)));
    std::array<std::uint8_t, 16> bytes{0xfd, 0x00, 0x01, 0x98, 0x00, 0x18};
    for (std::size_t i = 6; i < bytes.size(); ++i) bytes[i] = byte();
    return IpAddress::from_bytes(Family::V6, bytes.data());
  }

  Bytes base_advert() {
    const Family family = chance(0.7) ? Family::V4 : Family::V6;
    const VrrpVersion version =
        family == Family::V6 || chance(0.5) ? VrrpVersion::V3 : VrrpVersion::V2;
    const std::uint8_t vrid =
        static_cast<std::uint8_t>(pick<int>({0, 1, 2, 3, 4, 5, 6, 7, 200, 255}));
    std::vector<IpAddress> addresses(
        static_cast<std::size_t>(chance(0.1) ? uniform(1, 40) : uniform(1, 4)));
    for (IpAddress& address : addresses) address = random_address(family);
    std::uint16_t interval_cs = static_cast<std::uint16_t>(uniform(1, 4095));
    if (version == VrrpVersion::V2) interval_cs = static_cast<std::uint16_t>(uniform(1, 4) * 100);
    const auto auth = chance(0.5) ? core::AuthType::SimplePassword : core::AuthType::None;
    const std::string password = pick<std::string>({"secret", "pw", "secreT", ""});
    const core::AdvertSpec spec{
        .version = version,
        .vrid = vrid,
        .priority = static_cast<std::uint8_t>(chance(0.1) ? 0 : uniform(1, 255)),
        .interval_cs = interval_cs,
        .auth_type = auth,
        .auth_key = core::make_auth_key(password),
        .addresses = addresses};
    IpSpec ip{.source = chance(0.2) ? (family == Family::V4 ? kPeer4 : kPeer6)
                                    : (family == Family::V4 ? kSource4 : kSource6),
              .destination = family == Family::V4 ? kGroup4 : kGroup6,
              .ttl = chance(0.9) ? std::uint8_t{255} : byte()};
    if (family == Family::V4 && chance(0.2)) {
      ip.ipv4_options = Bytes(static_cast<std::size_t>(uniform(1, 10) * 4), 0x01);
    }
    L2Spec l2;
    const int tags = pick<int>({0, 0, 0, 1, 2});
    for (int i = 0; i < tags; ++i) l2.tpids.push_back(chance(0.5) ? kTpidVlan : kTpidQinQ);
    const auto form = chance(0.5) ? core::V3Checksum::PseudoHeader : core::V3Checksum::MessageOnly;
    return vrrp_frame(spec, ip, l2, form);
  }

  void mutate(Bytes& frame) {
    const auto parsed = parse_vrrp_frame(frame);
    const auto l3 = l3_offset(frame);
    const std::size_t message = parsed ? parsed->message_offset : frame.size();
    auto in_message = [&](std::size_t offset) -> std::uint8_t* {
      return message + offset < frame.size() ? &frame[message + offset] : nullptr;
    };
    auto set_message = [&](std::size_t offset, std::uint8_t value) {
      if (std::uint8_t* p = in_message(offset)) *p = value;
    };
    const bool ipv4 = l3 && *l3 < frame.size() && (frame[*l3] >> 4) == 4;
    switch (uniform(0, 13)) {
      case 0:
        frame[static_cast<std::size_t>(uniform(0, static_cast<int>(frame.size()) - 1))] ^=
            static_cast<std::uint8_t>(1 << uniform(0, 7));
        break;
      case 1:
        if (message < frame.size()) {
          frame[static_cast<std::size_t>(
              uniform(static_cast<int>(message), static_cast<int>(frame.size()) - 1))] = byte();
        }
        break;
      case 2:
        frame.resize(static_cast<std::size_t>(
            uniform(static_cast<int>(kEthernetHeaderSize), static_cast<int>(frame.size()))));
        break;
      case 3:
        for (int i = uniform(1, 16); i > 0; --i) frame.push_back(byte());
        break;
      case 4:
        if (l3 && *l3 + 9 < frame.size()) {
          frame[*l3 + (ipv4 ? 8 : 7)] = pick<std::uint8_t>({64, 1, 254, 0, byte()});
        }
        break;
      case 5:
        set_message(1, pick<std::uint8_t>({0, 1, 2, 3, 4, 5, 6, 7, byte()}));
        break;
      case 6:
        if (std::uint8_t* p = in_message(0))
          *p = static_cast<std::uint8_t>(uniform(0, 15) << 4 | (*p & 0x0F));
        break;
      case 7:
        if (std::uint8_t* p = in_message(0))
          *p = static_cast<std::uint8_t>((*p & 0xF0) | uniform(0, 15));
        break;
      case 8:
        set_message(3, pick<std::uint8_t>({0, 1, 2, 255, byte()}));
        break;
      case 9:
        if (l3 && *l3 + 5 < frame.size()) {
          std::uint8_t& low = frame[*l3 + (ipv4 ? 3 : 5)];
          low = static_cast<std::uint8_t>(low + uniform(-8, 8));
        }
        break;
      case 10:
        if (ipv4) frame[*l3] = static_cast<std::uint8_t>(0x40 | uniform(0, 15));
        break;
      case 11:
        set_message(5, pick<std::uint8_t>({0, 1, 2, 3, byte()}));
        if (chance(0.5)) set_message(4, pick<std::uint8_t>({0, 0xF0, byte()}));
        break;
      case 12:
        set_message(4, pick<std::uint8_t>({0, 1, 2, byte()}));
        break;
      case 13:
        if (ipv4 && *l3 + 7 < frame.size())
          frame[*l3 + 6] |= pick<std::uint8_t>({0x20, 0x01, 0x40});
        break;
    }
  }

  // Makes the VRRP checksum right again so mutations reach the checks after it.
  void fix_checksum(Bytes& frame) {
    const auto parsed = parse_vrrp_frame(frame);
    if (!parsed || parsed->frame_short || parsed->message_length < core::kVrrpHeaderSize) return;
    std::uint8_t* message = frame.data() + parsed->message_offset;
    message[6] = message[7] = 0;
    const bool pseudo = (message[0] >> 4) != 2 && chance(0.7);
    const std::uint32_t initial =
        pseudo ? core::pseudo_header_sum(parsed->meta.source, parsed->meta.destination,
                                         static_cast<std::uint32_t>(parsed->message_length))
               : 0;
    const std::uint16_t checksum =
        core::checksum_finish(core::checksum_add(initial, {message, parsed->message_length}));
    message[6] = static_cast<std::uint8_t>(checksum >> 8);
    message[7] = static_cast<std::uint8_t>(checksum & 0xFF);
  }

  std::mt19937_64 rng_;
};

std::string hex(std::span<const std::uint8_t> bytes) {
  std::ostringstream out;
  for (const std::uint8_t b : bytes) out << std::hex << (b < 16 ? "0" : "") << int{b};
  return out.str();
}

TEST(XdpDifferentialTest, ProgramAndCodecAgreeOnRandomAndMutatedFrames) {
  XdpHarness xdp;
  ASSERT_TRUE(xdp.loaded()) << "cannot load vipd_xdp (root needed)";
  for (const auto& [vrid, expectation] : expectations()) xdp.configure_vrid(vrid, expectation);
  xdp.add_peer(kPeer4);
  xdp.add_peer(kPeer6);
  xdp.set_global(0, true);

  const std::uint64_t seed = env_or("VIPD_DIFF_SEED", kDefaultSeed);
  const std::uint64_t packets = env_or("VIPD_DIFF_PACKETS", kDefaultPackets);
  RecordProperty("seed", std::to_string(seed));
  FrameGenerator generator(seed);

  std::array<vipd_vrid_stat, VIPD_VRID_SLOTS> expected_stats{};
  std::map<std::uint32_t, std::uint64_t> reasons;  // coverage
  std::uint64_t not_vrrp = 0;
  std::uint64_t events = 0;
  int failures = 0;
  for (std::uint64_t i = 0; i < packets && failures < 10; ++i) {
    const Bytes frame = generator.next();
    const Verdict want = reference_verdict(frame);
    const int verdict = xdp.run(frame);
    const vipd_xdp_last got = xdp.last();
    const std::uint32_t want_reason = want.vrrp ? want.reason : kNoVerdict;
    const std::uint32_t want_slot = want.vrrp ? want.slot : kNoVerdict;
    const int want_verdict =
        want.vrrp && want.reason != VIPD_REASON_OK && want.slot != 0 ? XDP_DROP : XDP_PASS;
    if (got.reason != want_reason || got.slot != want_slot || verdict != want_verdict) {
      ++failures;
      ADD_FAILURE() << "packet " << i << " (seed " << seed << "): program reason " << got.reason
                    << " slot " << got.slot << " verdict " << verdict << "; codec reason "
                    << want_reason << " slot " << want_slot << " verdict " << want_verdict
                    << "\nframe " << hex(frame);
      continue;
    }
    if (!want.vrrp) {
      ++not_vrrp;
      continue;
    }
    ++reasons[want.reason];
    counter_for(expected_stats[want.slot], want.reason) += 1;
    if (want.reason != VIPD_REASON_OK) continue;

    const auto parsed = parse_vrrp_frame(frame);
    expected_stats[want.slot].rx_bytes += parsed->message_length;
    // Emitted or coalesced, the record now describes this advert.
    const vipd_last_adv record = xdp.last_adv(want.slot);
    const core::Advert& advert = want.advert;
    EXPECT_EQ(record.valid, 1);
    EXPECT_EQ(record.priority, advert.priority) << "packet " << i;
    EXPECT_EQ(record.interval_cs, advert.interval_cs) << "packet " << i;
    EXPECT_EQ(record.version, static_cast<std::uint8_t>(advert.version)) << "packet " << i;
    EXPECT_EQ(record.addr_sum,
              static_cast<std::uint16_t>(core::checksum_add(0, advert.address_bytes)))
        << "packet " << i;
    EXPECT_EQ(0, std::memcmp(record.src, parsed->meta.source.data(), parsed->meta.source.size()));
    if (i % 256 == 0) events += xdp.drain_events().size();
  }
  events += xdp.drain_events().size();
  ASSERT_EQ(failures, 0);

  // Counters: what the codec's verdicts add up to, exactly (events aside, checked as a total).
  std::uint64_t counted_events = 0;
  for (std::uint32_t slot = 0; slot < VIPD_VRID_SLOTS; ++slot) {
    vipd_vrid_stat actual = xdp.stat(slot);
    EXPECT_EQ(actual.rx_events_dropped, 0u) << "slot " << slot;
    counted_events += actual.rx_events;
    actual.rx_events = 0;
    SCOPED_TRACE("slot " + std::to_string(slot));
    expect_stat_eq(actual, expected_stats[slot]);
  }
  EXPECT_EQ(counted_events, events);
  EXPECT_GT(events, 0u);

  // The generator must reach every check, or agreement proves little.
  EXPECT_GT(not_vrrp, packets / 100);
  for (std::uint32_t reason = VIPD_REASON_OK; reason <= VIPD_REASON_UNKNOWN_VRID; ++reason) {
    EXPECT_GE(reasons[reason], packets / 2000) << "reason " << reason << " barely covered";
  }
  std::ostringstream coverage;
  for (const auto& [reason, count] : reasons) coverage << reason << ":" << count << " ";
  RecordProperty("coverage", coverage.str());
  std::printf("seed %llu, %llu packets, not VRRP %llu, reasons %s\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(not_vrrp), coverage.str().c_str());
}

}  // namespace
}  // namespace vipd::test
