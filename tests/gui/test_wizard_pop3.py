"""The account wizard's POP3 choice, against a live demo world: discovery finds IMAP by SRV,
the user picks POP3 on the server page, the test signs in over POP3S, and the saved account
downloads over POP3."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QWizard

from mua.core.tls_facts import Security
from mua.gui.wizard import AccountWizard
from mua.stack.ca import LOOPBACK
from mua.store.config import AccountStore
from tests.client_fixtures import memory_keyring  # noqa: F401
from tests.gui.test_wizard import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    WAIT,
    bridge,
    discover_options,
    keys,
    make_wizard,
    sign_in,
    world,
)


def test_the_wizard_sets_up_a_pop3_account(world, bridge, qtbot, tmp_path, keys) -> None:  # noqa: F811
    wizard = make_wizard(qtbot, bridge, tmp_path, discover_options(world))
    sign_in(wizard, world)
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    wizard.next()
    manual = wizard.manual
    assert manual.hosts["imap"].text() == "imap.a.test" and not manual.pop3()
    manual.protocol.setCurrentIndex(manual.protocol.findData("pop3"))
    assert manual.pop3() and manual.hosts["imap"].text() == "pop.a.test"
    assert manual.incoming_box.title() == "Incoming (POP3)"
    ports = world.world.providers["a.test"].ports
    manual.ports["imap"].setValue(ports.pop3_implicit)  # the world's 995 role
    assert manual.security("imap") is Security.IMPLICIT
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_pop3.png"))

    wizard.next()
    qtbot.waitUntil(wizard.testing.isComplete, timeout=WAIT)
    incoming = wizard.testing.results["imap"].text()
    assert "Incoming (POP3)" in incoming
    assert "Signed in over POP3 and TLSv1.3 (implicit TLS), certificate verified." in incoming
    wizard.next()
    assert "Incoming (POP3): pop.a.test port" in wizard.finished_page.summary.text()
    with qtbot.waitSignal(wizard.account_saved):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    account = AccountStore(tmp_path / "accounts.toml").get("alice@a.test")
    assert account.pop3 is not None
    server = account.pop3.server
    assert (server.host, server.port, server.server_name) == (
        LOOPBACK,
        ports.pop3_implicit,
        "pop.a.test",
    )
    assert account.pop3.leave_on_server and account.pop3.keep_days == 14
    assert wizard.currentId() != AccountWizard.TEST
