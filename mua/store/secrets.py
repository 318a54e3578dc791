"""Account passwords, through one small wrapper around keyring.

Naming scheme (what another keyring tool shows): the keyring *service* is `mua:<account key>`,
the account's address lower-cased, and the keyring *username* is the kind of server the
password is for, `imap` or `smtp`. So alice's submission password is the entry
("mua:alice@a.test", "smtp"). An account that signs in with OAuth2 keeps its refresh token
under `oauth`, by the same rules (mua/net/oauth.py).

Where the passwords go:
- `Secrets()` uses the keyring backend that keyring itself picks, which honours keyring's
  own `PYTHON_KEYRING_BACKEND` variable and `keyringrc.cfg`. When that is no usable OS
  keyring (keyring's fail or null backend, a chain with nothing in it, or a keyrings.alt file
  backend, which keeps plaintext or prompts on the terminal), it raises `NoKeyring` and
  writes nothing. The CLI or GUI then asks the user, and calls one of:
- `Secrets.session_only()`: in this process's memory; nothing is written, the password is
  asked again next time.
- `Secrets.encrypted_file(master_password)`: `encrypted_file_path()` under mua's data dir,
  each password encrypted (AES-256-CFB, key from PBKDF2-HMAC-SHA256 of the master password
  with a salt per entry; keyrings.alt's `EncryptedKeyring`, with a stronger key derivation
  than its default). The caller supplies the master password; nothing here prompts.
- mua never falls back to a plaintext file.

The choice is remembered only when the caller asks: it stores `secrets_backend =
"encrypted-file"` (or "session-only") in `settings.toml` (`mua.store.config.Settings`) and
next time calls `Secrets.for_choice(settings.secrets_backend, master_password=...)`.

No password is ever logged, shown by repr(), or put in an exception message.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn, TypeGuard, get_args

from mua.core.i18n import N_, T_
from mua.store import paths
from mua.store.config import SecretsBackendName
from mua.store.secret_errors import NoKeyring, SecretsError, WrongMasterPassword

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from mua.store.keyring_backends import MasterPasswordKeyring

__all__ = [  # the errors are re-exported: callers catch them where they call Secrets
    "ENCRYPTED_FILE_NAME",
    "SERVICE_PREFIX",
    "NoKeyring",
    "Secrets",
    "SecretsError",
    "ServiceKind",
    "WrongMasterPassword",
    "encrypted_file_path",
    "service_name",
]

log = logging.getLogger(__name__)

ServiceKind = Literal["imap", "smtp", "oauth"]  # "oauth": an OAuth2 refresh token
SERVICE_PREFIX = "mua:"
ENCRYPTED_FILE_NAME = "passwords.cfg"


def service_name(account_key: str) -> str:
    """The keyring service for an account: `mua:` and the address, lower-cased."""
    if not account_key or not account_key.strip():
        raise ValueError("an account key (the account's address) is required")
    return SERVICE_PREFIX + account_key.strip().lower()


def encrypted_file_path() -> Path:
    """Where `Secrets.encrypted_file` keeps passwords unless told otherwise."""
    return paths.data_dir() / ENCRYPTED_FILE_NAME


class Secrets:
    """Get, set and delete the IMAP and SMTP passwords of accounts.

    `Secrets()` is the OS keyring (or raises `NoKeyring`); `Secrets(backend)` uses the given
    keyring backend as it is (tests, or a backend the caller built).
    """

    def __init__(self, backend: KeyringBackend | _SessionKeyring | None = None) -> None:
        # keyring is imported only here, for a keyring backend (see keyring_backends.py)
        if backend is None:
            from mua.store.keyring_backends import system_backend

            backend = system_backend()
        elif not isinstance(backend, _SessionKeyring):
            from keyring.backends import fail, null

            if isinstance(backend, fail.Keyring | null.Keyring):
                from mua.store.keyring_backends import no_keyring

                no_keyring(backend)
        self._backend: KeyringBackend | _SessionKeyring = backend

    @classmethod
    def session_only(cls) -> Secrets:
        """Passwords in this process's memory only: nothing written, asked again next run."""
        return cls(_SessionKeyring())

    @classmethod
    def encrypted_file(cls, master_password: str, *, path: Path | None = None) -> Secrets:
        """Passwords in a file encrypted with `master_password` (created when missing).

        Raises `WrongMasterPassword` when the file exists and the password does not open it,
        `SecretsError` when the file cannot be used.
        """
        if not isinstance(master_password, str) or not master_password.strip():
            raise ValueError(T_("The master password must not be empty."))
        from mua.store.keyring_backends import MasterPasswordKeyring

        path = path if path is not None else encrypted_file_path()
        backend = MasterPasswordKeyring(path, master_password)
        backend.open()
        log.info("using the encrypted password file %s", path)
        return cls(backend)

    @classmethod
    def for_choice(
        cls,
        choice: SecretsBackendName,
        *,
        master_password: str | None = None,
        path: Path | None = None,
    ) -> Secrets:
        """The store the user chose (`Settings.secrets_backend`); `path` is for the file."""
        choices = get_args(SecretsBackendName)
        if choice not in choices:  # a caller's string, not one Settings checked
            raise ValueError(f"unknown secrets backend {choice!r}; use one of {choices}")
        if choice == "system":
            return cls()
        if choice == "session-only":
            return cls.session_only()
        if master_password is None:  # "encrypted-file"
            raise ValueError(T_("The encrypted password file needs its master password."))
        return cls.encrypted_file(master_password, path=path)

    def __repr__(self) -> str:
        return f"<Secrets {self.kind}: {_describe(self._backend)}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secrets cannot be pickled (it may hold passwords in memory)")

    @property
    def kind(self) -> SecretsBackendName:
        """Which of the user's choices this is (the value for `Settings.secrets_backend`)."""
        if isinstance(self._backend, _SessionKeyring):
            return "session-only"
        return "encrypted-file" if _is_password_file(self._backend) else "system"

    @property
    def location(self) -> str:
        """Where the passwords are, in words for the user."""
        if isinstance(self._backend, _SessionKeyring):
            return T_("memory, for this session only")
        if _is_password_file(self._backend):
            return T_("the encrypted file {path}", path=self._backend.file_path)
        return T_("the system keyring ({name})", name=self._backend.name)

    def get(self, account_key: str, service: ServiceKind) -> str | None:
        """The stored password, None when there is none."""
        name, kind = service_name(account_key), _kind(service)
        with self._errors("read", name, kind):
            password = self._backend.get_password(name, kind)
        log.debug("%s password for %s: %s", kind, name, "found" if password else "none stored")
        return password

    def set(self, account_key: str, service: ServiceKind, password: str) -> None:
        name, kind = service_name(account_key), _kind(service)
        if not isinstance(password, str):
            raise TypeError("a password is a str")
        with self._errors("store", name, kind, password):
            self._backend.set_password(name, kind, password)
        log.info("stored the %s password for %s in %s", kind, name, _describe(self._backend))

    def delete(self, account_key: str, service: ServiceKind) -> bool:
        """Forget the password; False when there was none."""
        from keyring.errors import PasswordDeleteError

        name, kind = service_name(account_key), _kind(service)
        with self._errors("delete", name, kind):
            try:
                self._backend.delete_password(name, kind)
            except PasswordDeleteError:  # what backends raise when there is no such entry
                return False
        log.info("deleted the %s password for %s", kind, name)
        return True

    @contextmanager
    def _errors(
        self, action: str, name: str, kind: str, secret: str | None = None
    ) -> Iterator[None]:
        """Turn a backend's failure into a SecretsError sentence that holds no password."""
        try:
            yield
        except SecretsError:
            raise
        except Exception as exc:
            from keyring.errors import InitError, KeyringError, NoKeyringError

            if isinstance(exc, NoKeyringError | InitError):
                raise NoKeyring(_scrub(exc, secret)) from _cause(exc, secret)
            if not isinstance(exc, KeyringError | configparser.Error | OSError):
                raise
            where = _describe(self._backend)
            facts = {"kind": kind, "name": name, "where": where, "error": _scrub(exc, secret)}
            raise SecretsError(T_(_FAILED[action], **facts)) from _cause(exc, secret)


def _kind(service: str) -> ServiceKind:
    if service not in get_args(ServiceKind):
        raise ValueError(f"service must be 'imap', 'smtp' or 'oauth', not {service!r}")
    return service  # type: ignore[return-value]


def _is_password_file(backend: object) -> TypeGuard[MasterPasswordKeyring]:
    from mua.store.keyring_backends import MasterPasswordKeyring

    return isinstance(backend, MasterPasswordKeyring)


_FAILED = {
    "read": N_(
        "Could not read the {kind} password for {name} in {where} ({error}); check that the "
        "keyring is unlocked and try again."
    ),
    "store": N_(
        "Could not store the {kind} password for {name} in {where} ({error}); check that the "
        "keyring is unlocked and try again."
    ),
    "delete": N_(
        "Could not delete the {kind} password for {name} in {where} ({error}); check that the "
        "keyring is unlocked and try again."
    ),
}


def _describe(backend: KeyringBackend | _SessionKeyring) -> str:
    if isinstance(backend, _SessionKeyring):
        return T_("memory, this session only")
    from mua.store.keyring_backends import describe_backend

    return describe_backend(backend)


def _scrub(exc: BaseException, secret: str | None) -> str:
    text = str(exc) or type(exc).__name__
    if secret and secret in text:
        return type(exc).__name__
    return text


def _cause(exc: BaseException, secret: str | None) -> BaseException | None:
    """Chain the original error, unless its message would carry the password along."""
    return None if secret and secret in str(exc) else exc


class _SessionKeyring:
    """Passwords in this process's memory; nothing is written anywhere."""

    name = "session-only"

    def __init__(self) -> None:
        self._passwords: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"<session-only store, {len(self._passwords)} entries>"

    def get_password(self, service: str, username: str) -> str | None:
        return self._passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._passwords.pop((service, username), None) is None:
            from keyring.errors import PasswordDeleteError  # what Secrets.delete expects

            raise PasswordDeleteError("Password not found")
