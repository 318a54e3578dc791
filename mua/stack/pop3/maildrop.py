"""A POP3 session's view of INBOX (RFC 1939 section 5) and the wire forms it sends.

POP3 sees one folder, INBOX, of the same Maildir++ store the IMAP server serves: the
session takes a snapshot of its messages when it enters the TRANSACTION state and numbers
them 1..n; DELE only marks, and the marks are applied at QUIT (the UPDATE state) as
IMAP's \\Deleted plus EXPUNGE of exactly those UIDs. A message's UIDL is
"<UIDVALIDITY>.<UID>", so it agrees with what an IMAP client sees of the same message and
changes when the folder's UIDVALIDITY does (as every UID does for IMAP).
"""

from __future__ import annotations

from mua.stack.imap.mailstore import Folder
from mua.stack.imap.model import DELETED, MessageInfo


class Maildrop:
    """INBOX as one session locked it: message numbers, sizes, UIDLs and deletion marks."""

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self.messages: list[MessageInfo] = folder.messages()
        self.deleted: set[int] = set()  # message numbers (1-based)

    def uidl(self, number: int) -> str:
        return f"{self.folder.uidvalidity}.{self.messages[number - 1].uid}"

    def live(self) -> list[int]:
        """Message numbers not marked deleted, ascending."""
        return [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]

    def stat(self) -> tuple[int, int]:
        numbers = self.live()
        return len(numbers), sum(self.messages[n - 1].size for n in numbers)

    def size(self, number: int) -> int:
        return self.messages[number - 1].size

    def uid(self, number: int) -> int:
        return self.messages[number - 1].uid

    def read(self, number: int) -> bytes:
        """The message in its CRLF wire form (the store's RFC822 octets)."""
        return self.folder.read(self.uid(number))

    def commit(self) -> int:
        """The UPDATE state: remove the marked messages from the store; how many went.
        Blocking (file system): call it in a worker thread."""
        uids = [self.uid(n) for n in sorted(self.deleted)]
        if not uids:
            return 0
        self.folder.set_flags(uids, {DELETED}, "add")
        return len(self.folder.expunge(uids))


def multiline(data: bytes) -> bytes:
    """`data` as a multi-line response body (RFC 1939 section 3): CRLF line ends, a leading
    "." doubled (dot-stuffing), and the terminating ".CRLF"."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final line end, not an empty last line
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"".join(line + b"\r\n" for line in stuffed) + b".\r\n"


def top(data: bytes, lines: int) -> bytes:
    """TOP's text (RFC 1939 section 7): the header, the blank line, then `lines` lines of
    the body (all of it when it is shorter)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return data
    kept = body.split(b"\r\n")[:lines] if lines else []
    text = head + b"\r\n\r\n" + b"\r\n".join(kept)
    if kept and len(kept) < len(body.split(b"\r\n")):
        text += b"\r\n"
    return text
