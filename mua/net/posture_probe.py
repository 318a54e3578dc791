"""Probing one MX over SMTP: STARTTLS, REQUIRETLS, the TLS versions it accepts, its certificate.

Each protocol version gets a connection of its own with a context pinned to that version
(minimum = maximum). The handshake does not verify (the certificate is checked afterwards,
as opportunistic STARTTLS does, RFC 7435), so a bad certificate is reported, not fatal.
TLS 1.0 and 1.1 are tried at OpenSSL security level 0, which OpenSSL 3 needs to offer them
at all; a version this machine's OpenSSL cannot speak is reported "untested", never "refused".
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from dataclasses import dataclass, field
from enum import StrEnum

import aiosmtplib

from mua.net import dane

VERSIONS = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
OUTDATED = ("TLSv1.0", "TLSv1.1")  # RFC 8996 deprecates both
# OpenSSL's words for "this end cannot offer that version", as opposed to a server's refusal.
_LOCAL = ("NO_PROTOCOLS_AVAILABLE", "no protocols available", "NO_CIPHERS_AVAILABLE")


class VersionResult(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNTESTED = "untested"  # this machine's OpenSSL cannot offer it


@dataclass
class SmtpProbe:
    """What one SMTP session (and one per TLS version) showed of a server."""

    reached: bool = False
    error: str | None = None  # why it could not be asked, when it could not
    starttls: bool | None = None
    requiretls: bool | None = None  # advertised in the EHLO reply over TLS (RFC 8689)
    version: str | None = None  # negotiated with the best context this machine has
    cipher: str | None = None
    bits: int | None = None
    chain: list[bytes] = field(default_factory=list)  # DER, leaf first
    versions: dict[str, VersionResult] = field(default_factory=dict)
    version_errors: dict[str, str] = field(default_factory=dict)


def _context(version: ssl.TLSVersion | None) -> ssl.SSLContext:
    """A non-verifying client context; pinned to `version` when one is given. Raises
    ValueError when this OpenSSL cannot be pinned there."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is None:
        return context
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1; asking whether a server still accepts them is
        # the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        if version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = version
        context.maximum_version = version
    return context


async def _session(address: str, port: int, timeout: float) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(hostname=address, port=port, timeout=timeout, start_tls=False)
    try:
        await smtp.connect()
        sockname = smtp.transport.get_extra_info("sockname") if smtp.transport else None
        local = sockname[0] if sockname else "127.0.0.1"
        # An address literal: nothing about this machine for the server to look up or log.
        await smtp.ehlo(hostname=f"[IPv6:{local}]" if ":" in local else f"[{local}]")
    except BaseException:  # a failed EHLO, or the lookup was cancelled: never leave it open
        smtp.close()
        raise
    return smtp


async def _close(smtp: aiosmtplib.SMTP) -> None:
    try:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await smtp.quit()
    finally:  # also when cancelled during QUIT (a closed compose window stops its lookups)
        smtp.close()


async def probe_smtp(address: str, port: int, server_name: str, timeout: float) -> SmtpProbe:
    """Connect to `address`:`port`, EHLO, STARTTLS, EHLO again; then one STARTTLS per TLS
    version. Never raises for a network failure: `error` says what happened."""
    found = SmtpProbe()
    try:
        smtp = await _session(address, port, timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        found.error = f"{server_name} port {port} could not be reached ({_reason(exc)})"
        return found
    found.reached = True
    try:
        found.starttls = smtp.supports_extension("starttls")
        if found.starttls:
            await smtp.starttls(tls_context=_context(None), server_hostname=server_name)
            ssl_object = smtp.get_transport_info("ssl_object")
            cipher = ssl_object.cipher() if ssl_object else None
            found.version = ssl_object.version() if ssl_object else None
            found.cipher, found.bits = (cipher[0], cipher[2]) if cipher else (None, None)
            found.chain = dane.peer_chain(ssl_object)
            await smtp.ehlo()  # RFC 3207 section 4.2: forget what was offered in clear
            found.requiretls = smtp.supports_extension("requiretls")
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
        found.error = f"STARTTLS with {server_name} failed ({_reason(exc)})"
    finally:
        await _close(smtp)
    if found.starttls:
        for name, version in VERSIONS.items():
            result, why = await _try_version(address, port, server_name, version, timeout)
            found.versions[name] = result
            if why:
                found.version_errors[name] = why
    return found


async def _try_version(
    address: str, port: int, server_name: str, version: ssl.TLSVersion, timeout: float
) -> tuple[VersionResult, str]:
    try:
        context = _context(version)
    except (ValueError, ssl.SSLError) as exc:
        return VersionResult.UNTESTED, f"this machine's OpenSSL cannot be pinned to it ({exc})"
    try:
        smtp = await _session(address, port, timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return VersionResult.UNTESTED, f"no connection ({_reason(exc)})"
    try:
        await smtp.starttls(tls_context=context, server_hostname=server_name)
        return VersionResult.ACCEPTED, ""
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
        text = _reason(exc)
        if any(word in text for word in _LOCAL):
            return VersionResult.UNTESTED, f"this machine's OpenSSL refuses it ({text})"
        return VersionResult.REFUSED, text
    finally:
        await _close(smtp)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer in time"
    return str(exc) or type(exc).__name__
