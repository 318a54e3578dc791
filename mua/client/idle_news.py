"""What counts as news for `AccountSync.wait_for_change` (IDLE, RFC 2177): which untagged
responses heard in IDLE change what the user sees, and whether a folder's SELECT shows a
state other than the one it is compared with (an earlier SELECT, or the cache's record).

Pure functions over what imapclient returns, but for `listen_for_change`, which reads from the
connection and nothing else (the IDLE thread never touches the cache).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from imapclient import IMAPClient

from mua.store.cache import CachedFolder

# A change the user sees: a message came or went (EXISTS, EXPUNGE: RFC 3501 sections 7.3.1,
# 7.4.1; VANISHED: RFC 7162 section 3.2.10) or its flags changed (FETCH, section 7.4.2).
# Not RECENT (it comes with EXISTS; alone it moves when another session selects), FLAGS
# (the folder's list of flags) nor a status response: Dovecot's keepalive is
# `* OK Still here`, every 2 minutes by default.
IDLE_CHANGES = frozenset({b"EXISTS", b"EXPUNGE", b"VANISHED", b"FETCH"})

# A folder's state in a SELECT's answer, as imapclient's select_folder keys it.
STATE_KEYS = (b"UIDVALIDITY", b"UIDNEXT", b"EXISTS", b"HIGHESTMODSEQ")

FolderState = Mapping[bytes, object]


def listen_for_change(client: IMAPClient, timeout: float) -> bool:
    """Listen in IDLE until the server reports a change (True) or for `timeout` seconds
    (False). A BYE ends the wait: the connection is closing, so DONE fails and the caller
    retries on a new connection, whose SELECT tells whether anything changed."""
    deadline = time.monotonic() + timeout
    while True:
        responses = client.idle_check(timeout=max(deadline - time.monotonic(), 0))
        if reports_change(responses):
            return True
        if any(_kind(r) == b"BYE" for r in responses) or time.monotonic() >= deadline:
            return False


def reports_change(responses: Iterable[tuple[object, ...]]) -> bool:
    """Whether untagged responses, as imapclient parses them (`* 3 EXISTS` is
    (3, b"EXISTS"), `* OK Still here` is (b"OK", b"Still here")), hold IDLE_CHANGES."""
    return any(_kind(r) in IDLE_CHANGES for r in responses)


def _kind(response: tuple[object, ...]) -> object:
    kind = response[1] if len(response) > 1 and isinstance(response[0], int) else response[0]
    return kind.upper() if isinstance(kind, bytes) else kind


def selected_state(info: Mapping[bytes, object]) -> FolderState:
    """The folder's state in select_folder's answer."""
    return {key: info[key] for key in STATE_KEYS if info.get(key) is not None}


def cached_state(cached: CachedFolder | None) -> FolderState:
    """The folder's state as the cache recorded it at its last sync (it has no EXISTS)."""
    if cached is None:
        return {}
    known = {
        b"UIDVALIDITY": cached.uidvalidity,
        b"UIDNEXT": cached.uidnext,
        b"HIGHESTMODSEQ": cached.highestmodseq,
    }
    return {key: value for key, value in known.items() if value is not None}


def state_changed(before: FolderState, now: FolderState) -> bool:
    """Whether anything both states know differs (a server that stopped sending, or a
    cache that never recorded, an item has no say)."""
    return any(now[key] != value for key, value in before.items() if key in now)
