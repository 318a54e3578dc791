"""STARTTLS on a relay session, as the TLS policy for the MX demands (`tls_policy.py`):
opportunistic (RFC 7435: TLS when offered, the certificate not required to verify, but
whether it would have is recorded), or mandatory with the certificate authenticated by DANE
(RFC 7672) or the web PKI (MTA-STS, RFC 8461). What came of it is the leg's TLS facts and
note, or a `PolicyRefusal` that ends the session before MAIL FROM."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiosmtplib

from mua.core.i18n import T_, Text
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy
from mua.net import dane
from mua.net.tls import facts_from_ssl_object
from mua.stack.relay_notes import LegMaker, policy_refusal, stopped_note, testing_note
from mua.stack.tls_policy import TlsPolicy
from mua.stack.tlsrpt import certificate_result


def opportunistic_context() -> ssl.SSLContext:
    """The context of every relay's STARTTLS. It does not verify during the handshake (what
    would have verified is recorded after it, by the policy), so it loads no CA store:
    building one with the system store costs ~20 ms, on the loop every server shares."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def starttls(
    client: aiosmtplib.SMTP,
    mx_host: str,
    policy: TlsPolicy,
    leg: LegMaker,
    *,
    context: ssl.SSLContext,
    ca_file: Path | None,
) -> tuple[TlsFacts, str]:
    """STARTTLS on `client` (`context` from `opportunistic_context`), then the certificate
    checked as `policy` demands: the TLS facts and the leg's note, or PolicyRefusal when the
    policy forbids going on (no TLS where it is mandatory, a certificate not authenticated
    where it must be)."""
    try:
        await client.starttls(tls_context=context, server_hostname=mx_host)
    except aiosmtplib.SMTPResponseException as exc:
        # RFC 3207 section 4: after a refused STARTTLS the session goes on in clear,
        # which only a policy forbids.
        reply = f"{exc.code} {exc.message}"
        why = T_("{host} offered STARTTLS but refused it ({reply})", host=mx_host, reply=reply)
        if policy.tls_required:
            raise policy_refusal(
                policy,
                why,
                leg(TlsFacts.cleartext(), stopped_note(policy, why)),
                result_type="starttls-not-supported",
            ) from exc
        clear = T_("{why}: the message crossed the network in clear.", why=why)
        return TlsFacts.cleartext(), clear
    ssl_object = client.get_transport_info("ssl_object")
    verified, by, reason = policy.check_certificate(dane.peer_chain(ssl_object), mx_host, ca_file)
    tls = facts_from_ssl_object(
        ssl_object, TlsMode.STARTTLS, verified=verified, verified_by=by, peer_name=mx_host
    )
    if verified and by is VerifiedBy.DANE:
        return tls, T_(
            "Encrypted with STARTTLS; {host}'s certificate was authenticated by DANE ({reason}).",
            host=mx_host,
            reason=reason,
        )
    if verified and by is VerifiedBy.MTA_STS:
        return tls, T_(
            "Encrypted with STARTTLS to an MX that {source} lists, with a certificate "
            "valid for {host} under the web PKI: as the policy, in enforce mode, requires.",
            source=policy.source,
            host=mx_host,
        )
    if not verified and policy.authenticate:
        why = T_(
            "{host}'s certificate failed authentication ({reason})",
            host=mx_host,
            reason=reason,
        )
        dane_failed = by is VerifiedBy.DANE
        result = "validation-failure" if dane_failed else certificate_result(reason)
        raise policy_refusal(policy, why, leg(tls, stopped_note(policy, why)), result_type=result)
    if policy.by is VerifiedBy.DANE:  # a secure TLSA RRset without a usable record
        if verified:
            pki = T_(
                "{host}'s certificate is valid under the PKI, which no policy required",
                host=mx_host,
            )
        else:
            pki = T_(
                "{host}'s certificate could not be verified either ({reason})",
                host=mx_host,
                reason=reason,
            )
        return tls, T_(
            "Encrypted with STARTTLS, which {source} make mandatory; none of them is "
            "usable, so DANE authenticated nothing ({pki}).",
            source=policy.source,
            pki=pki,
        )
    testing = testing_note(policy)
    if verified:
        valid = T_(
            "Encrypted with STARTTLS and {host}'s certificate is valid, but no policy "
            "required it: an attacker on the path could have removed the STARTTLS offer.",
            host=mx_host,
        )
        return tls, Text.joined([valid, testing])
    unverified = T_(
        "Encrypted with STARTTLS, but {host}'s certificate could not be verified "
        "({reason}): the server was not authenticated.",
        host=mx_host,
        reason=reason,
    )
    return tls, Text.joined([unverified, testing])
