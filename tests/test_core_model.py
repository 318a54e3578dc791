"""The core model: TLS version names, the grading table, the JSON contract."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mua.core.legs import (
    Endpoint,
    Grade,
    Leg,
    Outcome,
    Protocol,
    Role,
    Source,
    Trace,
    TraceStatus,
)
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy, normalise_tls_version


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TLSv1.3", "TLSv1.3"),
        ("TLS1_3", "TLSv1.3"),
        ("TLS1.3", "TLSv1.3"),
        ("tlsv1.2", "TLSv1.2"),
        ("TLSv1_2", "TLSv1.2"),
        ("TLS 1.1", "TLSv1.1"),
        ("TLSv1", "TLSv1.0"),
        ("TLSv1.0", "TLSv1.0"),
        ("TLSv1/SSLv3", None),
        ("SSLv3", None),
        ("TLSv1.4", None),
        ("", None),
        (None, None),
    ],
)
def test_versions_normalise_to_one_spelling(raw: str | None, expected: str | None) -> None:
    assert normalise_tls_version(raw) == expected


@given(st.text(max_size=40))
def test_normalisation_is_idempotent_and_total(raw: str) -> None:
    once = normalise_tls_version(raw)
    assert once is None or once in {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert normalise_tls_version(once) == once


def _tls(mode: TlsMode, verified: bool | None, by: VerifiedBy | None = VerifiedBy.PKI) -> TlsFacts:
    return TlsFacts(True, mode, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, verified, by)


def _leg(a: Role, b: Role, tls: TlsFacts, protocol: Protocol = Protocol.SMTP, port=None) -> Leg:
    return Leg(Endpoint(a, "x.test"), Endpoint(b, "y.test"), protocol, tls, Source.OBSERVED, port)


@pytest.mark.parametrize(
    ("leg", "grade"),
    [
        # submission: RFC 8314 prefers implicit TLS
        (_leg(Role.MUA, Role.MSA, _tls(TlsMode.IMPLICIT, True)), Grade.GREEN),
        (_leg(Role.MUA, Role.MSA, _tls(TlsMode.STARTTLS, True)), Grade.AMBER),
        (_leg(Role.MUA, Role.MSA, _tls(TlsMode.IMPLICIT, False, None)), Grade.RED),
        (_leg(Role.MUA, Role.MSA, TlsFacts.cleartext()), Grade.RED),
        (_leg(Role.MUA, Role.MSA, _tls(TlsMode.UNKNOWN, True), port=465), Grade.GREEN),
        # relay: only a policy makes it green
        (_leg(Role.MTA, Role.MX, _tls(TlsMode.STARTTLS, True, VerifiedBy.DANE)), Grade.GREEN),
        (_leg(Role.MTA, Role.MX, _tls(TlsMode.STARTTLS, True, VerifiedBy.MTA_STS)), Grade.GREEN),
        (_leg(Role.MTA, Role.MX, _tls(TlsMode.STARTTLS, True, VerifiedBy.PKI)), Grade.AMBER),
        (_leg(Role.MTA, Role.MX, _tls(TlsMode.STARTTLS, False, None)), Grade.AMBER),
        (_leg(Role.MTA, Role.MX, TlsFacts.cleartext()), Grade.RED),
        (_leg(Role.MTA, Role.MX, TlsFacts.unknown()), Grade.UNKNOWN),
        # handoff and delivery
        (_leg(Role.MSA, Role.MTA, TlsFacts.unknown(), Protocol.INTERNAL), Grade.INTERNAL),
        (_leg(Role.MX, Role.MDA, TlsFacts.cleartext(), Protocol.LMTP), Grade.RED),
        (_leg(Role.MX, Role.MDA, _tls(TlsMode.STARTTLS, None), Protocol.LMTP), Grade.AMBER),
        # retrieval
        (_leg(Role.MS, Role.MUA, _tls(TlsMode.IMPLICIT, True), Protocol.IMAP), Grade.GREEN),
        (_leg(Role.MS, Role.MUA, _tls(TlsMode.STARTTLS, True), Protocol.IMAP), Grade.AMBER),
    ],
)
def test_grading_follows_the_recommendation_table(leg: Leg, grade: Grade) -> None:
    assert leg.grade is grade


def test_same_host_lmtp_delivery_is_internal() -> None:
    leg = Leg(
        Endpoint(Role.MX, "mx.b.test"),
        Endpoint(Role.MDA, "MX.b.test."),
        Protocol.LMTP,
        TlsFacts.cleartext(),
        Source.RECORDED,
    )
    assert leg.grade is Grade.INTERNAL


def test_trace_json_has_the_documented_shape() -> None:
    leg = _leg(Role.MUA, Role.MSA, _tls(TlsMode.IMPLICIT, True), Protocol.SUBMISSION, 465)
    trace = Trace(TraceStatus.DELIVERED, [leg], subject="Hi", message_id="<1@a.test>")
    data = trace.to_json()
    assert set(data) == {"status", "subject", "message_id", "legs", "content"}
    (only,) = data["legs"]
    assert set(only) == {
        "index",
        "from",
        "to",
        "protocol",
        "port",
        "tls",
        "grade",
        "source",
        "note",
        "auth",  # the client's own leg: how it signed in (None: not known here)
    }
    assert only["auth"] is None
    assert Leg.from_json(only | {"auth": "XOAUTH2"}).auth == "XOAUTH2"
    assert only["index"] == 1
    assert only["from"] == {"role": "MUA", "host": "x.test"}
    assert only["protocol"] == "SMTP-submission"
    assert only["port"] == {"role": 465, "actual": None}
    assert only["tls"] == {
        "encrypted": True,
        "mode": "implicit",
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "bits": 256,
        "verified": True,
        "verified_by": "pki",
    }
    assert only["grade"] == "green"
    assert only["source"] == "observed"


def test_tls_facts_round_trip_through_json() -> None:
    facts = _tls(TlsMode.STARTTLS, True, VerifiedBy.DANE)
    assert TlsFacts.from_json(facts.to_json()) == facts


@pytest.mark.parametrize(
    "tls",
    [TlsFacts.cleartext(), _tls(TlsMode.STARTTLS, False, VerifiedBy.DANE)],
    ids=["stripped", "intercepted"],
)
def test_a_refused_relay_leg_is_not_red(tls: TlsFacts) -> None:
    """strip-dane, intercept-dane: the policy stopped the session before MAIL FROM, so nothing
    of the message was exposed, whatever the attempt looked like; the outcome says it stayed."""
    attempt = _leg(Role.MTA, Role.MX, tls)
    refused = replace(attempt, outcome=Outcome.REFUSED)
    assert attempt.grade is not Grade.GREEN
    assert refused.grade is Grade.GREEN and refused.refused


def test_only_a_refused_leg_carries_an_outcome_in_json() -> None:
    sent = _leg(Role.MTA, Role.MX, TlsFacts.cleartext())
    refused = replace(sent, outcome=Outcome.REFUSED)
    assert "outcome" not in sent.to_json(1)
    data = refused.to_json(1)
    assert data["outcome"] == "refused" and data["grade"] == "green"
    assert Leg.from_json(data) == refused and Leg.from_json(sent.to_json(1)) == sent
