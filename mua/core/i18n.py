"""The user's language: gettext catalogs for every sentence mua shows a person.

`_()` and `ngettext()` translate now, in the current language; `N_()` only marks a constant
for extraction (translate it with `_()` where it is shown). Placeholders are named and filled
after translation, `_("Delivered to {host}").format(host=host)`: an f-string cannot be
extracted, and a translator may need to move the host.

Some sentences are data too: a leg's note goes into `--json`, the event log and the cache in
English, and is shown to a person in their language. `T_()` and `TN_()` make a `Text`: a str
whose value is the English sentence (so JSON, logs and comparisons see English) and which
remembers its msgid and parameters, so `translated(text)` renders it in the current language.
`Text.joined` keeps that through the "A; B." sentences notes are built from; `text_to_json`
and `text_from_json` carry it through a JSON store beside the English string.

The language is chosen once at start-up with `set_language`: a code ("ru", "en") from the
user's preferences, or None to follow the system as gettext does (LANGUAGE, LC_ALL,
LC_MESSAGES, LANG; on Windows and macOS the GUI passes QLocale.system().name()). Catalogs are
mua/locale/<lang>/LC_MESSAGES/mua.mo, compiled from the .po files at build time (`make po`
updates the .po files; README, "Languages"). A language without a compiled catalog is English,
with a log line.
"""

from __future__ import annotations

import gettext
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DOMAIN = "mua"
# The keywords the extractor looks for (Babel's "name:singular,plural" form); scripts/catalogs.py
# and the catalog test use this one list.
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "T_": None, "TN_": (1, 2)}
SOURCE_LANGUAGE = "en"


def locale_dir() -> Path:
    """mua/locale beside the package, or inside a frozen bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "mua" / "locale"
    return Path(__file__).resolve().parent.parent / "locale"


def available_languages() -> list[str]:
    """English and every language with a catalog source (.po) or compiled catalog (.mo)."""
    found = {SOURCE_LANGUAGE}
    root = locale_dir()
    if root.is_dir():
        for child in root.iterdir():
            messages = child / "LC_MESSAGES"
            if (messages / f"{DOMAIN}.mo").exists() or (messages / f"{DOMAIN}.po").exists():
                found.add(child.name)
    return sorted(found)


class _State:
    translations: gettext.NullTranslations = gettext.NullTranslations()
    language: str = SOURCE_LANGUAGE


def set_language(code: str | None = None) -> str:
    """Load the catalog for `code` (None: the system's language). Returns the language now in
    use ("en" when there is no catalog for the one asked for)."""
    wanted = [code] if code else _system_languages()
    for candidate in wanted:
        lang = _normalise(candidate)
        if lang in ("", "c", "posix") or lang.startswith(SOURCE_LANGUAGE):
            break  # English: the source language needs no catalog
        for name in _variants(lang):
            mo = locale_dir() / name / "LC_MESSAGES" / f"{DOMAIN}.mo"
            if mo.exists():
                with mo.open("rb") as handle:
                    _State.translations = gettext.GNUTranslations(handle)
                _State.language = name
                return name
        log.info("no compiled catalog for language %r in %s: using English", lang, locale_dir())
    _State.translations = gettext.NullTranslations()
    _State.language = SOURCE_LANGUAGE
    return SOURCE_LANGUAGE


def use_translations(translations: gettext.NullTranslations, language: str) -> None:
    """Use these translations as they are (a test's pseudo-language); `set_language` undoes it."""
    _State.translations = translations
    _State.language = language


def current_language() -> str:
    """The language of the loaded catalog: "ru", "ru_RU", ...; "en" when none is loaded."""
    return _State.language


def _system_languages() -> list[str]:
    """The user's languages the way gettext reads them: the first of these variables that is
    set, LANGUAGE being a colon-separated list."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.split(":") if variable == "LANGUAGE" else [value]
    return []


def _normalise(code: str) -> str:
    """ "ru_RU.UTF-8@x" -> "ru_RU"; "ru-RU" (Qt, BCP 47) -> "ru_RU"."""
    base = code.split(".")[0].split("@")[0].replace("-", "_").strip()
    language, _sep, region = base.partition("_")
    return language.lower() + ("_" + region.upper() if region else "")


def _variants(lang: str) -> list[str]:
    """ "ru_RU" -> ["ru_RU", "ru"]."""
    return [lang, lang.split("_")[0]] if "_" in lang else [lang]


def _(message: str) -> str:
    return _State.translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _State.translations.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks `message` for extraction; translated later, where it is shown, with `_()`."""
    return message


class Text(str):
    """An English sentence that can also say itself in the current language (module doc)."""

    __slots__ = ("_spec",)
    _spec: dict[str, Any]

    def __new__(cls, english: str, spec: dict[str, Any]) -> Text:
        text = super().__new__(cls, english)
        text._spec = spec
        return text

    def translated(self) -> str:
        return _render(self._spec, translate=True)

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep the spec
        return (Text, (str(self), self._spec))

    def to_json(self) -> dict[str, Any]:
        return self._spec

    def extended(self, part: str) -> Text:
        """A joined Text with one more part, same punctuation ("A; B." -> "A; B; C.")."""
        if "join" not in self._spec:
            return Text.joined([self, part])
        spec = {**self._spec, "join": [*self._spec["join"], _part_spec(part)]}
        return Text(_render(spec, translate=False), spec)

    @staticmethod
    def joined(parts: Iterable[str], separator: str = " ", end: str = "") -> Text:
        """The parts (Text or plain data) joined; `separator` and `end` are punctuation.

        Not `join`: a Text is a str, and `str.join` must keep meaning what it means."""
        spec = {"join": [_part_spec(p) for p in parts if p], "sep": separator, "end": end}
        return Text(_render(spec, translate=False), spec)


def T_(message: str, /, **params: Any) -> Text:
    """A `Text` for `message`, its named placeholders filled with `params` (Text or data)."""
    spec = {"msgid": message, "params": {k: _part_spec(v) for k, v in params.items()}}
    return Text(_render(spec, translate=False), spec)


def TN_(singular: str, plural: str, n: int, /, **params: Any) -> Text:
    """A `Text` whose form depends on `n` (also available as the placeholder {n})."""
    spec = {
        "msgid": singular,
        "plural": plural,
        "n": n,
        "params": {k: _part_spec(v) for k, v in params.items()},
    }
    return Text(_render(spec, translate=False), spec)


def translated(text: str) -> str:
    """`text` in the current language when it is a Text; plain data comes back as it is."""
    return text.translated() if isinstance(text, Text) else text


def error_text(exc: BaseException) -> str:
    """An exception's message for a person: translated when it was raised with a Text
    (str(exc) would give the English copy), else str(exc)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], Text):
        return exc.args[0].translated()
    return str(exc)


def text_to_json(text: str) -> dict[str, Any] | None:
    """What a JSON store keeps beside the English string to translate it later (None: data)."""
    return text.to_json() if isinstance(text, Text) else None


def text_from_json(english: str, spec: dict[str, Any] | None) -> str:
    """The stored English string, as a Text again when its spec was kept and still renders to
    it (a spec from an older version that does not is dropped: English is shown)."""
    if not spec:
        return english
    try:
        text = Text(english, spec)
        if _render(spec, translate=False) == english:
            return text
    except (KeyError, TypeError, ValueError, IndexError):
        log.warning("unusable translation data for %r", english)
    return english


def _part_spec(value: Any) -> Any:
    if isinstance(value, BaseException) and len(value.args) == 1:
        value = value.args[0]  # an error raised with a Text says itself in the language too
    if isinstance(value, Text):
        return {"text": value.to_json()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def _render(spec: dict[str, Any], *, translate: bool) -> str:
    if "join" in spec:
        parts = [_render_part(p, translate) for p in spec["join"]]
        separator: str = spec["sep"]
        end: str = spec["end"]
        return separator.join(parts) + end
    params = {k: _render_part(v, translate) for k, v in spec["params"].items()}
    if "plural" in spec:
        n = spec["n"]
        if translate:
            template = ngettext(spec["msgid"], spec["plural"], n)
        else:
            template = spec["msgid"] if n == 1 else spec["plural"]
        return template.format(n=n, **params)
    template = _(spec["msgid"]) if translate else spec["msgid"]
    return template.format(**params)


def _render_part(value: Any, translate: bool) -> Any:
    if isinstance(value, dict) and "text" in value:
        return _render(value["text"], translate=translate)
    return value
