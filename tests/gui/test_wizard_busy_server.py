"""The account wizard opened from the main window in demo mode, against a world whose IMAP
server answers every LOGIN `NO [UNAVAILABLE]` (RFC 5530: it cannot check the password right
now; the world's chaos option makes it so): the test step says to try again later, never that
the password is wrong, and the server's own words are behind "Details"."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.gui.wizard import AccountWizard
from tests.gui.conftest import finish

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 30_000
WRONG_PASSWORD = "did not accept the user name or password"


@pytest.fixture
def demo_session(qtbot, tmp_path: Path, loop):
    """The app's demo mode over a world where b.test's IMAP server refuses every sign-in
    with `NO [UNAVAILABLE]` (a.test's works as always)."""
    from mua.gui.demo_profile import DemoSession
    from mua.stack.chaos import ChaosOptions, Fault
    from tests.conftest import fast_options

    busy = ChaosOptions(
        rate=1.0,
        roles=frozenset({"imap"}),
        faults=frozenset({Fault.TEMPORARY}),
        commands=frozenset({"LOGIN", "AUTHENTICATE"}),
    )
    demo = DemoSession.start(tmp_path / "demo", options=fast_options(b_test={"chaos": busy}))
    yield demo
    finish(qtbot, demo.aclose())


def test_a_busy_imap_server_is_no_wrong_password(qtbot, demo_session, open_main_window) -> None:
    engine = demo_session.engine
    password = demo_session.world.world.mailbox("bob@b.test").password
    engine.accounts.remove("bob@b.test")  # to add it again through the wizard
    for kind in ("imap", "smtp"):
        engine.secrets.delete("bob@b.test", kind)
    wizard = open_main_window().add_account()
    assert isinstance(wizard, AccountWizard)
    qtbot.waitExposed(wizard)
    wizard.identity.address_edit.setText("bob@b.test")
    wizard.identity.password_edit.setText(password)
    wizard.next()
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    wizard.discovering.oauth_offer.setChecked(False)  # the provider offers OAuth2: a password
    wizard.next()
    assert wizard.currentId() == AccountWizard.MANUAL
    wizard.next()
    page = wizard.testing
    qtbot.waitUntil(page.retry.isEnabled, timeout=WAIT)
    assert not page.isComplete()

    incoming = page.results["imap"]
    said = incoming.text()
    assert WRONG_PASSWORD not in said, said
    assert "could not check the password right now; try again later." in said, said
    incoming.toggle.click()
    qtbot.waitUntil(incoming.details.isVisible)
    assert "UNAVAILABLE" in incoming.details.text()  # the server's own words
    assert "Connected over" in page.results["smtp"].text()  # the outgoing server is fine
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_busy_imap_server.png"))
