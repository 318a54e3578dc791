"""The demo: one message from alice@a.test to bob@b.test through every leg of a fresh world.

The trace is assembled from ground truth: the client's own observation of the submission
leg, and the world's event log for the rest (for the relay, the sending MTA's record, which
knows whether it authenticated the MX). In the attack scenarios the attacker's own record is
added to the relay leg's note: what it read is something the sending MTA cannot know.
"""

from __future__ import annotations

import asyncio
import email.policy
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mua.core.i18n import T_, Text
from mua.core.legs import Endpoint, Leg, LegKind, Protocol, Role, Source, Trace, TraceStatus
from mua.net.http import HttpSettings
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.pop3 import POP3_NOTE, Pop3Endpoint, Pop3Session
from mua.net.sasl_oauth import BearerAuth
from mua.net.submission import Security, SubmissionEndpoint, submit
from mua.stack.attacker import describe_attack
from mua.stack.demo_content import content_verdict, inject_forged
from mua.stack.demo_scenarios import SCENARIOS, Scenario
from mua.stack.oauth_demo import sign_in_as
from mua.stack.provider_options import ProviderOptions
from mua.stack.world import DEMO_USERS, World, WorldOptions

SENDER, RECIPIENT = "alice@a.test", "bob@b.test"
__all__ = ["RECIPIENT", "SCENARIOS", "SENDER", "Scenario", "run_demo", "send_through"]


def scenario_options(scenario: Scenario) -> WorldOptions:
    providers = {
        d: ProviderOptions(
            users=u,
            cleartext_auth=scenario.cleartext_auth,
            retry_delays=(1.0, 2.0, 4.0),
            relay_timeout=10.0,
        )
        for d, u in DEMO_USERS.items()
    }
    providers["b.test"] = replace(
        providers["b.test"],
        mx_tls=scenario.mx_tls,
        dane=scenario.dane,
        mta_sts=scenario.mta_sts,
        lmtp=scenario.lmtp,
    )
    return WorldOptions(
        providers=providers, attacker=scenario.attacker, victim="b.test", hops=scenario.hops
    )


async def run_demo(
    scenario: Scenario, directory: Path | None = None, *, timeout: float = 20.0
) -> Trace:
    """Start a world, send the demo message, and return its journey. Stops the world."""
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="mua-demo-") as tmp:
            return await run_demo(scenario, Path(tmp), timeout=timeout)
    async with World(directory, scenario_options(scenario)) as world:
        return (await send_through(world, scenario, timeout)).trace


@dataclass(frozen=True)
class SentMessage:
    trace: Trace
    message: bytes  # as alice's client submitted it (wire form)


async def send_through(world: World, scenario: Scenario, timeout: float = 20.0) -> SentMessage:
    """Send the scenario's message through `world` (started with `scenario_options`) and
    work out its journey; the world keeps running (mua.stack.scenario_mail reads it)."""
    if scenario.forged:
        return await _send_forged(world, scenario, timeout)
    submission = await _send(world, scenario)
    message_id = submission["message_id"]
    status = await _outcome(world, message_id, timeout)
    legs = [submission["leg"], *stack_legs(world, message_id)]
    if scenario.attacker is not None:
        legs = [_with_attack(leg, world, message_id) for leg in legs]
    content = None
    if status is TraceStatus.DELIVERED:
        leg, raw = await asyncio.to_thread(_read_as_bob, world, scenario, message_id)
        legs.append(leg)
        content = await content_verdict(world, raw)
    trace = Trace(status, legs, submission["subject"], message_id, content)
    return SentMessage(trace, submission["raw"])


async def _send(world: World, scenario: Scenario) -> dict[str, Any]:
    alice = world.mailbox(SENDER)
    provider = world.providers["a.test"]
    assert provider.ports is not None
    implicit = scenario.submission is Security.IMPLICIT
    port = provider.ports.submission_implicit if implicit else provider.ports.submission_starttls
    if scenario.legacy_submission:
        port = provider.ports.legacy_submission
    msg = EmailMessage()
    msg["From"] = f"Alice <{SENDER}>"
    msg["To"] = f"Bob <{RECIPIENT}>"
    msg["Subject"] = f"How does this travel? ({scenario.name})"
    msg["Message-ID"] = f"<demo-{time.time_ns()}@a.test>"
    msg.set_content(f"Hi Bob,\n\nThis message shows the '{scenario.name}' scenario.\n")
    endpoint = SubmissionEndpoint(
        host="127.0.0.1",
        port=port,
        security=scenario.submission,
        ca_file=world.ca.ca_file,
        server_name=provider.smtp_host,
        role_port=25 if scenario.legacy_submission else None,
    )
    bearer = await _signed_in_alice(world) if scenario.oauth else None
    result = await submit(
        endpoint,
        msg,
        username=alice.address if bearer else alice.user,
        password=None if bearer else alice.password,
        bearer=bearer,
        requiretls=scenario.requiretls,
        allow_cleartext_auth=scenario.cleartext_auth,
    )
    leg = Leg(
        Endpoint(Role.MUA, socket.gethostname()),
        Endpoint(Role.MSA, provider.smtp_host),
        Protocol.SUBMISSION,
        result.tls,
        Source.OBSERVED,
        port_role=result.port_role,
        port_actual=result.port_actual,
        note=(
            T_(
                "Implicit TLS from the first byte, certificate verified; signed in with an "
                "OAuth2 access token (XOAUTH2), so no password crossed this leg."
            )
            if bearer
            else submission_note(result.port_role, implicit, result.password_in_clear)
        ),
        auth=result.auth,
    )
    raw = msg.as_bytes(policy=email.policy.SMTP)
    return {"message_id": msg["Message-ID"], "subject": msg["Subject"], "leg": leg, "raw": raw}


async def _signed_in_alice(world: World) -> BearerAuth:
    """The "oauth" scenario: alice signs in at a.test's authorization server (the demo
    answers the consent form as she would: mua.stack.oauth_demo) and sends with the token."""
    auth = world.providers["a.test"].auth_server
    assert auth is not None
    settings = HttpSettings(ca_file=world.ca.ca_file, resolver=world.resolver())
    _provider, tokens = await sign_in_as(settings, auth.issuer, world.mailbox(SENDER))

    async def token() -> str:
        return tokens.access_token

    return BearerAuth("XOAUTH2", token, token)


async def _send_forged(world: World, scenario: Scenario, timeout: float) -> SentMessage:
    """The outsider's message: no submission, no handoff; the MX's own record of the relay."""
    sent = await inject_forged(world, SENDER, RECIPIENT, scenario.name)
    message_id = sent["message_id"]
    status = await _outcome(world, message_id, timeout)
    note = T_(
        "An outsider's server handed this straight to b.test's MX, as any server may; none "
        "of a.test's servers took part."
    )
    legs = [
        replace(leg, note=Text.joined([leg.note, note])) if leg.kind is LegKind.RELAY else leg
        for leg in stack_legs(world, message_id, relay_side="server")
    ]
    content = None
    if status is TraceStatus.DELIVERED:
        leg, raw = await asyncio.to_thread(_read_as_bob, world, scenario, message_id)
        legs.append(leg)
        content = await content_verdict(world, raw)
    trace = Trace(status, legs, sent["subject"], message_id, content)
    return SentMessage(trace, b"")


def _read_as_bob(world: World, scenario: Scenario, message_id: str) -> tuple[Leg, bytes]:
    """Bob's client reads the message over IMAP (or downloads it over POP3); the retrieval
    leg is what it observed, and the message's bytes as received (for the content check)."""
    if scenario.pop3:
        return _download_as_bob(world, scenario, message_id)
    bob = world.mailbox(RECIPIENT)
    provider = world.providers["b.test"]
    assert provider.ports is not None
    implicit = scenario.retrieval is Security.IMPLICIT
    endpoint = ImapEndpoint(
        host="127.0.0.1",
        port=provider.ports.imap_implicit if implicit else provider.ports.imap_starttls,
        security=scenario.retrieval,
        ca_file=world.ca.ca_file,
        server_name=provider.imap_host,
    )
    with ImapSession.connect(endpoint, timeout=10.0) as session:
        session.login(bob.user, bob.password, allow_cleartext_auth=scenario.cleartext_auth)
        session.client.select_folder("INBOX")
        uids = session.client.search(["HEADER", "Message-ID", message_id])
        if not uids:
            raise RuntimeError(f"{message_id} is not in bob's INBOX")
        fetched = session.client.fetch(uids[-1:], ["BODY[]"])
        raw = next(iter(fetched.values()))[b"BODY[]"]
        if session.password_in_clear:
            note = T_(
                "IMAP on the 143 role without STARTTLS: your password crossed in clear, and "
                "the message too; anyone on the path could read both. Use 993 with implicit TLS."
            )
        elif implicit:
            note = T_("IMAP over implicit TLS, certificate verified: as RFC 8314 recommends.")
        else:
            note = T_(
                "IMAP with STARTTLS on the 143 role, certificate verified; RFC 8314 prefers "
                "implicit TLS on 993."
            )
        return session.retrieval_leg(socket.gethostname(), note), raw


def _download_as_bob(world: World, scenario: Scenario, message_id: str) -> tuple[Leg, bytes]:
    bob = world.mailbox(RECIPIENT)
    provider = world.providers["b.test"]
    assert provider.ports is not None
    implicit = scenario.retrieval is Security.IMPLICIT
    endpoint = Pop3Endpoint(
        host="127.0.0.1",
        port=provider.ports.pop3_implicit if implicit else provider.ports.pop3_starttls,
        security=scenario.retrieval,
        ca_file=world.ca.ca_file,
        server_name=provider.pop3_host,
    )
    session = Pop3Session.connect(endpoint, timeout=10.0)
    try:
        session.login(bob.user, bob.password, allow_cleartext_auth=scenario.cleartext_auth)
        for number in sorted(session.uidls(), reverse=True):
            raw = session.retrieve(number)
            if message_id.encode() in raw.split(b"\r\n\r\n", 1)[0]:
                break
        else:
            raise RuntimeError(f"{message_id} is not in bob's maildrop")
        session.quit()  # nothing deleted: a download that leaves the message on the server
    finally:
        session.close()
    leg = session.retrieval_leg(socket.gethostname())
    if session.password_in_clear:
        clear = T_(
            "POP3 on the 110 role without STLS: your password crossed in clear, and the "
            "message too; anyone on the path could read both. Use 995 with implicit TLS."
        )
        # The demo's words, not the client's.
        leg = replace(leg, note=Text.joined([clear, POP3_NOTE]))
    return leg, raw


def submission_note(port_role: int, implicit: bool, password_in_clear: bool) -> str:
    if password_in_clear and port_role == 25:
        return T_(
            "Legacy submission on the 25 role, no TLS at all: your password crossed in clear, "
            "and the message too; anyone on the path could read both. Use 465 with implicit TLS."
        )
    if password_in_clear:
        return T_(
            "Submission on the 587 role without STARTTLS: your password crossed in clear, and "
            "the message too; anyone on the path could read both. Use 465 with implicit TLS."
        )
    if implicit:
        return T_("Implicit TLS from the first byte, certificate verified: as RFC 8314 recommends.")
    return T_(
        "STARTTLS on the submission port, certificate verified; RFC 8314 prefers implicit "
        "TLS on 465, which leaves no cleartext step to attack."
    )


async def _outcome(world: World, message_id: str, timeout: float) -> TraceStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [e for e in world.events.read() if e.get("message_id") == message_id]
        if any(e["event"] == "bounced" for e in events):
            return TraceStatus.BOUNCED
        if any(e["event"] == "deferred" for e in events):
            return TraceStatus.DEFERRED  # the first attempt failed: no need to watch retries
        # Delivered once the MDA wrote it and the sending MTA recorded its side of the relay
        # (the MX writes its records before its 250, the MTA only after reading it).
        stored = any(e["event"] == "leg" and e["to"]["role"] == "MS" for e in events)
        # Mail that no MSA of the world took in (the forged scenario) has no MTA to wait for.
        outsider = not any(e["event"] == "leg" and e.get("leg") == "handoff" for e in events)
        # Every MTA on the route (a.test's, and one per intermediate host) records its relay.
        relayed = sum(e["event"] == "relayed" for e in events) > len(world.relay_hosts)
        if stored and (outsider or relayed):
            return TraceStatus.DELIVERED
        await asyncio.sleep(0.02)
    return TraceStatus.DEFERRED


def _with_attack(leg: Leg, world: World, message_id: str) -> Leg:
    """The relay leg with what the attacker recorded added to its note."""
    if leg.kind is not LegKind.RELAY:
        return leg
    told = describe_attack(world.events.read(), message_id)
    return replace(leg, note=Text.joined([leg.note, told])) if told else leg


def stack_legs(world: World, message_id: str, relay_side: str = "client") -> list[Leg]:
    """Handoff (the MSA's internal one, or the leg to a smarthost as its sender saw it),
    relays (as each sending MTA saw them, or the MX for mail that no MTA of the world sent;
    several when the mail crossed intermediate hosts, in the order of the route), delivery:
    in journey order."""
    records = [
        e for e in world.events.read() if e["event"] == "leg" and e.get("message_id") == message_id
    ]
    wanted = [
        ("handoff", ("server", "client")),
        ("relay", (relay_side,)),
        ("delivery", ("server",)),
    ]
    legs = []
    for kind, sides in wanted:
        found = [
            Leg.from_json(record)
            for record in records
            if record["leg"] == kind and record["side"] in sides
        ]
        legs.extend(along_the_route(found))
    return legs


def along_the_route(legs: list[Leg]) -> list[Leg]:
    """Legs of one kind in route order: each after the one whose receiving host sent it (the
    event log's order is that of the records, which several MTAs write concurrently)."""
    if len(legs) < 2:
        return legs
    receivers = {leg.to.host for leg in legs}
    ordered = [leg for leg in legs if leg.from_.host not in receivers]
    if len(ordered) != 1:
        return legs  # not one chain (a retry, a refused attempt): as recorded
    rest = [leg for leg in legs if leg is not ordered[0]]
    while rest:
        following = [leg for leg in rest if leg.from_.host == ordered[-1].to.host]
        if not following:
            return ordered + rest
        ordered.append(following[0])
        rest.remove(following[0])
    return ordered
