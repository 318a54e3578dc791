"""What a Received field says about TLS: its `with` keyword and its comments, in every notation.

The rule (docs/architecture.md, "Headers into legs"): any statement of TLS in the field, in the
keyword or in a comment anywhere (after the date's `;` too), means encrypted; "not encrypted"
only where the field positively says so, an RFC 3848 keyword without S (SMTP, ESMTP, ESMTPA,
LMTP, LMTPA, ...) and no TLS comment anywhere; anything else is unknown, never a guess.

Comment notations read, beside the keyword's S (RFC 3848) and the `tls` clause (RFC 8314):

    Postfix, Dovecot, Stalwart   (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
    Exim 4.92+, Haraka           (TLS1.3)
    Exim before 4.92             (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256), (TLS-1.0:...:24)
    Exim 3, MDaemon              (Cipher TLSv1:DES-CBC3-SHA:168)
    Exim 4 local-esmtps          (tls_cipher TLS-1.0:RSA_AES_256_CBC_SHA:32)
    Gmail, Microsoft, Sendmail   (version=TLS1_3 cipher=... bits=128/128 verify=NOT)
    OpenSMTPD                    (TLSv1.3:TLS_AES_256_GCM_SHA384:256:NO)
    qmail / qpsmtpd              (ECDHE-RSA-AES256-GCM-SHA384 encrypted)
    Courier                      (TLS: TLSv1/SSLv3,256bits,AES256-SHA), also inside
                                 (IDENT: x, AUTH: LOGIN y, TLS: ...)
    Mimecast                     (Using TLS)
    Microsoft                    with Microsoft SMTP Server (TLS)

and keyword notations: Cisco IronPort `ESMTP/TLS/ECDHE-RSA-AES256-GCM-SHA384` (the cipher is
the third part) and CommuniGate Pro `ESMTP-TLS` (any keyword with a `-TLS` suffix).

A version the field writes that names no single TLS version (OpenSSL's `TLSv1/SSLv3`, `SSLv3`)
normalises to None and is kept as written (`TlsStatement.version_text`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from mua.core.tls_facts import TlsFacts, TlsMode, normalise_tls_version


class ProtocolFamily(StrEnum):
    """What the `with` keyword says the transfer was, whatever its spelling."""

    SMTP = "SMTP"
    LMTP = "LMTP"
    HTTP = "HTTP"
    MAPI = "MAPI"  # Exchange: the message was handed in by an Outlook client
    LOCAL = "local"  # a program on the same machine (sendmail pickup, Exim -bs)
    OTHER = "other"


# Postfix, Dovecot and Stalwart: "using TLSv1.3 with cipher X (256/256 bits)".
_USING = re.compile(
    r"""
    \busing\s+(?P<version>[\w./-]+)         # TLSv1.3, TLSv1/SSLv3 (kept, normalised later)
    \s+with\s+cipher\s+(?P<cipher>[\w.+/-]+)
    (?:\s+\((?P<bits>\d+)/\d+\s+bits\))?    # effective/algorithm bits
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Gmail, Microsoft, Sendmail: key=value pairs, space or comma separated.
_PAIR = re.compile(r"\b(?P<key>version|cipher|bits|verify)=(?P<value>[^\s,;()]+)", re.IGNORECASE)
# OpenSMTPD "TLSv1.3:CIPHER:256:NO", older Exim "TLS1.2:CIPHER:256" and "TLS-1.0:CIPHER:24",
# Exim 3 and MDaemon "Cipher TLSv1:CIPHER:168", Exim 4's local-esmtps "tls_cipher TLS-1.0:...".
_COLONS = re.compile(
    r"""
    ^(?:(?:tls_)?cipher\s+)?          # Exim 3 / MDaemon "Cipher", Exim 4 "tls_cipher"
    (?P<version>(?:TLS|SSL)[\w./-]*)  # TLSv1.3, TLS1.2, TLS-1.0, SSLv3, TLSv1/SSLv3
    :(?P<cipher>[\w.+-]+)             # the cipher suite, OpenSSL or IANA name
    :(?P<bits>\d+)
    (?::(?P<verify>YES|NO))?$         # OpenSMTPD: whether the peer certificate was verified
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Exim 4.92+ "(TLS1.3)" and Microsoft "(TLS)": a comment that is only a protocol name.
_BARE_TLS = re.compile(r"^(?P<version>(?:TLS|SSL)(?:\s*v?\s*\d(?:[._]\d)?)?)$", re.IGNORECASE)
# qmail-tls and qpsmtpd: "(ECDHE-RSA-AES256-GCM-SHA384 encrypted)". A cipher name has a - or _
# (checked in code, keeping the pattern linear), so "(not encrypted)" is not taken for one.
_QMAIL = re.compile(r"^(?P<cipher>[\w.+-]+)\s+encrypted$", re.IGNORECASE)
# Courier: "TLS: TLSv1/SSLv3,256bits,AES256-SHA", alone or after "AUTH: ..., " in one comment.
_COURIER = re.compile(
    r"""
    (?:^|[\s,])TLS:\s*(?P<version>[\w./-]+)\s*,
    \s*(?P<bits>\d+)\s*bits\s*,
    \s*(?P<cipher>[\w.+-]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_MIMECAST = re.compile(r"^using\s+TLS$", re.IGNORECASE)  # Mimecast: "(Using TLS)"
_VERIFY = {"OK": True, "YES": True, "FAIL": False, "NO": False, "NOT": False}


class Keyword(NamedTuple):
    """What a `with` keyword says; `family` is None when it names no protocol."""

    family: ProtocolFamily | None
    encrypted: bool | None = None
    mode: TlsMode = TlsMode.UNKNOWN
    authenticated: bool | None = None
    cipher: str | None = None  # IronPort writes the cipher in the keyword


class TlsStatement(NamedTuple):
    """The TLS facts of one field, and the version as the field wrote it."""

    facts: TlsFacts
    version_text: str | None  # as written, when it names no single version ("TLSv1/SSLv3")


def tls_statement(comments: list[str], tls_clause: str | None, keyword: Keyword) -> TlsStatement:
    """The TLS facts of a field from its comments (every one, wherever it sits), its RFC 8314
    `tls` clause and its keyword, following the rule of this module's docstring."""
    facts: dict[str, str] = {}
    seen = tls_clause is not None or keyword.cipher is not None
    if tls_clause is not None:
        facts["cipher"] = tls_clause
    elif keyword.cipher is not None:
        facts["cipher"] = keyword.cipher
    for comment in comments:
        for found in tls_in_comment(comment):
            seen = True
            for key, value in found.items():
                facts.setdefault(key, value)
    if not seen:
        if keyword.encrypted is None:
            return TlsStatement(TlsFacts.unknown(), None)
        return TlsStatement(TlsFacts(keyword.encrypted, keyword.mode), None)
    bits = facts.get("bits")
    version = facts.get("version")
    return TlsStatement(
        TlsFacts(
            encrypted=True,
            mode=keyword.mode if keyword.encrypted else TlsMode.UNKNOWN,  # a plain word + TLS
            version=version,
            cipher=facts.get("cipher"),
            bits=int(bits) if bits and bits.isdigit() and len(bits) < 6 else None,
            verified=_VERIFY.get(facts.get("verify", "").upper()),
        ),
        version if version is not None and normalise_tls_version(version) is None else None,
    )


def tls_in_comment(comment: str) -> list[dict[str, str]]:
    """Every TLS description found in one comment (its nested comments included); an empty
    dict is a statement of TLS without details (Mimecast's "Using TLS")."""
    found: list[dict[str, str]] = []
    for match in _USING.finditer(comment):
        found.append({k: v for k, v in match.groupdict().items() if v})
    pairs = {m.group("key").lower(): m.group("value") for m in _PAIR.finditer(comment)}
    if "version" in pairs or "cipher" in pairs:
        if "bits" in pairs:
            pairs["bits"] = pairs["bits"].partition("/")[0]
        found.append(pairs)
    for match in _COURIER.finditer(comment):
        found.append(match.groupdict())
    for pattern in (_COLONS, _BARE_TLS, _QMAIL, _MIMECAST):
        whole = pattern.fullmatch(comment)
        if whole is not None and (pattern is not _QMAIL or re.search(r"[-_]", comment)):
            found.append({k: v for k, v in whole.groupdict().items() if v})
    return found
