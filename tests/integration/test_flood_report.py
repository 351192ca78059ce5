"""The flood benchmark's verdict on vipd (bench_flood.vipd_misses): each target it checks is shown
to catch a planted miss. Pure Python, no lab (ctest unit.flood_report_test)."""

import copy

import bench_flood
import floodgen


def node(**overrides) -> dict:
    base = {"cpu": 0.5, "cpu_user": 0.2, "cpu_system": 0.3, "log_lines": 1, "log_top": [],
            "rx_pps": 20000.0, "tx_pps": 500.0, "rx_dropped": 0,
            "rejects": {"bad_ttl": 100_000}, "conflicts": None}
    base.update(overrides)
    return base


def good_row(flood: str = "bad-ttl") -> bench_flood.Row:
    return bench_flood.Row(
        daemon="vipd", flood=flood, rate_target=20000, window_s=5.0, sent=100_000, sent_pps=20000.0,
        generator_tx_dropped=0, expected_on=["master", "backup"],
        baseline={"master": node(rejects={}), "backup": node(rejects={})},
        flooded={"master": node(), "backup": node()}, backup_gains=0, master_losses=0,
        dual_owner_ms=0.0, backup_master_lines=0, vipd_transitions=0,
        master_adverts_sent_per_s=[500.0, 500.0], recovered_s=0.1, sampler={}, misses=[])


def misses(row: bench_flood.Row) -> list[str]:
    return bench_flood.vipd_misses(row, floodgen.CLASSES[row.flood])


def test_a_clean_row_passes():
    assert misses(good_row()) == []


def test_a_takeover_is_caught():
    row = good_row()
    row.backup_gains = 1
    assert any("takeovers" in m for m in misses(row))
    row = good_row()
    row.vipd_transitions = 2
    assert any("takeovers" in m for m in misses(row))


def test_cpu_at_the_target_is_caught():
    row = good_row()
    row.flooded["backup"]["cpu"] = bench_flood.CPU_TARGET
    assert any("backup CPU" in m for m in misses(row))


def test_too_many_log_lines_are_caught():
    row = good_row()
    row.flooded["master"]["log_lines"] = bench_flood.LOG_LINES_PER_MIN + 1
    assert any("master logged" in m for m in misses(row))


def test_a_count_short_of_what_was_sent_is_caught():
    row = good_row()
    row.flooded["backup"]["rejects"] = {"bad_ttl": 99_000}
    assert any("backup counted" in m for m in misses(row))
    row = good_row()
    row.flooded["master"]["rejects"] = {"bad_checksum": 100_000}  # the wrong reason
    assert any("master counted" in m for m in misses(row))


def test_packets_the_kernel_reports_dropped_are_not_held_against_the_count():
    row = good_row()
    row.flooded["backup"]["rejects"] = {"bad_ttl": 99_000}
    row.flooded["backup"]["rx_dropped"] = 1_000
    assert misses(row) == []


def test_a_changed_advert_rate_is_caught():
    row = good_row()
    row.master_adverts_sent_per_s = [500.0, 450.0]
    assert any("adverts/s" in m for m in misses(row))
    row.master_adverts_sent_per_s = [500.0, 600.0]  # e.g. elections repeated by the flood
    assert any("adverts/s" in m for m in misses(row))


def test_a_slow_quiet_window_on_a_loaded_machine_is_not_a_miss():
    row = good_row()
    row.master_adverts_sent_per_s = [462.0, 497.0]  # seen at load average 23
    assert misses(row) == []


def test_arp_rows_compare_the_kernel_conflict_counter():
    row = good_row("arp")
    row.expected_on = ["master"]
    row.flooded["master"]["conflicts"] = 100_000
    assert misses(row) == []
    row = copy.deepcopy(row)
    row.flooded["master"]["conflicts"] = 0
    assert any("master counted 0" in m for m in misses(row))
