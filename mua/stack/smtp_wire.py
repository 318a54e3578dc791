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
import socket
import ssl

RECV_SIZE = 65536


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

    def peer_ip(self) -> str:
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

    def read_data(self, size_limit: int) -> tuple[bytes, int]:
        """DATA's message as the client sent it (dot-stuffed, RFC 5321 section 4.5.2), up to
        the line holding a lone dot, and its size. Once past `size_limit` the rest is read
        to the end and dropped (b"" is returned with the size): a message never holds more
        than the limit in memory."""
        size = 0  # bytes dropped so far
        start = 0  # where the terminator may begin in the buffer (it is searched once)
        while True:
            if self._buffer.startswith(b".\r\n") and size == 0:
                del self._buffer[:3]
                return b"", 0
            end = self._buffer.find(b"\r\n.\r\n", start)
            if end >= 0:
                message = bytes(self._buffer[: end + 2])
                del self._buffer[: end + 5]
                if size:
                    return b"", size + len(message)
                return message, len(message)
            if len(self._buffer) + size > size_limit:
                keep = self._buffer[-4:]  # the terminator may start in them
                size += len(self._buffer) - len(keep)
                self._buffer[:] = keep
            start = max(0, len(self._buffer) - 4)
            self._fill()

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
