"""FETCH of a 10,000-message INBOX and APPEND latency: our IMAP server beside Dovecot.

Both servers get the same 10,000 messages (about 2 kB each, CRLF, written into the user's
Maildir new/ with the MDA's deliver_to_maildir) and serve them over implicit TLS with a
certificate from one LocalCA. Ours runs in the demo world in a subprocess; Dovecot runs from
a throwaway configuration under the same temporary directory, on a loopback port, with its
defaults otherwise (mail_fsync=optimized); bench/_servers.py sets both up. Each is measured
alone, one after the other.

Measured, on a raw socket (send the command, read to the tagged OK: the server's cost) and
through imapclient (what a Python client experiences):
- `FETCH 1:* (ENVELOPE FLAGS RFC822.SIZE UID)` on the selected INBOX, after one untimed
  FETCH (Dovecot builds its cache on the first; ours builds its index before serving).
  imapclient cannot send `1:*`, so it sends `UID FETCH` with every UID, as its users do;
- APPEND of a 2 kB message into another, empty folder, p50/p95 over --appends appends: on a
  connection with nothing selected, and with the 10k INBOX selected (a client reading its
  INBOX and saving to Sent). The raw client uses LITERAL+; imapclient waits for `+`.
One-off costs are printed apart: our index build (in the server, before the first login)
and each server's first SELECT and first FETCH. Targets: FETCH within 5x of Dovecot,
APPEND (p50) within 3x. Without Dovecot installed, only ours is printed.

    .venv/bin/python bench/imap_fetch.py [--messages 10000] [--appends 200]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _servers import Server, filled_servers, start_ours
from _servers import message as _message
from imapclient import IMAPClient

from mua.net.tls import client_context

FETCH_ITEMS = ["ENVELOPE", "FLAGS", "RFC822.SIZE", "UID"]
FETCH_COMMAND = "FETCH 1:* (ENVELOPE FLAGS RFC822.SIZE UID)"


# -- clients ----------------------------------------------------------------------------------


class RawImap:
    """A bare IMAP connection over implicit TLS: send one command, read to its tagged reply."""

    def __init__(self, port: int, ca_file: Path, timeout: float = 120.0) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = client_context(ca_file).wrap_socket(raw, server_hostname="127.0.0.1")
        self._buffer = bytearray()
        self._count = 0
        self.greeting = self.line()

    def line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            self._recv(self._buffer)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def command(self, text: str | bytes) -> bytes:
        """Everything the server answered, up to and including the tagged OK."""
        self._count += 1
        tag = f"B{self._count:05d}".encode()
        self.sock.sendall(tag + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        return self.until_tagged(tag)

    def until_tagged(self, tag: bytes) -> bytes:
        marker = b"\r\n" + tag + b" "
        data = bytearray(b"\r\n") + self._buffer  # the sentinel finds a tag on the first line
        scanned = 0
        while True:
            found = data.find(marker, scanned)
            if found >= 0 and (end := data.find(b"\r\n", found + 2)) >= 0:
                self._buffer = data[end + 2 :]
                if not data.startswith(tag + b" OK", found + 2):
                    raise RuntimeError(bytes(data[found + 2 : end]).decode(errors="replace"))
                return bytes(data[2 : end + 2])
            scanned = found if found >= 0 else max(0, len(data) - len(marker))
            self._recv(data)

    def login(self, user: str, password: str) -> None:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.command(f"AUTHENTICATE PLAIN {token}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"Z LOGOUT\r\n")
        self.sock.close()

    def _recv(self, into: bytearray) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        into += chunk


@dataclass
class Figures:
    """Seconds. FETCH: median of the timed runs; APPEND: one entry per append."""

    raw_fetch: float = 0.0
    client_fetch: float = 0.0
    raw_append_unselected: list[float] = field(default_factory=list)
    raw_append_selected: list[float] = field(default_factory=list)
    client_append_selected: list[float] = field(default_factory=list)
    one_off: dict[str, float] = field(default_factory=dict)


def _timed(fn, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _measure(server: Server, messages: int, appends: int, repeats: int) -> Figures:
    figures = Figures(one_off=dict(server.one_off))
    message = _message(messages + 1)
    literal = b"APPEND bench-raw {%d+}\r\n" % len(message) + message  # LITERAL+: no round trip

    raw = RawImap(server.port, server.ca_file)  # nothing selected: APPEND alone
    try:
        raw.login(server.user, server.password)
        raw.command("CREATE bench-raw")
        figures.raw_append_unselected = _timed(lambda: raw.command(literal), appends)
    finally:
        raw.close()

    raw = RawImap(server.port, server.ca_file)
    try:
        raw.login(server.user, server.password)
        start = time.perf_counter()
        raw.command("SELECT INBOX")
        figures.one_off["first SELECT"] = time.perf_counter() - start
        start = time.perf_counter()
        reply = raw.command(FETCH_COMMAND)
        figures.one_off["first FETCH"] = time.perf_counter() - start
        if (got := reply.count(b" FETCH (")) != messages:
            raise RuntimeError(f"{server.name} answered {got} FETCH responses, not {messages}")
        figures.raw_fetch = statistics.median(_timed(lambda: raw.command(FETCH_COMMAND), repeats))
        # a client reading its INBOX saves a message to another folder (Sent, Drafts)
        figures.raw_append_selected = _timed(lambda: raw.command(literal), appends)
    finally:
        raw.close()

    context = client_context(server.ca_file)
    with IMAPClient("127.0.0.1", server.port, ssl=True, ssl_context=context, timeout=120) as c:
        c.login(server.user, server.password)
        c.select_folder("INBOX")
        uids = c.search("ALL")  # imapclient fetches lists of UIDs, not "1:*"
        if len(c.fetch(uids, FETCH_ITEMS)) != messages:
            raise RuntimeError(f"{server.name} gave imapclient the wrong number of messages")
        runs = _timed(lambda: c.fetch(uids, FETCH_ITEMS), max(1, repeats // 2))
        figures.client_fetch = statistics.median(runs)
        c.create_folder("bench-client")
        figures.client_append_selected = _timed(lambda: c.append("bench-client", message), appends)
    return figures


# -- report -----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _report(ours: Figures, theirs: Figures | None, args: argparse.Namespace, tls: str) -> None:
    def row(label: str, a: float, b: float | None, target: str = "", digits: int = 2) -> None:
        ratio = f"{a / b:>7.1f}x" if b else f"{'-':>8}"
        dovecot = f"{b:>10.{digits}f}" if b is not None else f"{'-':>10}"
        print(f"  {label:38}{a:>10.{digits}f}{dovecot}{ratio}  {target}")

    size = len(_message(args.messages + 1))
    print(f"IMAP on 127.0.0.1, {args.messages:,}-message INBOX, implicit TLS everywhere ({tls})")
    print(f"  {'':38}{'ours':>10}{'Dovecot':>10}{'ratio':>8}  target")
    print(f"FETCH 1:* (ENVELOPE FLAGS RFC822.SIZE UID), s (median of {args.repeats} / "
          f"{max(1, args.repeats // 2)})")  # fmt: skip
    row("raw socket", ours.raw_fetch, theirs and theirs.raw_fetch, "<= 5x", digits=3)
    row("imapclient (UID FETCH of every UID)", ours.client_fetch,
        theirs and theirs.client_fetch, digits=3)  # fmt: skip
    print(f"APPEND of a {size} B message into another folder, ms ({args.appends} each)")
    for label, mine, other, target in (
        ("raw, nothing selected", ours.raw_append_unselected,
         theirs and theirs.raw_append_unselected, "<= 3x"),
        ("raw, the INBOX selected", ours.raw_append_selected,
         theirs and theirs.raw_append_selected, "<= 3x"),
        ("imapclient, the INBOX selected", ours.client_append_selected,
         theirs and theirs.client_append_selected, ""),
    ):  # fmt: skip
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            row(f"{label} {name}", _pct(mine, q) * 1e3, other and _pct(other, q) * 1e3,
                target if name == "p50" else "")  # fmt: skip
    print("one-off, s (not in the figures above)")
    for key in ("index build (in the server)", "first SELECT", "first FETCH"):
        a, b = ours.one_off.get(key), theirs.one_off.get(key) if theirs else None
        print(
            f"  {key:38}"
            + "".join(f"{v:>10.2f}" if v is not None else f"{'-':>10}" for v in (a, b))
        )
    if theirs is None:
        print("Dovecot is not installed (apt-get install dovecot-imapd): only ours was measured.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="timed FETCHes per server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        world_dir, dovecot = filled_servers(Path(tmp), args.messages)
        proc, server = start_ours(world_dir)
        try:
            ours = _measure(server, args.messages, args.appends, args.repeats)
            tls = _tls_version(server)
        finally:
            proc.terminate()
            proc.wait()
        theirs = None
        if dovecot is not None:
            dovecot.start()
            try:
                theirs = _measure(
                    dovecot.server(world_dir / "ca" / "ca.pem"),
                    args.messages,
                    args.appends,
                    args.repeats,
                )
                tls += f"; Dovecot {dovecot.version()}"
            finally:
                dovecot.stop()
    _report(ours, theirs, args, tls)


def _tls_version(server: Server) -> str:
    raw = RawImap(server.port, server.ca_file)
    try:
        version = raw.sock.version() or "?"
        cipher = raw.sock.cipher()
    finally:
        raw.close()
    return f"{version} {cipher[0] if cipher else ''}".strip()


if __name__ == "__main__":
    main()
