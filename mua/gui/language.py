"""The app's language at start-up: mua's gettext catalog (mua.core.i18n) and Qt's own
translations (qtbase_<lang>.qm: the standard buttons, the file and colour dialogs).

`Settings.language` is "system" or a code. "system" follows the desktop: on Linux the
environment as gettext reads it (LANGUAGE, LC_ALL, LC_MESSAGES, LANG); on Windows and macOS,
where those are usually unset, QLocale.system(). A change in Preferences applies at the next
start, like Qt's own translator, which cannot be swapped under open windows cheaply.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from mua.core import i18n

log = logging.getLogger(__name__)

# What Preferences offers: (Settings.language, the name shown). Each language is named in
# itself, so a person who cannot read the current one still finds theirs.
LANGUAGES = (("en", "English"), ("ru", "Русский"))


def install_language(app: QCoreApplication, choice: str = "system") -> str:
    """Load mua's catalog and Qt's for `choice`; returns the language in use ("en", "ru")."""
    if choice == "system":
        code = QLocale.system().name() if sys.platform in ("win32", "darwin") else None
    else:
        code = choice
    language = i18n.set_language(code)
    base = language.split("_")[0]
    if base != i18n.SOURCE_LANGUAGE:
        translator = QTranslator(app)
        for folder in _qt_translation_dirs():
            if translator.load(f"qtbase_{base}", str(folder)):
                app.installTranslator(translator)  # the app owns it (its parent)
                break
        else:
            log.info("no Qt translation qtbase_%s.qm found: Qt's dialogs stay English", base)
    return language


def _qt_translation_dirs() -> list[Path]:
    """A frozen bundle carries its copy beside mua's catalogs; else PySide6's own folder."""
    return [
        i18n.locale_dir() / "qt",
        Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
    ]
