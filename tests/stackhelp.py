"""Sending through a running world, the way a mail client does."""

from __future__ import annotations

from email.message import EmailMessage

from mua.net.submission import Security, SubmissionEndpoint, SubmissionResult, submit
from mua.stack.world import World


def endpoint(world: World, address: str, security: Security = Security.IMPLICIT):
    domain = address.rpartition("@")[2]
    provider = world.providers[domain]
    assert provider.ports is not None
    port = (
        provider.ports.submission_implicit
        if security is Security.IMPLICIT
        else provider.ports.submission_starttls
    )
    return SubmissionEndpoint(
        host="127.0.0.1",
        port=port,
        security=security,
        ca_file=world.ca.ca_file,
        server_name=provider.smtp_host,
    )


def message(sender: str, to: list[str], subject: str = "Hello", body: str = "Hi.\n"):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


async def send(
    world: World,
    sender: str,
    to: list[str],
    *,
    subject: str = "Hello",
    security: Security = Security.IMPLICIT,
) -> SubmissionResult:
    mailbox = world.mailbox(sender)
    return await submit(
        endpoint(world, sender, security),
        message(sender, to, subject),
        username=mailbox.user,
        password=mailbox.password,
        timeout=10.0,
    )
