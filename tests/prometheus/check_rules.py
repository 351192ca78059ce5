#!/usr/bin/python3
"""Checks deploy/prometheus/vipd-rules.yml and proves its unit tests can fail.

1. `promtool check rules` (syntax, PromQL, templates, duplicate rules).
2. House rules for every alert: a `for:`, a severity label, a summary and a description that
   points at docs/OPERATIONS.md; every `$labels.X` in its annotations is a label the alert has in
   the tests; the tests show it firing at least once and silent at least once.
3. `promtool test rules tests/prometheus/vipd-rules.test.yml` against a copy of the rules without
   the `description` annotations (the tests compare summaries; descriptions are long operator
   text checked by 2.).
4. Mutants: for every alert, a copy whose expression never fires, one whose expression always
   fires, and (with a `for:`) one without it; plus planted bugs in the shared recording rule and
   thresholds. Each mutant must make the tests fail; one that passes is a gap in the tests.

Usage: check_rules.py RULES TESTS   (exit 0: all good)
"""
import concurrent.futures
import copy
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SEVERITIES = {"critical", "warning", "info"}

# (rule name, text in its expr, replacement): realistic slips the tests must catch.
PLANTED_BUGS = [
    ("vip_instance:vipd_vip_held:max", "unless on (instance) vipd_build_info", ""),
    ("vip_instance:vipd_vip_held:max", '"([^/]+)(/.*)?"', '"(.+)"'),
    ("vip_instance:vipd_vip_held:max", "keepalived_vrrp_state == 2", "keepalived_vrrp_state >= 1"),
    ("VipdVipOnMultipleNodes", "> 1", "> 0"),
    ("VipdVipOnNoNode", "unless on (vip)", "and on (vip)"),
    ("VipdFlapping", "> 6", "> 2"),
    ("VipdFlapping", "> 6", "> 20"),
    ("VipdAdvertsRejected", "[5m]", "[15m]"),
    ("VipdDown", 'job=~"vipd.*"', 'job=~".+"'),
    ("VipdDown", " or keepalived_up == 0", ""),
]


def fail(message: str) -> None:
    print(f"check_rules: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def rules_of(doc: dict) -> list[dict]:
    return [rule for group in doc["groups"] for rule in group["rules"]]


def run_tests(rules: dict, tests_path: pathlib.Path, workdir: pathlib.Path) -> subprocess.CompletedProcess:
    """Runs promtool test rules with `rules` written where the test file expects its rule file."""
    tests = yaml.safe_load(tests_path.read_text())
    (workdir / tests["rule_files"][0]).write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(tests_path, workdir / "tests.yml")
    return subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=workdir,
                          capture_output=True, text=True, timeout=120)


def without_descriptions(doc: dict) -> dict:
    stripped = copy.deepcopy(doc)
    for rule in rules_of(stripped):
        rule.get("annotations", {}).pop("description", None)
    return stripped


def house_rule_problems(doc: dict, tests: dict) -> list[str]:
    firing: dict[str, list[dict]] = {}
    silent: set[str] = set()
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            name = case["alertname"]
            if case.get("exp_alerts"):
                firing.setdefault(name, []).extend(a["exp_labels"] for a in case["exp_alerts"])
            else:
                silent.add(name)
    problems = []
    for rule in rules_of(doc):
        name = rule.get("alert")
        if name is None:
            continue
        if "for" not in rule:
            problems.append(f"{name}: no `for:`")
        if rule.get("labels", {}).get("severity") not in SEVERITIES:
            problems.append(f"{name}: severity label missing or not one of {sorted(SEVERITIES)}")
        annotations = rule.get("annotations", {})
        if not annotations.get("summary") or not annotations.get("description"):
            problems.append(f"{name}: summary and description annotations are required")
        elif "docs/OPERATIONS.md" not in annotations["description"]:
            problems.append(f"{name}: the description must name its docs/OPERATIONS.md section")
        if name not in firing:
            problems.append(f"{name}: no test shows it firing")
        if name not in silent:
            problems.append(f"{name}: no test shows it silent")
        known = {label for labels in firing.get(name, []) for label in labels}
        for text in annotations.values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                if label not in known:
                    problems.append(f"{name}: annotation uses $labels.{label}, which the alert "
                                    f"does not have in its tests (it has {sorted(known)})")
    return problems


def house_rules_catch_planted_bugs(doc: dict, tests: dict) -> None:
    """The house-rule check itself must fire: one planted slip of each kind."""
    alert = next(i for i, r in enumerate(rules_of(doc)) if "alert" in r)

    def planted(change) -> list[str]:
        mutated_doc, mutated_tests = copy.deepcopy(doc), copy.deepcopy(tests)
        change(rules_of(mutated_doc)[alert], mutated_tests)
        return house_rule_problems(mutated_doc, mutated_tests)

    name = rules_of(doc)[alert]["alert"]
    slips = {
        "no for": lambda r, t: r.pop("for"),
        "no severity": lambda r, t: r["labels"].pop("severity"),
        "no runbook": lambda r, t: r["annotations"].update(description="look around"),
        "label typo": lambda r, t: r["annotations"].update(summary="{{ $labels.vipp }}"),
        "never tested": lambda r, t: t.update(tests=[
            {**test, "alert_rule_test": [c for c in test.get("alert_rule_test", [])
                                         if c["alertname"] != name]} for test in t["tests"]]),
    }
    for what, change in slips.items():
        if not planted(change):
            fail(f"the house-rule check misses a planted slip ({what}) in {name}")


def mutants(doc: dict):
    """Yields (description, mutated rules document)."""
    for index, rule in enumerate(rules_of(doc)):
        name = rule.get("alert")
        if name is None:
            continue
        variants = [("never fires", "vector(0) > 1"), ("always fires", "vector(1)")]
        for what, expr in variants:
            mutated = copy.deepcopy(doc)
            rules_of(mutated)[index]["expr"] = expr
            yield f"{name}: {what}", mutated
        if rule.get("for") not in (None, "0s", "0m"):
            mutated = copy.deepcopy(doc)
            rules_of(mutated)[index]["for"] = "0s"
            yield f"{name}: no for:", mutated
    for target, old, new in PLANTED_BUGS:
        mutated = copy.deepcopy(doc)
        rule = next(r for r in rules_of(mutated) if target in (r.get("alert"), r.get("record")))
        if old not in rule["expr"]:
            fail(f"planted bug for {target}: {old!r} is not in its expression any more")
        rule["expr"] = rule["expr"].replace(old, new)
        yield f"{target}: {old!r} -> {new!r}", mutated


def main() -> None:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    rules_path, tests_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    checked = subprocess.run([PROMTOOL, "check", "rules", "--lint=all", "--lint-fatal",
                              str(rules_path)], capture_output=True, text=True, timeout=60)
    if checked.returncode != 0:
        fail(f"promtool check rules:\n{checked.stdout}{checked.stderr}")
    print(checked.stdout.strip())

    doc = yaml.safe_load(rules_path.read_text())
    tests = yaml.safe_load(tests_path.read_text())
    if problems := house_rule_problems(doc, tests):
        fail("\n  ".join(["house rules:"] + problems))
    house_rules_catch_planted_bugs(doc, tests)
    alerts = [r["alert"] for r in rules_of(doc) if "alert" in r]
    print(f"house rules: {len(alerts)} alerts with for:, severity, summary, description, "
          "tests firing and silent; the check catches each planted slip")

    stripped = without_descriptions(doc)
    with tempfile.TemporaryDirectory(prefix="vipd-rules-") as tmp:
        workdir = pathlib.Path(tmp)
        result = run_tests(stripped, tests_path, workdir)
        if result.returncode != 0:
            fail(f"promtool test rules:\n{result.stdout}{result.stderr}")
        print("promtool test rules: SUCCESS")

        # Each mutant in its own directory; two at a time (promtool is mostly start-up time).
        def survives(numbered: tuple[int, tuple[str, dict]]) -> str | None:
            number, (what, mutated) = numbered
            mutant_dir = workdir / f"mutant{number}"
            mutant_dir.mkdir()
            return what if run_tests(mutated, tests_path, mutant_dir).returncode == 0 else None

        all_mutants = list(mutants(stripped))
        workers = min(2, os.cpu_count() or 1)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            survivors = [what for what in pool.map(survives, enumerate(all_mutants)) if what]
        count = len(all_mutants)
        if survivors:
            fail("the tests pass with these mutants (add a test that catches each):\n  " +
                 "\n  ".join(survivors))
        print(f"mutants: all {count} caught by the tests")


if __name__ == "__main__":
    main()
