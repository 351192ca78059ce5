"""Scale smoke test (ctest integration.scale, ~40 s): bench_scale.py with 255 VRRPv3 instances
(every VRID) and 1020 VIPs (4 per instance) on one interface, vipd only, 0.1 s adverts, a short
window: vipd must bring every VIP up on the master and none on the backup, hold them steady (no
transition, no advert from the backup, no VIP moved) and the backup must hear every instance's
adverts (~2550/s) in the kernel. Start-up time and memory are printed; the CPU and wake-up figures
against keepalived come from scripts/bench-scale.sh (docs/BENCHMARKS.md)."""

import bench_scale


def test_255_vrids_and_1020_vips_on_one_interface(vipd):
    args = bench_scale.parse_args(["--daemon", "vipd", "--intervals", "0.1", "--instances", "255",
                                   "--vips", "1020", "--window", "6", "--settle", "3"])
    row = bench_scale.measure(bench_scale.FLAVORS["vipd"], 0.1, args)
    summary = bench_scale.report([row], args)
    print(summary)
    assert row.vips == 1020 and row.instances == 255
    assert not row.failover, summary
    assert row.startup_s is not None and row.startup_s < 30, summary
    # Every instance's adverts reach the backup's XDP program: 255 instances x 10/s.
    assert row.backup_adverts_accepted_per_s is not None
    assert 0.9 * 2550 <= row.backup_adverts_accepted_per_s <= 1.1 * 2550, summary
    assert 0.9 * 2550 <= row.master_adverts_sent_per_s <= 1.1 * 2550, summary
