"""The world in its own thread: what the desktop app's demo mode runs on."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from mua.stack.thread import WorldThread
from tests.conftest import fast_options


def test_world_runs_in_its_own_thread_and_stops_cleanly(tmp_path: Path) -> None:
    world = WorldThread(tmp_path / "world", fast_options())
    settings = world.start()
    try:
        port = settings["accounts"][0]["imap"]["implicit_tls_port"]
        ctx = ssl.create_default_context(cafile=settings["ca_file"])
        with (
            socket.create_connection(("127.0.0.1", port), 5) as raw,
            ctx.wrap_socket(raw, server_hostname="imap.a.test") as tls,
        ):
            assert tls.recv(100).startswith(b"* OK")
        assert world.call(world.world.resolver().mx("b.test")).secure
    finally:
        world.stop()
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("the world still listens after stop()")
