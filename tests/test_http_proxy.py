"""mua's HTTPS client honours the user's proxy settings (HTTPS_PROXY, NO_PROXY) when it uses
the system's resolver, with the same certificate checks through the tunnel: a small CONNECT
proxy on loopback, in front of the world's authorization server."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from mua.net.http import https_client
from mua.stack.world import World


class ConnectProxy:
    """HTTP CONNECT only: records each target and tunnels the bytes both ways."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        assert method == "CONNECT"
        self.targets.append(target)
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            t = asyncio.ensure_future(task)
            self.tasks.add(t)


@pytest.fixture
async def proxy():
    running = ConnectProxy()
    port = await running.start()
    yield running, port
    await running.stop()


async def test_https_goes_through_the_proxy_unless_no_proxy_says_not(
    world: World, proxy, monkeypatch
) -> None:
    running, port = proxy
    auth = world.providers["a.test"].auth_server
    assert auth is not None
    url = f"https://127.0.0.1:{auth.port}/.well-known/oauth-authorization-server"
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    async with https_client(ca_file=world.ca.ca_file) as http:
        meta = (await http.get(url)).json()
    assert meta["issuer"] == auth.issuer
    assert running.targets == [f"127.0.0.1:{auth.port}"]  # tunnelled, TLS checked end to end

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with https_client(ca_file=world.ca.ca_file) as http:
        assert (await http.get(url)).status_code == 200
    assert len(running.targets) == 1  # NO_PROXY: straight to the server
