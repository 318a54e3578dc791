"""mua speaks the user's language: the catalogs, plural forms, and the CLI under LANG=ru.

The .mo files are built from the committed .po files (`make` does it; the fixture below
compiles them when they are missing or older, the way the Makefile rule does)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from mua.core import i18n
from mua.core.i18n import T_, TN_, Text, text_from_json, text_to_json, translated

ROOT = Path(__file__).resolve().parent.parent
RU_PO = ROOT / "mua" / "locale" / "ru" / "LC_MESSAGES" / "mua.po"
PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)[a-z]|%[a-z]")


@pytest.fixture(scope="module")
def compiled() -> None:
    mo = RU_PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < RU_PO.stat().st_mtime:
        subprocess.run([sys.executable, "scripts/catalogs.py", "compile"], cwd=ROOT, check=True)


@pytest.fixture
def russian(compiled: None):
    assert i18n.set_language("ru") == "ru"
    yield
    i18n.set_language("en")


def _catalog():
    with RU_PO.open("rb") as handle:
        return read_po(handle, locale="ru")


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def test_every_marked_string_is_in_the_russian_catalog(tmp_path: Path) -> None:
    """The extractor run now over mua/ finds nothing the .po lacks (run `make po`)."""
    pot = tmp_path / "mua.pot"
    subprocess.run(
        [sys.executable, "scripts/catalogs.py", "extract", "--output", str(pot)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    translated_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog() if m.id}
    assert extracted, "the extractor found nothing: are the keywords right?"
    assert sorted(extracted - translated_ids) == []


def test_the_russian_catalog_is_complete_and_keeps_its_placeholders() -> None:
    catalog = _catalog()
    assert catalog.num_plurals == 3
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(("untranslated or fuzzy", ids[0]))
            continue
        if len(ids) == 2 and len(strings) != 3:
            problems.append(("needs three plural forms", ids[0]))
        allowed = set().union(*(_placeholders(i) for i in ids))
        for string in strings:
            # A translation may drop an English-only word ({makes}); it may not invent one.
            if not _placeholders(string) <= allowed:
                problems.append(("unknown placeholder", ids[0]))
    assert problems == []


@pytest.mark.parametrize(
    ("n", "days", "messages"),
    [
        (1, "1 день", "ждёт 1 письмо"),
        (2, "2 дня", "ждут 2 письма"),
        (5, "5 дней", "ждут 5 писем"),
        (11, "11 дней", "ждут 11 писем"),
        (21, "21 день", "ждёт 21 письмо"),
        (0, "0 дней", "ждут 0 писем"),
        (12, "12 дней", "ждут 12 писем"),
        (22, "22 дня", "ждут 22 письма"),
        (111, "111 дней", "ждут 111 писем"),
    ],
)
def test_russian_plural_forms(russian: None, n: int, days: str, messages: str) -> None:
    assert i18n.ngettext("{n} day", "{n} days", n).format(n=n) == days
    waiting = TN_(
        "{address} still has {n} message waiting in the Outbox; send or delete it before "
        "removing the account.",
        "{address} still has {n} messages waiting in the Outbox; send or delete them before "
        "removing the account.",
        n,
        address="a@b.test",
    )
    assert messages in translated(waiting)
    assert str(waiting).startswith("a@b.test still has")  # the value itself stays English


def test_a_text_is_english_data_and_translates_on_display(russian: None) -> None:
    note = Text.joined(
        [
            T_("Recorded by your provider's server {host}", host="mx.b.test"),
            T_("arrived {duration} after the previous hop", duration=TN_("{n} s", "{n} s", 3)),
        ],
        "; ",
        ".",
    )
    english = "Recorded by your provider's server mx.b.test; arrived 3 s after the previous hop."
    assert note == english
    assert json.dumps({"note": note}) == json.dumps({"note": english})
    assert translated(note) == (
        "Записано сервером вашего провайдера mx.b.test; пришло через 3 с после предыдущего "  # noqa: RUF001
        "перехода."
    )
    # Through a JSON store and back (the event log, the cache's observed legs).
    stored = json.loads(json.dumps({"note": note, "note_text": text_to_json(note)}))
    again = text_from_json(stored["note"], stored["note_text"])
    assert translated(again) == translated(note)
    assert text_from_json("Edited by hand.", stored["note_text"]) == "Edited by hand."
    assert translated("plain data") == "plain data"


def test_the_language_follows_the_environment(compiled: None, monkeypatch) -> None:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    try:
        assert i18n.set_language(None) == "ru"
        assert i18n._("What to fix:") == "Что исправить:"
        monkeypatch.setenv("LANGUAGE", "en_GB:ru")
        assert i18n.set_language(None) == "en"
        monkeypatch.setenv("LANGUAGE", "de:ru")  # no German catalog: the next one in the list
        assert i18n.set_language(None) == "ru"
    finally:
        i18n.set_language("en")
    assert i18n._("What to fix:") == "What to fix:"


def test_a_language_without_a_catalog_is_english_with_a_log_line(caplog) -> None:
    with caplog.at_level("INFO", logger="mua.core.i18n"):
        assert i18n.set_language("xx_YY") == "en"
    assert "no compiled catalog for language 'xx_YY'" in caplog.text
    assert i18n._("What to fix:") == "What to fix:"


def _mua(*args: str, lang: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env["LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "mua", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )


@pytest.mark.slow
def test_the_cli_speaks_russian_under_lang_ru(compiled: None) -> None:
    shown = _mua("demo", "--headless", "--scenario", "strip", lang="ru_RU.UTF-8")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "Сценарий «strip»: Злоумышленник вырезает STARTTLS" in out
    assert "Статус: доставлено" in out
    assert "КРАСНЫЙ" in out and "наблюдено" in out
    assert "Злоумышленник демонстрации по пути вырезал предложение STARTTLS" in out
    assert "Поставлено в очередь на диске" in out
    helped = _mua("--help", lang="ru_RU.UTF-8")
    assert helped.returncode == 0
    assert helped.stdout.startswith("использование: mua")
    assert "коды завершения:" in helped.stdout
    wrong = _mua("check", lang="ru_RU.UTF-8")
    assert wrong.returncode == 2
    assert "обязательны следующие аргументы: domain" in wrong.stderr


@pytest.mark.slow
def test_json_is_the_same_english_under_lang_ru(compiled: None) -> None:
    """--json carries the English notes and tokens whatever the language."""
    runs = [
        _mua("demo", "--headless", "--scenario", "strip-dane", "--json", lang=lang)
        for lang in ("ru_RU.UTF-8", "C.UTF-8")
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    ru, en = (json.loads(r.stdout) for r in runs)

    def stable(trace: dict) -> list:
        return [
            (sorted(leg), leg["grade"], leg["source"], leg.get("outcome"), _no_ports(leg["note"]))
            for leg in trace["legs"]
        ]

    assert (ru["status"], stable(ru)) == (en["status"], stable(en))
    assert "DANE stopped it:" in ru["legs"][2]["note"]
    assert not re.search("[\u0400-\u04ff]", runs[0].stdout)  # no Cyrillic at all


def _no_ports(note: str) -> str:
    return re.sub(r"\d+", "N", note)


def test_the_language_setting_loads_from_old_and_new_settings_files(tmp_path: Path) -> None:
    from mua.store.config import ConfigError, Settings, SettingsStore

    store = SettingsStore(tmp_path / "settings.toml")
    store.path.write_text("check_interval_minutes = 5\n")  # a file from before the setting
    assert store.load().language == "system"
    store.save(Settings(language="ru"))
    assert store.load().language == "ru"
    store.path.write_text('language = "Russian please"\n')
    with pytest.raises(ConfigError, match="language"):
        store.load()


def test_check_findings_are_english_in_json_and_russian_on_screen(russian: None) -> None:
    from mua.net.posture_check import DomainReport
    from mua.net.posture_findings import Severity
    from mua.net.posture_findings import finding as _finding
    from mua.net.posture_text import describe

    report = DomainReport("b.test")
    report.findings.append(_finding("no-tls-rpt", Severity.ADVICE, domain="b.test"))
    shown = describe(report)
    assert "Что исправить:" in shown
    assert "[совет] Домен b.test не публикует запись TLS-RPT" in shown
    (finding,) = report.to_json()["findings"]
    assert finding["text"].startswith("b.test publishes no TLS-RPT record; add a TXT record")


def test_a_text_survives_copy_and_pickle(russian: None) -> None:
    import copy
    import pickle

    note = T_("Handed to the delivery agent inside the same server.")
    for again in (copy.deepcopy(note), pickle.loads(pickle.dumps(note))):
        assert again == note
        assert translated(again) == "Передано агенту доставки внутри того же сервера."


def test_an_error_inside_a_sentence_is_translated_with_it(russian: None) -> None:
    from mua.net.autoconfig import AutoconfigError

    error = AutoconfigError(T_("the name {host} could not be found", host="c.test"))
    step = T_("Autoconfig {url}: {error}.", url="https://c.test/", error=error)
    assert step == "Autoconfig https://c.test/: the name c.test could not be found."
    assert translated(step) == "Autoconfig https://c.test/: имя c.test не найдено."
