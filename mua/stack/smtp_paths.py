"""The paths and parameters of MAIL FROM and RCPT TO (RFC 5321 section 4.1.2), as the world's
SMTP servers read them: aiosmtpd's (MX, mua/stack/smtpd.py) and the MSA's own
(mua/stack/submission_session.py)."""

from __future__ import annotations

import re
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError

REQUIRETLS = "REQUIRETLS"  # the EHLO keyword and MAIL FROM parameter of RFC 8689

# A plain path, `<local@domain>` of dot-atoms as nearly every client sends, and what follows
# it once the parser's trailing whitespace is skipped.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_PATH = re.compile(
    rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*(?![ \t(])"
)
# RFC 5321 section 4.1.2: a path is always in angle brackets. `MAIL FROM:<unterminated` is
# not an address (aiosmtpd would take it for one): PATH_PREFIX without PATH answers 501.
PATH_PREFIX = re.compile(r"(?i)^\s*(FROM|TO)\s*:")
PATH = re.compile(r"(?i)^\s*(FROM|TO)\s*:\s*<[^<>\s]*>(\s|$)")


def split_path(arg: str) -> tuple[str | None, str]:
    """The address of a path and the parameters after it: ("", "") for nothing, (None, "")
    for what cannot be parsed. A plain `<local@domain>` is read by a regular expression;
    anything else (quoted, literal, comments) by the standard library's RFC 5322 parser."""
    if not arg:
        return "", ""
    plain = PLAIN_PATH.match(arg)
    if plain is not None:
        address, rest = plain.group(1), arg[plain.end() :]
    else:
        parse = get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec
        try:
            parsed, rest = parse(arg)
        except HeaderParseError:
            return None, ""
        address = parsed.addr_spec
    return address, rest.strip()


def parse_parameters(params: list[str]) -> dict[str, str | bool] | None:
    """`KEY=VALUE` and `KEY` parameters (RFC 5321 section 4.1.2 esmtp-param); None when one
    is malformed."""
    result: dict[str, str | bool] = {}
    for param in params:
        key, eq, value = param.partition("=")
        if not key.isalnum() or (eq and not value):
            return None
        result[key] = value if eq else True
    return result
