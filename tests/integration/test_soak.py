"""Chaos soak, short version (ctest integration.soak, ~2.5 min): soak.py for 1.7 minutes, every
fault kind at least twice (master kill -9 and restart, link down/up, multicast block/unblock, CPU
stress, SIGHUP, application port down/up). No dual owner beyond one Master_Down_Interval while
connected (during a multicast block: beyond the split-brain healing bound), no zero-owner gap beyond the failover bound, no VIP moved by a reload, every failover
fault moved the VIPs (the faults took effect), no growth of RSS (beyond the slack) or fds, no
daemon died. The 10-minute run is `scripts/soak.sh --minutes 10` (docs/BENCHMARKS.md)."""

import soak


def test_chaos_soak(vipd):
    args = soak.parse_args(["--minutes", "1.7", "--seed", "15", "--hold", "1-2", "--quiet", "1.5-2.5"])
    result = soak.run_soak(args, vipd)
    summary = soak.report(result)
    print(summary)
    assert result["rounds"] >= 2, summary
    # (A multicast block moves VIPs only until the nodes know each other as unicast peers: vipd's
    # hybrid transport then carries the election, so it is not required to bite.)
    for kind in ("kill", "link", "app"):
        row = result["per_kind"][kind]
        assert row["vip_moves"] >= row["count"], f"{kind} moved no VIP: the fault did not bite\n{summary}"
    assert result["client_requests"] > 5000, summary
    assert not result["misses"], summary
