"""`mua demo --headless --all --json` as a person runs it: a subprocess, one JSON document on
stdout with every scenario's trace (docs/design.md#every-scenario)."""

from __future__ import annotations

import json
import subprocess
import sys

from mua.core.legs import Leg
from mua.stack.ports_table import PORTS_TABLE, worst_grade
from mua.stack.scenario_names import SCENARIO_NAMES


def test_demo_all_json_prints_every_scenario_in_one_document() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mua", "demo", "--headless", "--all", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # exactly one document: logs went to stderr
    assert document["ok"] is True
    assert [s["name"] for s in document["scenarios"]] == list(SCENARIO_NAMES)
    for scenario in document["scenarios"]:
        trace = scenario["trace"]
        assert scenario["ok"] is True and trace["status"] == scenario["expected"]
        assert trace["legs"] and scenario["description"]
        assert [leg["index"] for leg in trace["legs"]] == list(range(1, len(trace["legs"]) + 1))
    by_name = {s["name"]: s["trace"] for s in document["scenarios"]}
    assert by_name["legacy-25"]["legs"][0]["grade"] == "red"
    assert by_name["modern"]["legs"][0]["grade"] == "green"
    # The ports table's every cell: the grade it shows is what its scenario's run gave.
    for row in PORTS_TABLE:
        for cell in row.cells:
            legs = [Leg.from_json(leg) for leg in by_name[cell.scenario]["legs"]]
            assert worst_grade(legs, row.kind) is cell.grade, (row.kind, cell.scenario)


def test_demo_all_and_scenario_exclude_each_other() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mua", "demo", "--headless", "--all", "--scenario", "modern"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--all" in done.stderr
