"""Passwords through keyring: an in-memory backend, no keyring, session-only, encrypted file.

The OS keychain is never touched: conftest.py sets PYTHON_KEYRING_BACKEND to keyring's null
backend, each test here installs its own backend and restores the previous one, and any
terminal prompt (getpass) fails the test.
"""

from __future__ import annotations

import base64
import configparser
import getpass
import json
import logging
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordSetError
from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

from mua.store import secrets as secrets_module
from mua.store.secrets import NoKeyring, Secrets, SecretsError, WrongMasterPassword
from tests.client_fixtures import MemoryKeyring

PASSWORD = "correct horse battery staple"
MASTER = "open sesame, master"


class BrokenKeyring(MemoryKeyring):
    """A keyring that fails the way OS keyrings do, and is careless with its messages."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"cannot store {password!r} for {service}")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MUA_HOME in tmp, no terminal prompts, and keyring's backend restored afterwards."""
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))

    def no_prompt(prompt: str = "", stream: object = None) -> str:
        raise AssertionError(f"mua prompted on the terminal: {prompt!r}")

    monkeypatch.setattr(getpass, "getpass", no_prompt)
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the configured keyring -------------------------------------------------------------


def test_tests_run_on_the_null_backend_not_the_os_keychain() -> None:
    assert os.environ["PYTHON_KEYRING_BACKEND"] == "keyring.backends.null.Keyring"
    keyring.core.init_backend()  # what a fresh process would detect
    assert isinstance(keyring.get_keyring(), null.Keyring)


def test_python_keyring_backend_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{__name__}.MemoryKeyring")
    keyring.core.init_backend()
    store = Secrets()
    store.set("alice@a.test", "imap", PASSWORD)
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring)
    assert backend.entries == {("mua:alice@a.test", "imap"): PASSWORD}


def test_a_backend_that_cannot_load_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    with pytest.raises(NoKeyring, match="PYTHON_KEYRING_BACKEND"):
        Secrets()


def test_the_naming_scheme(memory: MemoryKeyring) -> None:
    store = Secrets()
    store.set("Alice@A.test", "imap", "imap-pw")
    store.set("alice@a.test", "smtp", "smtp-pw")
    assert memory.entries == {
        ("mua:alice@a.test", "imap"): "imap-pw",
        ("mua:alice@a.test", "smtp"): "smtp-pw",
    }
    assert store.get("ALICE@a.test", "imap") == "imap-pw"
    assert store.get("alice@a.test", "smtp") == "smtp-pw"
    assert store.get("bob@b.test", "imap") is None
    assert store.kind == "system"


def test_delete_forgets_and_tells_whether_there_was_one(memory: MemoryKeyring) -> None:
    store = Secrets()
    store.set("alice@a.test", "imap", PASSWORD)
    assert store.delete("alice@a.test", "imap") is True
    assert store.get("alice@a.test", "imap") is None
    assert store.delete("alice@a.test", "imap") is False


def test_only_imap_smtp_and_oauth(memory: MemoryKeyring) -> None:
    store = Secrets()
    with pytest.raises(ValueError, match="'imap', 'smtp' or 'oauth'"):
        store.set("alice@a.test", "pop3", PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="account key"):
        store.get("  ", "imap")
    assert memory.entries == {}
    store.set("alice@a.test", "oauth", "refresh-token")  # an OAuth2 account's refresh token
    assert store.get("alice@a.test", "oauth") == "refresh-token"


def test_no_password_in_repr_or_log(
    memory: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = Secrets()
    store.set("alice@a.test", "imap", PASSWORD)
    assert store.get("alice@a.test", "imap") == PASSWORD
    store.delete("alice@a.test", "imap")
    assert PASSWORD not in repr(store)
    assert "MemoryKeyring" in repr(store)
    assert PASSWORD not in caplog.text
    assert "mua:alice@a.test" in caplog.text


def test_a_backend_error_becomes_a_sentence_without_the_password() -> None:
    store = Secrets(BrokenKeyring(KeyringLocked("the collection is locked")))
    with pytest.raises(SecretsError) as excinfo:
        store.set("alice@a.test", "smtp", PASSWORD)
    assert PASSWORD not in str(excinfo.value)
    assert excinfo.value.__cause__ is None  # the original message held the password
    assert str(excinfo.value).startswith("Could not store the smtp password for mua:alice@a.test")
    with pytest.raises(SecretsError, match="the collection is locked") as excinfo:
        store.get("alice@a.test", "smtp")
    assert isinstance(excinfo.value.__cause__, KeyringLocked)


def test_secrets_cannot_be_pickled(memory: MemoryKeyring) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secrets.session_only())


# --- no usable keyring ------------------------------------------------------------------


@pytest.mark.parametrize("backend", [null.Keyring(), fail.Keyring()], ids=["null", "fail"])
def test_no_usable_keyring_says_so_and_what_to_do(backend: KeyringBackend) -> None:
    keyring.set_keyring(backend)
    with pytest.raises(NoKeyring) as excinfo:
        Secrets()
    message = str(excinfo.value)
    assert message.startswith("No usable system keyring was found")
    assert "for this session only" in message
    assert "encrypted with a master password" in message
    assert message.endswith(".")
    assert message.count(". ") == 0  # one sentence
    with pytest.raises(NoKeyring):
        Secrets(backend)  # not even when handed over explicitly


def test_a_plaintext_file_keyring_is_never_used_silently(tmp_path: Path) -> None:
    plaintext = PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "plain.cfg")
    keyring.set_keyring(plaintext)
    with pytest.raises(NoKeyring, match="keeps passwords in a file"):
        Secrets()
    assert not (tmp_path / "plain.cfg").exists()


def fake_detection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *found: KeyringBackend) -> None:
    """What keyring detects on a headless box where keyrings.alt is installed: a chain."""
    plaintext, encrypted = PlaintextKeyring(), EncryptedKeyring()
    plaintext.file_path = str(tmp_path / "plain.cfg")
    encrypted.file_path = str(tmp_path / "crypted.cfg")
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [*found, encrypted, plaintext])
    keyring.set_keyring(chainer.ChainerBackend())


def test_a_chain_of_only_file_keyrings_is_no_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_detection(monkeypatch, tmp_path)
    with pytest.raises(NoKeyring, match="no OS keyring"):
        Secrets()
    assert list(tmp_path.iterdir()) == []


def test_a_chain_with_an_os_keyring_uses_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os_keyring = MemoryKeyring()
    os_keyring.priority = 5  # type: ignore[misc]  # as a real OS keyring would rank
    fake_detection(monkeypatch, tmp_path, os_keyring)
    store = Secrets()
    store.set("alice@a.test", "imap", PASSWORD)
    assert os_keyring.entries == {("mua:alice@a.test", "imap"): PASSWORD}
    assert store.get("alice@a.test", "imap") == PASSWORD
    assert list(tmp_path.iterdir()) == []


# --- session only -----------------------------------------------------------------------


def test_session_only_keeps_passwords_in_memory(tmp_path: Path) -> None:
    store = Secrets.session_only()
    store.set("alice@a.test", "imap", PASSWORD)
    assert store.get("ALICE@a.test", "imap") == PASSWORD
    assert Secrets.session_only().get("alice@a.test", "imap") is None  # one store per call
    assert store.delete("alice@a.test", "imap") is True
    assert store.kind == "session-only"
    assert PASSWORD not in repr(store)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even MUA_HOME


def test_session_only_works_without_a_keyring() -> None:
    keyring.set_keyring(null.Keyring())
    store = Secrets.for_choice("session-only")
    store.set("alice@a.test", "smtp", PASSWORD)
    assert store.get("alice@a.test", "smtp") == PASSWORD
    assert keyring.get_password("mua:alice@a.test", "smtp") is None


# --- encrypted file ---------------------------------------------------------------------


def test_the_encrypted_file_round_trips_under_the_data_dir(tmp_path: Path) -> None:
    store = Secrets.encrypted_file(MASTER)
    path = tmp_path / "home" / "data" / "passwords.cfg"
    assert path == secrets_module.encrypted_file_path()
    store.set("alice@a.test", "imap", PASSWORD)
    store.set("alice@a.test", "smtp", "another one")

    reopened = Secrets.encrypted_file(MASTER)
    assert reopened.get("Alice@a.test", "imap") == PASSWORD
    assert reopened.get("alice@a.test", "smtp") == "another one"
    assert reopened.kind == "encrypted-file"
    assert str(path) in reopened.location

    content = path.read_bytes()
    assert PASSWORD.encode() not in content
    assert b"another one" not in content
    assert MASTER.encode() not in content
    assert b"PBKDF2-HMAC-SHA256" in content
    if os.name == "posix":
        assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["passwords.cfg"]
    assert PASSWORD not in repr(reopened)
    assert MASTER not in repr(reopened)


def test_a_wrong_master_password_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "pw.cfg"
    Secrets.encrypted_file(MASTER, path=path).set("alice@a.test", "imap", PASSWORD)
    before = path.read_bytes()
    with pytest.raises(WrongMasterPassword) as excinfo:
        Secrets.encrypted_file("not the master password", path=path)
    assert str(excinfo.value) == f"The master password does not open {path}; try again."
    assert "not the master password" not in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert path.read_bytes() == before


def test_delete_from_the_encrypted_file_leaves_no_trace_of_the_account(tmp_path: Path) -> None:
    path = tmp_path / "pw.cfg"
    store = Secrets.encrypted_file(MASTER, path=path)
    store.set("alice@a.test", "imap", PASSWORD)
    assert b"alice" in path.read_bytes()  # the names are not secret, the passwords are
    assert store.delete("alice@a.test", "imap") is True
    assert store.delete("alice@a.test", "imap") is False
    assert b"alice" not in path.read_bytes()
    assert Secrets.encrypted_file(MASTER, path=path).get("alice@a.test", "imap") is None


def test_a_tampered_entry_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "pw.cfg"
    Secrets.encrypted_file(MASTER, path=path).set("alice@a.test", "imap", PASSWORD)
    ini = configparser.RawConfigParser()
    ini.read(path)
    section = next(name for name in ini.sections() if "alice" in name)
    entry = json.loads(base64.b64decode(ini.get(section, "imap")))
    entry["salt"] = base64.b64encode(bytes(32)).decode()  # another salt: another key
    ini.set(section, "imap", base64.b64encode(json.dumps(entry).encode()).decode())
    with path.open("w") as file:
        ini.write(file)
    with pytest.raises(SecretsError, match="does not decrypt"):
        Secrets.encrypted_file(MASTER, path=path).get("alice@a.test", "imap")


def test_the_master_password_is_required() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        Secrets.encrypted_file("   ")
    with pytest.raises(ValueError, match="needs its master password"):
        Secrets.for_choice("encrypted-file")


def test_a_file_from_another_program_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "crypted_pass.cfg"
    original = (
        "[keyring_2Dsetting]\n"
        "password_20reference = abc\n"
        "scheme = [PBKDF2] AES256.CFB\n"
        "version = 1.0\n"
    )
    path.write_text(original)
    with pytest.raises(SecretsError, match="was not written by mua"):
        Secrets.encrypted_file(MASTER, path=path)
    path.write_text("this is not an ini file\n")
    with pytest.raises(SecretsError, match="is damaged"):
        Secrets.encrypted_file(MASTER, path=path)
    assert path.read_text() == "this is not an ini file\n"


def test_the_remembered_choice_opens_the_same_file(tmp_path: Path) -> None:
    Secrets.for_choice("encrypted-file", master_password=MASTER).set("bob@b.test", "smtp", "pw")
    assert Secrets.for_choice("encrypted-file", master_password=MASTER).get("bob@b.test", "smtp")
    keyring.set_keyring(null.Keyring())
    with pytest.raises(NoKeyring):
        Secrets.for_choice("system")
