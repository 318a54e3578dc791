"""A demo scenario's mail for the desktop app, landed where a user looks for it.

The scenario runs in a throwaway world of its own (as `mua demo --scenario` does: a plaintext
MX or an attacker cannot be switched on in the world the user is signed in to), and what it
left there is kept: bob's copy with the Received fields its journey wrote, and the
non-delivery report that came back to alice. `land` then puts that mail into the user's
world: alice's copy in her Sent folder, bob's copy in his INBOX, a bounce in alice's INBOX,
delivered as the MDA delivers (IDLE hears of it). The journey itself is the scenario's
trace, which the app keeps by Message-ID (mua.gui.demo_profile) for when a copy is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mua.core.legs import Trace, TraceStatus
from mua.stack.demo import RECIPIENT, SENDER, Scenario, scenario_options, send_through
from mua.stack.imap.mailchange import NoSuchFolder
from mua.stack.imap.mailstore import FolderExists
from mua.stack.world import World


@dataclass(frozen=True)
class ScenarioMail:
    name: str
    trace: Trace
    sent: bytes  # as alice's client submitted it
    delivered: bytes | None = None  # what reached bob's INBOX
    bounce: bytes | None = None  # the report that came back to alice's INBOX

    @property
    def bounce_id(self) -> str | None:
        return _message_id(self.bounce) if self.bounce else None

    def message_ids(self) -> list[str]:
        """Every Message-ID whose journey is this trace: the message's, and its bounce's."""
        ids = [self.trace.message_id, self.bounce_id]
        return [i for i in ids if i]


async def run_scenario_mail(
    scenario: Scenario, directory: Path | None = None, *, timeout: float = 20.0
) -> ScenarioMail:
    """Run `scenario` in a fresh world in `directory` (else a temporary one), collect its
    mail, stop the world."""
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="mua-scenario-") as tmp:
            return await run_scenario_mail(scenario, Path(tmp), timeout=timeout)
    async with World(directory, scenario_options(scenario)) as world:
        sent = await send_through(world, scenario, timeout)
        message_id = sent.trace.message_id or ""
        delivered = bounce = None
        if sent.trace.status is TraceStatus.DELIVERED:
            delivered = await _arrived(world, RECIPIENT, message_id, timeout)
        elif sent.trace.status is TraceStatus.BOUNCED:
            bounce = await _arrived(world, SENDER, message_id, timeout)
        return ScenarioMail(scenario.name, sent.trace, sent.message, delivered, bounce)


async def land(world: World, mail: ScenarioMail) -> None:
    """Put the scenario's mail into `world` (the one the user is signed in to)."""
    alice, bob = world.mailbox(SENDER), world.mailbox(RECIPIENT)
    sender = world.providers[SENDER.rpartition("@")[2]]
    recipient = world.providers[RECIPIENT.rpartition("@")[2]]

    def file_sent() -> None:
        store = sender.store_for(alice)
        try:
            folder = store.folder("Sent")
        except NoSuchFolder:
            with contextlib.suppress(FolderExists):  # created meanwhile by an IMAP client
                store.create("Sent")
            folder = store.folder("Sent")
        folder.append(mail.sent, ["\\Seen"])

    await asyncio.to_thread(file_sent)
    if mail.delivered is not None:
        await asyncio.to_thread(recipient.mda.deliver, bob.user, mail.delivered)
    if mail.bounce is not None:
        await asyncio.to_thread(sender.mda.deliver, alice.user, mail.bounce)


async def _arrived(world: World, address: str, message_id: str, timeout: float) -> bytes | None:
    """The message in `address`'s INBOX that is or mentions `message_id` (a report quotes
    the original's header section), once the MDA wrote it; None if none came in time."""
    domain = address.rpartition("@")[2]
    maildir = world.providers[domain].mda.maildir(world.mailbox(address).user)
    needle = message_id.encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted([*maildir.glob("new/*"), *maildir.glob("cur/*")]):
            data = path.read_bytes()
            if needle in data:
                return data
        await asyncio.sleep(0.05)
    return None


def _message_id(raw: bytes) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    value = str(message.get("Message-ID", "")).strip()
    return value or None
