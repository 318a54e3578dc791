"""The `mua` command as scripts use it: exit codes, one JSON document, clean stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mua.cli import main
from mua.net.submission import Security, SubmissionEndpoint, submit
from tests.stackhelp import message

EXPECTED_RELAY = {
    "modern": ("green", "dane"),
    "starttls": ("green", "dane"),
    "opportunistic": ("amber", None),
    "plaintext": ("red", None),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_RELAY))
def test_demo_prints_one_json_document_and_exits_0(scenario: str, capsys) -> None:
    assert main(["demo", "--headless", "--scenario", scenario, "--json"]) == 0
    out = capsys.readouterr().out
    trace = json.loads(out)  # exactly one document: json.loads rejects trailing data
    assert trace["status"] == "delivered"
    assert trace["message_id"].startswith("<demo-")
    roles = [(leg["from"]["role"], leg["to"]["role"]) for leg in trace["legs"]]
    assert roles == [
        ("MUA", "MSA"),
        ("MSA", "MTA"),
        ("MTA", "MX"),
        ("MX", "MDA"),
        ("MDA", "MS"),
        ("MS", "MUA"),
    ]
    assert [leg["index"] for leg in trace["legs"]] == [1, 2, 3, 4, 5, 6]
    submission, relay, retrieval = trace["legs"][0], trace["legs"][2], trace["legs"][5]
    assert retrieval["protocol"] == "IMAP"
    assert retrieval["port"]["role"] == (143 if scenario == "starttls" else 993)
    assert retrieval["grade"] == ("amber" if scenario == "starttls" else "green")
    assert retrieval["tls"]["verified"] is True and retrieval["source"] == "observed"
    assert submission["grade"] == ("amber" if scenario == "starttls" else "green")
    assert submission["port"]["role"] == (587 if scenario == "starttls" else 465)
    assert (relay["grade"], relay["tls"]["verified_by"]) == EXPECTED_RELAY[scenario]
    assert relay["tls"]["encrypted"] is (scenario != "plaintext")
    assert all(leg["note"] for leg in trace["legs"])


def test_demo_table_fits_80_columns(capsys) -> None:
    assert main(["demo", "--headless"]) == 0
    out = capsys.readouterr().out
    assert "Status: delivered" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "\033[" not in out  # no colour when stdout is not a terminal


def _run_stack(directory: Path) -> subprocess.Popen:
    env = {**os.environ, "MUA_HOME": str(directory / "home")}
    return subprocess.Popen(
        [sys.executable, "-m", "mua", "stack", "--json", "--dir", str(directory / "world")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _settings(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return json.loads(line)


@pytest.mark.slow
def test_stack_json_settings_and_clean_stop_on_sigterm(tmp_path: Path) -> None:
    proc = _run_stack(tmp_path)
    try:
        settings = _settings(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert Path(settings["ca_file"]).exists()
    assert Path(settings["trust_anchor_file"]).exists()
    assert settings["dns"] == {"host": "127.0.0.1", "port": 10053}
    assert [d["name"] for d in settings["domains"]] == ["a.test", "b.test"]
    assert settings["domains"][1]["mx"] == {"host": "mx.b.test", "port": 20025}
    assert settings["domains"][0]["oauth"] == {"issuer": "https://auth.a.test:14443/"}
    alice, bob = settings["accounts"]
    assert (alice["address"], bob["address"]) == ("alice@a.test", "bob@b.test")
    assert alice["smtp"] == {
        "host": "smtp.a.test",
        "implicit_tls_port": 10465,
        "starttls_port": 10587,
    }
    assert bob["smtp"]["implicit_tls_port"] == 20465
    assert alice["username"] == "alice" and len(alice["password"]) >= 12
    assert alice["imap"] == {
        "host": "imap.a.test",
        "implicit_tls_port": 10993,
        "starttls_port": 10143,
    }
    assert bob["imap"]["implicit_tls_port"] == 20993


@pytest.mark.slow
async def test_message_acknowledged_before_a_sigkill_is_delivered_after_restart(
    tmp_path: Path,
) -> None:
    from mua.stack.world import World
    from tests.conftest import eventually, fast_options, maildir_messages

    proc = _run_stack(tmp_path)
    try:
        settings = _settings(proc)
        alice = settings["accounts"][0]
        endpoint = SubmissionEndpoint(
            "127.0.0.1",
            alice["smtp"]["implicit_tls_port"],
            Security.IMPLICIT,
            ca_file=Path(settings["ca_file"]),
            server_name="smtp.a.test",
        )
        await submit(
            endpoint,
            message("alice@a.test", ["bob@b.test"], subject="Survivor"),
            username=alice["username"],
            password=alice["password"],
        )
    finally:
        proc.kill()  # SIGKILL right after 250: no chance to flush or stop cleanly
        proc.communicate(timeout=30)
    async with World(tmp_path / "world", fast_options()) as world:
        found = await eventually(lambda: maildir_messages(world, "bob@b.test"))
        assert any(b"Subject: Survivor" in raw for raw in found)
        await eventually(lambda: len(world.providers["a.test"].queue) == 0)


def test_the_scenario_names_are_the_demos_and_the_parser_does_not_start_a_world() -> None:
    """`mua --version` and `--help` import neither the mail world nor asyncio."""

    from mua.stack.demo import SCENARIOS
    from mua.stack.scenario_names import SCENARIO_NAMES

    assert tuple(SCENARIOS) == SCENARIO_NAMES
    probe = (
        "import sys\nfrom mua.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mua.stack.', 'asyncio'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "['mua.stack.scenario_names']", out.stdout


def test_every_module_imports_and_help_prints_exit_codes_under_OO() -> None:
    """`python -OO` strips docstrings (a frozen app may be built that way): no module may read
    data out of one. Every module of mua imports, and `mua --help` still lists the exit codes."""

    probe = (
        "import importlib, pkgutil, mua\n"
        "for m in pkgutil.walk_packages(mua.__path__, 'mua.'):\n"
        "    if m.name != 'mua.__main__':  # that one runs the app\n"
        "        importlib.import_module(m.name)\n"
        "print('imported')\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-OO", "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "imported", out.stderr[-2000:]
    helped = subprocess.run(
        [sys.executable, "-OO", "-m", "mua", "--help"], capture_output=True, text=True, env=env
    )
    assert helped.returncode == 0, helped.stderr
    assert "77 (EX_NOPERM)" in helped.stdout
    assert "66 (EX_NOINPUT)" in helped.stdout  # `mua trace` of a file it cannot read
