"""One relay attempt: the MTA hands a message to a domain's MX over SMTP (RFC 5321 section 5).

MX hosts are tried in preference order, each address in turn. Without a policy STARTTLS is
opportunistic (RFC 7435; RFC 3207 section 4.1 lets a public MTA relay without TLS): used when
offered, the certificate not required to verify, but whether it would have is recorded
(relay_starttls.py).
A DANE (RFC 7672) or MTA-STS (RFC 8461) policy, looked up before connecting (tls_policy.py),
makes STARTTLS mandatory and the certificate's authentication a condition: when either fails
the session ends before MAIL FROM and the message is deferred, never sent in clear.

A message sent with REQUIRETLS (RFC 8689) is relayed only as section 4.2.1 lists: MX named by
DNSSEC or MTA-STS, STARTTLS, a certificate authenticated by DANE or the web PKI, an MX that
advertises REQUIRETLS (the parameter is passed on). When no MX qualifies it is returned with
the statuses section 4.2.1 lists: 5.7.30 "REQUIRETLS support required" when an MX lacked
only the extension, else 5.7.10 "Encryption needed" (no TLS session as the section demands).
`TLS-Required: No` (sections 3 and 4.2.2) relays without the recipient domain's policies.

A session that ended its transaction cleanly is kept a moment for the next message to the
same MX under the same policy (relay_sessions.py, as Postfix's connection cache).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

import aiosmtplib

from mua.core.i18n import T_, Text
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts
from mua.net.dns import DnsError, Resolver
from mua.net.dnssec import DnssecBogus
from mua.net.mta_sts import MtaStsClient, StsPolicy
from mua.stack.relay_notes import (
    NextHop,
    hop_login,
    no_starttls_note,
    policy_refusal,
    stopped_note,
)
from mua.stack.relay_sessions import RelaySession, SessionCache, SessionKey, end_session
from mua.stack.relay_starttls import opportunistic_context, starttls
from mua.stack.relay_transaction import Accepted, RelayOutcome, all_failed, transaction
from mua.stack.smtp_paths import REQUIRETLS
from mua.stack.tls_policy import (
    OPPORTUNISTIC,
    PolicyRefusal,
    TlsPolicy,
    policy_for_mx,
    requiretls_mx_check,
    returned_reason,
    with_requiretls,
)
from mua.stack.tlsrpt import TlsSession, refused_session

log = logging.getLogger(__name__)
__all__ = ["Accepted", "NextHop", "RelayClient", "RelayOutcome"]


class RelayClient:
    def __init__(
        self,
        hostname: str,
        resolver: Resolver,
        *,
        port_for: Callable[[str], int] = lambda _mx: 25,
        ca_file: Path | None = None,
        timeout: float = 60.0,
        mta_sts: MtaStsClient | None = None,
        next_hop: NextHop | None = None,
        source_address: str | None = None,
    ) -> None:
        """`port_for` maps an MX host name to the port it listens on (25 in the real world;
        the demo world's MX listens on an unprivileged port, like a Postfix transport map
        entry `smtp:[mx.b.test]:20025`). Without `mta_sts` no MTA-STS policy is looked up.
        `source_address`: the local address to send from (each provider of the world has
        its own loopback address, which its SPF record names)."""
        self.hostname = hostname
        self.resolver = resolver
        self.port_for = port_for
        self.ca_file = ca_file
        self.timeout = timeout
        self.mta_sts = mta_sts
        self.next_hop = next_hop
        self.source_address = source_address
        self._opportunistic = opportunistic_context()
        self.sessions = SessionCache()  # idle sessions, for the next message to their MX

    async def deliver(
        self,
        domain: str,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        requiretls: bool = False,
        ignore_policy: bool = False,
        accepted: Accepted | None = None,
    ) -> RelayOutcome:
        """`requiretls`: the message came with REQUIRETLS; `ignore_policy`: with
        `TLS-Required: No` (RFC 8689 sections 3 and 4.2.2: relay even where DANE or MTA-STS
        would stop); `accepted`: awaited right after the MX's 250, before QUIT."""
        outcome = RelayOutcome()
        if self.next_hop is not None:
            return await self._via_next_hop(self.next_hop, sender, recipients, data, accepted)
        try:
            mx = await self.resolver.mx(domain)
        except DnssecBogus as exc:
            # RFC 7672 section 2.1: a bogus answer may be an attacker's; it is a reason to
            # wait, never to fall back to a name or a policy the attacker could choose.
            return all_failed(
                outcome,
                recipients,
                temporary=f"DNSSEC: the MX records of {domain} failed validation ({exc})",
            )
        except DnsError as exc:
            return all_failed(
                outcome, recipients, temporary=f"MX lookup for {domain} failed: {exc}"
            )
        if mx.null_mx or not mx.records:
            # RFC 7505 section 3: a null MX means the domain accepts no mail.
            return all_failed(outcome, recipients, permanent=f"556 5.1.10 {domain} accepts no mail")
        sts = None if ignore_policy else await self._sts_policy(domain)
        last_error = f"no MX host of {domain} could be reached"
        final: list[str] = []  # REQUIRETLS statuses; a failure without one means "retry"
        for record in mx.records:
            try:
                addresses = await self.resolver.addresses(record.host)
                policy = OPPORTUNISTIC
                if not ignore_policy:
                    policy = await policy_for_mx(
                        self.resolver,
                        domain,
                        record.host,
                        sts,
                        secure_path=mx.secure and addresses.secure,
                    )
                if requiretls:
                    policy = with_requiretls(policy)
                    refusal = requiretls_mx_check(record.host, mx.secure, sts)
                    if refusal is not None:
                        raise refusal
            except DnsError as exc:
                last_error = f"address lookup for {record.host} failed: {exc}"
                final.append("")
                continue
            except PolicyRefusal as exc:
                last_error = exc.reason
                final.append(exc.status or "")
                outcome.sessions.append(refused_session(policy, record.host, None, exc))
                log.info("relay to %s: %s", domain, exc.reason)
                continue
            for address in addresses.records:
                try:
                    done = await self._session(
                        record.host, address, sender, recipients, data, policy, accepted
                    )
                    done.sessions[:0] = outcome.sessions
                    return done
                except PolicyRefusal as exc:
                    last_error = f"{record.host} [{address}]: {exc.reason}"
                    final.append(exc.status or "")
                    outcome.sessions.append(refused_session(policy, record.host, address, exc))
                    outcome.leg, outcome.policy = exc.leg, policy.name
                    outcome.remote = f"{record.host} [{address}]:{self.port_for(record.host)}"
                    continue
                except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
                    last_error = f"{record.host} [{address}]: {exc}"
                except aiosmtplib.SMTPHeloError as exc:
                    # An MX that will not take our EHLO is skipped for the next address,
                    # then the message deferred, as Postfix skips a 5xx greeting
                    # (smtp_skip_5xx_greeting): it refused us, not the message.
                    last_error = (
                        f"{record.host} [{address}]: EHLO refused ({exc.code} {exc.message})"
                    )
                except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
                    last_error = f"{record.host} [{address}]: timed out ({exc})"
                except ssl.SSLError as exc:
                    last_error = f"{record.host} [{address}]: TLS handshake failed ({exc})"
                final.append("")
                log.info("relay to %s failed: %s", domain, last_error)
        if requiretls and final and all(final):
            return all_failed(outcome, recipients, permanent=returned_reason(final, last_error))
        return all_failed(outcome, recipients, temporary=last_error)

    async def _via_next_hop(
        self,
        hop: NextHop,
        sender: str,
        recipients: list[str],
        data: bytes,
        accepted: Accepted | None,
    ) -> RelayOutcome:
        try:
            return await self._session(
                hop.host, "127.0.0.1", sender, recipients, data, OPPORTUNISTIC, accepted
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.info("relay to the next hop %s failed: %s", hop.host, exc)
            return all_failed(RelayOutcome(), recipients, temporary=f"{hop.host}: {exc}")

    async def _sts_policy(self, domain: str) -> StsPolicy | None:
        return await self.mta_sts.policy(domain) if self.mta_sts is not None else None

    async def _session(
        self,
        mx_host: str,
        address: str,
        sender: str,
        recipients: list[str],
        data: bytes,
        policy: TlsPolicy,
        accepted: Accepted | None = None,
    ) -> RelayOutcome:
        """The message over a session to `mx_host` at `address` under `policy`: an idle one
        opened under the same key when the cache has one (relay_sessions.py), else a new
        one. A reused session the MX has dropped (closed, 421) before taking the message is
        replaced by a new one at once: the message is not deferred for it, as in Postfix."""
        key = SessionKey(mx_host, address, self.port_for(mx_host), policy)
        session = self.sessions.take(key)
        if session is not None:
            outcome = await self._send(session, sender, recipients, data, accepted, reused=True)
            if outcome is not None:
                return outcome
            log.info("relay session to %s was dropped; a new one for the message", session.remote)
        session, report = await self._open(key)
        outcome = await self._send(session, sender, recipients, data, accepted, reused=False)
        assert outcome is not None
        outcome.sessions.append(report)  # RFC 8460 counts sessions, not messages
        return outcome

    async def _open(self, key: SessionKey) -> tuple[RelaySession, TlsSession]:
        """A session to `key`'s MX, through EHLO, STARTTLS as its policy demands and the
        hop's AUTH; raises PolicyRefusal when the policy forbids sending over it."""
        mx_host, address, port, policy = key.mx_host, key.address, key.port, key.policy
        client = aiosmtplib.SMTP(
            hostname=address,
            port=port,
            local_hostname=self.hostname,
            timeout=self.timeout,
            start_tls=False,
            source_address=(self.source_address, 0) if self.source_address else None,
        )

        hop = self.next_hop

        def leg(tls: TlsFacts, note: str) -> Leg:
            return Leg(
                Endpoint(hop.from_role if hop else Role.MTA, self.hostname),
                Endpoint(hop.to_role if hop else Role.MX, mx_host),
                Protocol.SMTP,
                tls,
                Source.OBSERVED,
                port_role=hop.port_role if hop else 25,
                port_actual=port,
                note=note,
            )

        try:
            await client.connect()  # in the try: a cancelled connect is closed too
            await client.ehlo()
            tls = TlsFacts.cleartext()
            if not client.supports_extension("starttls"):
                note = no_starttls_note(mx_host, policy, leg)
            else:
                tls, note = await starttls(
                    client,
                    mx_host,
                    policy,
                    leg,
                    context=self._opportunistic,
                    ca_file=self.ca_file,
                )
            if hop is not None and hop.login is not None:
                note = Text.joined([note, await hop_login(client, hop, tls)])
            options: list[str] = []
            if policy.requiretls:
                await client.ehlo()  # RFC 3207 section 4.2: what it offers over TLS counts
                if not client.supports_extension(REQUIRETLS.lower()):
                    why = T_(
                        "{host} did not advertise REQUIRETLS, so it could not pass it on",
                        host=mx_host,
                    )
                    raise policy_refusal(policy, why, leg(tls, stopped_note(policy, why)), "5.7.30")
                options = [REQUIRETLS]
                passed = T_(
                    "REQUIRETLS was passed on to {host}, which must keep it on TLS too.",
                    host=mx_host,
                )
                note = Text.joined([note, passed])
        except asyncio.CancelledError:  # the world stops: close now, no QUIT to stall on
            client.close()
            raise
        except BaseException:
            await end_session(client)
            raise
        session = RelaySession(
            key,
            client,
            leg(tls, note),
            policy.name if policy.by or policy.requiretls else None,
            options,
            f"{mx_host} [{address}]:{port}",
        )
        result = None if tls.encrypted else "starttls-not-supported"
        return session, TlsSession(policy.report_type, policy.strings, mx_host, address, result)

    async def _send(
        self,
        session: RelaySession,
        sender: str,
        recipients: list[str],
        data: bytes,
        accepted: Accepted | None,
        *,
        reused: bool,
    ) -> RelayOutcome | None:
        """One mail transaction over `session`, then the session back to the cache when it
        ended cleanly, else ended. None: `reused` and the MX dropped the session before it
        took the message (a new session may carry it)."""
        outcome = RelayOutcome(leg=session.leg, remote=session.remote, policy=session.policy)
        client = session.client
        session.messages += 1
        try:
            clean = await transaction(
                client, sender, recipients, data, outcome, session.mail_options
            )
        except asyncio.CancelledError:  # the world stops: close now, no QUIT to stall on
            client.close()
            raise
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            client.close()
            if reused:
                return None
            raise
        except BaseException:
            await end_session(client)
            raise
        if clean:  # free for the next message while this one's delivery is recorded
            self.sessions.give_back(session)
        elif reused and not outcome.delivered and not client.is_connected:
            return None  # a 421: the MX closed the session (aiosmtplib closes it too)
        else:
            await end_session(client)
        if outcome.delivered and accepted is not None:
            await accepted(outcome)
        return outcome

    async def close(self) -> None:
        """End the idle sessions kept for reuse (the MTA stops)."""
        await self.sessions.close()
