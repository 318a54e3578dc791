"""Reading one IMAP command off an asyncio stream: its line and the literals inside it
(RFC 3501 section 4.3, LITERAL+ RFC 7888), within limits a hostile client cannot stretch.

`protocol.py` turns what is read here into tokens; this module is its only part that waits
on a socket. `read_line` also serves every other line a session reads (AUTHENTICATE's
response, IDLE's DONE) and the POP3 server's commands.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from mua.stack.imap.protocol import (
    LITERAL_MARK,
    CommandLine,
    LineTooLong,
    LiteralTooBig,
    tag_of,
)


def _strip_eol(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")


async def _chunk(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Up to and including the next LF, or as much as the reader buffers; b"" at EOF."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except asyncio.IncompleteReadError:
        return b""
    except asyncio.LimitOverrunError as exc:  # no LF within the reader's buffer limit
        return await asyncio.wait_for(reader.read(max(exc.consumed, 1)), timeout)


async def read_line(reader: asyncio.StreamReader, *, max_line: int, timeout: float) -> bytes | None:
    """One line up to and including LF; None at end of stream. Raises LineTooLong past
    `max_line` octets and TimeoutError when the peer is silent for `timeout` seconds."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = await _chunk(reader, timeout)
        if not chunk:
            return None  # EOF inside a line: the client has gone
        buf += chunk
        if len(buf) > max_line:
            head = bytes(buf[:200])
            tag = tag_of(head) if b" " in head else None
            tail, dropped = bytes(buf[-32:]), len(buf)
            while not tail.endswith(b"\n"):  # drop the rest, within reason
                if dropped > max(16 * max_line, 1 << 20):
                    raise LineTooLong("command line too long", tag, must_close=True)
                chunk = await _chunk(reader, timeout)
                if not chunk:
                    return None
                tail, dropped = (tail + chunk)[-32:], dropped + len(chunk)
            literal_plus = re.search(rb"\{\d+\+\}\r?\n\Z", tail) is not None
            raise LineTooLong("command line too long", tag, must_close=literal_plus)
    return bytes(buf)


async def read_command(
    reader: asyncio.StreamReader,
    send_continuation: Callable[[], Awaitable[None]],
    *,
    max_line: int = 64 * 1024,
    max_literal: int = 50 * 1024 * 1024,
    timeout: float,
) -> CommandLine | None:
    """Read one whole command, literals included; None when the client has gone.

    A synchronising literal `{N}` gets `send_continuation()` (which should write `+ Ready`)
    before its octets are read; a LITERAL+ `{N+}` is read at once (RFC 7888). `max_line`
    bounds the text of the command, `max_literal` the sum of its literals: past them this
    raises LineTooLong or LiteralTooBig (see there for what the caller must do next).
    `timeout` is the longest silence allowed inside the command (TimeoutError)."""
    texts: list[bytes] = []
    literals: list[bytes] = []
    text_used = literal_used = 0
    while True:
        try:
            line = await read_line(reader, max_line=max_line - text_used, timeout=timeout)
        except LineTooLong as exc:
            if texts:
                exc.tag = tag_of(texts[0])
            raise
        if line is None:
            return None
        text = _strip_eol(line)
        texts.append(text)
        text_used += len(line)
        match = LITERAL_MARK.search(text)
        if match is None:
            return CommandLine(tuple(texts), tuple(literals))
        size, synchronizing = int(match.group(1)), not match.group(2)
        literal_used += size
        if literal_used > max_literal:
            raise LiteralTooBig(
                f"literal of {size} octets is over the limit of {max_literal}",
                tag=tag_of(texts[0]),
                synchronizing=synchronizing,
            )
        if synchronizing:
            await send_continuation()
        data = bytearray()
        try:
            while len(data) < size:
                want = min(size - len(data), 64 * 1024)
                data += await asyncio.wait_for(reader.readexactly(want), timeout)
        except asyncio.IncompleteReadError:
            return None
        literals.append(bytes(data))
