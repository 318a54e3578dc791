"""DATA for the world's aiosmtpd servers (the MX, the smarthost): the message read line by
line as aiosmtpd reads it, with the bytes held in memory taken from a budget that all
sessions of a listener share.

aiosmtpd bounds one message (SIZE, `data_size_limit`) but not the sessions together: 500
connections to an MX, each in the middle of a 25 MB message, would hold 12.5 GB. Its DATA
loop keeps the lines in a local list that no hook can see, so the loop is ours here (the
MSA, which is not aiosmtpd, has its own: mua/stack/smtp_wire.py). Past the budget a message
is read to its end and dropped, and the client told `452 4.3.1` to try again later (RFC 5321
section 4.5.3.1.10), as Postfix answers when its queue file system is short of space.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from mua.stack.smtp_wire import MemoryBudget


class Overflow(enum.Enum):
    NONE = ""
    LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
    TOO_MUCH = "552 Error: Too much mail data"
    NO_MEMORY = "452 4.3.1 Insufficient system storage, try again later"


@dataclass
class Received:
    """What DATA read: the message's lines (dot-stuffed) unless it overflowed, and the bytes
    they hold of the budget, given back by `release`."""

    lines: list[bytes] = field(default_factory=list)
    overflow: Overflow = Overflow.NONE
    held: int = 0
    budget: MemoryBudget | None = None

    def content(self) -> bytes:
        """The message, unstuffed (RFC 5321 section 4.5.2); the lines are let go."""
        content = b"".join(line[1:] if line.startswith(b".") else line for line in self.lines)
        self.lines.clear()
        return content

    def take(self, size: int) -> bool:
        """Hold `size` more bytes, if the budget has them (always, without a budget)."""
        if self.budget is None:
            return True
        if not self.budget.take(size):
            return False
        self.held += size
        return True

    def drop(self, why: Overflow) -> None:
        """Keep nothing more of the message; the first reason is the one answered."""
        if self.overflow is Overflow.NONE:
            self.overflow = why
        self.lines.clear()
        self.release()

    def release(self) -> None:
        if self.budget is not None and self.held:
            self.budget.give(self.held)
        self.held = 0


async def receive_data(
    reader: asyncio.StreamReader,
    *,
    size_limit: int | None,
    line_limit: int,
    budget: MemoryBudget | None,
) -> Received:
    """Read up to the lone dot. A line longer than the reader's limit, a message over
    `size_limit` or one the budget has no room for is read to its end and dropped, its
    reply given after the end (RFC 5321 section 4.2.5), as aiosmtpd does. On cancellation
    (the connection was lost) what was taken is given back."""
    received = Received(budget=budget)
    size = 0
    fragments: list[bytes] = []  # one line read in parts (past the reader's limit)
    try:
        while True:
            try:
                line = await reader.readuntil(b"\r\n")  # RFC 5321 section 2.3.8
            except asyncio.LimitOverrunError as exc:
                received.drop(Overflow.LINE_TOO_LONG)
                line = await reader.read(exc.consumed)
            if not fragments and line == b".\r\n":
                return received
            size += len(line)
            if received.overflow is Overflow.NONE:
                if size_limit and size > size_limit:
                    received.drop(Overflow.TOO_MUCH)
                elif not received.take(len(line)):
                    received.drop(Overflow.NO_MEMORY)
            fragments.append(line)
            if line.endswith(b"\r\n"):
                whole = b"".join(fragments) if len(fragments) > 1 else line
                fragments.clear()
                if received.overflow is Overflow.NONE:
                    if len(whole) > line_limit:
                        received.drop(Overflow.LINE_TOO_LONG)
                    else:
                        received.lines.append(whole)
    except BaseException:
        received.release()
        raise
