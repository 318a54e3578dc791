"""The user's accounts and app settings, as TOML files under the config dir.

`accounts.toml` holds one `[[account]]` table per account; `settings.toml` holds `Settings`.
Both are private (mode 0600: they name the user's logins), written atomically (a temporary
file in the same directory, fsync, `os.replace`), and never hold a password: passwords go
through `mua.store.secrets`. A file that does not parse is reported as a `ConfigError` naming
the file and line, and is left exactly as it is.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

import tomli_w

from mua import durable
from mua.core.account import Account
from mua.store import paths

log = logging.getLogger(__name__)

ACCOUNTS_FILE = "accounts.toml"
SETTINGS_FILE = "settings.toml"

ReaderPosition = Literal["right", "bottom"]
# Where passwords are kept (see mua.store.secrets): the OS keyring, an encrypted file under
# the data dir (needs a master password each session), or memory only (asked every session).
SecretsBackendName = Literal["system", "encrypted-file", "session-only"]

_ACCOUNTS_HEADER = (
    "# mua accounts. Passwords are not kept here: they live in the system keyring\n"
    "# (or mua's encrypted password file). Edit with care; mua rewrites this file.\n\n"
)
_SETTINGS_HEADER = "# mua settings.\n\n"
# Defence in depth: no key that looks like a secret is ever written to a config file.
_SECRET_KEY = re.compile(r"(^|_)(pass(word|wd|phrase)?|secret|token)$", re.IGNORECASE)
_TOML_POSITION = re.compile(r"\s*\((?:at line (?P<line>\d+), column \d+|at end of document)\)$")


class ConfigError(ValueError):
    """A config file that cannot be read; str() is one sentence naming the file and line."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path} line {line}" if line else str(path)
        super().__init__(f"{where}: {problem}; fix or remove it.")


class AccountExists(ValueError):
    """`add` of an address that already has an account."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"An account for {address} already exists; edit it instead.")


class AccountNotFound(LookupError):
    """`update` or `remove` of an address that has no account."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"There is no account for {address}.")

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


# --- private files ------------------------------------------------------------------------


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, readable by the owner only (0600).

    The data goes to a temporary file in the same directory, is fsynced, then renamed over
    `path` (`mua.durable.write_atomic`): a crash leaves the old file or the new one, never
    half of either.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    durable.write_atomic(path, data, mode=0o600)


def _read_toml(path: Path) -> tuple[dict[str, Any], str] | None:
    """The parsed file and its text, None when it does not exist; ConfigError if malformed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path, "this is not UTF-8 text", raw.count(b"\n", 0, exc.start) + 1
        ) from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line: int | None
        if match:
            problem = message[: match.start()]
            line = int(match["line"]) if match["line"] else text.count("\n") + 1
        else:
            problem, line = message, None
        raise ConfigError(path, f"this is not valid TOML ({problem})", line) from exc


def _write_toml(path: Path, header: str, data: Mapping[str, Any]) -> None:
    for key in _keys(data):
        if _SECRET_KEY.search(key):
            raise ValueError(f"refusing to write {key!r} to {path}: secrets belong in the keyring")
    write_private_file(path, (header + tomli_w.dumps(data)).encode("utf-8"))


def _keys(data: Any) -> Iterator[str]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield str(key)
            yield from _keys(value)
    elif isinstance(data, list):
        for item in data:
            yield from _keys(item)


def _line_of(text: str, pattern: str, occurrence: int = 0) -> int | None:
    """The 1-based line where `pattern` (a regex, whole line) matches for the nth time."""
    regex = re.compile(pattern)
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if regex.match(line):
            if seen == occurrence:
                return number
            seen += 1
    return None


# --- accounts -----------------------------------------------------------------------------


class AccountStore:
    """The accounts in `accounts.toml`, one `[[account]]` table each, in the order added.

    Every change reads the file afresh, so a file that became malformed since is reported,
    never overwritten.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / ACCOUNTS_FILE

    def __repr__(self) -> str:
        return f"AccountStore({str(self.path)!r})"

    def load(self) -> list[Account]:
        parsed = _read_toml(self.path)
        if parsed is None:
            return []
        data, text = parsed
        tables = data.get("account", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            line = _line_of(text, r"\s*account\s*=")
            raise ConfigError(self.path, "'account' must be a list of [[account]] tables", line)
        accounts: list[Account] = []
        seen: set[str] = set()
        for index, table in enumerate(tables):
            line = _line_of(text, r"\s*\[\[\s*account\s*\]\]", index)
            account = self._account(table, line)
            if account.key in seen:
                raise ConfigError(self.path, f"{account.address} is listed twice", line)
            seen.add(account.key)
            accounts.append(account)
        return accounts

    def _account(self, table: dict[str, Any], line: int | None) -> Account:
        try:
            return Account.from_dict(table)
        except KeyError as exc:
            name = table.get("address", f"account {line}" if line else "an account")
            problem = f"{name} has no {exc.args[0]!r}"
        except (ValueError, TypeError, AttributeError) as exc:
            name = table.get("address", "an account")
            problem = f"{name} has a bad value ({exc})"
        raise ConfigError(self.path, problem, line)

    def get(self, address: str) -> Account | None:
        """The account for `address`, compared case-insensitively; None when there is none."""
        key = address.lower()
        return next((a for a in self.load() if a.key == key), None)

    def add(self, account: Account) -> None:
        accounts = self.load()
        existing = next((a for a in accounts if a.key == account.key), None)
        if existing is not None:
            raise AccountExists(existing.address)
        self._save([*accounts, account])
        log.info("added account %s to %s", account.address, self.path)

    def update(self, account: Account) -> None:
        """Replace the account with the same address (case-insensitively), keeping its place."""
        accounts = self.load()
        index = next((i for i, a in enumerate(accounts) if a.key == account.key), None)
        if index is None:
            raise AccountNotFound(account.address)
        accounts[index] = account
        self._save(accounts)
        log.info("updated account %s in %s", account.address, self.path)

    def remove(self, address: str) -> None:
        accounts = self.load()
        kept = [a for a in accounts if a.key != address.lower()]
        if len(kept) == len(accounts):
            raise AccountNotFound(address)
        self._save(kept)
        log.info("removed account %s from %s", address, self.path)

    def _save(self, accounts: list[Account]) -> None:
        _write_toml(self.path, _ACCOUNTS_HEADER, {"account": [a.to_dict() for a in accounts]})


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the user chose in the app; every field has the default a new user gets."""

    reader_position: ReaderPosition = "right"  # the message pane: beside the list, or below
    load_remote_content: bool = False  # images and other remote parts of HTML mail
    check_interval_minutes: int = 10
    # "system" until the user asks mua to remember another choice (see mua.store.secrets).
    secrets_backend: SecretsBackendName = "system"
    # "system": follow the desktop's language; else a catalog's code ("en", "ru"). Applied at
    # the next start (mua.core.i18n.set_language).
    language: str = "system"
    # The bodies of opened IMAP messages kept in the local cache, least recently fetched
    # dropped first (mua.client.engine.Engine.evict_bodies) and fetched again when opened;
    # a POP3 account's are its mail, always kept. Thunderbird keeps a full offline copy of
    # every folder; mua keeps a bounded cache: 500 MB holds some thousands of ordinary
    # messages. 0: none are kept.
    body_cache_megabytes: int = 500

    @property
    def body_cache_bytes(self) -> int:
        return self.body_cache_megabytes * 1024 * 1024

    def __post_init__(self) -> None:
        if self.reader_position not in get_args(ReaderPosition):
            raise ValueError(f"reader_position must be one of {get_args(ReaderPosition)}")
        if not isinstance(self.load_remote_content, bool):
            raise ValueError("load_remote_content must be true or false")
        minutes = self.check_interval_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError("check_interval_minutes must be a whole number of minutes, 1 or more")
        if self.secrets_backend not in get_args(SecretsBackendName):
            raise ValueError(f"secrets_backend must be one of {get_args(SecretsBackendName)}")
        if not isinstance(self.language, str) or not re.fullmatch(
            r"[A-Za-z]{2,3}(_[A-Z]{2})?|system", self.language
        ):
            raise ValueError('language must be "system" or a language code such as "ru"')
        size = self.body_cache_megabytes
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("body_cache_megabytes must be a whole number of megabytes, 0 or more")


class SettingsStore:
    """`Settings` in `settings.toml`; a missing file or key means the default."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / SETTINGS_FILE

    def __repr__(self) -> str:
        return f"SettingsStore({str(self.path)!r})"

    def load(self) -> Settings:
        parsed = _read_toml(self.path)
        if parsed is None:
            return Settings()
        data, text = parsed
        known = {f.name for f in fields(Settings)}
        for key in data.keys() - known:
            log.warning("%s: ignoring unknown setting %r", self.path, key)
        values = {key: value for key, value in data.items() if key in known}
        try:
            return Settings(**values)
        except ValueError as exc:
            named = next((k for k in values if str(exc).startswith(k)), None)
            line = _line_of(text, rf"\s*{re.escape(named)}\s*=") if named else None
            raise ConfigError(self.path, str(exc), line) from exc

    def save(self, settings: Settings) -> None:
        _write_toml(self.path, _SETTINGS_HEADER, asdict(settings))
        log.info("saved settings to %s", self.path)
