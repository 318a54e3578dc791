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
