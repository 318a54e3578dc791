"""The app's language on the Qt side: Qt's own dialogs, the Preferences choice, and (phase 2 of
issue #12) every visible string marked for translation."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTabWidget,
    QWidget,
    QWizard,
)

from mua.core import i18n
from mua.gui.language import install_language
from mua.stack.demo import SCENARIOS
from tests.gui.conftest import finish

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def compiled() -> None:
    po = ROOT / "mua" / "locale" / "ru" / "LC_MESSAGES" / "mua.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        subprocess.run([sys.executable, "scripts/catalogs.py", "compile"], cwd=ROOT, check=True)


@pytest.fixture
def back_to_english(qapp):
    yield
    for translator in qapp.findChildren(QTranslator):
        qapp.removeTranslator(translator)
        translator.setParent(None)
    i18n.set_language("en")


def test_qt_dialogs_speak_russian_after_the_apps_language_setup(
    qapp, compiled, back_to_english
) -> None:
    assert install_language(qapp, "ru") == "ru"  # what mua.gui.app.run does at start-up
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    try:
        assert box.button(QDialogButtonBox.StandardButton.Cancel).text() == "Отмена"
        assert i18n._("What to fix:") == "Что исправить:"  # and mua's own catalog
    finally:
        box.deleteLater()


def test_english_installs_no_qt_translator(qapp, back_to_english) -> None:
    assert install_language(qapp, "en") == "en"
    assert qapp.findChildren(QTranslator) == []


def test_preferences_offers_the_language_for_the_next_start(qtbot, open_main_window) -> None:
    window = open_main_window()
    saved = []
    window.settingsChanged.connect(saved.append)
    dialog = window.preferences()  # Edit > Preferences
    qtbot.waitUntil(dialog.isVisible)
    combo = dialog.language
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["System language", "English", "Русский"]
    assert combo.currentData() == "system"
    labels = [w.text() for w in dialog.findChildren(QLabel)]
    assert "Language (applied at the next start)" in labels
    combo.setCurrentIndex(combo.findData("ru"))
    dialog.accept()
    assert window.settings.language == "ru"
    assert [s.language for s in saved] == ["ru"]  # the app saves it to settings.toml


# -- phase 2: every visible string marked -------------------------------------------------------

# Words that are not translated: protocol tokens, product names, roles, the Demo menu's
# scenario names (`mua demo --scenario NAME`). Words in capitals (LMTP, ...) are tokens too.
_TOKENS = {
    "mua", "TLS", "SMTP", "IMAP", "POP3", "STARTTLS", "DANE", "MTA-STS", "REQUIRETLS", "DNSSEC",
    "MX", "MUA", "MSA", "MTA", "MDA", "MS", "DKIM", "ARC", "DMARC", "OAuth2", "HTML", "OK",
    "SMTP-submission", "internal", "pki", "dane", "mta-sts", "TLSv1", "Python", "PySide6", "Qt",
    "Linux", "Windows", "Darwin", *SCENARIOS,
}  # fmt: skip
_MARKED = re.compile(r"⟦[^⟦⟧]*⟧")  # innermost first: a translation may hold another


class _Pseudo(gettext.NullTranslations):
    """Every msgid comes back as ⟦msgid⟧: a visible string without the brackets was never
    looked up in a catalog."""

    def gettext(self, message: str) -> str:
        return f"⟦{message}⟧"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"⟦{singular if n == 1 else plural}⟧"


def _wizard_buttons(wizard: QWizard) -> list[QWidget]:
    """Back, Next, Commit, Finish, Cancel: QWizard's words, which qtbase_<lang>.qm translates."""
    kinds = ("BackButton", "NextButton", "CommitButton", "FinishButton", "CancelButton")
    return [wizard.button(getattr(QWizard.WizardButton, kind)) for kind in kinds]


def _visible_texts(widget: QWidget) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for w in [widget, *widget.findChildren(QWidget)]:
        if not w.isVisibleTo(widget) and w is not widget:
            continue
        parent = w.parentWidget()
        standard = (
            isinstance(parent, QDialogButtonBox)
            and isinstance(w, QAbstractButton)
            and parent.standardButton(w) != QDialogButtonBox.StandardButton.NoButton
        )
        wizard = w.window()
        if isinstance(wizard, QWizard) and w in _wizard_buttons(wizard):
            standard = True
        if standard:
            continue  # Qt's own words, translated by qtbase_<lang>.qm
        texts = [("title", w.windowTitle()), ("tooltip", w.toolTip())]
        if isinstance(w, QLabel | QAbstractButton):
            texts.append(("text", w.text()))
        if isinstance(w, QLineEdit):
            texts.append(("placeholder", w.placeholderText()))
        if isinstance(w, QGroupBox):
            texts.append(("group", w.title()))
        if isinstance(w, QTabWidget):
            texts += [("tab", w.tabText(i)) for i in range(w.count())]
        for action in w.actions():
            texts += [("action", action.text()), ("action tip", action.toolTip())]
        found += [(f"{type(w).__name__} {kind}", t) for kind, t in texts]
    return found


def _menu_texts(menu: QMenuBar | QMenu, where: str = "menu") -> list[tuple[str, str, str]]:
    """Every action of a menu bar or menu, its submenus' too (hidden until opened)."""
    found = []
    for action in menu.actions():
        found += [(where, kind, t) for kind, t in (("action", action.text()),
                  ("status tip", action.statusTip()), ("tooltip", action.toolTip()))]  # fmt: skip
        if action.menu() is not None:
            found += _menu_texts(action.menu(), f"{where} {action.text()}")
    return found


def _unmarked(text: str) -> bool:
    """Words outside the markers that are neither data nor tokens."""
    rest = re.sub(r"<[^>]+>|&\w+;", " ", text)  # tags, entities (&nbsp;)
    while _MARKED.search(rest):
        rest = _MARKED.sub(" ", rest)
    rest = re.sub(r"\S*[@./_]\S*", " ", rest)  # addresses, host names, paths, versions, ciphers
    words = re.findall(r"[^\W\d_][\w'\u2019-]+", rest)
    return any(w not in _TOKENS and w.strip("-") not in _TOKENS and not w.isupper() for w in words)


@pytest.fixture
def open_demo_window(qtbot, demo_session, loop):
    """Main windows as mua.gui.app makes them in demo mode (with the Demo menu)."""
    from mua.gui.app import _main_window

    opened = []

    def open_one():
        main = _main_window(demo_session.engine, demo_session)
        main.idle_slice = 1.0
        main.resize(1280, 800)
        main.show()
        qtbot.waitExposed(main)
        opened.append(main)
        return main

    yield open_one
    for main in opened:
        main.close()
        finish(qtbot, main.aclose())
        main.deleteLater()


def test_every_visible_string_is_marked(qtbot, open_demo_window) -> None:
    """Under a pseudo-language that brackets every translated string, no visible text of the
    main window (menus, Demo menu, Journey tab with every grade, each leg's details, the "why"
    table), compose, the account wizard, Preferences (every tab) or About is left bare."""
    from tests.gui.test_hop_panel import all_grades

    i18n.use_translations(_Pseudo(), "pseudo")
    try:
        window = open_demo_window()
        preferences = window.preferences()
        window._about()  # Help > About mua
        shown: list[QWidget] = [window, window.compose(), window.add_account(), preferences]
        shown.append(window.about_box)
        panel = window.hop_panel.ensure()
        window.tabs.setCurrentWidget(window.hop_panel)
        panel.set_trace(all_grades())
        for widget in shown:
            qtbot.waitUntil(widget.isVisible)
        texts = [(type(w).__name__, where, t) for w in shown for where, t in _visible_texts(w)]
        tabs = preferences.findChild(QTabWidget)
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            page = tabs.currentWidget()
            texts += [("Preferences", where, t) for where, t in _visible_texts(page)]
        texts += _menu_texts(window.menuBar())
        texts.append(("HopPanel", "overview", panel.details.toPlainText()))
        for i in range(len(panel.trace().legs)):
            panel.show_leg(i)
            texts.append(("HopPanel", f"leg {i + 1}", panel.details.toPlainText()))
        panel.show_why(True)
        texts.append(("HopPanel", "why these grades", panel.details.toPlainText()))
        unmarked = [(w, where, text) for w, where, text in texts if text and _unmarked(text)]
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / "pseudo_language_main_window.png"))
        assert unmarked == [], "\n".join(map(repr, unmarked))
    finally:
        for widget in QApplication.topLevelWidgets():
            if widget is not window and widget.isVisible():
                widget.close()
        i18n.set_language("en")


def test_the_app_in_russian(qtbot, qapp, compiled, back_to_english, open_demo_window) -> None:
    """The app started in Russian (mua's catalog and Qt's, as mua.gui.app does) shows a Demo
    scenario's journey and a leg's details in Russian; screenshots for a person to check that
    the longer words still fit (tests/artifacts/main_window_ru.png, hop_panel_ru.png)."""
    assert install_language(qapp, "ru") == "ru"
    window = open_demo_window()
    window.resize(1280, 800)
    demo = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Демо")
    action = next(a for a in demo.actions() if a.data() == "strip")
    assert "Злоумышленник вырезает STARTTLS" in action.text()
    action.trigger()
    shown = window.hop_panel.trace
    qtbot.waitUntil(lambda: shown() is not None and "(strip)" in (shown().subject or ""),
                    timeout=90_000)  # fmt: skip
    panel = window.hop_panel.ensure()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Путь"
    assert panel.status.text().startswith("<b>Доставлено</b>")
    relay = next(i for i, leg in enumerate(shown().legs) if leg.to.role.value == "MX")
    panel.show_leg(relay)
    details = panel.details.toPlainText()
    assert f"Участок {relay + 1} из {len(shown().legs)}" in details
    assert "Допустимо" in details or "Без защиты" in details
    assert "Источник" in details and "Протокол" in details
    row = panel.content_row  # the content verdict's longer Russian sentence wraps: all shown
    assert "Содержимое: не изменено" in row.text.text()
    label = row.text
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))  # re-laid out
    assert row.contentsRect().contains(label.geometry())
    top = panel.why_button.mapTo(panel, panel.why_button.rect().topLeft()).y()
    assert row.mapTo(panel, row.rect().bottomLeft()).y() < top, "the buttons overlap the row"
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "main_window_ru.png"))
    row.grab().save(str(ARTIFACTS / "content_row_ru.png"))
    assert panel.grab().save(str(ARTIFACTS / "hop_panel_ru.png"))
    panel.show_why(True)
    assert "Почему такие оценки?" in panel.details.toPlainText()
    assert panel.grab().save(str(ARTIFACTS / "hop_panel_why_ru.png"))
    folders = window.folder_view.model()
    alice = folders.index(0, 0)
    names = {
        folders.index(r, 0, alice).data().split(" (")[0] for r in range(folders.rowCount(alice))
    }
    assert {"Входящие", "Отправленные", "Черновики"} <= names  # alice's folders
    others = {"compose_ru": window.compose(), "wizard_ru": window.add_account()}
    others["preferences_ru"] = window.preferences()
    for name, widget in others.items():
        qtbot.waitUntil(widget.isVisible)
        assert widget.grab().save(str(ARTIFACTS / f"{name}.png"))
    assert others["compose_ru"].send_button.text() == "Отправить"


def test_the_message_file_window_is_marked(qtbot, tmp_path: Path) -> None:
    """`mua open FILE.eml` under the pseudo-language: the reader, the journey read from the
    headers (claimed and recorded legs, their notes) and each leg's details."""
    from mua.client.message_file import read_message_file
    from mua.gui.viewer import MessageFileWindow
    from tests.test_cli_trace import SAMPLE

    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    i18n.use_translations(_Pseudo(), "pseudo")
    try:
        window = MessageFileWindow(read_message_file(eml))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        texts = [("viewer", where, t) for where, t in _visible_texts(window)]
        panel = window.hop_panel
        for i in range(len(panel.trace().legs)):
            panel.show_leg(i)
            texts.append(("viewer", f"leg {i + 1}", panel.details.toPlainText()))
        data = [window.reader.subject_label.text(), "body"]  # the message's own words
        for leg in panel.trace().legs:  # and its headers' (the Received field, its `with`)
            data += [s for s in (leg.header, leg.with_keyword) if s]

        def words(text: str) -> str:
            for said in sorted(data, key=len, reverse=True):
                text = text.replace(said, " ")
            return text

        unmarked = [t for t in texts if t[2] and _unmarked(words(t[2]))]
        assert unmarked == [], "\n".join(map(repr, unmarked))
    finally:
        i18n.set_language("en")
