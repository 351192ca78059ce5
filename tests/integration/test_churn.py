"""Churn (ctest integration.churn): vipd's master knocked out and back 45 times (carrier down/up at
the switch and its health check failing/passing, in turns, every instance MASTER -> FAULT ->
MASTER; and one instance removed and added again by `vipd reload`) must not grow its fds, BPF map/program descriptors, hash-map entries, valid coalescing
records or pins at all, nor its RSS beyond the allocator's noise. The 1000-cycle run is
scripts/bench-churn.sh (bench_churn.py)."""

import bench_churn


def test_no_growth_under_fault_churn(vipd):
    args = bench_churn.parse_args(["--cycles", "45", "--warmup", "9", "--progress", "0",
                                   "--instances", "10", "--kinds", "carrier,check,reload"])
    result = bench_churn.run_churn(args, vipd)
    summary = bench_churn.report(result)
    print(summary)
    assert result.first.bpf_maps > 0 and result.first.pins > 0, "the readings must see the data plane"
    assert result.first.map_entries.get("vipd_vips") == 10, result.first.map_entries
    assert not result.misses, summary
