"""One relay attempt: the MTA hands a message to a domain's MX over SMTP (RFC 5321 section 5).

MX hosts are tried in preference order, each address in turn. STARTTLS is used whenever the
MX offers it and is opportunistic (RFC 7435; RFC 3207 section 4.1 lets a public MTA relay
without TLS): the certificate is not required to verify, but whether it would have is
recorded. Policies that make TLS mandatory (DANE, MTA-STS, REQUIRETLS) come on top of this.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls import TlsFacts, TlsMode, VerifiedBy
from mua.net import dane
from mua.net.dns import DnsError, Resolver, TlsaRecord
from mua.net.tls import facts_from_ssl_object, verify_certificate

log = logging.getLogger(__name__)


@dataclass
class RelayOutcome:
    delivered: list[str] = field(default_factory=list)
    temporary: dict[str, str] = field(default_factory=dict)  # recipient -> reason
    permanent: dict[str, str] = field(default_factory=dict)
    leg: Leg | None = None  # the relay leg as this client saw it, when a session got that far
    remote: str | None = None  # "mx.b.test [127.0.0.1]:20025"


class RelayClient:
    def __init__(
        self,
        hostname: str,
        resolver: Resolver,
        *,
        port_for: Callable[[str], int] = lambda _mx: 25,
        ca_file: Path | None = None,
        timeout: float = 60.0,
    ) -> None:
        """`port_for` maps an MX host name to the port it listens on (25 in the real world;
        the demo world's MX listens on an unprivileged port, like a Postfix transport map
        entry `smtp:[mx.b.test]:20025`)."""
        self.hostname = hostname
        self.resolver = resolver
        self.port_for = port_for
        self.ca_file = ca_file
        self.timeout = timeout
        # Opportunistic STARTTLS does not verify during the handshake (what would have
        # verified is recorded after it), so this context loads no CA store: building one
        # with the system store costs ~20 ms, on the loop every server shares.
        self._opportunistic = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._opportunistic.check_hostname = False
        self._opportunistic.verify_mode = ssl.CERT_NONE
        self._opportunistic.minimum_version = ssl.TLSVersion.TLSv1_2

    async def deliver(
        self, domain: str, sender: str, recipients: list[str], data: bytes
    ) -> RelayOutcome:
        outcome = RelayOutcome()
        try:
            mx = await self.resolver.mx(domain)
        except DnsError as exc:
            return _all(outcome, recipients, temporary=f"MX lookup for {domain} failed: {exc}")
        if mx.null_mx or not mx.records:
            # RFC 7505 section 3: a null MX means the domain accepts no mail.
            return _all(outcome, recipients, permanent=f"556 5.1.10 {domain} accepts no mail")
        last_error = f"no MX host of {domain} could be reached"
        for record in mx.records:
            try:
                addresses = await self.resolver.addresses(record.host)
            except DnsError as exc:
                last_error = f"address lookup for {record.host} failed: {exc}"
                continue
            for address in addresses.records:
                try:
                    return await self._session(record.host, address, sender, recipients, data)
                except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
                    last_error = f"{record.host} [{address}]: {exc}"
                except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
                    last_error = f"{record.host} [{address}]: timed out ({exc})"
                except ssl.SSLError as exc:
                    last_error = f"{record.host} [{address}]: TLS handshake failed ({exc})"
                log.info("relay to %s failed: %s", domain, last_error)
        return _all(outcome, recipients, temporary=last_error)

    async def _session(
        self, mx_host: str, address: str, sender: str, recipients: list[str], data: bytes
    ) -> RelayOutcome:
        port = self.port_for(mx_host)
        outcome = RelayOutcome(remote=f"{mx_host} [{address}]:{port}")
        client = aiosmtplib.SMTP(
            hostname=address,
            port=port,
            local_hostname=self.hostname,
            timeout=self.timeout,
            start_tls=False,
        )
        await client.connect()
        try:
            await client.ehlo()
            tls = TlsFacts.cleartext()
            note = f"{mx_host} did not offer STARTTLS: the message crossed the network in clear."
            if client.supports_extension("starttls"):
                tls, note = await self._starttls(client, mx_host)
            outcome.leg = Leg(
                Endpoint(Role.MTA, self.hostname),
                Endpoint(Role.MX, mx_host),
                Protocol.SMTP,
                tls,
                Source.OBSERVED,
                port_role=25,
                port_actual=port,
                note=note,
            )
            await self._transaction(client, sender, recipients, data, outcome)
        finally:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
        return outcome

    async def _starttls(self, client: aiosmtplib.SMTP, mx_host: str) -> tuple[TlsFacts, str]:
        await client.starttls(tls_context=self._opportunistic, server_hostname=mx_host)
        ssl_object = client.get_transport_info("ssl_object")
        chain = _peer_chain(ssl_object)
        tlsa = await self._usable_tlsa(mx_host)
        if tlsa:
            verified, by = dane.matches(tlsa, chain), VerifiedBy.DANE
            reason = (
                "it matches the DNSSEC-signed TLSA record"
                if verified
                else ("it does not match the DNSSEC-signed TLSA record")
            )
        else:
            verified, reason = verify_certificate(
                chain[0] if chain else None, mx_host, self.ca_file
            )
            by = VerifiedBy.PKI
        tls = facts_from_ssl_object(
            ssl_object, TlsMode.STARTTLS, verified=verified, verified_by=by, peer_name=mx_host
        )
        if verified and by is VerifiedBy.DANE:
            note = (
                f"Encrypted with STARTTLS; {mx_host}'s certificate was authenticated by DANE "
                f"({reason})."
            )
        elif verified:
            note = (
                f"Encrypted with STARTTLS and {mx_host}'s certificate is valid, but no policy "
                "required it: an attacker on the path could have removed the STARTTLS offer."
            )
        else:
            note = (
                f"Encrypted with STARTTLS, but {mx_host}'s certificate could not be verified "
                f"({reason}): the server was not authenticated."
            )
        return tls, note

    async def _usable_tlsa(self, mx_host: str) -> list[TlsaRecord]:
        """TLSA records that DNSSEC vouches for (RFC 7672 section 2.2); none otherwise."""
        try:
            answer = await self.resolver.tlsa(25, mx_host)
        except DnsError as exc:
            log.info("TLSA lookup for %s failed: %s", mx_host, exc)
            return []
        return dane.usable(answer.records) if answer.secure else []

    async def _transaction(
        self,
        client: aiosmtplib.SMTP,
        sender: str,
        recipients: list[str],
        data: bytes,
        outcome: RelayOutcome,
    ) -> None:
        try:
            refused, _response = await client.sendmail(sender, recipients, data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {e.recipient: (e.code, e.message) for e in exc.recipients}
        except aiosmtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            _all(outcome, recipients, **{_kind(exc.code): f"{exc.code} {exc.message}"})
            return
        for rcpt in recipients:
            if rcpt in refused:
                code, message = refused[rcpt]
                getattr(outcome, _kind(code))[rcpt] = f"{code} {message}"
            else:
                outcome.delivered.append(rcpt)


def _kind(code: int) -> str:
    return "permanent" if 500 <= code < 600 else "temporary"


def _all(
    outcome: RelayOutcome, recipients: list[str], *, temporary: str = "", permanent: str = ""
) -> RelayOutcome:
    for rcpt in recipients:
        if permanent:
            outcome.permanent[rcpt] = permanent
        else:
            outcome.temporary[rcpt] = temporary
    return outcome


def _peer_chain(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The certificates the server sent, leaf first. Python < 3.13 exposes only the leaf."""
    if ssl_object is None:
        return []
    get_chain = getattr(ssl_object, "get_unverified_chain", None)
    if get_chain is not None:
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in get_chain()]  # type: ignore[attr-defined]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []
