"""The compose window and its logic, against a live demo world: completion, attachments (by the
dialog's API and by a drop), the "how this will travel" strip, sending through the Outbox."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from mua.core.account import Account, ServerSettings
from mua.core.compose import Draft
from mua.core.legs import Grade
from mua.core.tls_facts import Security
from mua.gui import compose_logic as logic
from mua.gui.bridge import Bridge
from mua.gui.compose_logic import InboundPosture, TravelLookup
from mua.gui.compose_window import ComposeWindow, RecipientEdit
from mua.gui.demo_profile import DemoSession
from mua.gui.theme import human_size
from mua.stack.provider_options import MxTls
from mua.stack.thread import WorldThread
from mua.store.cache import CachedMessage, MailCache
from tests.conftest import fast_options, maildir_messages

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


# --- fixtures -----------------------------------------------------------------------------


def finish(qtbot, coro, timeout: int = 20_000):
    """Run a coroutine on the (already running) loop until it is done; its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def bridge(loop, qtbot) -> Iterator[Bridge]:
    bridge = Bridge()
    yield bridge
    for widget in QApplication.topLevelWidgets():
        widget.close()
    for task in list(bridge._tasks):
        task.cancel()
    qtbot.waitUntil(lambda: bridge.pending() == 0, timeout=20_000)


def relays_idle(session: DemoSession) -> bool:
    """No MTA of the world holds or works on a message (stopping the world mid-relay would
    leave its relay tasks pending: Mta.stop cancels only its queue runner)."""
    mtas = [p.mta for p in session.world.world.providers.values() if p.mta is not None]
    return all(len(mta.queue) == 0 and not mta._busy for mta in mtas)


@pytest.fixture
def demo(bridge, qtbot, tmp_path: Path) -> Iterator[DemoSession]:
    session = DemoSession.start(tmp_path / "demo", options=fast_options())
    try:
        yield session
    finally:
        qtbot.waitUntil(lambda: relays_idle(session), timeout=20_000)
        finish(qtbot, session.aclose(), timeout=30_000)


def compose(session: DemoSession, bridge: Bridge, qtbot, draft: Draft | None = None):
    lookup = TravelLookup.from_demo_settings(session.settings)
    window = ComposeWindow(session.engine, bridge, "alice@a.test", draft, lookup=lookup)
    qtbot.addWidget(window)
    window.show()
    return window


def chips_settled(window: ComposeWindow, count: int) -> bool:
    chips = window.travel_chips()
    return len(chips) == count and not any(c.pending for c in chips)


def drop_files(widget, paths: list[Path]) -> None:
    """What the window receives when files are dragged from a file manager onto it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()


# --- Qt-free logic ------------------------------------------------------------------------


def test_recipients_are_split_and_their_domains_listed() -> None:
    entries = logic.split_recipients('Bob <bob@b.test>, "Doe, Jo" <jo@C.test>,, carol@b.test')
    assert entries == ("Bob <bob@b.test>", '"Doe, Jo" <jo@C.test>', "carol@b.test")
    assert logic.recipient_domains([*entries, "not-an-address"]) == ["b.test", "c.test"]
    assert logic.split_recipients("  ") == ()


def test_the_entry_under_the_cursor_is_completed() -> None:
    text = "Bob <bob@b.test>, car"
    assert logic.current_token(text, len(text)) == (18, "car")
    completed, cursor = logic.complete_token(text, len(text), "Carol <carol@c.test>")
    assert completed == "Bob <bob@b.test>, Carol <carol@c.test>, "
    assert cursor == len(completed)
    book = ["Bob <bob@b.test>", "Carol <carol@c.test>", "Oscar Bo <o@x.test>"]
    assert logic.suggestions(book, "bo") == ["Bob <bob@b.test>", "Oscar Bo <o@x.test>"]
    assert logic.suggestions(book, " ") == []


def test_the_address_book_comes_from_the_cache(tmp_path: Path) -> None:
    with MailCache(tmp_path / "cache.sqlite3") as cache:
        cache.sync_folder_list("alice@a.test", [("INBOX", "/", None, True)])
        cache.upsert_messages(
            "alice@a.test",
            "INBOX",
            [
                CachedMessage(
                    "alice@a.test",
                    "INBOX",
                    1,
                    "<1@x>",
                    "Hi",
                    "Bob",
                    "bob@b.test",
                    "alice@a.test, Carol <carol@c.test>",
                    date=100.0,
                ),
                CachedMessage(
                    "alice@a.test",
                    "INBOX",
                    2,
                    "<2@x>",
                    "Re",
                    "",
                    "BOB@b.test",
                    "alice@a.test",
                    date=200.0,
                ),
            ],
        )
        book = logic.address_book(cache, "alice@a.test")
    assert book == ["Bob <bob@b.test>", "alice@a.test", "Carol <carol@c.test>"]


def test_validation_names_the_field() -> None:
    assert logic.problem_with(Draft("alice@a.test", to=("bob@b.test",))) is None
    field, text = logic.problem_with(Draft("alice@a.test", to=("bob@b.test",), cc=("bob",)))
    assert field == "Cc" and "'bob' is not an email address" in text
    field, text = logic.problem_with(Draft("alice@a.test"))
    assert field is None and "no recipients" in text


@pytest.mark.parametrize(
    ("security", "grade", "text"),
    [
        (Security.IMPLICIT, Grade.GREEN, "Encrypted and verified (implicit TLS)"),
        (Security.STARTTLS, Grade.AMBER, "Encrypted and verified after STARTTLS"),
        (Security.NONE, Grade.RED, "Not encrypted"),
    ],
)
def test_the_submission_chip_is_graded_like_the_hop_panel(security, grade, text) -> None:
    server = ServerSettings("127.0.0.1", 465, security, "alice", server_name="smtp.a.test")
    chip = logic.submission_chip(Account("alice@a.test", imap=server, smtp=server))
    assert (chip.grade, chip.text) == (grade, text)


def test_posture_verdicts_never_guess() -> None:
    mx = ("mx.b.test",)
    assert InboundPosture("b.test", mx, True, starttls=True, dane=True).grade is Grade.GREEN
    sts = InboundPosture("b.test", mx, starttls=True, mta_sts=True)
    assert sts.grade is Grade.AMBER and "MTA-STS" in sts.summary
    assert InboundPosture("b.test", mx, starttls=True).summary.startswith("opportunistic")
    assert InboundPosture("b.test", mx, starttls=False).grade is Grade.RED
    assert InboundPosture("b.test", mx, starttls=None).grade is Grade.UNKNOWN
    assert InboundPosture("b.test", problems=("timeout",)).summary == "unknown — the lookup failed"
    assert InboundPosture("b.test", null_mx=True).grade is Grade.RED
    assert logic.parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert logic.parse_nameserver("[::1]:53") == ("::1", 53)
    assert logic.parse_nameserver("192.0.2.1") == ("192.0.2.1", 53)
    assert human_size(12) == "12 B" and human_size(3 * 1024 + 512) == "3.5 KB"


@pytest.mark.parametrize(
    ("mx_tls", "grade", "starts"),
    [
        (MxTls.VERIFIED, Grade.GREEN, "DANE (TLSA signed)"),
        (MxTls.UNVERIFIABLE, Grade.AMBER, "opportunistic STARTTLS"),
        (MxTls.NONE, Grade.RED, "no STARTTLS"),
    ],
)
async def test_inbound_posture_of_the_demo_world(tmp_path: Path, mx_tls, grade, starts) -> None:
    with WorldThread(tmp_path / "world", fast_options(b_test={"mx_tls": mx_tls})) as world:
        settings = world.world.settings()
        lookup = TravelLookup.from_demo_settings(settings)
        nameserver = f"{settings['dns']['host']}:{settings['dns']['port']}"
        server = ServerSettings("127.0.0.1", 1, Security.IMPLICIT, "alice")
        account = Account("alice@a.test", server, server, nameserver=nameserver)
        resolver = lookup.resolver(account)
        posture = await lookup.posture("b.test", resolver)
        missing = await lookup.posture("nowhere.test", resolver)
    assert posture.mx == ("mx.b.test",) and posture.mx_signed
    assert (posture.grade, posture.summary.split(" —")[0]) == (grade, starts.split(" —")[0])
    assert posture.summary.startswith(starts)
    assert missing.grade is Grade.RED and "no mail server" in missing.summary


async def test_an_mx_that_does_not_answer_is_unknown_within_the_timeout(tmp_path: Path) -> None:
    with WorldThread(tmp_path / "world", fast_options()) as world:
        settings = world.world.settings()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts, never greets
        try:
            lookup = replace(
                TravelLookup.from_demo_settings(settings),
                mx_ports={"mx.b.test": listener.getsockname()[1]},
                timeout=0.5,
            )
            server = ServerSettings("127.0.0.1", 1, Security.IMPLICIT, "alice")
            ns = f"{settings['dns']['host']}:{settings['dns']['port']}"
            account = Account("alice@a.test", server, server, nameserver=ns)
            posture = await lookup.posture("b.test", lookup.resolver(account))
        finally:
            listener.close()
    assert posture.starttls is None and posture.problems
    assert posture.grade is Grade.GREEN  # DANE holds whatever the probe saw


# --- the window, against the demo world -----------------------------------------------------


def test_compose_attach_and_send_from_alice_to_bob(demo, bridge, qtbot, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 2048)
    window = compose(demo, bridge, qtbot)
    window.resize(820, 600)
    window.to_edit.setText("Bob <bob@b.test>")
    window.subject_edit.setText("Plans for Friday")
    window.body.setPlainText("Hello Bob,\n\nthe notes and a photo are attached.\n\nAlice\n")
    window.add_attachments([notes])  # what the file dialog calls
    drop_files(window, [photo])  # dragged onto the window
    assert [a.filename for a in window.attachments()] == ["notes.txt", "photo.png"]
    assert "2.0 KB" in window.attachment_list.item(1).text()

    qtbot.waitUntil(lambda: chips_settled(window, 2), timeout=15_000)
    submission, b_test = window.travel_chips()
    assert (submission.title, submission.grade) == ("Submission", Grade.GREEN)
    assert submission.text == "Encrypted and verified (implicit TLS)"
    assert (b_test.title, b_test.grade) == ("b.test", Grade.GREEN)
    assert b_test.text == "DANE (TLSA signed) — delivery will be authenticated"
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "compose.png"))

    with qtbot.waitSignal(window.reported, timeout=20_000) as reported:
        qtbot.keyClick(window.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert reported.args == ["Sent (TLSv1.3, verified)"]
    assert not window.isVisible()
    world = demo.world.world

    def delivered() -> list[email.message.EmailMessage]:
        raw = maildir_messages(world, "bob@b.test")
        return [email.message_from_bytes(r, policy=email.policy.default) for r in raw]

    qtbot.waitUntil(lambda: len(delivered()) == 1, timeout=15_000)
    (message,) = delivered()
    assert message["Subject"] == "Plans for Friday" and "Alice" in message["From"]
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["notes.txt", "photo.png"]
    assert len(demo.engine.outbox) == 0


def test_files_dropped_on_the_body_are_attached_not_pasted(demo, bridge, qtbot, tmp_path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n")
    window = compose(demo, bridge, qtbot)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(report))])
    assert window.body.canInsertFromMimeData(mime)
    window.body.insertFromMimeData(mime)
    assert [a.filename for a in window.attachments()] == ["report.pdf"]
    assert window.body.toPlainText() == ""
    window.attachment_list.setCurrentRow(0)
    window.remove_button.click()
    assert window.attachments() == [] and not window.attachments_box.isVisibleTo(window)


def test_validation_errors_show_inline_and_nothing_is_queued(demo, bridge, qtbot) -> None:
    window = compose(demo, bridge, qtbot)
    window.to_edit.setText("bob@b.test, bob")
    window.send_button.click()
    assert "To address 'bob' is not an email address" in window.error_text()
    assert window.isVisible() and len(demo.engine.outbox) == 0
    window.to_edit.setText("bob@b.test")
    assert window.error_text() == ""  # editing clears it


def test_completion_offers_people_from_the_cache(qtbot) -> None:
    edit = RecipientEdit(["Bob <bob@b.test>", "Carol <carol@c.test>"])
    qtbot.addWidget(edit)
    edit.show()
    qtbot.keyClicks(edit, "Carol <carol@c.test>, bo")
    assert edit.completer_.completionPrefix() == "bo"
    assert edit.completer_.currentCompletion() == "Bob <bob@b.test>"
    edit.insert_completion(edit.completer_.currentCompletion())
    assert edit.text() == "Carol <carol@c.test>, Bob <bob@b.test>, "


def test_lookups_are_cancelled_when_the_recipients_change(demo, bridge, qtbot) -> None:
    window = compose(demo, bridge, qtbot)
    window.to_edit.setText("bob@b.test")
    window._refresh_travel()
    task = window._lookups["b.test"]
    window.to_edit.setText("alice@a.test")
    window._refresh_travel()
    qtbot.waitUntil(task.done)
    assert task.cancelled() and list(window._lookups) == ["a.test"]
    assert [c.title for c in window.travel_chips()] == ["Submission", "a.test"]


def test_a_refused_password_keeps_the_window_open(demo, bridge, qtbot) -> None:
    demo.engine.secrets.set("alice@a.test", "smtp", "wrong")
    window = compose(demo, bridge, qtbot, Draft("alice@a.test", to=("bob@b.test",), subject="x"))
    window.send()
    qtbot.waitUntil(lambda: window.error_text() != "", timeout=15_000)
    assert "rejected the user name or password" in window.error_text()
    assert window.isVisible() and window.send_button.isEnabled()
    (entry,) = demo.engine.outbox.entries()
    assert entry.failed
    demo.engine.secrets.set("alice@a.test", "smtp", _password(demo, "alice@a.test"))
    with qtbot.waitSignal(window.reported, timeout=20_000):
        window.send()  # sending again replaces the failed entry
    assert len(demo.engine.outbox) == 0


def test_an_unreachable_server_leaves_it_in_the_outbox(demo, bridge, qtbot) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    account = demo.engine.accounts.get("alice@a.test")
    demo.engine.accounts.update(account.with_changes(smtp=replace(account.smtp, port=port)))
    window = compose(demo, bridge, qtbot, Draft("alice@a.test", to=("bob@b.test",), subject="y"))
    with qtbot.waitSignal(window.reported, timeout=20_000) as reported:
        window.send()
    assert "stays in the Outbox and will be retried" in reported.args[0]
    assert len(demo.engine.outbox) == 1 and not window.isVisible()


def test_save_draft_files_it_in_drafts(demo, bridge, qtbot) -> None:
    window = compose(demo, bridge, qtbot, Draft("alice@a.test", subject="Unfinished"))
    window.save_button.click()
    qtbot.waitUntil(lambda: window.status_label.text() == "Saved to Drafts.", timeout=15_000)
    finish(qtbot, demo.engine.sync("alice@a.test", ["Drafts"]))
    assert [r.subject for r in demo.engine.cache.page("alice@a.test", "Drafts")] == ["Unfinished"]


def _password(session: DemoSession, address: str) -> str:
    return next(a["password"] for a in session.settings["accounts"] if a["address"] == address)
