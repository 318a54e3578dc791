"""A raw SMTP line client for tests that need to send exactly what a hostile client sends."""

from __future__ import annotations

import asyncio
import contextlib
import ssl


class Wire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext | None = None) -> Wire:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1" if context else None
        )
        wire = cls(reader, writer)
        greeting = await wire.reply()
        assert greeting.startswith("220"), greeting
        return wire

    async def reply(self, timeout: float = 5.0) -> str:
        """One whole reply, multi-line replies joined by newlines."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            if not line:
                lines.append("<closed>")
                break
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                break
        return "\n".join(lines)

    async def send(self, line: str | bytes) -> str:
        raw = line if isinstance(line, bytes) else line.encode() + b"\r\n"
        self.writer.write(raw)
        await self.writer.drain()
        return await self.reply()

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        await self.writer.start_tls(context, server_hostname=server_hostname)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
