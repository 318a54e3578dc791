"""SEARCH: criteria parsed into a tree, and evaluated against messages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mua.stack.imap.arguments import parse_sequence_set
from mua.stack.imap.message_parts import crlf
from mua.stack.imap.model import ANSWERED, DELETED, FLAGGED, SEEN, MessageInfo
from mua.stack.imap.protocol import ProtocolError, Token, parse_command
from mua.stack.imap.render import summarize
from mua.stack.imap.search import (
    All,
    And,
    BadCharset,
    BodyHas,
    DateIs,
    HasFlag,
    HeaderHas,
    InSet,
    ModSeqAtLeast,
    Not,
    Or,
    Recent,
    SearchKey,
    SizeIs,
    needs_body,
    parse_search,
    uses_modseq,
)
from mua.stack.imap.search_match import Candidate, evaluate, run


def key(text: bytes, **kwargs: str) -> SearchKey:
    return parse_search(parse_command(b"a SEARCH " + text).args, **kwargs)


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"ALL", All()),
        (b"seen", HasFlag(SEEN)),
        (b"UNSEEN", Not(HasFlag(SEEN))),
        (b"KEYWORD $Junk", HasFlag("$Junk")),
        (b"UNKEYWORD $Junk", Not(HasFlag("$Junk"))),
        (b"NEW", And((Recent(), Not(HasFlag(SEEN))))),
        (b"OLD", Not(Recent())),
        (b'FROM "smith"', HeaderHas("from", "smith")),
        (b"HEADER X-Mailer {4}\r\nmutt", HeaderHas("x-mailer", "mutt")),
        (b"TEXT hello", BodyHas("hello", with_header=True)),
        (b"SINCE 1-Feb-1994 SENTBEFORE \"3-Mar-2001\"",
         And((DateIs(False, "since", dt.date(1994, 2, 1)),
              DateIs(True, "before", dt.date(2001, 3, 3))))),
        (b"LARGER 100", SizeIs(True, 100)),
        (b"UID 2:*", InSet(parse_sequence_set("2:*"), uid=True)),
        (b"1,3:*", InSet(parse_sequence_set("1,3:*"), uid=False)),
        (b"OR DELETED (FLAGGED ANSWERED)",
         Or(HasFlag(DELETED), And((HasFlag(FLAGGED), HasFlag(ANSWERED))))),
        (b"NOT NOT ALL", Not(Not(All()))),
        (b'MODSEQ "/flags/\\\\draft" all 620162338', ModSeqAtLeast(620162338)),
        (b"MODSEQ 5", ModSeqAtLeast(5)),
        (b"CHARSET UTF-8 SUBJECT {5}\r\nJ\xc3\xb6rg", HeaderHas("subject", "Jörg")),
    ],
)  # fmt: skip
def test_parse(text: bytes, expected: SearchKey) -> None:
    assert key(text) == expected


@pytest.mark.parametrize(
    "text",
    [b"", b"FROM", b"BOGUS", b"OR ALL", b"NOT", b"BEFORE 1994", b"LARGER x", b"()",
     b"UID x", b"0", b"(ALL", b"KEYWORD \\Recent", b'"ALL"', b"MODSEQ \"/flags/x\" mine 3",
     b"CHARSET", b"NOT " * 40 + b"ALL", b"(" * 40 + b"ALL" + b")" * 40],
)  # fmt: skip
def test_parse_errors(text: bytes) -> None:
    with pytest.raises(ProtocolError):
        key(text)


def test_charsets() -> None:
    assert key(b"CHARSET us-ascii ALL") == All()
    with pytest.raises(BadCharset) as info:
        key(b"CHARSET ISO-8859-1 ALL")
    assert info.value.code == "BADCHARSET (UTF-8 US-ASCII)"
    with pytest.raises(BadCharset):
        key(b"ALL", charset="KOI8-R")
    assert key(b"SUBJECT x", charset="utf-8") == HeaderHas("subject", "x")


def test_helpers_walk_the_tree() -> None:
    assert uses_modseq(key(b"OR SEEN (NOT MODSEQ 4)")) and not uses_modseq(key(b"ALL"))
    assert needs_body(key(b"NOT BODY x")) and not needs_body(key(b"SUBJECT x"))


_WORDS = [b"ALL", b"OR", b"NOT", b"(", b")", b"FROM", b"x", b"UID", b"1:*", b"BEFORE",
          b"1-Jan-2000", b"HEADER", b"MODSEQ", b"7", b'"s"', b"{1}\r\nz", b"KEYWORD",
          b"$a"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=25))
def test_parse_raises_only_protocol_errors(words: list[bytes]) -> None:
    try:
        args: list[Token] = parse_command(b"a SEARCH " + b" ".join(words)).args
        parse_search(args)
    except ProtocolError:
        pass


# --- evaluation -----------------------------------------------------------------------------

MESSAGE = crlf(
    """\
From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>
To: Alice <alice@a.test>
Cc: bob@b.test
Subject: =?ISO-8859-1?Q?R=E9union?= tomorrow
Date: Mon, 30 Jun 2025 23:30:00 -0700
X-Mailer: Example Mail 1.0
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

R3LDvMOfZSBhdXMgZGVtIEJ1cmVhdQ==
--b
Content-Type: text/html; charset=utf-8

<p>Grüße</p>
--b--
""".encode()
)


@dataclass
class Loads:
    count: int = 0
    data: bytes = MESSAGE

    def __call__(self) -> bytes:
        self.count += 1
        return self.data


def _info(**kwargs) -> MessageInfo:
    base = {
        "uid": 7,
        "flags": frozenset({SEEN, "$Work"}),
        "size": len(MESSAGE),
        "internaldate": dt.datetime(2025, 7, 1, 8, 0, tzinfo=dt.UTC).timestamp(),
        "modseq": 12,
        "summary": summarize(MESSAGE),
    }
    return MessageInfo(**(base | kwargs))


def matches(text: bytes, info: MessageInfo | None = None, *, recent: bool = False) -> bool:
    item = Candidate(3, info or _info(), recent, max_seq=5, max_uid=9, loader=Loads())
    return evaluate(key(text), item)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"ALL", True),
        (b"SEEN", True),
        (b"UNSEEN", False),
        (b"KEYWORD $work", True),  # keywords compare case-insensitively
        (b"UNKEYWORD $Work", False),
        (b"FLAGGED", False),
        (b'FROM "M\xc3\xbcller"', True),  # encoded-words are decoded before matching
        (b"FROM JOERG@EXAMPLE", True),
        (b'SUBJECT "R\xc3\xa9UNION"', True),
        (b"TO alice", True),
        (b"CC bob@b", True),
        (b"BCC bob", False),
        (b'HEADER x-mailer ""', True),  # an empty string: any message with the field
        (b'HEADER X-Spam ""', False),
        (b"HEADER X-Mailer \"mail 1\"", True),
        (b"BODY {7}\r\nGR\xc3\x9c\xc3\x9fE", True),  # base64 and charset undone
        (b"BODY alice", False),
        (b"TEXT alice", True),  # TEXT sees the header too
        (b"ON 1-Jul-2025", True),
        (b"BEFORE 1-Jul-2025", False),
        (b"SINCE 1-Jul-2025", True),
        (b"SENTON 30-Jun-2025", True),  # the Date: header's own day, ignoring its zone
        (b"SENTSINCE 1-Jul-2025", False),
        (b"SENTBEFORE 1-Jul-2025", True),
        (b"LARGER 10 SMALLER 100000", True),
        (b"SMALLER 10", False),
        (b"UID 7", True),
        (b"UID 8:*", False),
        (b"UID 10:*", False),  # * is 9 here, so 10:* is 9:10
        (b"3", True),
        (b"4:*", False),
        (b"MODSEQ 12", True),
        (b"MODSEQ 13", False),
        (b"OR FLAGGED NOT DELETED", True),
        (b"NOT (SEEN FROM joerg)", False),
        (b"NEW", False),
        (b"OLD", True),
    ],
)  # fmt: skip
def test_evaluate(text: bytes, expected: bool) -> None:
    assert matches(text) is expected


def test_8bit_search_strings_must_be_quoted_or_literal() -> None:
    with pytest.raises(ProtocolError):
        matches(b"FROM j\xc3\xb6rg")  # an atom is ASCII (RFC 3501 section 9)


def test_recent_and_new() -> None:
    unseen = _info(flags=frozenset())
    assert matches(b"NEW", unseen, recent=True)
    assert matches(b"RECENT", unseen, recent=True)
    assert not matches(b"NEW", _info(), recent=True)
    assert not matches(b"OLD", unseen, recent=True)


def test_the_message_is_loaded_only_for_body_searches_and_once() -> None:
    loads = Loads()
    item = Candidate(1, _info(), loader=loads, max_seq=1, max_uid=7)
    assert evaluate(key(b"FROM joerg SUBJECT union SEEN SENTON 30-Jun-2025"), item)
    assert loads.count == 0
    assert evaluate(key(b"BODY aus TEXT alice"), item)
    assert evaluate(key(b"NOT BODY nothing-like-this"), item)
    assert loads.count == 1


def test_without_a_summary_the_header_comes_from_the_message() -> None:
    info = _info(summary={})
    assert matches(b"SUBJECT tomorrow SENTON 30-Jun-2025", info)


def test_garbage_messages_do_not_break_search() -> None:
    garbage = b"\xff\xfe\x00Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n=?x?q?"
    info = _info(summary=summarize(garbage), size=len(garbage))
    item = Candidate(1, info, loader=Loads(data=garbage), max_seq=1, max_uid=7)
    assert not evaluate(key(b"OR BODY zzz OR TEXT zzz OR FROM zzz SENTON 1-Jan-2000"), item)


@dataclass
class Folder:
    messages: dict[int, bytes]

    def read(self, uid: int) -> bytes:
        return self.messages[uid]


@dataclass
class View:
    infos: dict[int, MessageInfo]
    folder: Folder
    uids: list[int] = field(default_factory=list)
    recent_uids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.uids = sorted(self.infos)


def test_run_over_a_selected_mailbox() -> None:
    plain = b"From: bob@b.test\r\nSubject: lunch\r\n\r\nSandwiches?"
    infos = {
        uid: _info(uid=uid, flags=frozenset(flags), summary=summarize(data), size=len(data))
        for uid, flags, data in [(4, {SEEN}, MESSAGE), (9, set(), plain), (12, {FLAGGED}, plain)]
    }
    view = View(infos, Folder({4: MESSAGE, 9: plain, 12: plain}), recent_uids=frozenset({12}))
    assert run(key(b"UNSEEN"), view) == [(2, 9), (3, 12)]
    assert run(key(b"BODY sandwich"), view) == [(2, 9), (3, 12)]
    assert run(key(b"NEW"), view) == [(3, 12)]
    assert run(key(b"UID *"), view) == [(3, 12)]
    assert run(key(b"2:*"), view) == [(2, 9), (3, 12)]
