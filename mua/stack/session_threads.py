"""A listening socket whose connections are each served by a thread of their own, counted by
the listener's `ConnectionGate` (mua/stack/limits.py): the world's MSA (mua/stack/msa.py).

The gate is asked as the connection is accepted, before any byte is read: a connection over
its limits is handed to `refuse` (a few at a time, in threads of their own, so a TLS
handshake never holds up the accepting thread; beyond that it is closed unanswered) and the
others to `serve`. `stop` closes the listening socket and every open connection, and waits
for the threads.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from collections.abc import Callable

from mua.stack.limits import ConnectionGate
from mua.stack.smtp_wire import SmtpWire

log = logging.getLogger(__name__)

BACKLOG = 128
MAX_REFUSING = 16  # refusals being said at once; more are closed without a word
STOP_TIMEOUT = 10.0  # seconds `stop` waits for the sessions to end
REFUSAL_TIMEOUT = 5.0  # seconds a refused client has to take its TLS handshake and refusal


class SessionThreads:
    def __init__(
        self,
        name: str,
        gate: ConnectionGate,
        serve: Callable[[SmtpWire], None],
        refuse: Callable[[SmtpWire, str], None],
        normal_timeout: float,
    ) -> None:
        """`serve(wire)` runs a session to its end; `refuse(wire, why)` tells a client it was
        turned away. The wire's socket times out after the listener's idle timeout (shorter
        under stress); it is closed after either."""
        self.name = name
        self.gate = gate
        self._serve = serve
        self._refuse = refuse
        self._normal_timeout = normal_timeout
        self._lock = threading.Lock()  # the gate and the open connections
        self._refusing = threading.BoundedSemaphore(MAX_REFUSING)
        self._open: set[SmtpWire] = set()
        self._threads: set[threading.Thread] = set()
        self._listening: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()

    def start(self, host: str, port: int) -> int:
        """Listen on `host`:`port` (0: any free port); the port bound. OSError when taken."""
        self._listening = socket.create_server((host, port), backlog=BACKLOG)
        self._accepting = threading.Thread(
            target=self._accept, name=f"{self.name} accept", daemon=True
        )
        self._accepting.start()
        bound: int = self._listening.getsockname()[1]
        return bound

    def stop(self) -> None:
        """Stop listening, end every session, wait for their threads (blocking: run it in a
        worker thread from asyncio)."""
        self._wake_w.send(b"x")
        if self._accepting is not None:
            self._accepting.join()
        if self._listening is not None:
            self._listening.close()
        with self._lock:
            for wire in self._open:
                wire.shutdown()
            threads = list(self._threads)
        for thread in threads:
            thread.join(STOP_TIMEOUT)
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self) -> None:
        assert self._listening is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listening, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _events in selector.select()}
                if self._wake_r in ready:
                    return
                try:
                    conn, peer = self._listening.accept()
                except OSError as exc:  # the client reset it already, or out of descriptors
                    log.info("%s: accept failed: %s", self.name, exc)
                    continue
                self._admit(conn, str(peer[0]))

    def _admit(self, conn: socket.socket, address: str) -> None:
        with self._lock:
            refusal = self.gate.admit(address)
            timeout = self.gate.idle_timeout(self._normal_timeout)
            wire = SmtpWire(conn, timeout if refusal is None else REFUSAL_TIMEOUT)
            if refusal is None:
                self._open.add(wire)
        if refusal is not None:
            log.info("refused a connection: %s", refusal)
            if self._refusing.acquire(blocking=False):
                self._start(self._refusal, wire, refusal)
            else:
                wire.close()
            return
        self._start(self._session, wire, address)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=self.name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _session(self, wire: SmtpWire, address: str) -> None:
        try:
            self._serve(wire)
        except Exception:
            log.exception("%s: a session failed", self.name)
        finally:
            wire.close()
            with self._lock:
                self._open.discard(wire)
                self.gate.release(address)
                self._threads.discard(threading.current_thread())

    def _refusal(self, wire: SmtpWire, why: str) -> None:
        try:
            self._refuse(wire, why)
        except Exception:
            log.exception("%s: a refusal failed", self.name)
        finally:
            wire.close()
            self._refusing.release()
            with self._lock:
                self._threads.discard(threading.current_thread())
