"""The main window with a POP3 account, against a live demo world: bob's account downloads
over POP3S; what alice sends shows up in his INBOX like any account's mail, and its journey
ends with the POP3 retrieval leg (995, green, the table's note)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mua.core.account import Pop3Settings, ServerSettings
from mua.core.compose import Draft
from mua.core.legs import Grade, LegKind, Protocol
from mua.core.tls_facts import Security
from mua.gui.bridge import Bridge
from mua.gui.demo_profile import DemoSession
from mua.gui.journey_source import trace_provider
from mua.gui.main_window import MainWindow
from tests.gui.test_main_window import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    BOB,
    WAIT,
    finish,
    row_of,
    rows,
    session,
    settings_dir,
)


@pytest.fixture
def pop3_window(qtbot, session: DemoSession, loop, settings_dir: Path) -> Iterator[MainWindow]:  # noqa: F811
    """The main window, bob's account switched to POP3 before the window first syncs it."""
    world = session.world.world
    provider = world.providers["b.test"]
    assert provider.ports is not None
    bob = session.engine.accounts.get(BOB)
    server = ServerSettings(
        "127.0.0.1",
        provider.ports.pop3_implicit,
        Security.IMPLICIT,
        bob.imap.username,
        world.ca.ca_file,
        provider.pop3_host,
    )
    session.engine.accounts.update(replace(bob, imap=server, pop3=Pop3Settings(server)))
    main = MainWindow(session.engine, Bridge(), demo=session)
    main.idle_slice = 0.5  # POP3 has no IDLE: the window looks again after each slice
    main.show()
    yield main
    main.close()
    finish(qtbot, main.aclose())
    main.deleteLater()


def test_a_pop3_account_reads_like_any_other(qtbot, pop3_window: MainWindow, session) -> None:  # noqa: F811
    window = pop3_window
    qtbot.waitUntil(lambda: window.folders.folder_index(BOB, "INBOX").isValid(), timeout=WAIT)
    assert window.select_folder(BOB, "INBOX")
    draft = Draft(sender="alice@a.test", to=(BOB,), subject="Downloaded", text="Hi Bob\n")
    outcome = finish(qtbot, session.engine.send(draft))
    assert outcome.sent, outcome.error
    qtbot.waitUntil(lambda: "Downloaded" in rows(window), timeout=WAIT)
    window.trace_provider = trace_provider(session.engine, session)
    index = window.messages.index(row_of(window, "Downloaded"), 0)
    window.message_view.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.reader.message is not None, timeout=WAIT)
    assert "Hi Bob" in window.reader.browser.toPlainText()
    qtbot.waitUntil(lambda: "POP3: TLSv1.3" in window.security_label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: window.hop_panel.trace() is not None, timeout=WAIT)
    legs = window.hop_panel.trace().legs
    assert [leg.kind for leg in legs].count(LegKind.RETRIEVAL) == 1
    last = legs[-1]
    assert last.kind is LegKind.RETRIEVAL and last.protocol is Protocol.POP3
    assert last.port_role == 995 and last.grade is Grade.GREEN
    assert "POP3 downloads the messages" in last.note
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "main_window_pop3.png"))
