// Protocol core micro-benchmarks: the receive path (decode + instance checks), the send path
// (encode), and the two per-advert state machine entry points. Results: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"

namespace {

using namespace vipd::core;

IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

std::vector<IpAddress> ipv4_vips(std::uint32_t count) {
  std::vector<IpAddress> vips;
  for (std::uint32_t i = 0; i < count; ++i) vips.push_back(IpAddress::v4(0xC6120064 + i));
  return vips;
}

// One packet shape: what to encode, from where to where, and what the receiver expects.
struct Shape {
  std::vector<IpAddress> vips;
  AdvertSpec spec;
  PacketMeta meta;
  Expectation expectation;
  V3Checksum form = V3Checksum::PseudoHeader;
  std::vector<std::uint8_t> message;

  Shape(VrrpVersion version, std::vector<IpAddress> addresses, const IpAddress& source,
        const IpAddress& destination, V3Checksum checksum = V3Checksum::PseudoHeader)
      : vips(std::move(addresses)), form(checksum) {
    spec.version = version;
    spec.vrid = 51;
    spec.priority = 100;
    spec.interval_cs = 100;
    spec.addresses = vips;
    meta.source = source;
    meta.destination = destination;
    expectation.version = version;
    expectation.family = source.family();
    if (version == VrrpVersion::V2) {
      spec.auth_type = AuthType::SimplePassword;
      spec.auth_key = make_auth_key("ipfailov");
      expectation.auth_type = AuthType::SimplePassword;
      expectation.auth_key = spec.auth_key;
      expectation.v2_interval_s = 1;
    }
    message.resize(kMaxAdvertSize);
    message.resize(encode_advert(spec, source, destination, message, form));
    // A benchmark of a packet that fails to decode would measure the error path.
    if (message.empty() || !decode_advert(message, meta, expectation)) std::abort();
  }
  // spec.addresses views `vips`: a copy would point into the original.
  Shape(const Shape&) = delete;
  Shape& operator=(const Shape&) = delete;
};

Shape v2_one_vip() {
  return Shape(VrrpVersion::V2, ipv4_vips(1), ip("198.18.0.1"), vrrp_group(Family::V4));
}
Shape v2_twenty_vips() {
  return Shape(VrrpVersion::V2, ipv4_vips(20), ip("198.18.0.1"), vrrp_group(Family::V4));
}
Shape v3_ipv4_one_vip() {
  return Shape(VrrpVersion::V3, ipv4_vips(1), ip("198.18.0.1"), vrrp_group(Family::V4));
}
Shape v3_ipv4_message_only() {
  return Shape(VrrpVersion::V3, ipv4_vips(1), ip("198.18.0.1"), vrrp_group(Family::V4),
               V3Checksum::MessageOnly);
}
Shape v3_ipv6_one_vip() {
  return Shape(VrrpVersion::V3, {ip("fd00:198:18::100")}, ip("fe80::1"), vrrp_group(Family::V6));
}

// Packet-level and instance-level checks together: what the daemon runs per received advert.
void decode(benchmark::State& state, Shape (*make)()) {
  const Shape shape = make();
  for (auto _ : state) {
    benchmark::DoNotOptimize(shape.message.data());
    DecodeResult result = decode_advert(shape.message, shape.meta, shape.expectation);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(shape.message.size()));
}

void encode(benchmark::State& state, Shape (*make)()) {
  const Shape shape = make();
  std::vector<std::uint8_t> out(kMaxAdvertSize);
  for (auto _ : state) {
    const std::size_t size =
        encode_advert(shape.spec, shape.meta.source, shape.meta.destination, out, shape.form);
    benchmark::DoNotOptimize(size);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(decode, v2_1vip, v2_one_vip);
BENCHMARK_CAPTURE(decode, v3_ipv4_1vip, v3_ipv4_one_vip);
BENCHMARK_CAPTURE(decode, v3_ipv4_1vip_message_only, v3_ipv4_message_only);
BENCHMARK_CAPTURE(decode, v3_ipv6_1vip, v3_ipv6_one_vip);
BENCHMARK_CAPTURE(decode, v2_20vip, v2_twenty_vips);
BENCHMARK_CAPTURE(encode, v2_1vip, v2_one_vip);
BENCHMARK_CAPTURE(encode, v3_ipv4_1vip, v3_ipv4_one_vip);
BENCHMARK_CAPTURE(encode, v3_ipv6_1vip, v3_ipv6_one_vip);
BENCHMARK_CAPTURE(encode, v2_20vip, v2_twenty_vips);

InstanceConfig backup_config(std::uint8_t priority) {
  InstanceConfig config;
  config.vrid = 51;
  config.version = VrrpVersion::V3;
  config.priority = priority;
  config.advert_interval = std::chrono::milliseconds(10);
  config.primary_address = ip("198.18.0.1");
  return config;
}

// A Backup hearing its (higher-priority) master every interval: the steady-state hot path.
void on_advert_backup_steady_master(benchmark::State& state) {
  Instance instance(backup_config(100));
  Time now{0};
  instance.start(now);
  if (instance.state() != State::Backup) std::abort();
  const RxAdvert advert{ip("198.18.0.2"), 150, 1};
  for (auto _ : state) {
    now += std::chrono::milliseconds(10);
    ActionList actions = instance.on_advert(now, advert);
    benchmark::DoNotOptimize(actions);
  }
  if (instance.state() != State::Backup) std::abort();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(on_advert_backup_steady_master);

// A Master's advert timer firing: send an advert, re-arm.
void on_timer_master(benchmark::State& state) {
  Instance instance(backup_config(kOwnerPriority));
  instance.start(Time{0});
  if (instance.state() != State::Master) std::abort();
  for (auto _ : state) {
    ActionList actions = instance.on_timer(instance.deadline());
    benchmark::DoNotOptimize(actions);
  }
  if (instance.state() != State::Master) std::abort();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(on_timer_master);

}  // namespace

BENCHMARK_MAIN();
