"""Issue 16: the account wizard's discovery page offers the POP3 servers discovery finds
(SRV `_pop3s._tcp` before `_pop3._tcp`, RFC 6186; implicit TLS first) beside the IMAP ones,
opened from the main window as the app opens it in demo mode. IMAP stays preselected (it
syncs where POP3 downloads); choosing the POP3 row makes the server page a POP3 one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWizard

from mua.core.tls_facts import Security
from mua.gui.wizard import AccountWizard
from mua.gui.wizard_page import ROLE

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 30_000


def test_discovery_offers_the_pop3_servers_too(qtbot, demo_session, open_main_window) -> None:
    world = demo_session.world.world
    engine = demo_session.engine
    engine.accounts.remove("alice@a.test")  # to add it again, over POP3
    for kind in ("imap", "smtp"):
        engine.secrets.delete("alice@a.test", kind)
    ports = world.providers["a.test"].ports
    main = open_main_window()
    wizard = main.add_account()
    assert isinstance(wizard, AccountWizard)
    qtbot.waitExposed(wizard)
    wizard.identity.address_edit.setText("alice@a.test")
    wizard.identity.password_edit.setText(world.mailbox("alice@a.test").password)
    wizard.next()
    page = wizard.discovering
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    page.oauth_offer.setChecked(False)  # the provider offers OAuth2; the user keeps a password
    tree = page.lists["imap"]
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    where = [row.text(0) for row in rows]
    pop3 = [row for row in rows if row.text(0).startswith("POP3 ")]
    assert [row.text(0) for row in pop3] == [
        f"POP3 pop.a.test:{ports.pop3_implicit}",  # _pop3s._tcp: implicit TLS first
        f"POP3 pop.a.test:{ports.pop3_starttls}",
    ], where
    assert pop3[0].text(1) == "TLS (implicit)" and pop3[1].text(1) == "STARTTLS"
    assert pop3[0].text(3).startswith("Verified: TLSv1")
    assert pop3[0].text(2) == "Recommended"
    assert "_pop3s._tcp.a.test" in pop3[0].data(0, ROLE).note
    assert tree.currentItem().data(0, ROLE).kind == "imap"  # IMAP stays the choice
    assert page.titles["imap"].text() == "<b>Incoming (IMAP or POP3)</b>"
    steps = [page.steps.item(i).text() for i in range(page.steps.count())]
    assert f"SRV _pop3s._tcp.a.test: pop.a.test port {ports.pop3_implicit}." in steps
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_discovery_pop3.png"))

    tree.setCurrentItem(pop3[0])  # the user picks POP3 over implicit TLS
    wizard.next()
    manual = wizard.manual
    assert manual.pop3() and manual.incoming_box.title() == "Incoming (POP3)"
    assert manual.hosts["imap"].text() == "pop.a.test"
    assert manual.ports["imap"].value() == ports.pop3_implicit
    assert manual.security("imap") is Security.IMPLICIT
    wizard.next()
    qtbot.waitUntil(wizard.testing.isComplete, timeout=WAIT)
    assert "Signed in over POP3" in wizard.testing.results["imap"].text()
    wizard.next()
    with qtbot.waitSignal(wizard.account_saved, timeout=WAIT) as saved:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    account = saved.args[0]
    assert account.pop3 is not None and account.pop3.server.port == ports.pop3_implicit
