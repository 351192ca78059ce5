"""vipd's log lines from a real daemon on the lab: every line carries a level (text), or is one JSON
object with the fixed keys (--log-format json), through start, election, a handoff (priority 0)
and a stop; keepalived's wording stays the message.

ctest: integration.vipd_logging.
"""

import json
import re

from conftest import V3_XDP, stop_gracefully

TEXT_LINE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} \d{4}: "
                       r"(TRACE|DEBUG|INFO|WARN|ERROR|CRITICAL): .+$")
JSON_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"trace", "debug", "info", "warn", "error", "critical"}


def failover(cluster, extra: tuple[str, ...]) -> None:
    """n1 master, n2 backup; n1 stops (priority 0), n2 takes over; n2 stops."""
    cluster.start("n1", 150, extra=extra)
    cluster.start("n2", 100, extra=extra)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.wait_state("n2", "BACKUP", timeout=2)
    assert stop_gracefully(cluster.procs["n1"])[1] == 0
    cluster.wait_holders(["n2"], timeout=cluster.master_down_interval(100) + 2)
    assert stop_gracefully(cluster.procs["n2"])[1] == 0


def test_text_lines_all_carry_a_level(make_cluster):
    cluster = make_cluster(2, V3_XDP)
    failover(cluster, ())
    lines = cluster.procs["n2"].log().splitlines()
    assert lines, "no log"
    bad = [line for line in lines if not TEXT_LINE.match(line)]
    assert bad == [], f"lines without the timestamp and level layout: {bad[:5]}"
    name = cluster.procs["n2"].settings.instance_name
    assert any(line.endswith(f": INFO: ({name}) Entering MASTER STATE") for line in lines), lines


def test_json_lines_are_objects_with_the_fixed_keys(make_cluster):
    cluster = make_cluster(2, V3_XDP)
    failover(cluster, ("--log-format", "json"))
    lines = cluster.procs["n2"].log().splitlines()
    assert lines, "no log"
    records = []
    for line in lines:
        record = json.loads(line)  # fails the test on any line that is not one JSON object
        assert isinstance(record, dict), line
        assert {"time", "level", "instance", "event", "message"} <= record.keys(), line
        assert JSON_TIME.match(record["time"]), line
        assert record["level"] in LEVELS, line
        records.append(record)
    name = cluster.procs["n2"].settings.instance_name
    messages = [r["message"] for r in records]
    assert f"({name}) Entering BACKUP STATE (init)" in messages or \
        any(m.startswith(f"({name}) Entering BACKUP STATE") for m in messages), messages
    assert f"({name}) Entering MASTER STATE" in messages, messages
    assert any(m.startswith("Stopping vipd") for m in messages), messages
    # The node's structured events: the instance and the transition's data as keys.
    became_master = [r for r in records if r["message"] == f"({name}) Entering MASTER STATE"]
    assert became_master[0]["event"] == "state_change", became_master
    assert became_master[0]["instance"] == name, became_master
    assert (became_master[0]["from"], became_master[0]["to"]) == ("BACKUP", "MASTER"), became_master
