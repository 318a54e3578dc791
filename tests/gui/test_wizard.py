"""The account wizard against a live demo world: discovery through its DNSSEC-signed SRV
records, the test connection, and a certificate from an unknown CA that waits for the user's
explicit decision."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from PySide6.QtWidgets import QApplication, QWizard

from mua.core.legs import Grade
from mua.core.tls_facts import Security
from mua.gui import wizard_certificate as certificates
from mua.gui import wizard_logic as logic
from mua.gui.bridge import Bridge
from mua.gui.wizard import AccountWizard
from mua.net.candidates import Candidate, Discovery, Source
from mua.stack.ca import LOOPBACK, LocalCA
from mua.stack.thread import WorldThread
from mua.store.config import AccountStore
from mua.store.secrets import Secrets
from tests.client_fixtures import MemoryKeyring, memory_keyring  # noqa: F401
from tests.conftest import fast_options

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 20_000


@pytest.fixture
def bridge(loop, qtbot) -> Iterator[Bridge]:
    bridge = Bridge()
    yield bridge
    for widget in QApplication.topLevelWidgets():
        widget.close()
    for task in list(bridge._tasks):
        task.cancel()
    qtbot.waitUntil(lambda: bridge.pending() == 0, timeout=WAIT)


@pytest.fixture
def keys(request: pytest.FixtureRequest) -> MemoryKeyring:
    """The in-memory keyring (tests.client_fixtures), with MUA_HOME in the test's directory."""
    return request.getfixturevalue("memory_keyring")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[WorldThread]:
    with WorldThread(tmp_path / "world", fast_options()) as thread:
        yield thread


def discover_options(world: WorldThread, **changes: Any) -> dict[str, Any]:
    """What discover() needs instead of the system's DNS, trust store and standard ports."""
    w = world.world
    ports = w.providers["a.test"].ports
    assert w.dns is not None and w.zones is not None and ports is not None
    return {
        "nameserver": (LOOPBACK, w.dns.port),
        "trust_anchor_file": w.zones.trust_anchor_file,
        "ca_file": w.ca.ca_file,
        "ports": {
            "imaps": (ports.imap_implicit,),
            "imap": (ports.imap_starttls,),
            "submissions": (ports.submission_implicit,),
            "submission": (ports.submission_starttls,),
        },
        "autoconfig_urls": lambda domain, address: [],
        "timeout": 5.0,
        **changes,
    }


def make_wizard(qtbot, bridge, tmp_path: Path, options: dict[str, Any]) -> AccountWizard:
    wizard = AccountWizard(
        bridge,
        accounts=AccountStore(tmp_path / "accounts.toml"),
        secrets=Secrets(),
        discover_options=options,
        certificates_dir=tmp_path / "certificates",
    )
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def sign_in(wizard: AccountWizard, world: WorldThread, address: str = "alice@a.test") -> None:
    wizard.identity.name_edit.setText("Alice")
    wizard.identity.address_edit.setText(address)
    wizard.identity.password_edit.setText(world.world.mailbox(address).password)
    wizard.next()


def server_fingerprint(world: WorldThread, name: str) -> str:
    cert = x509.load_pem_x509_certificate(
        (world.world.ca.directory / "certs" / f"{name}.pem").read_bytes()
    )
    return certificates.certificate_info(cert.public_bytes(Encoding.DER), name).sha256


# --- Qt-free ------------------------------------------------------------------------------


def test_candidate_rows_say_what_was_found() -> None:
    planned = Candidate.planned(
        "imap",
        "imap.a.test",
        993,
        Security.IMPLICIT,
        username="alice@a.test",
        source=Source.SRV,
        origin="From a DNSSEC-signed SRV record",
        secure_lookup=True,
    )
    row = logic.candidate_row(planned)
    assert (row.where, row.security, row.grade, row.status) == (
        "imap.a.test:993",
        "TLS (implicit)",
        Grade.GREEN,
        "Not tried",
    )
    failed = planned.failed("The certificate is bad.", certificate_or_cleartext=True)
    assert logic.candidate_row(failed).status == "The certificate is bad."
    assert logic.candidate_row(failed).grade is Grade.RED
    discovery = Discovery("alice@a.test", imap=(failed,), smtp=(), steps=())
    assert logic.preselected(discovery, "imap") is failed  # nothing better: offered to edit
    assert logic.preselected(discovery, "smtp") is None


# --- the wizard, against the world ----------------------------------------------------------


def test_discovery_by_srv_test_and_save(world, bridge, qtbot, tmp_path, keys) -> None:
    wizard = make_wizard(qtbot, bridge, tmp_path, discover_options(world))
    wizard.identity.address_edit.setText("alice")
    wizard.identity.password_edit.setText("x")
    wizard.next()
    assert wizard.currentId() == AccountWizard.IDENTITY
    assert "not an email address" in wizard.identity.error.text()

    sign_in(wizard, world)
    assert wizard.currentId() == AccountWizard.DISCOVERY
    page = wizard.discovering
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    ports = world.world.providers["a.test"].ports
    for kind, host, port in (
        ("imap", "imap.a.test", ports.imap_implicit),
        ("smtp", "smtp.a.test", ports.submission_implicit),
    ):
        chosen = page.chosen(kind)
        assert (chosen.host, chosen.port, chosen.security) == (host, port, Security.IMPLICIT)
        assert chosen.verified and chosen.grade is Grade.GREEN and chosen.source is Source.SRV
        tree = page.lists[kind]
        rows = [tree.topLevelItem(i).data(0, 256) for i in range(tree.topLevelItemCount())]
        pop3 = ["pop3", "pop3"] if kind == "imap" else []  # the incoming list offers POP3 too
        assert [c.kind for c in rows] == [kind, kind, *pop3]  # implicit TLS, STARTTLS: SRV
        assert tree.currentItem().text(2) == "Recommended"
        assert tree.currentItem().text(3) == "Verified: TLSv1.3"
        starttls = tree.topLevelItem(1).data(0, 256)
        assert starttls.security is Security.STARTTLS and starttls.grade is Grade.AMBER
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard.png"))

    wizard.next()
    manual = wizard.manual
    assert manual.hosts["imap"].text() == "imap.a.test"
    assert manual.ports["smtp"].value() == ports.submission_implicit
    assert manual.ca_edit.text() == str(world.world.ca.ca_file)

    wizard.next()
    qtbot.waitUntil(wizard.testing.isComplete, timeout=WAIT)
    results = {kind: label.text() for kind, label in wizard.testing.results.items()}
    assert "Signed in over TLSv1.3 (implicit TLS), certificate verified." in results["imap"]
    assert "Connected over TLSv1.3 (implicit TLS), certificate verified" in results["smtp"]
    assert wizard.testing.certificate_box.isHidden()
    wizard.next()
    assert wizard.currentId() == AccountWizard.DONE
    with qtbot.waitSignal(wizard.account_saved) as saved:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    account = AccountStore(tmp_path / "accounts.toml").get("alice@a.test")
    assert account == saved.args[0]
    assert (
        account.display_name == "Alice"
        and account.nameserver == f"{LOOPBACK}:{world.world.dns.port}"
    )
    assert (account.imap.host, account.imap.server_name) == (LOOPBACK, "imap.a.test")
    assert account.smtp.ca_file == world.world.ca.ca_file
    password = world.world.mailbox("alice@a.test").password
    assert keys.entries == {
        ("mua:alice@a.test", "imap"): password,
        ("mua:alice@a.test", "smtp"): password,
    }


def unknown_ca_wizard(world, bridge, qtbot, tmp_path) -> AccountWizard:
    """Discovery and the test against the world, trusting another CA than the world's."""
    stranger = LocalCA(tmp_path / "stranger", organization="Somebody else")
    wizard = make_wizard(qtbot, bridge, tmp_path, discover_options(world, ca_file=stranger.ca_file))
    sign_in(wizard, world)
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    chosen = wizard.discovering.chosen("imap")
    assert chosen.verified is False and chosen.grade is Grade.RED
    assert "unknown authority" in chosen.problem
    wizard.next()
    wizard.next()
    assert wizard.currentId() == AccountWizard.TEST
    return wizard


def test_an_unknown_certificate_waits_for_an_explicit_choice(
    world, bridge, qtbot, tmp_path, keys
) -> None:
    wizard = unknown_ca_wizard(world, bridge, qtbot, tmp_path)
    page = wizard.testing
    qtbot.waitUntil(lambda: page.certificate_box.isVisible(), timeout=WAIT)
    shown = dict(
        (
            page.certificate_form.itemAt(row, page.certificate_form.ItemRole.LabelRole)
            .widget()
            .text(),
            page.certificate_form.itemAt(row, page.certificate_form.ItemRole.FieldRole)
            .widget()
            .text(),
        )
        for row in range(page.certificate_form.rowCount())
    )
    assert shown["Issued to:"] == "imap.a.test"
    assert shown["Issued by:"] == "mua local world CA, mua local world"
    fingerprint = server_fingerprint(world, "imap.a.test")
    assert shown["SHA-256 fingerprint:"].replace("\n", ":") == fingerprint
    assert "imap.a.test" in shown["Names:"] and " to " in shown["Valid:"]
    assert "unknown authority" in page.results["imap"].text()
    assert page.trust_button.isVisible() and page.decline_button.isVisible()
    # Nothing proceeds on its own: no Next, and nothing saved or trusted.
    assert not page.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert not (tmp_path / "certificates").exists() and keys.entries == {}

    page.decline_button.click()
    assert page.certificate_box.isHidden() and not page.isComplete()
    assert "Not trusted" in page.status.text()

    page.retry.click()
    qtbot.waitUntil(lambda: page.certificate_box.isVisible(), timeout=WAIT)
    page.trust_button.click()  # the explicit choice: pin it for this account's IMAP server
    pinned = tmp_path / "certificates" / "alice@a.test-imap.pem"
    served = (world.world.ca.directory / "certs" / "imap.a.test.pem").read_bytes()
    assert pinned.read_bytes() == served
    assert page._account.imap.ca_file == pinned
    assert page._account.smtp.ca_file != pinned  # the SMTP server was not trusted
    qtbot.waitUntil(lambda: page.retry.isEnabled() and page._task is None, timeout=WAIT)
    assert keys.entries == {}  # nothing saved before the wizard finishes


def test_trusted_certificates_let_the_account_work(world, bridge, qtbot, tmp_path, keys) -> None:
    wizard = unknown_ca_wizard(world, bridge, qtbot, tmp_path)
    page = wizard.testing
    for kind in ("imap", "smtp"):
        qtbot.waitUntil(lambda: page.certificate_box.isVisible(), timeout=WAIT)
        assert page._pending[0] == kind
        page.trust_button.click()
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    wizard.next()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    account = AccountStore(tmp_path / "accounts.toml").get("alice@a.test")
    assert account.imap.ca_file == tmp_path / "certificates" / "alice@a.test-imap.pem"
    assert account.smtp.ca_file == tmp_path / "certificates" / "alice@a.test-smtp.pem"


def test_fingerprints_match_what_openssl_computes(world) -> None:
    der = ssl.PEM_cert_to_DER_cert(
        (world.world.ca.directory / "certs" / "smtp.a.test.pem").read_text()
    )
    info = certificates.certificate_info(der, "smtp.a.test port 465")
    assert info.sha256.replace(":", "").lower() == hashlib.sha256(der).hexdigest()
    assert not info.self_signed and info.pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_every_page_of_the_account_wizard_is_marked(world, bridge, qtbot, tmp_path, keys) -> None:
    """The wizard's pages past the first, under the pseudo-language: discovery's table, the
    server settings, and the test page holding a certificate that could not be verified."""
    from mua.core import i18n
    from tests.gui.test_language import _Pseudo, _unmarked, _visible_texts

    i18n.use_translations(_Pseudo(), "pseudo")
    try:
        texts: list[tuple[str, str, str]] = []

        def page_texts(wizard: QWizard, name: str) -> None:
            page = wizard.currentPage()
            texts.extend((name, where, t) for where, t in _visible_texts(page))
            texts.extend((name, "page", t) for t in (page.title(), page.subTitle()))

        wizard = unknown_ca_wizard(world, bridge, qtbot, tmp_path)  # discovery, settings, test
        for kind, tree in wizard.discovering.lists.items():
            for i in range(tree.topLevelItemCount()):
                item = tree.topLevelItem(i)
                texts += [(f"discovery {kind}", "cell", item.text(c)) for c in (1, 2, 3)]
            head = tree.headerItem()
            texts += [(f"discovery {kind}", "header", head.text(c)) for c in range(4)]
        texts.append(("discovery", "status", wizard.discovering.status.text()))
        page = wizard.testing
        qtbot.waitUntil(lambda: page.certificate_box.isVisible(), timeout=20_000)
        page_texts(wizard, "test")
        wizard.back()
        page_texts(wizard, "settings")
        form = page.certificate_form
        facts = {  # the certificate's own words (names, issuer): data, not mua's
            form.itemAt(row, form.ItemRole.FieldRole).widget().text()
            for row in range(form.rowCount())
        }
        unmarked = [
            (w, where, text)
            for w, where, text in texts
            if text and text not in facts and _unmarked(text)
        ]
        assert unmarked == [], "\n".join(map(repr, unmarked))
    finally:
        i18n.set_language("en")
