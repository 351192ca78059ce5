// Seeded PRNG for the simulator. splitmix64 with our own range mapping rather than <random>
// distributions: their output differs between standard libraries, and a seed must replay the same
// run everywhere.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vipd/core/timing.h"

namespace vipd::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [lo, hi], both inclusive; the modulo bias is far below anything a seed can show.
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(next() % span);
  }
  std::size_t index(std::size_t size) { return static_cast<std::size_t>(next() % size); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double probability) { return unit() < probability; }
  core::Time time_between(core::Time lo, core::Time hi) {
    return core::Time(between(lo.count(), hi.count()));
  }
  // An independent stream: the scenario and the network draw from separate streams so a planted
  // bug that changes packet counts does not also change which events the scenario chooses.
  Rng fork(std::uint64_t stream) { return Rng(next() ^ (stream * 0xD1B54A32D192ED03ull)); }

 private:
  std::uint64_t state_;
};

}  // namespace vipd::sim
