// Writes the decode fuzzer's seed corpus: valid adverts of every shape the decoder accepts, each
// with the metadata and expectation that make it pass, built with the real encoder so the seeds
// follow any change to the wire format. Usage: vipd-fuzz-make-corpus <output directory>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "vipd/core/advert.h"

namespace {

using namespace vipd::core;
namespace fuzz = vipd::fuzz;

IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

struct Seed {
  const char* name;
  AdvertSpec spec;
  IpAddress source;
  IpAddress destination;
  V3Checksum form = V3Checksum::PseudoHeader;
  std::uint8_t ttl = kVrrpTtl;
  bool ttl_exempt = false;
};

std::uint8_t flags_for(const Seed& seed) {
  std::uint8_t flags = 0;
  if (!seed.source.is_v4()) flags |= fuzz::kFlagIpv6 | fuzz::kFlagExpectIpv6;
  if (seed.ttl_exempt) flags |= fuzz::kFlagTtlExempt;
  if (seed.spec.version == VrrpVersion::V3) flags |= fuzz::kFlagExpectV3;
  if (seed.spec.auth_type == AuthType::SimplePassword) flags |= fuzz::kFlagExpectPassword;
  return flags;
}

bool write_seed(const std::filesystem::path& directory, const Seed& seed) {
  std::vector<std::uint8_t> message(kMaxAdvertSize);
  const std::size_t size =
      encode_advert(seed.spec, seed.source, seed.destination, message, seed.form);
  if (size == 0) {
    std::fprintf(stderr, "make_corpus: cannot encode seed %s\n", seed.name);
    return false;
  }
  message.resize(size);
  Expectation expectation;
  expectation.auth_key = seed.spec.auth_key;
  expectation.v2_interval_s = seed.spec.version == VrrpVersion::V2
                                  ? static_cast<std::uint16_t>(seed.spec.interval_cs / 100)
                                  : 0;
  const std::vector<std::uint8_t> input = fuzz::make_fuzz_input(
      flags_for(seed), seed.ttl, expectation, seed.source, seed.destination, message);
  std::ofstream out(directory / seed.name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(input.data()),
            static_cast<std::streamsize>(input.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path directory = argv[1];
  std::filesystem::create_directories(directory);

  const IpAddress source4 = ip("198.18.0.1");
  const IpAddress peer4 = ip("198.18.0.2");
  const IpAddress group4 = vrrp_group(Family::V4);
  const IpAddress source6 = ip("fe80::1");
  const IpAddress peer6 = ip("fd00:198:18::2");
  const IpAddress group6 = vrrp_group(Family::V6);
  const std::vector<IpAddress> one4 = {ip("198.18.0.100")};
  const std::vector<IpAddress> one6 = {ip("fd00:198:18::100")};
  std::vector<IpAddress> twenty4;
  std::vector<IpAddress> many6;
  for (std::uint32_t i = 0; i < 20; ++i) twenty4.push_back(IpAddress::v4(0xC6120100 + i));
  for (std::uint8_t i = 0; i < 40; ++i) {
    std::uint8_t bytes[16] = {0xfd, 0x00, 0x01, 0x98, 0x00, 0x18};
    bytes[15] = i;
    many6.push_back(IpAddress::from_bytes(Family::V6, bytes));
  }

  auto spec = [](VrrpVersion version, std::uint16_t interval_cs,
                 const std::vector<IpAddress>& vips) {
    AdvertSpec s;
    s.version = version;
    s.vrid = 51;
    s.priority = 100;
    s.interval_cs = interval_cs;
    s.addresses = vips;
    return s;
  };
  AdvertSpec v2_password = spec(VrrpVersion::V2, 100, one4);
  v2_password.auth_type = AuthType::SimplePassword;
  v2_password.auth_key = make_auth_key("ipfailov");

  const Seed seeds[] = {
      {"v2-none-1vip", spec(VrrpVersion::V2, 100, one4), source4, group4},
      {"v2-pass-1vip", v2_password, source4, group4},
      {"v2-none-20vip", spec(VrrpVersion::V2, 300, twenty4), source4, group4},
      {"v2-unicast-ttl64", spec(VrrpVersion::V2, 100, one4), source4, peer4,
       V3Checksum::PseudoHeader, 64, true},
      {"v3-ipv4-pseudo", spec(VrrpVersion::V3, 100, one4), source4, group4},
      {"v3-ipv4-message-only", spec(VrrpVersion::V3, 10, one4), source4, group4,
       V3Checksum::MessageOnly},
      {"v3-ipv4-unicast", spec(VrrpVersion::V3, 4095, twenty4), source4, peer4},
      {"v3-ipv6-group", spec(VrrpVersion::V3, 100, one6), source6, group6},
      {"v3-ipv6-unicast", spec(VrrpVersion::V3, 1, one6), source6, peer6},
      {"v3-ipv6-40vip", spec(VrrpVersion::V3, 100, many6), source6, group6},
  };
  for (const Seed& seed : seeds) {
    if (!write_seed(directory, seed)) return 1;
  }
  return 0;
}
