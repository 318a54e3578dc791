"""A message file (.eml) and its journey, as `mua trace`, `mua open` and the desktop app's
file-open event show it.

The journey comes from the Received headers. Which of them are `recorded` (written inside
your own provider) and which only `claimed` depends on the account the message belongs to:
given, or else the configured account it was addressed to. What mua observed itself when it
sent the message (kept in the cache) is merged in.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from mua.core.i18n import T_
from mua.core.journey import trace_from_headers
from mua.core.legs import Leg, Trace
from mua.core.mime import parse_bytes
from mua.net.dkim_check import verify_content_offline
from mua.store import paths
from mua.store.cache import MailCache
from mua.store.config import AccountStore, ConfigError
from mua.store.key_cache import KeyCache

_RECIPIENT_FIELDS = ("Delivered-To", "X-Original-To", "To", "Cc")


class NoSuchAccount(LookupError):
    """The account named for the message is not configured."""


@dataclass
class MessageFile:
    path: Path
    raw: bytes
    message: Message
    trace: Trace
    account: str | None = None
    own_hosts: list[str] = field(default_factory=list)


def read_message_file(path: Path, account: str | None = None) -> MessageFile:
    """Read and trace `path`. Raises OSError when it cannot be read, NoSuchAccount when
    `account` is given but not configured."""
    raw = path.read_bytes()
    message = parse_bytes(raw, policy=email.policy.compat32)  # MIME nesting capped
    account = account or recipient_account(message)
    own_hosts: list[str] = []
    observed: list[Leg] = []
    if account:
        own_hosts, observed = _account_context(account, message.get("Message-ID"))
    trace = trace_from_headers(message, own_hosts=own_hosts, observed=observed)
    # Offline: DKIM keys only from the cache (`mua trace --dns` looks them up and keeps them).
    trace.content = verify_content_offline(raw, keys=KeyCache(), own_hosts=set(own_hosts))
    return MessageFile(path, raw, message, trace, account, own_hosts)


def recipient_account(message: Message) -> str | None:
    """The configured account the message was addressed to, if any."""
    try:
        accounts = {a.address.lower(): a.address for a in AccountStore().load()}
    except (OSError, ConfigError):
        return None  # a broken accounts file is reported where accounts are used
    values = [str(v) for name in _RECIPIENT_FIELDS for v in message.get_all(name, [])]
    for _name, address in getaddresses(values):
        if address.lower() in accounts:
            return accounts[address.lower()]
    return None


def _account_context(address: str, message_id: str | None) -> tuple[list[str], list[Leg]]:
    """The account's provider hosts, and the legs mua observed for this message."""
    account = AccountStore().get(address)
    if account is None:
        raise NoSuchAccount(T_("There is no account {address}.", address=address))
    hosts = [account.domain, *account.provider_hosts]
    hosts += [s.server_name or s.host for s in (account.imap, account.smtp)]
    observed: list[Leg] = []
    cache_file = paths.cache_dir() / "mail.sqlite3"
    if message_id and cache_file.exists():
        with MailCache(cache_file) as cache:
            stored = cache.trace(account.key, str(message_id).strip())
        if stored is not None:
            observed = [Leg.from_json(leg) for leg in stored.observed_legs]
    return hosts, observed
