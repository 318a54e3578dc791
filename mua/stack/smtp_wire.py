"""One SMTP connection on a blocking socket, for a server session that runs in a thread of its
own (mua/stack/submission_session.py): lines in, replies out, the STARTTLS upgrade.

The reader keeps its own buffer rather than a `socket.makefile` because a session must know
what it holds: after STARTTLS whatever the client sent in clear behind the command is thrown
away, never read as if it came over TLS (the command injection of CVE-2011-0411, RFC 3207
section 4.2), and a stalled command looks ahead for the client having gone without losing a
pipelined command.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import threading
from dataclasses import dataclass

RECV_SIZE = 65536


@dataclass(frozen=True)
class DataRead:
    message: bytes  # b"" when it was dropped
    size: int  # as sent, dropped or not
    held: int  # taken from the budget: to be given back once the message is dealt with
    starved: bool  # dropped because the budget had no more


class MemoryBudget:
    """Bytes of message data the sessions of a server may hold at once (a semaphore counted
    in bytes), so that many clients sending large messages slowly cannot exhaust memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.taken + size > self.limit:
                return False
            self.taken += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.taken -= size


class ClientGone(Exception):
    """The connection ended: the client closed it, reset it, or said nothing for too long."""


class SmtpWire:
    def __init__(self, sock: socket.socket, timeout: float) -> None:
        # A reply is one write, and the client waits for it: never hold it back (Nagle).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        self.sock = sock
        self._buffer = bytearray()

    @property
    def tls(self) -> ssl.SSLSocket | None:
        return self.sock if isinstance(self.sock, ssl.SSLSocket) else None

    @functools.cached_property
    def peer_ip(self) -> str:
        """The client's address, asked once (a session's messages all name it)."""
        try:
            peer = self.sock.getpeername()
        except OSError:
            return "unknown"
        return str(peer[0]) if isinstance(peer, tuple) else "unknown"

    def readline(self, limit: int) -> tuple[bytes, bool]:
        """The next line with its line end, and whether it was longer than `limit`: an
        over-long line is read to its end and dropped, so the next read is the next line
        (the end of a long line is never taken for a command). ClientGone at the end."""
        too_long = False
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return (b"" if too_long else line), too_long or len(line) > limit
            if len(self._buffer) > limit:
                too_long = True
                self._buffer.clear()
            start = len(self._buffer)
            self._fill()

    def read_data(self, size_limit: int, budget: MemoryBudget) -> DataRead:
        """DATA's message as the client sent it (dot-stuffed, RFC 5321 section 4.5.2), up to
        the line holding a lone dot. What it holds in memory is taken from `budget` as it
        arrives (`DataRead.held`, for the caller to give back); once past `size_limit`, or
        when the budget has no more, the rest is read to the end and dropped: no message
        holds more than the limit, and all sessions together no more than the budget."""
        dropped = 0  # bytes read and dropped so far
        held = 0  # bytes of the buffer taken from the budget
        starved = too_big = False
        start = 0  # where the terminator may begin in the buffer (it is searched once)
        while True:
            if self._buffer.startswith(b".\r\n") and not dropped:
                del self._buffer[:3]
                return DataRead(b"", 0, held, starved)
            end = self._buffer.find(b"\r\n.\r\n", start)
            ours = end + 2 if end >= 0 else len(self._buffer)  # this message's bytes in it
            if not (starved or too_big):
                if ours + dropped > size_limit:
                    too_big = True
                elif ours > held:
                    starved = not budget.take(ours - held)
                    held = held if starved else ours
            if end >= 0:
                message = bytes(self._buffer[:ours])
                del self._buffer[: end + 5]
                if starved or too_big:
                    return DataRead(b"", dropped + len(message), held, starved)
                return DataRead(message, len(message), held, starved)
            if starved or too_big:
                keep = self._buffer[-4:]  # the terminator may start in them
                dropped += len(self._buffer) - len(keep)
                self._buffer[:] = keep
            start = max(0, len(self._buffer) - 4)
            try:
                self._fill()
            except ClientGone:
                budget.give(held)  # nothing of it will be dealt with
                raise

    def write(self, reply: str) -> None:
        try:
            self.sock.sendall(reply.encode("utf-8", "surrogateescape") + b"\r\n")
        except (OSError, ssl.SSLError) as exc:
            raise ClientGone(str(exc)) from exc

    def starttls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS (the server's side of the handshake). What the client sent in
        clear after STARTTLS is discarded."""
        self._buffer.clear()
        try:
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            raise ClientGone(f"TLS handshake failed: {exc}") from exc

    def still_there(self) -> bool:
        """Whether the client is still connected, without waiting: what it sent meanwhile
        is kept for the next `readline`."""
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0.0)
        try:
            self._fill()
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except ClientGone:
            return False
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(timeout)
        return True

    def shutdown(self) -> None:
        """End the connection from another thread: a read waiting in this one returns."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            self.sock.close()

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except (OSError, ssl.SSLError) as exc:  # a reset, a timeout, a TLS alert
            raise ClientGone(str(exc)) from exc
        if not chunk:
            raise ClientGone("closed by the client")
        self._buffer += chunk
