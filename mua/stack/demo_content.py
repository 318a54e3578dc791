"""The demo's content checks: what Bob's client makes of the message it read (DKIM verified
on the raw bytes through the world's validating resolver), and the `forged` scenario's
outsider, who writes straight to b.test's MX as alice@a.test without any of a.test's
servers (so without its DKIM signature)."""

from __future__ import annotations

import time
from email.message import EmailMessage

import aiosmtplib

from mua.core.content import ContentVerdict
from mua.net.dkim_check import verify_content
from mua.stack.ca import LOOPBACK
from mua.stack.spf_check import OUTSIDER_ADDRESS, loopback_aliases_work
from mua.stack.world import World

OUTSIDER_HELO = "outsider.invalid"


async def content_verdict(world: World, raw: bytes, domain: str = "b.test") -> ContentVerdict:
    """What the recipient's client finds: its provider's hosts are the recorded ones."""
    provider = world.providers[domain]
    own = {provider.mx_host, provider.imap_host, provider.smtp_host, provider.domain}
    return await verify_content(raw, resolver=world.resolver(), own_hosts=own)


async def inject_forged(world: World, sender: str, recipient: str, label: str) -> dict[str, str]:
    """An outsider's message From `sender`, handed straight to the recipient's MX (port 25
    role, STARTTLS when offered, no authentication: an MX takes mail from anyone)."""
    victim = world.providers[recipient.rpartition("@")[2]]
    assert victim.ports is not None
    msg = EmailMessage()
    msg["From"] = f"Alice <{sender}>"
    msg["To"] = f"Bob <{recipient}>"
    msg["Subject"] = subject = f"How does this travel? ({label})"
    msg["Message-ID"] = message_id = f"<demo-{time.time_ns()}@{sender.rpartition('@')[2]}>"
    msg["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    msg.set_content("Hi Bob,\n\nPlease pay the attached invoice today.\n\nAlice\n")
    await aiosmtplib.send(
        msg,
        hostname=LOOPBACK,
        port=victim.ports.mx,
        local_hostname=OUTSIDER_HELO,
        start_tls=False,
        use_tls=False,
        timeout=10,
        # from an address of its own, which no SPF record of the world names
        source_address=(OUTSIDER_ADDRESS, 0) if loopback_aliases_work() else None,
    )
    return {"message_id": message_id, "subject": subject}
