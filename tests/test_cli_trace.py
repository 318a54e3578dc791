"""`mua trace FILE.eml`: a stored message's journey from its headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mua.cli import main
from mua.stack.world import World
from mua.store.config import AccountStore
from tests.client_fixtures import memory_keyring, world_account  # noqa: F401
from tests.conftest import eventually, maildir_messages
from tests.stackhelp import send

SAMPLE = (
    "Received: from mx.example.net (mx.example.net [192.0.2.10])\r\n"
    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
    "\tby mail.example.com (Postfix) with ESMTPS id 4ABC\r\n"
    "\tfor <user@example.com>; Sat, 28 Nov 2026 10:00:05 +0000\r\n"
    "Received: from client.example.org ([198.51.100.7])\r\n"
    "\tby mx.example.net (Exim 4.96) with esmtpsa (TLS1.3) tls TLS_AES_128_GCM_SHA256\r\n"
    "\tid 1x; Sat, 28 Nov 2026 10:00:01 +0000\r\n"
    "TLS-Required: No\r\n"
    "Subject: sample\r\nMessage-ID: <s@example.org>\r\n\r\nbody\r\n"
)


def test_trace_of_a_file_has_the_documented_json_shape(tmp_path: Path, capsys) -> None:
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    assert main(["trace", str(eml), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["status"] == "parsed" and trace["message_id"] == "<s@example.org>"
    first, second = trace["legs"]
    assert (
        first["tls"]["version"] == "TLSv1.3" and first["tls"]["cipher"] == "TLS_AES_128_GCM_SHA256"
    )
    assert first["source"] == "claimed" and second["source"] == "recorded"
    assert main(["trace", str(eml)]) == 0
    out = capsys.readouterr().out
    assert "TLS-Required: No" in out and max(map(len, out.splitlines())) <= 80


def test_trace_of_a_missing_file_is_one_sentence(tmp_path: Path, capsys) -> None:
    assert main(["trace", str(tmp_path / "nope.eml")]) == 66
    assert capsys.readouterr().err.startswith("mua: Cannot read")


@pytest.mark.usefixtures("memory_keyring")
async def test_trace_with_the_account_knows_its_provider(
    world: World, tmp_path: Path, capsys
) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject="traced")
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)
    AccountStore().add(world_account(world, "bob@b.test"))
    assert main(["trace", str(eml), "--json", "--account", "bob@b.test"]) == 0
    submission, relay = json.loads(capsys.readouterr().out)["legs"]
    assert (submission["from"]["role"], submission["to"]["role"]) == ("MUA", "MSA")
    assert submission["source"] == "claimed"  # a.test is not bob's provider
    assert relay["source"] == "recorded" and relay["tls"]["version"] == "TLSv1.3"


@pytest.mark.usefixtures("memory_keyring")
async def test_open_without_a_display_prints_the_journey_for_the_recipients_account(
    world: World, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What double-clicking an .eml runs; the account comes from the message's recipient."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    await send(world, "alice@a.test", ["bob@b.test"], subject="opened")
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)
    assert main(["open", str(eml)]) == 0
    before = capsys.readouterr()
    assert "No display found" in before.err and "claimed" in before.out
    AccountStore().add(world_account(world, "bob@b.test"))
    assert main(["open", str(eml)]) == 0
    out = capsys.readouterr().out
    assert "recorded" in out  # bob's provider's own header, known through his account
    assert main(["open", str(tmp_path / "nope.eml")]) == 66
