"""`mua demo`: one scenario, or with `--all` every scenario in turn (one JSON document with
every trace, for people who want the whole ports-and-encryption table at once)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mua.core.i18n import _
from mua.core.labels import status_label


def add_demo_arguments(demo: argparse.ArgumentParser, scenario_names: tuple[str, ...]) -> None:
    demo.add_argument(
        "--headless", action="store_true", help=_("run in the terminal (the only mode so far)")
    )
    which = demo.add_mutually_exclusive_group()
    which.add_argument("--scenario", choices=scenario_names, default="modern")
    which.add_argument(
        "--all",
        action="store_true",
        help=_("run every scenario in turn; exit 0 when each ends as expected"),
    )
    demo.add_argument("--json", action="store_true", help=_("print one JSON document on stdout"))


def run_demo_command(args: argparse.Namespace) -> int:
    if getattr(args, "all", False):
        return _all(args.json)
    return _one(args.scenario, args.json)


def _one(name: str, as_json: bool) -> int:
    import asyncio  # not at import: `mua --version` starts no event loop machinery

    from mua.cli.content_line import content_line
    from mua.cli.trace_table import render_trace
    from mua.stack.demo import SCENARIOS, run_demo

    scenario = SCENARIOS[name]
    trace = asyncio.run(run_demo(scenario))
    if as_json:
        print(json.dumps(trace.to_json(), indent=2))
    else:
        title = _("Scenario '{name}': {description}").format(
            name=scenario.name, description=_(scenario.description)
        )
        print(render_trace(trace, title=title))
        if trace.content is not None:
            print(content_line(trace.content))
    ok = trace.status is scenario.expect
    if not ok:
        print(
            _("Expected the message to be {expected}, but it was {actual}.").format(
                expected=status_label(scenario.expect), actual=status_label(trace.status)
            ),
            file=sys.stderr,
        )
    return 0 if ok else 1


def _all(as_json: bool) -> int:
    import asyncio

    from mua.stack.demo import SCENARIOS, run_demo

    results: list[dict[str, Any]] = []
    for scenario in SCENARIOS.values():
        trace = asyncio.run(run_demo(scenario))
        ok = trace.status is scenario.expect
        results.append(
            {
                "name": scenario.name,
                "description": _(scenario.description),
                "expected": scenario.expect.value,
                "ok": ok,
                "trace": trace.to_json(),
            }
        )
        if not as_json:
            grades = " ".join(leg["grade"] for leg in results[-1]["trace"]["legs"])
            mark = _("as expected") if ok else _("NOT as expected")
            print(
                _("{name}: {status} ({mark}); legs: {grades}").format(
                    name=scenario.name,
                    status=status_label(trace.status),
                    mark=mark,
                    grades=grades,
                )
            )
    every = all(r["ok"] for r in results)
    if as_json:
        print(json.dumps({"ok": every, "scenarios": results}, indent=2))
    return 0 if every else 1
