"""A message's journey from its headers: trust boundary, roles, observed legs, transport notes.

Names and addresses are documentation-only (RFC 2606, RFC 5737, RFC 3849) or the demo world's.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mua.core.authresults import AuthResult, parse_authentication_results
from mua.core.grade import grade_leg
from mua.core.journey import CLAIMED_NOTE, trace_from_headers, transport_notes
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source, TraceStatus
from mua.core.received import received_hops
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy
from mua.net.submission import Security
from mua.stack.provider_options import MxTls
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import send

DAY = "Mon, 10 Jun 2024"
USING = "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"


def received(value: str) -> tuple[str, str]:
    return ("Received", value)


# A message from dave@example.org (submitted at example.org) to carol@b.test, newest first.
LMTP_HOP = received(f"from mx.b.test by imap.b.test with LMTP id L3; {DAY} 12:00:07 +0000")
MX_HOP = received(
    f"from mail.example.org (mail.example.org [192.0.2.10]) {USING} by mx.b.test (Postfix) "
    f"with ESMTPS id M2 for <carol@b.test>; {DAY} 12:00:05 +0000"
)
MSA_HOP = received(
    f"from [192.0.2.200] (unknown [198.51.100.23]) {USING} (Authenticated sender: "
    f"dave@example.org) by smtp.example.org (Postfix) with ESMTPSA id S1; {DAY} 12:00:02 +0000"
)
CHAIN = [LMTP_HOP, ("Subject", "Lunch?"), ("Message-ID", "<m1@example.org>"), MX_HOP, MSA_HOP]


def sources(trace) -> list[str]:
    return [leg.source.value for leg in trace.legs]


def roles(trace) -> list[tuple[str, str, str]]:
    return [(leg.from_.role.value, leg.to.role.value, leg.protocol.value) for leg in trace.legs]


# -- the demo world: header-derived legs agree with the stack's own event log --------------


def _record(world: World, kind: str, message_id: str) -> dict:
    wanted = ("leg", kind, "server", message_id)
    for event in world.events.read():
        if (event["event"], event.get("leg"), event.get("side"), event.get("message_id")) == wanted:
            return event
    raise AssertionError(f"no server record of the {kind} leg")


async def _delivered(world: World, result_subject: str) -> email.message.EmailMessage:
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == result_subject
    # The MX writes its record of the relay just after handing the message to the MDA.
    relay = ("leg", "relay", "server", message["Message-ID"])
    await eventually(
        lambda: any(
            (e["event"], e.get("leg"), e.get("side"), e.get("message_id")) == relay
            for e in world.events.read()
        ),
        what="the MX's record of the relay",
    )
    return message


async def test_demo_world_message_agrees_with_the_event_log(world: World) -> None:
    result = await send(world, "alice@a.test", ["bob@b.test"], subject="Trace me")
    message = await _delivered(world, "Trace me")
    trace = trace_from_headers(message, own_hosts=["b.test"])

    assert trace.status is TraceStatus.PARSED
    assert (trace.subject, trace.message_id) == ("Trace me", message["Message-ID"])
    assert roles(trace) == [("MUA", "MSA", "SMTP-submission"), ("MTA", "MX", "SMTP")]
    assert sources(trace) == ["claimed", "recorded"]  # a.test is not bob's provider
    submission, relay = trace.legs
    msa_hop, mx_hop = received_hops(message)[::-1]
    assert (msa_hop.with_protocol, mx_hop.with_protocol) == ("ESMTPSA", "ESMTPS")
    assert (submission.to.host, relay.from_.host, relay.to.host) == (
        "smtp.a.test",
        "smtp.a.test",
        "mx.b.test",
    )
    assert submission.tls.version == "TLSv1.3" and submission.tls.cipher
    assert submission.tls.mode is TlsMode.UNKNOWN  # ESMTPSA: 465 or 587, the header can't say
    assert CLAIMED_NOTE in submission.note

    for leg, kind in ((submission, "submission"), (relay, "relay")):
        record = _record(world, kind, message["Message-ID"])
        assert leg.tls.encrypted is record["tls"]["encrypted"] is True
        assert leg.tls.version == record["tls"]["version"]
        assert leg.tls.cipher == record["tls"]["cipher"]
        assert leg.tls.bits == record["tls"]["bits"]
    assert relay.tls.mode.value == _record(world, "relay", message["Message-ID"])["tls"]["mode"]

    # The client's own observation of the submission replaces the header's claim.
    mine = Leg(
        Endpoint(Role.MUA, "laptop"),
        Endpoint(Role.MSA, "smtp.a.test"),
        Protocol.SUBMISSION,
        result.tls,
        Source.OBSERVED,
        port_role=result.port_role,
        port_actual=result.port_actual,
    )
    merged = trace_from_headers(message, own_hosts=["b.test"], observed=[mine])
    assert merged.legs == [mine, relay]
    assert merged.legs[0].grade is Grade.GREEN  # implicit TLS, verified by the client


async def test_demo_world_cleartext_relay_reads_as_cleartext(tmp_path: Path) -> None:
    options = fast_options(b_test={"mx_tls": MxTls.NONE})
    async with World(tmp_path / "world", options) as world:
        await send(
            world, "alice@a.test", ["bob@b.test"], subject="Clear", security=Security.STARTTLS
        )
        message = await _delivered(world, "Clear")
        relay = trace_from_headers(message, own_hosts=["b.test"]).legs[-1]
        record = _record(world, "relay", message["Message-ID"])
    assert relay.tls.encrypted is record["tls"]["encrypted"] is False
    assert relay.tls.mode is TlsMode.NONE
    assert relay.grade is Grade.RED


# -- trust boundary ---------------------------------------------------------------------------


def test_chain_into_the_provider_is_recorded_and_upstream_claimed() -> None:
    trace = trace_from_headers(CHAIN, own_hosts=["b.test"])
    assert roles(trace) == [
        ("MUA", "MSA", "SMTP-submission"),
        ("MTA", "MX", "SMTP"),
        ("MX", "MDA", "LMTP"),
    ]
    assert sources(trace) == ["claimed", "recorded", "recorded"]
    assert (trace.subject, trace.message_id) == ("Lunch?", "<m1@example.org>")
    claimed, entry, delivery = trace.legs
    assert claimed.note == CLAIMED_NOTE + ", including its TLS details."
    assert (
        entry.note
        == "Recorded by your provider's server mx.b.test; arrived 3 s after the previous hop."
    )
    assert delivery.note.endswith("arrived 2 s after the previous hop.")
    assert (entry.from_.host, entry.to.host) == ("mail.example.org", "mx.b.test")
    assert claimed.from_.host == "198.51.100.23"
    assert all(leg.port_role is None and leg.port_actual is None for leg in trace.legs)
    assert [leg.grade for leg in trace.legs] == [Grade.AMBER, Grade.AMBER, Grade.RED]


def test_without_own_hosts_only_the_topmost_header_is_recorded() -> None:
    assert sources(trace_from_headers(CHAIN)) == ["claimed", "claimed", "recorded"]


def test_own_hosts_match_case_insensitively_and_by_parent_domain() -> None:
    assert sources(trace_from_headers(CHAIN, own_hosts=["B.Test."])) == [
        "claimed",
        "recorded",
        "recorded",
    ]
    assert sources(trace_from_headers(CHAIN, own_hosts=["mx.b.test"])) == [
        "claimed",
        "recorded",
        "recorded",
    ]
    # "example.org" is not a parent of "notexample.org"
    assert sources(trace_from_headers(CHAIN, own_hosts=["ample.org"]))[0] == "claimed"


def test_when_the_user_sends_to_their_own_provider_everything_is_recorded() -> None:
    trace = trace_from_headers(CHAIN, own_hosts=["b.test", "example.org"])
    assert sources(trace) == ["recorded", "recorded", "recorded"]


def test_a_spoofed_helo_does_not_extend_the_boundary() -> None:
    spoofed = received(
        f"from mx.b.test (unknown [203.0.113.66]) by mx.b.test (Postfix) with ESMTP id X2; "
        f"{DAY} 12:00:05 +0000"
    )
    forged = received(f"from mx.b.test by mx.b.test with ESMTPS id X1; {DAY} 12:00:00 +0000")
    assert sources(trace_from_headers([spoofed, forged], own_hosts=["b.test"])) == [
        "claimed",
        "recorded",
    ]
    # A reverse name outside the provider wins over a HELO inside it.
    outside = received(
        f"from mx.b.test (host.example.net [203.0.113.66]) by mx.b.test with ESMTP id X3; "
        f"{DAY} 12:00:05 +0000"
    )
    assert sources(trace_from_headers([outside, forged], own_hosts=["b.test"]))[0] == "claimed"


def test_content_filter_loop_on_localhost_stays_inside() -> None:
    headers = [
        received(f"from mx.b.test by imap.b.test with LMTP id 4; {DAY} 12:00:09 +0000"),
        received(
            f"from localhost (localhost [127.0.0.1]) by mx.b.test (Postfix) with ESMTP id 3; "
            f"{DAY} 12:00:08 +0000"
        ),
        received(
            f"from mx.b.test ([127.0.0.1]) by localhost (amavisd-new, port 10024) with ESMTP "
            f"id 2; {DAY} 12:00:07 +0000"
        ),
        MX_HOP,
        MSA_HOP,
    ]
    trace = trace_from_headers(headers, own_hosts=["b.test"])
    assert sources(trace) == ["claimed", "recorded", "recorded", "recorded", "recorded"]
    assert roles(trace) == [
        ("MUA", "MSA", "SMTP-submission"),
        ("MTA", "MX", "SMTP"),
        ("MX", "MX", "SMTP"),
        ("MX", "MX", "SMTP"),
        ("MX", "MDA", "LMTP"),
    ]
    assert trace.legs[2].grade is Grade.RED  # ESMTP in clear, even inside the provider
    assert trace.legs[2].note.endswith("arrived 2 s after the previous hop.")


def test_internal_hops_that_name_no_sender_pass_the_chain_on() -> None:
    headers = [
        received(f"by 2001:db8:6a10::1 with SMTP id g2; {DAY} 05:34:57 -0700 (PDT)"),
        received(
            "from mail.example.org (mail.example.org. [192.0.2.10]) by mx.mail.example.com "
            "with ESMTPS id g1 for <judy@example.com> "
            f"(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); {DAY} 05:34:56 -0700"
        ),
    ]
    trace = trace_from_headers(headers, own_hosts=["mail.example.com"])
    assert sources(trace) == ["recorded", "recorded"]
    assert trace.legs[0].tls.version == "TLSv1.3"


def test_a_claimed_header_claiming_tls_is_shown_as_a_claim() -> None:
    leg = trace_from_headers([LMTP_HOP, MX_HOP], own_hosts=["imap.b.test"]).legs[0]
    assert leg.source is Source.CLAIMED and leg.tls.encrypted
    assert leg.note.startswith(CLAIMED_NOTE + ", including its TLS details")
    assert leg.to_json(1)["source"] == "claimed"


# -- roles and protocols ------------------------------------------------------------------------


def test_relays_inside_one_organisation_and_between_two() -> None:
    headers = [
        received(
            f"from out.example.org (out.example.org [192.0.2.30]) by mx.b.test with ESMTPS "
            f"id 3; {DAY} 12:00:06 +0000"
        ),
        received(
            f"from smtp.example.org (smtp.example.org [192.0.2.20]) by out.example.org "
            f"with ESMTPS id 2; {DAY} 12:00:04 +0000"
        ),
        MSA_HOP,
    ]
    assert roles(trace_from_headers(headers, own_hosts=["b.test"])) == [
        ("MUA", "MSA", "SMTP-submission"),
        ("MTA", "MTA", "SMTP"),
        ("MTA", "MX", "SMTP"),
    ]


def test_a_bare_relay_hop_is_mta_to_mx() -> None:
    assert roles(trace_from_headers([MX_HOP], own_hosts=["b.test"])) == [("MTA", "MX", "SMTP")]


def test_client_protocols_at_the_origin_are_submission() -> None:
    http = received(f"by 2001:db8::2 with HTTP; {DAY} 05:34:40 -0700")
    trace = trace_from_headers([http])
    assert roles(trace) == [("MUA", "MSA", "SMTP-submission")]
    assert trace.legs[0].grade is Grade.UNKNOWN
    assert "over HTTP" in trace.legs[0].note and "does not say whether TLS" in trace.legs[0].note
    mapi = received(
        "from DB7PR01MB1234.prod.example.com ([2001:db8::1c2b%5]) by DB7PR01MB1234.prod."
        f"example.com ([2001:db8::1c2b%5]) with mapi id 15.20.7633.021; {DAY} 12:00:00 +0000"
    )
    assert roles(trace_from_headers([mapi])) == [("MUA", "MSA", "SMTP-submission")]
    local = received(
        f"from frank by host.example.org with local (Exim 4.96) id 1; {DAY} 12:00:00 +0000"
    )
    leg = trace_from_headers([local]).legs[0]
    assert (leg.from_.role, leg.protocol, leg.grade) == (
        Role.MUA,
        Protocol.INTERNAL,
        Grade.INTERNAL,
    )


def test_lmtp_then_local_delivery_is_mx_to_mda_to_ms() -> None:
    headers = [
        received(f"from imap.b.test by imap.b.test with local id 5; {DAY} 12:00:09 +0000"),
        received(
            f"from mx.b.test ([192.0.2.50]) {USING} by imap.b.test with LMTPS id 4; "
            f"{DAY} 12:00:08 +0000"
        ),
        MX_HOP,
    ]
    trace = trace_from_headers(headers, own_hosts=["b.test"])
    assert roles(trace)[1:] == [("MX", "MDA", "LMTP"), ("MDA", "MS", "internal")]
    assert [leg.grade for leg in trace.legs[1:]] == [Grade.AMBER, Grade.INTERNAL]
    same_host = received(f"from imap.b.test by imap.b.test with LMTP id 6; {DAY} 12:00:08 +0000")
    assert trace_from_headers([same_host, MX_HOP]).legs[-1].grade is Grade.INTERNAL


def test_every_leg_is_graded_by_the_one_grading_function() -> None:
    for leg in trace_from_headers(CHAIN, own_hosts=["b.test"]).legs:
        assert leg.grade is grade_leg(leg)


# -- observed legs ------------------------------------------------------------------------------


def _observed(a: Role, b: Role, protocol: Protocol, port: int) -> Leg:
    facts = TlsFacts(True, TlsMode.IMPLICIT, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, True)
    facts = facts.with_verification(True, VerifiedBy.PKI)
    return Leg(Endpoint(a, "x.test"), Endpoint(b, "y.test"), protocol, facts, Source.OBSERVED, port)


SUBMITTED = _observed(Role.MUA, Role.MSA, Protocol.SUBMISSION, 465)
RETRIEVED = _observed(Role.MS, Role.MUA, Protocol.IMAP, 993)


def test_observed_submission_replaces_the_header_leg_and_retrieval_goes_last() -> None:
    trace = trace_from_headers(CHAIN, own_hosts=["b.test"], observed=[RETRIEVED, SUBMITTED])
    assert trace.legs[0] is SUBMITTED and trace.legs[-1] is RETRIEVED
    assert sources(trace) == ["observed", "recorded", "recorded", "observed"]
    assert [leg.grade for leg in trace.legs][::3] == [Grade.GREEN, Grade.GREEN]


def test_observed_submission_goes_first_when_no_header_shows_it() -> None:
    trace = trace_from_headers([LMTP_HOP, MX_HOP], own_hosts=["b.test"], observed=[SUBMITTED])
    assert roles(trace)[0] == ("MUA", "MSA", "SMTP-submission")
    assert len(trace.legs) == 3


def test_other_observed_legs_go_after_their_kind() -> None:
    handoff = Leg(
        Endpoint(Role.MSA, "smtp.example.org"),
        Endpoint(Role.MTA, "smtp.example.org"),
        Protocol.INTERNAL,
        TlsFacts.unknown(),
        Source.OBSERVED,
    )
    trace = trace_from_headers(CHAIN, own_hosts=["b.test"], observed=[handoff])
    assert [leg.kind.value for leg in trace.legs] == ["submission", "handoff", "relay", "delivery"]


def test_observed_legs_without_headers() -> None:
    trace = trace_from_headers([], observed=[SUBMITTED, RETRIEVED])
    assert trace.legs == [SUBMITTED, RETRIEVED]


# -- JSON ---------------------------------------------------------------------------------------


def test_json_has_the_documented_shape() -> None:
    data = trace_from_headers(CHAIN, own_hosts=["b.test"], observed=[RETRIEVED]).to_json()
    assert set(data) == {"status", "subject", "message_id", "legs", "content"}
    assert data["status"] == "parsed"
    for index, leg in enumerate(data["legs"], start=1):
        from_header = {"with", "header"} if leg["source"] != "observed" else set()
        client = {"auth"} if leg["source"] == "observed" else set()  # the client's own legs
        assert set(leg) == {
            "index", "from", "to", "protocol", "port", "tls", "grade", "source", "note"
        } | from_header | client  # fmt: skip
        assert leg["index"] == index
        assert set(leg["from"]) == set(leg["to"]) == {"role", "host"}
        assert set(leg["port"]) == {"role", "actual"}
        assert set(leg["tls"]) == {
            "encrypted", "mode", "version", "cipher", "bits", "verified", "verified_by"
        }  # fmt: skip
        assert leg["protocol"] in {"SMTP-submission", "SMTP", "LMTP", "internal", "IMAP"}
        assert leg["tls"]["mode"] in {"implicit", "starttls", "none", "unknown"}
        assert leg["grade"] in {"green", "amber", "red", "internal", "unknown"}
        assert leg["source"] in {"observed", "recorded", "claimed"}
        assert leg["source"] == "observed" or leg["note"].endswith(".")
    assert data["legs"][1]["tls"]["version"] == "TLSv1.3"


# -- transport notes ----------------------------------------------------------------------------

OWN_AR = (
    "Authentication-Results",
    "mx.b.test;\r\n\tspf=pass (sender SPF authorized) smtp.mailfrom=dave@example.org;\r\n"
    "\tdkim=pass header.d=example.org header.s=sel1 header.b=AbCd1234;\r\n"
    '\tdmarc=pass (p=reject dis=none) header.from=example.org; arc=none reason="no seal"',
)
FOREIGN_AR = ("Authentication-Results", "relay.example.net; spf=fail smtp.mailfrom=x@y.test")
FORGED_AR = ("Authentication-Results", "mx.b.test; dkim=pass header.d=bank.example")


def test_transport_notes_keep_only_the_own_providers_results() -> None:
    headers = [LMTP_HOP, OWN_AR, FOREIGN_AR, MX_HOP, ("TLS-Required", " No "), MSA_HOP, FORGED_AR]
    notes = transport_notes(headers, ["b.test"])
    assert notes.tls_required_no is True
    assert [a.authserv_id for a in notes.authentication] == ["mx.b.test"]  # forged one is below
    results = notes.authentication[0].results
    assert [(r.method, r.result) for r in results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
        ("arc", "none"),
    ]
    assert results[1].properties == {
        "header.d": "example.org",
        "header.s": "sel1",
        "header.b": "AbCd1234",
    }
    assert results[3].reason == "no seal"
    assert notes.delays == (None, 3.0, 2.0)
    assert notes.to_json()["authentication_results"][0]["results"][0]["method"] == "spf"


def test_transport_notes_without_own_hosts_trust_the_topmost_writer() -> None:
    headers = [MX_HOP, OWN_AR, FOREIGN_AR, MSA_HOP]
    assert [a.authserv_id for a in transport_notes(headers).authentication] == ["mx.b.test"]
    assert transport_notes([]).to_json() == {
        "tls_required_no": False,
        "authentication_results": [],
        "delays": [],
    }
    assert transport_notes([("TLS-Required", "Yes")]).tls_required_no is False


def test_authentication_results_forms() -> None:
    assert parse_authentication_results("mx.example.com 1; none").results == ()
    parsed = parse_authentication_results(
        "mx.example.com; auth=pass (cram-md5) smtp.auth=sender@example.com; "
        'dkim/1=fail reason="signature (body) changed" header.i=@example.org'
    )
    assert parsed is not None
    assert parsed.results == (
        AuthResult("auth", "pass", None, {"smtp.auth": "sender@example.com"}),
        AuthResult("dkim", "fail", "signature (body) changed", {"header.i": "@example.org"}),
    )
    assert parse_authentication_results("") is None
    assert parse_authentication_results("spf=pass smtp.mailfrom=x@example.org") is None


def test_delay_notes_in_readable_units() -> None:
    def note(later: str) -> str:
        newer = received(f"from mx.b.test by imap.b.test with LMTP id 2; {later}")
        return trace_from_headers([newer, MX_HOP], own_hosts=["b.test"]).legs[-1].note

    assert note(f"{DAY} 12:00:05 +0000").endswith("arrived within a second of the previous hop.")
    assert note(f"{DAY} 12:10:05 +0000").endswith("arrived 10 min after the previous hop.")
    assert note(f"{DAY} 15:00:05 +0000").endswith("arrived 3 h after the previous hop.")
    assert note("Fri, 14 Jun 2024 12:00:05 +0000").endswith(
        "arrived 4 days after the previous hop."
    )
    assert "30 s before the previous hop" in note(f"{DAY} 11:59:35 +0000")
    assert "previous hop" not in note("no date at all")


def test_a_message_with_raw_bytes_and_a_broken_address_still_traces() -> None:
    raw = (
        b"Received: from mx.b.test by imap.b.test with LMTP id 2;\r\n"
        b" Mon, 10 Jun 2024 12:00:02 +0000\r\n"
        b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
        b"\tby mx.b.test with ESMTPS id 1; Mon, 10 Jun 2024 12:00:01 +0000\r\n"
        b'From: "Unclosed <@@@>,,,\r\n'
        b"Subject: Caf\xc3\xa9 =?utf-8?q?cr=C3=A8me?=\r\n\r\nbody\r\n"
    )
    for policy in (email.policy.compat32, email.policy.default):
        message = email.message_from_bytes(raw, policy=policy)
        trace = trace_from_headers(message, own_hosts=["b.test"])
        assert sources(trace) == ["recorded", "recorded"]
        assert trace.subject is not None and trace.subject.startswith("Caf\u00e9")


# -- properties ---------------------------------------------------------------------------------

_VALUES = st.one_of(
    st.sampled_from([v for _, v in CHAIN if _.lower() == "received"]),
    st.text(max_size=80),
)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(_VALUES, max_size=6),
    own=st.lists(st.sampled_from(["b.test", "example.org", "", "[192.0.2.1]", "x"]), max_size=3),
)
def test_any_headers_give_a_trace_with_the_boundary_at_the_top(values, own) -> None:
    headers = [received(v) for v in values]
    trace = trace_from_headers(headers, own_hosts=own)
    assert len(trace.legs) == len(values)
    marks = sources(trace)
    # oldest first: some claimed legs, then the recorded ones up to the top
    assert marks == sorted(marks, key=lambda s: s == "recorded")
    assert not values or marks[-1] == "recorded"
    trace.to_json()
    transport_notes(headers, own).to_json()


@given(st.text(max_size=200))
def test_authentication_results_never_crash(text: str) -> None:
    parse_authentication_results(text)


def test_hostile_long_authentication_results_are_read_only_so_far() -> None:
    for unit in ("a", "a.", " a", "= ", '"', "\\"):
        parse_authentication_results("mx.b.test; " + unit * 500_000)
