"""The journey's content row (issue 13): under the legs, beside their grades and never one of
them, as the main window shows it in demo mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mua.core.content import ContentStatus
from mua.core.legs import Grade, LegKind
from tests.gui.conftest import finish
from tests.gui.test_scenarios import show_scenario

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def window(qtbot, demo_session, loop) -> Iterator[object]:
    from mua.gui.app import _main_window

    main = _main_window(demo_session.engine, demo_session)
    main.idle_slice = 1.0
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()
    finish(qtbot, main.aclose())
    main.deleteLater()


def test_a_rewritten_message_shows_altered_beside_a_red_relay(qtbot, window) -> None:
    trace = show_scenario(qtbot, window, "strip-rewrite")
    relay = next(leg for leg in trace.legs if leg.kind is LegKind.RELAY)
    assert relay.grade is Grade.RED
    row = window.hop_panel.ensure().content_row
    assert row.verdict is not None and row.verdict.verdict is ContentStatus.ALTERED
    assert row.isVisible()
    assert "Content: altered after signing" in row.text.text()
    assert "Altered after signing (body)" in row.text.text()
    assert row.accessibleName() == "Content: altered after signing"
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "content_row_strip_rewrite.png"))


def test_a_forged_message_says_not_from_a_test(qtbot, window) -> None:
    show_scenario(qtbot, window, "forged")
    row = window.hop_panel.ensure().content_row
    assert row.verdict is not None and row.verdict.verdict is ContentStatus.UNSIGNED
    assert "Not from a.test" in row.text.text()
    assert window.grab().save(str(ARTIFACTS / "content_row_forged.png"))


def test_everyday_mail_is_intact_with_the_key_the_demo_looked_up(
    qtbot, window, demo_session
) -> None:
    """Alice's message read by Bob in the demo world: checked in the GUI thread against the
    key cache (filled through the world's validating resolver at start), no DNS asked."""
    from mua.core.compose import Draft
    from mua.gui.message_model import Column

    outcome = finish(
        qtbot,
        demo_session.engine.send(
            Draft(sender="alice@a.test", to=("bob@b.test",), subject="Signed", text="Hi.\n")
        ),
    )
    assert outcome.sent, outcome.error
    assert window.select_folder("bob@b.test", "INBOX")
    model = window.messages

    def row() -> int | None:
        subjects = [model.message_at(r).subject for r in range(model.rowCount())]
        return subjects.index("Signed") if "Signed" in subjects else None

    qtbot.waitUntil(lambda: row() is not None, timeout=20_000)
    window.message_view.setCurrentIndex(model.index(row(), Column.SUBJECT))
    qtbot.waitUntil(lambda: window.hop_panel.trace() is not None, timeout=20_000)
    window.act_journey.trigger()
    content = window.hop_panel.trace().content
    assert content is not None and content.verdict is ContentStatus.INTACT
    assert (content.domain, content.dnssec, content.source.value) == ("a.test", True, "observed")
    row_widget = window.hop_panel.ensure().content_row
    qtbot.waitUntil(row_widget.isVisible, timeout=20_000)
    qtbot.waitUntil(lambda: window.hop_panel.ensure().diagram.isVisible(), timeout=20_000)
    assert "Content: intact" in row_widget.text.text()
    assert "key DNSSEC-signed" in row_widget.text.text()
    assert window.grab().save(str(ARTIFACTS / "content_row_intact.png"))
