"""Shared fixtures: a running demo world on loopback, with short timers."""

from __future__ import annotations

import asyncio
import gc
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mua.stack.provider_options import ProviderOptions
from mua.stack.world import DEMO_USERS, World, WorldOptions
from tests.smtp_wire import Wire

# Never touch the OS keychain from tests (keyring honours this variable).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"


@pytest.fixture(autouse=True)
def _no_collection_in_worker_threads() -> Iterator[None]:
    """The whole suite runs in one process, GUI tests first: once they made Qt objects, some
    sit in cyclic garbage, and automatic collection would destroy them in whichever worker
    thread allocates (the MSA's DKIM signing, the MX's checks run in `asyncio.to_thread`),
    which crashes Qt's event processing later (mua/gui/collector.py says why). So while
    PySide6 is loaded, cyclic garbage is collected only here, in the main thread, after each
    test; tests/gui/conftest.py does the same on a Qt timer during GUI tests."""
    if "PySide6.QtCore" not in sys.modules:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if was_enabled:
        gc.enable()


FAST = {"retry_delays": (0.2, 0.4, 0.8), "idle_timeout": 10.0, "relay_timeout": 5.0}


def fast_options(**per_domain: dict) -> WorldOptions:
    """World options with test-speed timers; `per_domain={"b.test": {...}}` overrides."""
    providers = {}
    for domain, users in DEMO_USERS.items():
        opts = ProviderOptions(users=users, **FAST)
        providers[domain] = replace(opts, **per_domain.get(domain.replace(".", "_"), {}))
    return WorldOptions(providers=providers)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with World(tmp_path / "world", fast_options()) as w:
        yield w


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Wire]]]:
    """Open raw SMTP connections (`await connect(port, ssl_context)`); all closed afterwards."""
    opened: list[Wire] = []

    async def open_wire(port: int, context: ssl.SSLContext | None = None) -> Wire:
        wire = await Wire.open(port, context)
        opened.append(wire)
        return wire

    yield open_wire
    for wire in opened:
        await wire.close()


async def eventually(
    predicate: Callable[[], object], *, timeout: float = 10.0, what: str = "condition"
) -> object:
    """Wait until `predicate()` is truthy (checked every 20 ms) and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def maildir_messages(world: World, address: str) -> list[bytes]:
    user, _, domain = address.partition("@")
    maildir = world.providers[domain].mda.maildir(user)
    files = sorted((maildir / "new").iterdir()) + sorted((maildir / "cur").iterdir())
    return [f.read_bytes() for f in files]
