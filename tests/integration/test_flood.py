"""Flood smoke test (ctest integration.flood): vipd's flood targets on three classes at a moderate
rate, with the benchmark's own measurement (bench_flood.py; the full run is scripts/bench-flood.sh):
garbage IP protocol 112 to 224.0.0.18, gratuitous ARP replies claiming every VIP from random
MACs, and higher-priority adverts from a non-peer in unicast mode (dropped as not_peer). Per class: no VIP moves, both vipds stay under 5 % of a core, the kernel counts every packet
sent (reject reasons, ARP conflicts), the log stays within its rate limit, the master's advert
rate does not change.
"""

import argparse

import pytest

import bench_flood
import floodgen


def smoke_args(**overrides) -> argparse.Namespace:
    args = bench_flood.parse_args(["--daemon", "vipd", "--rate", "15000", "--window", "8",
                                   "--baseline", "4", "--settle", "2", "--recover", "5"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


@pytest.mark.parametrize("flood", ["garbage", "arp", "spoof-unicast"])
def test_vipd_withstands_the_flood(vipd, flood):
    assert floodgen.available() is None, floodgen.available()
    row = bench_flood.measure(bench_flood.FLAVORS["vipd"], floodgen.CLASSES[flood], smoke_args())
    summary = bench_flood.report([row], smoke_args())
    print(summary)
    # 15k pps are asked for; a loaded machine (other builds) gives trafgen less: 4-5k pps were seen
    # at load average 23. 20,000 packets, each to be counted, still prove the point.
    assert row.sent > 20_000, f"the generator sent too little to prove anything:\n{summary}"
    # The sampler's own statistics arrive on SIGTERM; a run that lost them still has its samples.
    assert row.sampler["backup"].get("max_gap_ms", 0) < 100, row.sampler
    assert not row.misses, summary
