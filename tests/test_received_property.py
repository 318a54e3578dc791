"""Property test: Received fields generated per notation family, with random hosts, addresses,
ciphers, TLS versions, folding and comment placement, read back into the facts generated.

The families are the forms of tests/test_received_notations.py (each from a real header) and
the major MTAs' forms of mua/core/received_tls.py's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mua.core.received import parse_received
from mua.core.tls_facts import normalise_tls_version

_LABEL = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}[a-z0-9]\Z")
HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["example", "test", "org", "net", "de"]),
)
IPV4 = st.ip_addresses(v=4).map(str)
CIPHERS = st.one_of(
    st.builds(
        lambda kx, aes, sha: f"{kx}AES{aes}-GCM-SHA{sha}",
        st.sampled_from(["", "ECDHE-RSA-", "DHE-RSA-", "ECDHE-ECDSA-"]),
        st.sampled_from([128, 256]),
        st.sampled_from([256, 384]),
    ),
    st.sampled_from(
        ["DES-CBC3-SHA", "AES256-SHA", "RSA_AES_256_CBC_SHA", "TLS_AES_128_GCM_SHA256"]
    ),
)
VERSIONS = st.sampled_from(
    ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "TLS1.2", "TLS1_3", "TLS-1.0", "TLSv1/SSLv3"]
)
BITS = st.sampled_from([24, 32, 128, 168, 256])
DATES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
OFFSETS = st.integers(min_value=-11, max_value=12).map(lambda h: timezone(timedelta(hours=h)))
# Where the TLS comment goes: after the from clause, after `by host`, after the keyword, after
# the id, or after the date's ";".
PLACES = st.sampled_from(["from", "by", "with", "id", "date"])
FOLDS = st.lists(st.sampled_from([" ", "\r\n\t", "\n ", "  ", "\r\n  "]), min_size=12, max_size=12)


@dataclass(frozen=True)
class Generated:
    value: str
    by: str
    address: str
    keyword: str
    cipher: str | None
    version: str | None  # as written
    bits: int | None
    date: datetime


def _statement(
    family: str, version: str, cipher: str, bits: int, sep: str
) -> tuple[str, str, bool]:
    """(keyword, TLS comment or "", whether the comment carries version and bits)."""
    if family == "postfix":
        return "ESMTPS", f"(using {version} with cipher {cipher} ({bits}/{bits} bits))", True
    if family == "exim-colons":
        return "esmtps", f"({version}:{cipher}:{bits})", True
    if family == "exim3":
        return "esmtp", f"(Cipher {version}:{cipher}:{bits})", True
    if family == "exim-local":
        return "local-esmtps", f"(tls_cipher {version}:{cipher}:{bits})", True
    if family == "courier":
        tls = f"TLS: {version}{sep}{bits}bits{sep}{cipher}"  # "," or ", " as Courier writes
        return "esmtp", f"(AUTH: LOGIN someone, {tls})", True
    if family == "sendmail":
        return "ESMTP", f"(version={version} cipher={cipher} bits={bits}/{bits})", True
    if family == "mimecast":
        return "ESMTP", "(Using TLS)", False
    if family == "ironport":
        return f"ESMTP/TLS/{cipher}", "", False
    return "ESMTP-TLS", "", False  # CommuniGate Pro


FAMILIES = st.sampled_from(
    [
        "postfix",
        "exim-colons",
        "exim3",
        "exim-local",
        "courier",
        "sendmail",
        "mimecast",
        "ironport",
        "communigate",
    ]
)


@st.composite
def received_fields(draw: st.DrawFn) -> Generated:
    family, place = draw(FAMILIES), draw(PLACES)
    helo, rdns, by, address = draw(HOSTS), draw(HOSTS), draw(HOSTS), draw(IPV4)
    version, cipher, bits = draw(VERSIONS), draw(CIPHERS), draw(BITS)
    date = draw(DATES).astimezone(draw(OFFSETS))
    sep = draw(st.sampled_from([",", ", "]))
    keyword, comment, detailed = _statement(family, version, cipher, bits, sep)
    parts: dict[str, list[str]] = {
        "from": ["from", helo, f"({rdns}", f"[{address}])"],
        "by": ["by", by],
        "with": ["with", keyword],
        "id": ["id", "1x2Y3z-0004Ab-Cd;"],
        "date": [format_datetime(date)],
    }
    if comment:
        parts[place].append(comment)
    words = [w for name in ("from", "by", "with", "id", "date") for w in parts[name]]
    folds = draw(FOLDS)
    value = words[0]
    for i, word in enumerate(words[1:]):
        value += folds[i % len(folds)] + word
    carries_cipher = detailed or family == "ironport"
    return Generated(
        value=value,
        by=by,
        address=address,
        keyword=keyword,
        cipher=cipher if carries_cipher else None,
        version=version if detailed else None,
        bits=bits if detailed else None,
        date=date,
    )


@settings(max_examples=300, deadline=None)
@given(received_fields())
def test_generated_fields_read_back_into_their_facts(field: Generated) -> None:
    hop = parse_received(field.value)
    assert hop.tls.encrypted is True  # every family states TLS, wherever its comment sits
    assert hop.with_protocol == field.keyword
    assert hop.by_host == field.by and hop.from_address == field.address
    assert hop.id == "1x2Y3z-0004Ab-Cd"
    assert hop.date == field.date
    assert hop.tls.cipher == field.cipher
    assert hop.tls.bits == field.bits
    assert hop.tls.version == normalise_tls_version(field.version)
    unreadable = field.version is not None and normalise_tls_version(field.version) is None
    assert hop.tls_version_text == (field.version if unreadable else None)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["SMTP", "ESMTP", "ESMTPA", "LMTP", "LMTPA", "esmtp"]),
    HOSTS,
    HOSTS,
    IPV4,
    FOLDS,
)
def test_a_plain_keyword_without_a_tls_statement_is_cleartext(
    keyword: str, helo: str, by: str, address: str, folds: list[str]
) -> None:
    words = ["from", helo, f"([{address}])", "by", by, "with", keyword, "id", "abc;"]
    value = words[0] + "".join(f + w for f, w in zip(folds, words[1:], strict=False))
    hop = parse_received(value + " Mon, 10 Jun 2024 12:34:56 +0000")
    assert hop.tls.encrypted is False and hop.with_protocol == keyword
