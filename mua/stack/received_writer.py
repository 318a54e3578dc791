"""Received header fields as the world's servers write them.

RFC 5321 section 4.4 gives the form (from / by / with / id / for; date); RFC 3848 the `with`
keywords (ESMTP, ESMTPS, ESMTPA, ESMTPSA, LMTP...); the TLS comment follows Postfix's
`(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))` so that other tools
that read Postfix headers read ours.
"""

from __future__ import annotations

from email.utils import formatdate

from mua.core.tls_facts import TlsFacts


def with_keyword(base: str, *, tls: bool, authenticated: bool) -> str:
    """RFC 3848: ESMTP + S when TLS protected the session + A when the client authenticated."""
    suffix = ("S" if tls else "") + ("A" if authenticated else "")
    return base + suffix


def received_header(
    *,
    helo: str | None,
    peer_ip: str,
    by: str,
    protocol: str,
    queue_id: str,
    recipient: str | None,
    tls: TlsFacts,
    authenticated_as: str | None = None,
    date: float | None = None,
) -> str:
    """The value of a Received field, folded for a 78-column line, without 'Received: '."""
    lines = [f"from {helo or '[' + peer_ip + ']'} ([{peer_ip}])"]
    if tls.encrypted:
        bits = f" ({tls.bits}/{tls.bits} bits)" if tls.bits else ""
        lines.append(f"(using {tls.version or 'TLS'} with cipher {tls.cipher or 'unknown'}{bits})")
    if authenticated_as:
        lines.append(f"(Authenticated sender: {authenticated_as})")
    lines.append(f"by {by} (mua) with {protocol} id {queue_id}")
    stamp = formatdate(date, localtime=False, usegmt=False)
    if recipient:
        lines.append(f"for <{recipient}>; {stamp}")
    else:
        lines[-1] += ";"
        lines.append(stamp)
    return "\r\n\t".join(lines)


def prepend_header(data: bytes, name: str, value: str) -> bytes:
    """Put a header field on top of a message (trace fields go first: RFC 5321 4.4)."""
    newline = b"\r\n" if b"\r\n" in data[:4096] else b"\n"
    field = f"{name}: {value}".replace("\r\n", newline.decode()).encode("utf-8")
    return field + newline + data
