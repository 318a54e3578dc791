"""The users of one provider: mailbox names, addresses and their passwords.

Passwords are random per world and kept in the world directory (mode 0600), so two worlds
never share credentials and `mua stack` can print them for a mail client to use.
"""

from __future__ import annotations

import hmac
import json
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mua import durable

# Letters and digits only: a password starting with "-" (token_urlsafe gives one in 64) is
# taken for an option by the command-line clients people paste it into (swaks, curl -u).
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 16  # about 95 bits


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


@dataclass(frozen=True)
class Mailbox:
    user: str
    domain: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.user}@{self.domain}"

    def __repr__(self) -> str:  # never let a password reach a log through repr()
        return f"Mailbox({self.address!r})"


class UserDirectory:
    def __init__(self, domain: str, mailboxes: list[Mailbox]) -> None:
        self.domain = domain
        self._by_user = {m.user.lower(): m for m in mailboxes}

    @classmethod
    def load_or_create(cls, domain: str, users: list[str], path: Path) -> UserDirectory:
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        missing = [u for u in users if u not in stored]
        for user in missing:
            stored[user] = new_password()
        if missing or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            durable.write_atomic(path, json.dumps(stored, indent=1).encode(), mode=0o600)
        return cls(domain, [Mailbox(u, domain, stored[u]) for u in users])

    def __iter__(self) -> Iterator[Mailbox]:
        return iter(self._by_user.values())

    def get(self, address_or_user: str) -> Mailbox | None:
        """The mailbox for 'alice' or 'alice@a.test' (the domain must be ours)."""
        user, _, domain = address_or_user.partition("@")
        if domain and domain.lower() != self.domain:
            return None
        return self._by_user.get(user.lower())

    def authenticate(self, login: str, password: str) -> Mailbox | None:
        mailbox = self.get(login)
        # Compare even for unknown users, so timing does not tell which logins exist.
        expected = mailbox.password if mailbox else new_password()
        if hmac.compare_digest(expected.encode(), password.encode()) and mailbox:
            return mailbox
        return None
