"""Authentication-Results fields (RFC 8601): which checks a server ran, and what they gave.

    Authentication-Results: mx.example.com;
        spf=pass (sender SPF authorized) smtp.mailfrom=sender@example.org;
        dkim=pass header.d=example.org header.s=sel1 header.b=AbCd1234;
        dmarc=pass (p=reject dis=none) header.from=example.org;
        arc=none

The first element is the authserv-id, naming who ran the checks; anyone upstream can write
such a field, so only those whose authserv-id is the user's own provider are worth showing
(the caller decides, see mua.core.journey). Parsing never raises: a field without an
authserv-id gives None, a result it cannot read is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mua.core.received import MAX_FIELD

# The key of a method ("spf", "dkim/1"), "reason", or a property ("header.d", "smtp.mailfrom").
_KEY = re.compile(r"[A-Za-z0-9][\w.-]*(?:/\d+)?")


@dataclass(frozen=True)
class AuthResult:
    method: str  # "spf", "dkim", "dmarc", "arc", "iprev", "auth", ... (lowercase)
    result: str  # "pass", "fail", "softfail", "neutral", "none", "temperror", ... (lowercase)
    reason: str | None = None
    properties: dict[str, str] = field(default_factory=dict)  # "header.d" -> "example.org"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "result": self.result,
            "reason": self.reason,
            "properties": dict(self.properties),
        }


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[AuthResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"authserv_id": self.authserv_id, "results": [r.to_json() for r in self.results]}


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """One Authentication-Results field value; None when it names no authserv-id."""
    text = _strip_comments(" ".join(str(value)[:MAX_FIELD].split()))
    parts = _split(text)
    head = parts[0].split() if parts else []
    if not head or "=" in head[0]:
        return None
    results = []
    for part in parts[1:]:
        parsed = _resinfo(part)
        if parsed is not None:
            results.append(parsed)
    return AuthenticationResults(head[0], tuple(results))


def _resinfo(text: str) -> AuthResult | None:
    """`method[/version]=result [reason=...] [ptype.property=value ...]`."""
    pairs = []
    for word in _words(re.sub(r" ?= ?", "=", text)):
        key, equals, value = word.partition("=")
        if equals and _KEY.fullmatch(key):
            pairs.append((key, _unquote(value)))
    if not pairs or "." in pairs[0][0]:
        return None  # "none" (no checks were run) or a stray property
    method = pairs[0][0].partition("/")[0].lower()
    reason = next((v for k, v in pairs[1:] if k.lower() == "reason"), None)
    properties = {k.lower(): v for k, v in pairs[1:] if "." in k}
    return AuthResult(method, pairs[0][1].lower(), reason, properties)


def _words(text: str) -> list[str]:
    """Split on spaces outside quoted strings (whitespace is already collapsed)."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            words.append("".join(current))
            current = []
            continue
        current.append(ch)
    words.append("".join(current))
    return [w for w in words if w]


def _strip_comments(text: str) -> str:
    """Remove (comments), nested ones too, outside quoted strings."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
        elif ch == '"' and depth == 0:
            quoted = not quoted
            out.append(ch)
        elif ch == "(" and not quoted:
            depth += 1
        elif ch == ")" and not quoted and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _split(text: str) -> list[str]:
    """Split on semicolons outside quoted strings; empty parts dropped."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
