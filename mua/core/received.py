"""Received header fields read into hops: who handed the message to whom, how, and when.

The form is RFC 5321 section 4.4 (`from` / `by` / `via` / `with` / `id` / `for`, then `;` and
the date); the `with` keywords are RFC 3848 and RFC 6531 (UTF8SMTP...), and RFC 8314 adds the
`tls` clause naming the cipher suite. What a field says about TLS, in every notation the MTAs
write (Postfix, Exim 3 and 4, Sendmail, Gmail, Microsoft, OpenSMTPD, qmail, Courier, Mimecast,
IronPort, CommuniGate Pro), is read by mua/core/received_tls.py, which states the rule.

What the header does not say stays None; nothing is guessed:
- `encrypted` is True when the keyword (the S of RFC 3848, HTTPS, IronPort's `/TLS/`,
  CommuniGate's `-TLS`) or any TLS comment or clause says TLS; False when the keyword is a
  plain RFC 3848 one (SMTP, ESMTP, ESMTPA, LMTP, LMTPA, ...) and nothing says TLS; None
  otherwise (HTTP, mapi, Microsoft SMTP Server, local, no `with`).
- `mode`: STARTTLS for ESMTPS, LMTPS, UTF8SMTPS (RFC 3848 defines S as STARTTLS, and relays
  and LMTP have no implicit-TLS listener in practice). UNKNOWN for the authenticated forms
  (ESMTPSA...): submission servers write the same keyword for 465 (implicit) and 587
  (STARTTLS) and the header does not name the port. UNKNOWN too when only a comment or a
  vendor keyword says TLS, and for Gmail's non-standard `SMTPS`. IMPLICIT for HTTPS.
- `verified` comes only from Sendmail's `verify=` (OK true; FAIL, NO, NOT false) and
  OpenSMTPD's YES/NO. Both record the peer certificate check made by the server that wrote
  the header, not the sending side's check of that server.
- `authenticated`: the A of RFC 3848, or a comment saying so (Postfix "Authenticated sender:",
  Sendmail and Haraka "authenticated bits=0", Courier "AUTH: LOGIN user"); False for a plain
  RFC 3848 keyword; else None.
- `has_from`: whether the field has a `from` clause at all. Gmail's `by 2002:a05:... with SMTP
  id ...` records a step inside the provider, not a transfer between two named hosts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from mua.core.received_tls import Keyword, tls_statement
from mua.core.received_tls import ProtocolFamily as ProtocolFamily  # re-exported for callers
from mua.core.tls_facts import TlsFacts, TlsMode

HeaderSource = Message | Iterable[tuple[str, object]]
MAX_FIELD = 16 * 1024  # characters of one field that are read


@dataclass(frozen=True)
class ReceivedHop:
    """One Received header: the transfer from `from_*` to `by_host`, as that header says it."""

    from_helo: str | None  # the name the client gave in HELO/EHLO/LHLO, as written
    from_host: str | None  # the client's reverse DNS name, as the receiving server found it
    from_address: str | None  # the client's IP address (IPv4 or IPv6), normalised
    by_host: str | None  # the server that received the message and wrote this header
    with_protocol: str | None  # the `with` keyword as written ("ESMTPSA", "Microsoft SMTP Server")
    protocol: ProtocolFamily | None
    id: str | None
    for_address: str | None
    date: datetime | None  # always timezone-aware (a -0000 date is read as UTC)
    tls: TlsFacts
    authenticated: bool | None
    raw: str
    from_host_unknown: bool = False  # the header says the reverse lookup found no name
    has_from: bool = True  # False: no `from` clause (a provider's internal step, as Gmail's)
    local_socket: bool = False  # the client came over a Unix socket (Cyrus "[unix socket]")
    tls_version_text: str | None = None  # a version naming no single one ("TLSv1/SSLv3")

    @property
    def client_name(self) -> str | None:
        """The name that identifies the sending host, trusting HELO only when nothing better
        was recorded and the header does not say the reverse lookup failed."""
        if self.from_host:
            return self.from_host
        if self.from_host_unknown or _literal_address(self.from_helo or "") is not None:
            return None
        return self.from_helo


class _Token(NamedTuple):
    kind: str  # "word", "comment" (inner text, nested parentheses kept) or "semi"
    text: str
    end: int


# RFC 3848 / RFC 6531 keywords: [UTF8] SMTP|ESMTP|LMTP [S] [A], in any case (Exim writes
# lowercase). Exim's "local-esmtp" and friends are a local program speaking SMTP on stdin.
_KEYWORD = re.compile(
    r"""
    ^(?P<local>local-)?     # Exim: a local process (-bs), not a network peer
    (?P<utf8>UTF8)?         # RFC 6531: SMTPUTF8 was used
    (?P<base>E?SMTP|LMTP)   # SMTP, ESMTP (EHLO was used) or LMTP
    (?P<tls>S)?             # RFC 3848: the session was protected by TLS
    (?P<auth>A)?$           # RFC 3848: the client authenticated with SMTP AUTH
    """,
    re.VERBOSE | re.IGNORECASE,
)
_HTTP = re.compile(r"^HTTP(?P<tls>S)?(?:REST)?$", re.IGNORECASE)  # Gmail HTTPREST, OWA HTTPS

# Postfix "Authenticated sender:", Sendmail/Haraka "authenticated bits=0", Courier "AUTH: LOGIN x"
_AUTH_COMMENT = re.compile(
    r"^(?:authenticated\s+sender:|authenticated\s+bits=)|(?:^|,\s*)AUTH:\s*\w", re.IGNORECASE
)
_HELO_COMMENT = re.compile(r"(?:\bHELO\s+|\bhelo=)(?P<helo>[^\s()]+)", re.IGNORECASE)
# An address literal: [192.0.2.1], [IPv6:2001:db8::1], [fe80::1%4], optionally :port (Exim).
_LITERAL = re.compile(r"\[(?:IPv6:)?(?P<ip>[0-9A-Fa-f:.]+(?:%\w+)?)\](?::\d+)?", re.IGNORECASE)
_CLAUSES = {"from", "by", "via", "with", "id", "for", "tls", "envelope-from"}


def parse_received(value: str) -> ReceivedHop:
    """Read one Received field value (folded or not). Never raises: what it cannot read is
    None, and garbage gives a hop with every field None and TLS unknown."""
    raw = value if isinstance(value, str) else str(value)
    # Unfold (RFC 5322 2.2.3) and collapse whitespace; real fields are far shorter than the cap,
    # which keeps a hostile one from costing more than a moment.
    text = " ".join(raw[:MAX_FIELD].split())
    tokens = _tokenize(text)
    semis = [i for i, t in enumerate(tokens) if t.kind == "semi"]
    body = [t for t in (tokens[: semis[-1]] if semis else tokens) if t.kind != "semi"]
    clauses = _clauses(body)
    comments = [t.text for t in body if t.kind == "comment"]
    # A TLS comment after the date's ";" (some IBM gateways) still states TLS.
    late = tokens[semis[-1] + 1 :] if semis else []
    after_date = [t.text for t in late if t.kind == "comment"]
    late_id = _first_word(_clauses(late).get("id", []))  # Courier writes "; date id X"
    date = _parse_date(_date_words(late)) if semis else None
    from_tokens = clauses.get("from", [])
    helo, host, address, host_unknown = _from_clause(from_tokens)
    keyword = _words(clauses.get("with", [])) or None
    said = _keyword(keyword)
    tls = tls_statement(comments + after_date, _first_word(clauses.get("tls", [])), said)
    authenticated = True if any(_AUTH_COMMENT.search(c) for c in comments) else said.authenticated
    recipient = (_first_word(clauses.get("for", [])) or "").strip(",").strip("<>")
    return ReceivedHop(
        from_helo=helo,
        from_host=host,
        from_address=address,
        by_host=_first_word(clauses.get("by", [])),
        with_protocol=keyword,
        protocol=said.family,
        id=_first_word(clauses.get("id", [])) or late_id,
        for_address=recipient or None,
        date=date,
        tls=tls.facts,
        authenticated=authenticated,
        raw=raw,
        from_host_unknown=host_unknown,
        has_from="from" in clauses,
        local_socket=any(
            t.kind == "comment" and "unix socket" in t.text.lower() for t in from_tokens
        ),
        tls_version_text=tls.version_text,
    )


def received_hops(message_headers: HeaderSource) -> list[ReceivedHop]:
    """Every Received field of a message, in header order (newest first, as written)."""
    return [parse_received(v) for v in header_values(message_headers, "Received")]


def header_values(headers: HeaderSource, name: str) -> list[str]:
    """The values of every `name` field, in order."""
    return [v for k, v in header_fields(headers) if k.lower() == name.lower()]


def header_fields(headers: HeaderSource) -> list[tuple[str, str]]:
    """(name, value) of every field in order, from a Message (raw, as stored: no header class
    gets a chance to choke on a malformed field) or from (name, value) pairs. Bytes that the
    email package kept as surrogate escapes are decoded as UTF-8 (RFC 6532)."""
    items = headers.raw_items() if isinstance(headers, Message) else headers
    return [(str(k), _as_text(v)) for k, v in items]


def _as_text(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode("utf-8", "replace").decode("utf-8")


def normalise_protocol(keyword: str | None) -> ProtocolFamily | None:
    """The family of a `with` keyword; idempotent (a family's value maps to itself)."""
    return _keyword(keyword).family


def _tokenize(text: str) -> list[_Token]:
    """Words, comments (balanced, nested, with quoted-pairs) and top-level semicolons."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == ")":  # a stray ")" is noise
            i += 1
        elif ch == ";":
            i += 1
            tokens.append(_Token("semi", ";", i))
        elif ch == "(":
            depth, j = 1, i + 1
            while j < n and depth:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                j += 1
            inner = text[i + 1 : j - 1 if depth == 0 else j]
            tokens.append(_Token("comment", inner.strip(), j))
            i = j
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "();":
                closer = {"<": ">", "[": "]", '"': '"'}.get(text[j])
                close_at = text.find(closer, j + 1, j + 256) if closer else -1
                j = close_at + 1 if close_at > 0 else j + 1
            tokens.append(_Token("word", text[i:j], j))
            i = j
    return tokens


def _clauses(tokens: list[_Token]) -> dict[str, list[_Token]]:
    """Group tokens under the clause keyword before them; the first clause of a name wins."""
    clauses: dict[str, list[_Token]] = {}
    current: list[_Token] = []  # tokens before any keyword are dropped
    for token in tokens:
        name = token.text.lower() if token.kind == "word" else ""
        if name in _CLAUSES:
            current = []
            clauses.setdefault(name, current)
        else:
            current.append(token)
    return clauses


def _words(tokens: list[_Token]) -> str:
    """The words of a clause; punctuation glued on or standing alone ("ESMTP (Nemesis), id")
    is no part of them."""
    words = (t.text.strip(",") for t in tokens if t.kind == "word")
    return " ".join(w for w in words if w)


def _first_word(tokens: list[_Token]) -> str | None:
    return next((t.text for t in tokens if t.kind == "word"), None)


def _from_clause(tokens: list[_Token]) -> tuple[str | None, str | None, str | None, bool]:
    """(helo, reverse name, address, reverse-lookup-failed) from `from X (TCP-info)`.

    Postfix, Sendmail, OpenSMTPD, Gmail, Stalwart: `from HELO (rdns [ip])`.
    Exim: `from rdns ([ip] helo=HELO)` or `from [ip] (helo=HELO)`; qmail: `from rdns (HELO x)
    (ip)`. Microsoft: `from HELO (ip)`. "unknown" as a name means the lookup failed.
    """
    first = tokens[0].text if tokens and tokens[0].kind == "word" else None
    comments = [t.text for t in tokens if t.kind == "comment"]
    helo = next((m.group("helo") for c in comments if (m := _HELO_COMMENT.search(c))), None)
    host, address, unknown = None, None, False
    for comment in comments:
        found = _tcp_info(_HELO_COMMENT.sub(" ", comment))  # Exim's helo=[ip] is not the peer
        if found is not None:
            host, address = found
            break
    if host is not None and host.lower() == "unknown":
        host, unknown = None, True
    if helo is None:  # Postfix and most others: the first word is the HELO name
        helo = first
    elif first is not None:  # Exim, qmail: the first word is the reverse name, if any
        if first.lower() == "unknown" or _literal_address(first) is not None:
            unknown = True  # qmail "unknown", Exim "[ip] (helo=x)": no reverse name
        else:
            host = host or first
    if address is None and first is not None:
        address = _literal_address(first)
    return helo, _clean_name(host), address, unknown


def _tcp_info(comment: str) -> tuple[str | None, str] | None:
    """(name, address) from "rdns [ip]", "[ip]", "ip", "user@ip"; None without an address."""
    literal = _LITERAL.search(comment)
    if literal is not None:
        address = _ip(literal.group("ip"))
        if address is not None:
            before = comment[: literal.start()].split()
            name = before[-1].rpartition("@")[2] if before else None
            return (name or None), address
    for word in comment.replace(",", " ").split():
        address = _ip(word.rpartition("@")[2])
        if address is not None:
            return None, address
    return None


def _literal_address(word: str) -> str | None:
    match = _LITERAL.fullmatch(word)
    return _ip(match.group("ip")) if match else None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _clean_name(name: str | None) -> str | None:
    name = (name or "").rstrip(".")
    return name or None


def _keyword(keyword: str | None) -> Keyword:
    """What a `with` value says: its family, TLS (True, False for a plain RFC 3848 keyword,
    None when silent), the TLS mode, whether the client authenticated, and a cipher."""
    if not keyword:
        return Keyword(None)
    base, slash, rest = keyword.partition("/")
    if slash and rest[:3].upper() == "TLS":  # IronPort: "ESMTP/TLS/ECDHE-RSA-AES256-GCM-SHA384"
        said = _keyword(base)
        cipher = rest.partition("/")[2] or None
        return Keyword(said.family, True, TlsMode.UNKNOWN, said.authenticated, cipher)
    if len(keyword) > 4 and keyword[-4:].upper() == "-TLS":  # CommuniGate Pro: "ESMTP-TLS"
        said = _keyword(keyword[:-4])
        return Keyword(said.family, True, TlsMode.UNKNOWN, said.authenticated)
    match = _KEYWORD.match(keyword)
    if match is not None:
        auth = bool(match.group("auth"))
        if match.group("local"):
            return Keyword(ProtocolFamily.LOCAL, authenticated=auth)
        base = match.group("base").upper()
        family = ProtocolFamily.LMTP if base == "LMTP" else ProtocolFamily.SMTP
        if not match.group("tls"):
            return Keyword(family, False, TlsMode.NONE, auth)
        standard = base != "SMTP" or bool(match.group("utf8"))  # plain "SMTPS" is no RFC's
        starttls = standard and not auth  # submission writes ESMTPSA for 465 and 587 alike
        return Keyword(family, True, TlsMode.STARTTLS if starttls else TlsMode.UNKNOWN, auth)
    http = _HTTP.match(keyword)
    if http is not None:
        if http.group("tls"):  # HTTPS is TLS from the first byte
            return Keyword(ProtocolFamily.HTTP, True, TlsMode.IMPLICIT)
        return Keyword(ProtocolFamily.HTTP)
    lowered = keyword.lower()
    if lowered.startswith("local"):
        return Keyword(ProtocolFamily.LOCAL)
    if "lmtp" in lowered:
        return Keyword(ProtocolFamily.LMTP)
    if "smtp" in lowered:  # "Microsoft SMTP Server" and the like: silent about TLS
        return Keyword(ProtocolFamily.SMTP)
    named = next((f for f in ProtocolFamily if f.value.lower() == lowered), None)
    return Keyword(named or ProtocolFamily.OTHER)  # "mapi" is ProtocolFamily.MAPI


def _date_words(tokens: list[_Token]) -> str:
    """The date after the last ";": its words up to a clause (Courier's "id"), without any
    comment, however nested ("(UTC)", a TLS comment placed there)."""
    words: list[str] = []
    for token in tokens:
        if token.kind == "word" and token.text.lower() in _CLAUSES:
            break
        if token.kind == "word":
            words.append(token.text)
    return " ".join(words)


def _parse_date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        date = parsedate_to_datetime(text)
    except Exception:  # the stdlib raises several types on odd input: unreadable is None
        return None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)
