"""The recommendation table ("why these grades", shown by the journey panel and `mua trace`)
says what `grade_leg` does: for each leg below, the column it names is the one whose grade
the leg gets (recommended green, acceptable amber, bad red)."""

from __future__ import annotations

import pytest

from mua.core import grade_text
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy

_COLUMN = {Grade.GREEN: "recommended", Grade.AMBER: "acceptable", Grade.RED: "bad"}


def _tls(mode: TlsMode, by: VerifiedBy | None = VerifiedBy.PKI) -> TlsFacts:
    return TlsFacts(True, mode, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, True, by)


def _leg(a: Role, b: Role, tls: TlsFacts, protocol: Protocol, port: int | None = None) -> Leg:
    return Leg(Endpoint(a, "x.test"), Endpoint(b, "y.test"), protocol, tls, Source.OBSERVED, port)


def _relay(by: VerifiedBy) -> Leg:
    return _leg(Role.MTA, Role.MX, _tls(TlsMode.STARTTLS, by), Protocol.SMTP)


def _row(leg: str) -> grade_text.WhyRow:
    return next(r for r in grade_text.WHY_ROWS if r.leg == leg)


@pytest.mark.parametrize(
    ("row", "leg", "words"),
    [
        # a handoff to another host (a smarthost) over TLS is amber, in clear red
        ("handoff", _leg(Role.MSA, Role.MTA, _tls(TlsMode.STARTTLS), Protocol.SMTP), "TLS"),
        ("handoff", _leg(Role.MSA, Role.MTA, TlsFacts.cleartext(), Protocol.SMTP), "cleartext"),
        # only DANE or MTA-STS makes a relay green; the web PKI alone (REQUIRETLS or not) amber
        ("relay", _relay(VerifiedBy.DANE), "DANE"),
        ("relay", _relay(VerifiedBy.MTA_STS), "MTA-STS"),
        ("relay", _relay(VerifiedBy.PKI), "web PKI"),
        # POP3 is graded as IMAP is: 995 green, STLS on 110 amber
        ("retrieval", _leg(Role.MS, Role.MUA, _tls(TlsMode.IMPLICIT), Protocol.POP3, 995), "995"),
        ("retrieval", _leg(Role.MS, Role.MUA, _tls(TlsMode.STARTTLS), Protocol.POP3, 110), "110"),
        ("retrieval", _leg(Role.MS, Role.MUA, _tls(TlsMode.IMPLICIT), Protocol.IMAP, 993), "993"),
    ],
)  # fmt: skip
def test_the_table_names_each_leg_in_the_column_of_its_grade(
    row: str, leg: Leg, words: str
) -> None:
    column = _COLUMN[leg.grade]
    assert words in getattr(_row(row), column), (row, leg.grade, column)
