"""A session's view of its selected mailbox: message sequence numbers, and what changed.

RFC 3501 section 2.3.1.2: sequence numbers are per session and change only when the session
is told (EXISTS, EXPUNGE). The view keeps the UID list the client knows and turns the
store's current state into the untagged responses that bring the client up to date.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from mua.stack.imap.arguments import SequenceSet
from mua.stack.imap.mailfolder import Folder
from mua.stack.imap.model import MessageInfo


class SelectedMailbox:
    def __init__(self, folder: Folder, *, readonly: bool, condstore: bool = False) -> None:
        self.folder = folder
        self.readonly = readonly
        self.condstore = condstore
        self.uids: list[int] = []
        self.infos: dict[int, MessageInfo] = {}
        # \Recent is per session: the messages this session was the first to see (RFC 3501
        # section 2.3.2); the store hands each to one session only.
        self.recent_uids: set[int] = set()
        # (UIDNEXT, HIGHESTMODSEQ) of the store when this view last caught up with it.
        self.synced_state: tuple[int, int] | None = None
        self._load(folder.messages())

    def _load(self, infos: Iterable[MessageInfo]) -> None:
        self.infos = {info.uid: info for info in infos}
        self.uids = sorted(self.infos)

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def select(self, seqset: SequenceSet, *, by_uid: bool) -> list[tuple[int, int]]:
        """(sequence number, UID) of the messages a sequence set names, ascending.

        For UID sets, `*` is the highest UID and UIDs that do not exist are ignored
        (RFC 3501 section 6.4.8); for sequence sets, `*` is the number of messages.
        """
        if not self.uids:
            return []
        if by_uid:
            top = self.uids[-1]
            return [(n + 1, uid) for n, uid in enumerate(self.uids) if seqset.contains(uid, top)]
        top = len(self.uids)
        return [(n, self.uids[n - 1]) for n in seqset.iter(top) if 1 <= n <= top]

    def updates(self, current: list[MessageInfo], *, allow_expunge: bool) -> list[str]:
        """Untagged responses for what changed since the client last heard, and adopt it.

        Expunges are held back while `allow_expunge` is false (RFC 3501 section 7.4.1: not
        during FETCH, STORE or SEARCH), and so are the messages that arrived after them, so
        that sequence numbers stay right.
        """
        lines: list[str] = []
        now = {info.uid: info for info in current}
        gone = [uid for uid in self.uids if uid not in now]
        if gone and not allow_expunge:
            # Keep the old view; only report flag changes of messages still known.
            return self._flag_updates(now)
        for uid in reversed(gone):  # highest first, so the numbers of the rest stay valid
            seq = self.seq_of(uid)
            assert seq is not None
            lines.append(f"* {seq} EXPUNGE")
            del self.uids[seq - 1]
            del self.infos[uid]
        lines += self._flag_updates(now)
        top = self.uids[-1] if self.uids else 0
        arrived = sorted(uid for uid in now if uid > top)
        if arrived:
            self.uids.extend(arrived)
            for uid in arrived:
                self.infos[uid] = now[uid]
            lines.append(f"* {len(self.uids)} EXISTS")
        return lines

    def _flag_updates(self, now: dict[int, MessageInfo]) -> list[str]:
        lines = []
        for seq, uid in enumerate(self.uids, start=1):
            info = now.get(uid)
            if info is None or info.flags == self.infos[uid].flags:
                continue
            self.infos[uid] = info
            modseq = f" MODSEQ ({info.modseq})" if self.condstore else ""
            lines.append(
                f"* {seq} FETCH (UID {uid} FLAGS ({' '.join(sorted(info.flags))}){modseq})"
            )
        return lines

    def adopt(self, infos: Iterable[MessageInfo]) -> None:
        """Take changes this session made itself (it reports them in its own responses)."""
        for info in infos:
            if info.uid in self.infos:
                self.infos[info.uid] = info

    def forget(self, uids: Iterable[int]) -> list[str]:
        """Drop expunged UIDs this session expunged itself; the EXPUNGE responses to send."""
        lines = []
        for uid in sorted(set(uids), reverse=True):
            seq = self.seq_of(uid)
            if seq is None:
                continue
            lines.append(f"* {seq} EXPUNGE")
            del self.uids[seq - 1]
            del self.infos[uid]
        return lines
