"""ENVELOPE, BODYSTRUCTURE and BODY[section] as the IMAP server serves them, read back by
imapclient's own response parser (the client mua uses)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response
from imapclient.response_types import Address, BodyData

from mua.stack.imap.arguments import Section
from mua.stack.imap.envelope import envelope
from mua.stack.imap.message_parts import crlf
from mua.stack.imap.render import bodystructure, section, summarize
from tests.test_imap_protocol import imaplib_records

MIXED = b"""\
Return-Path: <jane@example.com>
Received: from mail.example.com (mail.example.com [192.0.2.10])
\tby mx.example.org with ESMTPS id 4XyZ; Tue, 1 Jul 2025 10:00:02 +0200
From: "Doe, Jane" <jane@example.com>, =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>
To: team: alice@a.test, Bob <bob@b.test>;, carol@example.org (Carol C)
Subject: =?UTF-8?B?UXVhcnRlcmx5?= report
 and minutes
Date: Tue, 1 Jul 2025 10:00:00 +0200
Message-ID: <20250701080000.4711@example.com>
In-Reply-To: <prev@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_outer"

This is a multi-part message in MIME format.
--=_outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hello team,
numbers attached.
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Hello team,</p>
--inner--

--=_outer
Content-Type: application/pdf; name="q3.pdf"
Content-Disposition: attachment; filename="q3.pdf"; size=9
Content-Transfer-Encoding: base64
Content-ID: <q3@example.com>
Content-Description: Q3 numbers

JVBERi0xLjQK
--=_outer
Content-Type: message/rfc822
Content-Disposition: inline

From: Carol <carol@example.org>
To: jane@example.com
Subject: minutes
Date: Mon, 30 Jun 2025 17:00:00 -0400
Content-Type: text/plain

The minutes.
--=_outer--
""".replace(b"\n", b"\r\n")


def fetch(summary: dict[str, Any]) -> dict[bytes, Any]:
    """The summary as a FETCH response, parsed by imapclient."""
    wire = b"* 1 FETCH (ENVELOPE %s BODYSTRUCTURE %s BODY %s)" % (
        summary["envelope"].encode(),
        summary["bodystructure"].encode(),
        summary["body"].encode(),
    )
    return parse_fetch_response(imaplib_records(wire[len(b"* ") :].replace(b" FETCH", b"", 1)))[1]


def test_envelope_of_a_real_world_message() -> None:
    env = fetch(summarize(MIXED))[b"ENVELOPE"]
    assert env.subject == b"=?UTF-8?B?UXVhcnRlcmx5?= report and minutes"  # unfolded, still encoded
    assert env.date is not None and env.date.year == 2025
    assert env.from_ == (
        Address(b"Doe, Jane", None, b"jane", b"example.com"),
        Address(b"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=", None, b"joerg", b"example.com"),
    )
    assert env.sender == env.from_ and env.reply_to == env.from_  # RFC 3501 7.4.2 defaults
    assert env.to == (
        Address(None, None, b"team", None),  # group start
        Address(None, None, b"alice", b"a.test"),
        Address(b"Bob", None, b"bob", b"b.test"),
        Address(None, None, None, None),  # group end
        Address(b"Carol C", None, b"carol", b"example.org"),
    )
    assert env.cc is None and env.bcc is None
    assert env.in_reply_to == b"<prev@example.com>"
    assert env.message_id == b"<20250701080000.4711@example.com>"


def test_bodystructure_of_mixed_alternative_attachment_and_message() -> None:
    parsed = fetch(summarize(MIXED))
    body = parsed[b"BODYSTRUCTURE"]
    assert body.is_multipart
    alternative, pdf, attached = body[0]
    assert body[1:] == (b"mixed", (b"boundary", b"=_outer"), None, None, None)
    plain, html = alternative[0]
    assert alternative[1:] == (b"alternative", (b"boundary", b"inner"), None, None, None)
    assert plain[:8] == (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"8bit", 30, 2)
    assert html[:8] == (b"text", b"html", (b"charset", b"utf-8"), None, None,
                        b"quoted-printable", 18, 1)  # fmt: skip
    disposition = (b"attachment", (b"filename", b"q3.pdf", b"size", b"9"))
    assert pdf == (b"application", b"pdf", (b"name", b"q3.pdf"), b"<q3@example.com>",
                   b"Q3 numbers", b"base64", 12, None, disposition, None, None)  # fmt: skip
    assert attached[:7] == (b"message", b"rfc822", None, None, None, b"7bit", 152)
    assert attached[7][1] == b"minutes"  # its envelope
    assert attached[8][:8] == (b"text", b"plain", (b"charset", b"us-ascii"), None, None,
                               b"7bit", 12, 1)  # fmt: skip
    assert attached[9] == 7 and attached[11] == (b"inline", None)
    # BODY is the same tree without extension data.
    plain_body = parsed[b"BODY"][0][0][0][0]
    assert plain_body == plain[:8]
    assert parsed[b"BODY"][0][1] == pdf[:7]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (Section((1, 1)), b"Hello team,\r\nnumbers attached."),
        (Section((1, 2), "MIME"),
         b"Content-Type: text/html; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"),
        (Section((2,)), b"JVBERi0xLjQK"),
        (Section((3, 1)), b"The minutes."),
        (Section((3,), "TEXT"), b"The minutes."),
        (Section((3,), "HEADER.FIELDS", ("SUBJECT",)), b"Subject: minutes\r\n\r\n"),
        (Section((), "HEADER.FIELDS", ("SUBJECT", "X-NONE")),
         b"Subject: =?UTF-8?B?UXVhcnRlcmx5?= report\r\n and minutes\r\n\r\n"),
        (Section((9,)), None),
        (Section((2, 1)), None),
        (Section((2,), "HEADER"), None),
        (Section((1, 3)), None),
    ],
)  # fmt: skip
def test_sections(spec: Section, expected: bytes | None) -> None:
    assert section(MIXED, spec) == expected


def test_whole_header_and_text_sections() -> None:
    header, text = section(MIXED, Section((), "HEADER")), section(MIXED, Section((), "TEXT"))
    assert header is not None and text is not None
    assert header.endswith(b'boundary="=_outer"\r\n\r\n')
    assert header + text == MIXED == section(MIXED, Section())
    assert (
        section(MIXED, Section((3,))) == section(MIXED, Section((3,), "HEADER")) + b"The minutes."
    )
    not_received = section(MIXED, Section((), "HEADER.FIELDS.NOT", ("RECEIVED", "RETURN-PATH")))
    assert not_received is not None and not_received.startswith(b"From: ")
    assert b"Received" not in not_received and not_received.endswith(b"\r\n\r\n")


def test_partial() -> None:
    assert section(MIXED, Section((2,)), (4, 4)) == b"Ri0x"
    assert section(MIXED, Section((2,)), (100, 4)) == b""


def test_single_part_message_is_its_own_part_one() -> None:
    message = b"Subject: hi\nFrom: a@a.test\n\nline one\nline two\n"  # bare LF, as tools write it
    assert section(message, Section((1,))) == b"line one\r\nline two\r\n"
    assert section(message, Section((1,), "MIME")) == b"Subject: hi\r\nFrom: a@a.test\r\n\r\n"
    assert section(message, Section((1,), "HEADER")) is None  # not a message/rfc822 part
    assert section(message, Section((2,))) is None
    summary = summarize(message)
    assert summary == summarize(crlf(message))
    body = fetch(summary)[b"BODYSTRUCTURE"]
    assert body[:8] == (b"text", b"plain", (b"charset", b"us-ascii"), None, None, b"7bit", 20, 2)
    assert summary["header"] == "Subject: hi\r\nFrom: a@a.test\r\n\r\n"
    assert summary["sent"] is None


def test_message_without_a_body() -> None:
    message = b"Subject: only a header\r\nFrom: x@y.test"
    assert section(message, Section((), "HEADER")) == message
    assert section(message, Section((), "TEXT")) == b""
    # The blank line ends every header fetch (RFC 3501 section 6.4.5).
    assert section(message, Section((), "HEADER.FIELDS", ("FROM",))) == b"From: x@y.test\r\n\r\n"


A, MISSING = Address, b".MISSING-HOST-NAME."  # UW/Dovecot's stand-in for a missing host


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"From: <@relay.test,@hub.test:joe@c.test>",
         [A(None, b"@relay.test,@hub.test", b"joe", b"c.test")]),
        (b"From: bob", [A(None, None, b"bob", MISSING)]),
        (b'From: "john doe"@example.com', [A(None, None, b'"john doe"', b"example.com")]),
        (b"From: John Q. Public <jqp@example.com>",
         [A(b"John Q. Public", None, b"jqp", b"example.com")]),
        (b"From: undisclosed-recipients:;",
         [A(None, None, b"undisclosed-recipients", None), A(None, None, None, None)]),
        (b"From: a@b.test (The (nested) comment)",
         [A(b"The (nested) comment", None, b"a", b"b.test")]),
        (b'From: "unterminated <x@y.test>',
         [A(None, None, b'"unterminated <x@y.test>"', MISSING)]),
        (b"From: <>", None),
        (b"From: ,,,", None),
        (b"From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
         [A(b"=?ISO-8859-1?Q?Andr=E9?= Pirard", None, b"PIRARD", b"vm1.ulg.ac.be")]),
    ],
)  # fmt: skip
def test_address_forms(header: bytes, expected: list[Address] | None) -> None:
    env = fetch(summarize(header + b"\r\n\r\nbody"))[b"ENVELOPE"]
    assert env.from_ == (tuple(expected) if expected else None)


def test_envelope_without_headers_is_all_nil() -> None:
    env = fetch(summarize(b"\r\njust a body"))[b"ENVELOPE"]
    assert (env.date, env.subject, env.from_, env.to, env.message_id) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert envelope(b"Subject:\r\n\r\n").startswith('(NIL "" NIL')


def test_8bit_headers_come_out_as_literals() -> None:
    summary = summarize(b"Subject: caf\xc3\xa9 \xff\r\nFrom: J\xc3\xb6rg <j@x.test>\r\n\r\nhi")
    env = fetch(summary)[b"ENVELOPE"]
    assert env.subject == "café \ufffd".encode()
    assert env.from_[0].name == "Jörg".encode()


def test_extension_fields() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=b\r\nContent-Language: en, de-CH\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Language: fr\r\n"
        b"Content-Location: http://example.com/a.txt\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt\r\n\r\nx\r\n--b--\r\n"
    )
    body = fetch(summarize(message))[b"BODYSTRUCTURE"]
    part = body[0][0]
    disposition = (b"attachment", (b"filename*", b"utf-8''%E2%82%AC.txt"))  # RFC 2231, raw
    assert part[8:] == (
        b"Q2hlY2sgSW50ZWdyaXR5IQ==",
        disposition,
        b"fr",
        b"http://example.com/a.txt",
    )
    assert body[1:] == (b"mixed", (b"boundary", b"b"), None, (b"en", b"de-CH"), None)


def test_types_and_names_keep_the_spelling_of_the_message() -> None:
    # As Dovecot does; media types and parameter names compare case-insensitively.
    structure = bodystructure(b"Content-Type: TEXT/Plain; CharSet=UTF-8\r\n\r\nx")
    assert structure.startswith('("TEXT" "Plain" ("CharSet" "UTF-8") NIL NIL "7bit" 1 1')


def test_odd_mime_degrades_to_something_a_client_can_read() -> None:
    digest = bodystructure(
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nA\r\n--d--"
    )
    assert '("message" "rfc822"' in digest  # RFC 2046 5.1.5 default in a digest
    no_close = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n"
    )
    assert section(no_close, Section((2,))) == b"two\r\n"
    no_boundary = bodystructure(b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\none\r\n")
    assert no_boundary.startswith('("text" "plain" ("charset" "us-ascii")')
    no_parts = bodystructure(b"Content-Type: multipart/mixed; boundary=b\r\n\r\nnothing here\r\n")
    assert no_parts.startswith('(("text" "plain"')
    encoded = bodystructure(
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdA==\r\n"
    )
    assert encoded.startswith('("application" "octet-stream"')
    bad_type = bodystructure(b"Content-Type: garbage\r\n\r\nx")
    assert bad_type.startswith('("text" "plain" ("charset" "us-ascii")')


def test_deep_nesting_is_cut_off() -> None:
    message = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(60)
    )
    summary = summarize(message + b"\r\nleaf\r\n")
    assert summary["bodystructure"].count('"mixed"') == 32
    assert fetch(summary)[b"BODYSTRUCTURE"].is_multipart


def test_summary_sent_date() -> None:
    assert summarize(b"Date: Tue, 1 Jul 2025 10:00:00 +0200\r\n\r\n")["sent"] == 1751356800.0
    assert summarize(b"Date: 1 Jul 2025 10:00:00 -0000\r\n\r\n")["sent"] == 1751364000.0
    for bad in (b"Date: yesterday", b"Date: Tue, 99 Foo 2025 99:99:99 +9999", b"Date:"):
        assert summarize(bad + b"\r\n\r\n")["sent"] is None


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from([b"From: ", b"To: a@b, ", b"(", b")", b'"', b"<", b">", b"@", b":",
                             b";", b",", b"\r\n", b"\n", b"\r\n\r\n", b" ", b"\xff", b"=?x?=",
                             b"Content-Type: multipart/mixed; boundary=b", b"--b", b"--b--",
                             b"Content-Type: message/rfc822", b"\\", b"Subject: s", b"\x00"]),
            max_size=40,
        ).map(b"".join),
    )
)  # fmt: skip
def test_summarize_never_raises_and_imapclient_reads_it(message: bytes) -> None:
    summary = summarize(message)
    assert set(summary) == {"envelope", "bodystructure", "body", "header", "sent"}
    parsed = fetch(summary)
    assert set(parsed) >= {b"ENVELOPE", b"BODYSTRUCTURE", b"BODY"}


_body_text = st.text(st.sampled_from("ab -=é\n"), max_size=20)
_leaf = st.tuples(
    st.sampled_from(["text/plain", "application/octet-stream", "text/html; charset=utf-8"]),
    _body_text,
).map(lambda t: f"Content-Type: {t[0]}\n\n{t[1]}")


def _multipart(children: list[str]) -> str:
    boundary = "=_" + hashlib.sha1("".join(children).encode()).hexdigest()[:10]
    inner = "".join(f"--{boundary}\n{child}\n" for child in children)
    return f"Content-Type: multipart/mixed; boundary={boundary}\n\npre\n{inner}--{boundary}--\n"


_entity = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(_multipart),
        children.map(lambda inner: "Content-Type: message/rfc822\n\nSubject: x\n" + inner),
    ),
    max_leaves=6,
)


def _sizes(body: Any, path: tuple[int, ...], in_message: bool):
    """(section path, size, lines or None) of every non-multipart part, RFC 3501 6.4.5 numbering."""
    if isinstance(body[0], list):
        for number, child in enumerate(body[0], 1):
            yield from _sizes(child, (*path, number), False)
        return
    here = (*path, 1) if in_message else path
    is_text, is_message = (
        body[0].lower() == b"text",
        body[0].lower() + body[1].lower() == b"messagerfc822",
    )
    yield here, body[6], body[7] if is_text else body[9] if is_message else None
    if is_message:
        yield from _sizes(BodyData.create(body[8]), here, True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entity)
def test_sizes_and_lines_match_the_sections_and_lf_equals_crlf(entity: str) -> None:
    lf = ("From: a@b.test\n" + entity).encode()
    wire = lf.replace(b"\n", b"\r\n")
    assert summarize(lf) == summarize(wire)
    body = fetch(summarize(wire))[b"BODYSTRUCTURE"]
    for path, size, lines in _sizes(body, (), True):
        data = section(wire, Section(path))
        assert data is not None and len(data) == size, path
        if lines is not None:
            assert lines == data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
