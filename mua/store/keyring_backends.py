"""The keyring-backed halves of `mua.store.secrets`: the OS keyring as keyring picks it,
and the master-password file on keyrings.alt.

Kept apart so that importing `mua.store.secrets` does not import keyring: keyring finds its
backends through entry points at import, which costs ~30 ms of every start-up, and a
session-only store (the demo) never needs it.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import os
from pathlib import Path
from typing import Any, NoReturn

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordDeleteError
from keyrings.alt.escape import escape as escape_for_ini
from keyrings.alt.file import EncryptedKeyring
from keyrings.alt.file_base import FileBacked

from mua.core.i18n import T_
from mua.store.config import write_private_file
from mua.store.secret_errors import (
    NoKeyring,
    SecretsError,
    UndecryptableEntry,
    WrongMasterPassword,
)


def system_backend() -> KeyringBackend:
    """keyring's own choice, as long as it is a real OS keyring."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a backend named by PYTHON_KEYRING_BACKEND that cannot load
        raise NoKeyring(
            T_(
                "the backend that PYTHON_KEYRING_BACKEND or keyringrc.cfg names cannot be used: "
                "{error}",
                error=exc,
            )
        ) from exc
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        usable = [b for b in chained if is_os_keyring(b)]
        if not usable:
            no_keyring(backend, T_("keyring found no OS keyring to use"))
        # A chain that also holds keyrings.alt files would read from them: use the best alone.
        return backend if len(usable) == len(chained) else usable[0]
    if isinstance(backend, FileBacked):
        no_keyring(
            backend,
            T_(
                "{backend} keeps passwords in a file that mua does not manage",
                backend=describe_backend(backend),
            ),
        )
    if not is_os_keyring(backend):
        no_keyring(backend)
    return backend


def describe_backend(backend: KeyringBackend) -> str:
    """The backend in words for the user: the encrypted file's path, or keyring's class."""
    if isinstance(backend, MasterPasswordKeyring):
        return T_("encrypted file {path}", path=backend.file_path)
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def no_keyring(backend: KeyringBackend, why: str = "") -> NoReturn:
    raise NoKeyring(why or T_("keyring offers only {backend}", backend=describe_backend(backend)))


def is_os_keyring(backend: KeyringBackend) -> bool:
    unusable = fail.Keyring | null.Keyring | chainer.ChainerBackend | FileBacked
    return not isinstance(backend, unusable)


class MasterPasswordKeyring(EncryptedKeyring):  # type: ignore[misc]  # keyrings.alt: no types
    """keyrings.alt's EncryptedKeyring, unlocked by a master password given by the caller.

    keyrings.alt asks with getpass on the terminal; here the two prompts are replaced, the
    key derivation is strengthened (its default is 1,000 rounds of PBKDF2-HMAC-SHA1), and
    the file is written atomically with mode 0600.
    """

    priority = -1  # never picked by keyring's detection: only by Secrets.encrypted_file()
    kdf_iterations = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
    scheme = f"[PBKDF2-HMAC-SHA256 {kdf_iterations}] AES256.CFB"

    def __init__(self, path: Path, master_password: str) -> None:
        super().__init__()
        self.file_path = str(path)
        self._master_password = master_password

    def __repr__(self) -> str:
        return f"<encrypted password file {self.file_path}>"

    def open(self) -> None:
        """Unlock the file, or create it: raises WrongMasterPassword or SecretsError."""
        path = Path(self.file_path)
        try:
            self.keyring_key  # noqa: B018 (keyrings.alt unlocks or creates on first access)
        except SecretsError:
            raise
        except configparser.Error as exc:
            raise SecretsError(
                T_(
                    "The password file {path} is damaged; move it away to start a new one.",
                    path=path,
                )
            ) from exc
        except ValueError as exc:  # keyrings.alt: "Encryption scheme mismatch"
            raise SecretsError(
                T_(
                    "The password file {path} was not written by mua; move it away to start a new "
                    "one.",
                    path=path,
                )
            ) from exc
        except OSError as exc:
            raise SecretsError(
                T_("The password file {path} cannot be used ({error}).", path=path, error=exc)
            ) from exc

    # --- the master password comes from the caller, never from a prompt ------------------

    def _get_new_password(self) -> str:
        return self._master_password

    def _unlock(self) -> None:
        self.keyring_key = self._master_password
        try:
            reference = self.get_password("keyring-setting", "password reference")
        except UndecryptableEntry:
            reference = None
        # Compared here, not asserted as keyrings.alt does, so that `python -O` checks it too.
        if reference != "password reference value":
            self._lock()
            raise WrongMasterPassword(Path(self.file_path))

    def get_password(self, service: str, username: str) -> str | None:
        try:
            password: str | None = super().get_password(service, username)
            return password
        except (AssertionError, ValueError) as exc:  # a wrong key: bad prefix, not UTF-8...
            raise UndecryptableEntry(
                f"An entry of {self.file_path} does not decrypt with this master password;"
                " the file may be damaged."
            ) from exc

    def _create_cipher(self, password: str, salt: bytes, IV: bytes) -> Any:
        key = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), salt, self.kdf_iterations, dklen=self.block_size
        )
        return self.AES.new(key, self.AES.MODE_CFB, IV)

    # --- atomic, private writes (keyrings.alt truncates the file in place) ---------------

    def _read_config(self) -> configparser.RawConfigParser:
        config = configparser.RawConfigParser()
        if os.path.exists(self.file_path):
            config.read(self.file_path, encoding="utf-8")
        return config

    def _save_config(self, config: configparser.RawConfigParser) -> None:
        text = io.StringIO()
        config.write(text)
        write_private_file(Path(self.file_path), text.getvalue().encode("utf-8"))

    def _write_config_value(self, service: str, key: str, value: str) -> None:
        config = self._read_config()
        section = escape_for_ini(service)
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, escape_for_ini(key), value)
        self._save_config(config)

    def delete_password(self, service: str, username: str) -> None:
        config = self._read_config()
        section = escape_for_ini(service)
        try:
            removed = config.remove_option(section, escape_for_ini(username))
        except configparser.NoSectionError:
            removed = False
        if not removed:
            raise PasswordDeleteError("Password not found")
        if not config.options(section):
            config.remove_section(section)
        self._save_config(config)
