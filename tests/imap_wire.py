"""A raw IMAP line client for transcript tests: send exactly these bytes, read the replies."""

from __future__ import annotations

import asyncio
import contextlib
import ssl


class ImapWire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.greeting = ""

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext | None = None) -> ImapWire:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1" if context else None
        )
        wire = cls(reader, writer)
        wire.greeting = await wire.line()
        return wire

    async def line(self, timeout: float = 5.0) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else "<closed>"

    async def write(self, data: bytes | str) -> None:
        self.writer.write(data if isinstance(data, bytes) else data.encode())
        await self.writer.drain()

    async def until_tagged(self, tag: str, timeout: float = 5.0) -> list[str]:
        """Every line up to and including the tagged reply for `tag`."""
        lines = []
        while True:
            line = await self.line(timeout)
            lines.append(line)
            if line.startswith(f"{tag} ") or line == "<closed>":
                return lines

    async def command(self, tag: str, text: str) -> list[str]:
        await self.write(f"{tag} {text}\r\n")
        return await self.until_tagged(tag)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
