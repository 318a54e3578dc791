"""The IMAP server's wire syntax: reading commands, tokens, arguments, quoting."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_response

from mua.stack.imap.arguments import (
    FetchItem,
    Section,
    format_internaldate,
    format_sequence_set,
    parse_date,
    parse_datetime,
    parse_fetch_items,
    parse_fetch_request,
    parse_flag_list,
    parse_sequence_set,
    parse_status_items,
    parse_store_args,
)
from mua.stack.imap.command_reader import read_command
from mua.stack.imap.protocol import (
    Atom,
    Bracketed,
    CommandLine,
    LineTooLong,
    LiteralTooBig,
    ProtocolError,
    decode_mailbox,
    encode_mailbox,
    format_mailbox,
    literal,
    nstring,
    parse_command,
    quote,
)


def imaplib_records(wire: bytes) -> list[bytes | tuple[bytes, bytes]]:
    """A response the way imaplib hands it to imapclient: each literal in a tuple with the
    text before it (its `{N}` marker last), then the text after the last literal."""
    records: list[bytes | tuple[bytes, bytes]] = []
    marker = re.compile(rb"\{(\d+)\}\r\n")
    pos = 0
    while (match := marker.search(wire, pos)) is not None:
        end = match.end() + int(match.group(1))
        records.append((wire[pos : match.end() - 2], wire[match.end() : end]))
        pos = end
    if wire[pos:] or not records:
        records.append(wire[pos:])
    return records


# --- parse_command --------------------------------------------------------------------------


def test_command_tokens_come_typed() -> None:
    cmd = parse_command(b'a1 LOGIN "al\\"ice\\\\" NIL')
    assert (cmd.tag, cmd.name) == ("a1", "LOGIN")
    assert cmd.args == ['al"ice\\', None]
    assert type(cmd.args[0]) is str  # quoted: not an Atom
    atom = parse_command(b"t select INBOX").args[0]
    assert isinstance(atom, Atom) and atom == "INBOX"
    assert parse_command(b"t noop").name == "NOOP"


def test_nested_lists_and_flags() -> None:
    cmd = parse_command(b"A003 APPEND saved-messages (\\Seen $Label1) {3}\r\nabc")
    assert cmd.args == ["saved-messages", ["\\Seen", "$Label1"], b"abc"]


def test_uid_commands_keep_their_sub_command_first() -> None:
    cmd = parse_command(b"x UID FETCH 1:* (FLAGS)")
    assert cmd.name == "UID"
    assert cmd.args == ["FETCH", "1:*", ["FLAGS"]]
    with pytest.raises(ProtocolError) as info:
        parse_command(b"x UID")
    assert info.value.tag == "x"


def test_fetch_sections_come_through_intact() -> None:
    cmd = parse_command(b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> BODY[] UID)")
    body_peek, body, uid = cmd.args[1]
    assert body_peek == Bracketed("BODY.PEEK", (Atom("HEADER.FIELDS"), ["From", "To"]), "0.100")
    assert body == Bracketed("BODY", ())
    assert uid == "UID"
    items = parse_fetch_items(cmd.args[1])
    assert items[0].response_name() == "BODY[HEADER.FIELDS (FROM TO)]<0>"
    assert items[0].partial == (0, 100) and items[0].peek


def test_brackets_only_open_sections_of_fetch_attributes() -> None:
    # "[" is an ATOM-CHAR and "]" an ASTRING-CHAR (RFC 3501 section 9): a mailbox may hold them.
    assert parse_command(b"a SELECT foo[bar]").args == ["foo[bar]"]


def test_literal_octets_are_never_read_as_syntax() -> None:
    raw = b'a LOGIN {7}\r\n"({1}\r\n {2+}\r\n)"'
    cmd = parse_command(raw)
    assert cmd.args == [b'"({1}\r\n', b')"']
    line = CommandLine.from_bytes(raw)
    assert line.literals == (b'"({1}\r\n', b')"')
    assert bytes(line) == raw


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        (b"", None),
        (b"+ NOOP", None),
        (b"a", "a"),
        (b"a (NOOP", "a"),
        (b'a LOGIN "unterminated', "a"),
        (b'a LOGIN "bad \\n escape"', "a"),
        (b"a FETCH 1 (FLAGS))", "a"),
        (b"a FETCH 1 BODY[TEXT", "a"),
        (b"a LOGIN x{3}", "a"),
        (b"a LOGIN {3}\r\nab", "a"),
        (b"a FETCH 1 (FLAGS)(UID)", "a"),
        (b"a NOOP\r\nb NOOP", "a"),
        (b"a LOGIN \x00", "a"),
        (b"a LOGIN caf\xc3\xa9", "a"),
        (b"a SEARCH " + b"(" * 40 + b")" * 40, "a"),
    ],
)
def test_bad_commands_raise_protocol_error_with_the_tag(raw: bytes, tag: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    assert info.value.tag == tag


_PIECES = [b"a", b"1", b" ", b"(", b")", b"[", b"]", b"{", b"}", b'"', b"\\", b"*", b":",
           b"<", b">", b".", b"+", b"\r\n", b"{3}\r\n", b"{0+}\r\n", b"NIL", b"BODY[", b"\x00",
           b"\xff", b"FETCH", b"UID"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=80), st.lists(st.sampled_from(_PIECES)).map(b"".join)))
def test_parse_command_raises_only_protocol_error(raw: bytes) -> None:
    try:
        cmd = parse_command(raw)
    except ProtocolError:
        return
    assert cmd.tag and cmd.name == cmd.name.upper()


# --- read_command ---------------------------------------------------------------------------


class Continuations:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_synchronising_literals_get_a_continuation_each() -> None:
    go_on = Continuations()
    reader = _reader(b"a LOGIN {5}\r\nalice {6}\r\nsecret\r\nb NOOP\r\n")
    line = await read_command(reader, go_on, timeout=1)
    assert line is not None and go_on.count == 2
    assert line.literals == (b"alice", b"secret")
    assert parse_command(line).args == [b"alice", b"secret"]
    following = await read_command(reader, go_on, timeout=1)
    assert following is not None and parse_command(following).name == "NOOP"
    assert await read_command(reader, go_on, timeout=1) is None


async def test_literal_plus_is_read_without_a_continuation() -> None:
    go_on = Continuations()
    reader = _reader(b"a APPEND INBOX {12+}\r\nFrom: a\r\n\r\nx\r\n")
    line = await read_command(reader, go_on, timeout=1)
    assert go_on.count == 0
    assert line is not None and line.literals == (b"From: a\r\n\r\nx",)


async def test_literal_too_big_is_refused_before_a_single_octet_is_read() -> None:
    go_on = Continuations()
    reader = _reader(b"a APPEND INBOX {100}\r\n" + b"x" * 100)
    with pytest.raises(LiteralTooBig) as info:
        await read_command(reader, go_on, max_literal=99, timeout=1)
    assert go_on.count == 0
    assert info.value.tag == "a" and not info.value.must_close
    assert await reader.read() == b"x" * 100  # still unread


async def test_literal_plus_too_big_means_closing() -> None:
    reader = _reader(b"a APPEND INBOX {100+}\r\n")
    with pytest.raises(LiteralTooBig) as info:
        await read_command(reader, Continuations(), max_literal=10, timeout=1)
    assert info.value.must_close and info.value.code == "TOOBIG"


async def test_literals_count_together_against_the_limit() -> None:
    reader = _reader(b"a LOGIN {6+}\r\nabcdef {6+}\r\nabcdef\r\n")
    with pytest.raises(LiteralTooBig):
        await read_command(reader, Continuations(), max_literal=10, timeout=1)


async def test_long_lines_are_refused_and_dropped() -> None:
    reader = _reader(b"a1 NOOP " + b"x" * 5000 + b"\r\na2 NOOP\r\n")
    with pytest.raises(LineTooLong) as info:
        await read_command(reader, Continuations(), max_line=1000, timeout=1)
    assert info.value.tag == "a1" and not info.value.must_close
    following = await read_command(reader, Continuations(), max_line=1000, timeout=1)
    assert following == CommandLine((b"a2 NOOP",))


async def test_long_lines_that_cannot_be_dropped_mean_closing() -> None:
    endless = _reader(b"x" * (2 << 20), eof=False)
    with pytest.raises(LineTooLong) as info:
        await read_command(endless, Continuations(), max_line=1000, timeout=1)
    assert info.value.must_close and info.value.tag is None
    literal_plus = _reader(b"a1 APPEND INBOX (" + b"x" * 5000 + b") {9+}\r\nFrom: x\r\n")
    with pytest.raises(LineTooLong) as info:
        await read_command(literal_plus, Continuations(), max_line=1000, timeout=1)
    assert info.value.must_close  # the literal's octets would be read as commands


async def test_long_lines_after_a_literal_carry_the_tag() -> None:
    reader = _reader(b"t9 LOGIN {1+}\r\nx " + b"y" * 2000 + b"\r\n")
    with pytest.raises(LineTooLong) as info:
        await read_command(reader, Continuations(), max_line=1000, timeout=1)
    assert info.value.tag == "t9"


async def test_long_lines_are_refused_past_the_stream_buffer_limit() -> None:
    reader = asyncio.StreamReader(limit=64)
    reader.feed_data(b"a1 NOOP " + b"x" * 500 + b"\r\n")
    with pytest.raises(LineTooLong):
        await read_command(reader, Continuations(), max_line=300, timeout=1)
    reader = asyncio.StreamReader(limit=64)
    reader.feed_data(b"a1 NOOP " + b"x" * 200 + b"\r\n")
    line = await read_command(reader, Continuations(), max_line=300, timeout=1)
    assert line is not None and len(line.texts[0]) == 208


async def test_end_of_stream_mid_command_is_none() -> None:
    assert await read_command(_reader(b"a NOOP"), Continuations(), timeout=1) is None
    partial = _reader(b"a LOGIN {10}\r\nabc")
    assert await read_command(partial, Continuations(), timeout=1) is None


async def test_a_silent_client_times_out() -> None:
    reader = _reader(b"a LOGIN {10}\r\nabc", eof=False)
    with pytest.raises(TimeoutError):
        await read_command(reader, Continuations(), timeout=0.05)


async def test_bare_lf_ends_a_line_too() -> None:
    line = await read_command(_reader(b"a LOGIN {2}\nab x\n"), Continuations(), timeout=1)
    assert line is not None and parse_command(line).args == [b"ab", "x"]


# --- sequence sets --------------------------------------------------------------------------


def test_sequence_set_ranges_and_star() -> None:
    numbers = parse_sequence_set("1,3:5,7:*")
    assert list(numbers.iter(9)) == [1, 3, 4, 5, 7, 8, 9]
    assert list(parse_sequence_set("5:3").iter(10)) == [3, 4, 5]
    assert list(parse_sequence_set("*").iter(4)) == [4]
    assert list(parse_sequence_set("1:*").iter(0)) == []
    assert str(numbers) == "1,3:5,7:*"
    assert numbers.highest_explicit == 7
    # RFC 3501 section 6.4.8: 559:* holds the highest UID even when it is below 559.
    assert parse_sequence_set("559:*").contains(500, 500)
    assert list(parse_sequence_set("559:*").select([10, 20, 500])) == [2]


def test_huge_ranges_are_not_expanded() -> None:
    everything = parse_sequence_set("1:*")
    uids = list(range(1, 200_000, 7))
    assert sum(1 for _ in everything.select(uids)) == len(uids)
    assert everything.resolve(4_294_967_295) == [(1, 4_294_967_295)]


@pytest.mark.parametrize("text", ["", "0", "1:0", "a", "1,,2", "1:2:3", "4294967296", "$", " 1"])
def test_bad_sequence_sets(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_sequence_set(text)


_numbers = st.one_of(st.integers(1, 30).map(str), st.just("*"))
_ranges = st.tuples(_numbers, st.one_of(st.none(), _numbers)).map(
    lambda r: r[0] if r[1] is None else f"{r[0]}:{r[1]}"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ranges, min_size=1, max_size=5).map(",".join), st.integers(0, 35))
def test_membership_agrees_with_naive_expansion(text: str, largest: int) -> None:
    naive: set[int] = set()
    for item in text.split(","):
        a, _, b = item.partition(":")
        lo, hi = (largest if x == "*" else int(x) for x in (a, b or a))
        naive.update(range(min(lo, hi), max(lo, hi) + 1))
    naive = {n for n in naive if 1 <= n <= largest}
    numbers = parse_sequence_set(text)
    assert list(numbers.iter(largest)) == sorted(naive)
    assert {n for n in range(1, largest + 1) if numbers.contains(n, largest)} == naive
    uids = list(range(1, largest + 1))
    assert [uids[i] for i in numbers.select(uids)] == sorted(naive)


def test_format_sequence_set_compacts() -> None:
    assert format_sequence_set([5, 1, 2, 3, 9, 10]) == "1:3,5,9:10"
    assert format_sequence_set([]) == ""


# --- FETCH ----------------------------------------------------------------------------------


def _items(text: bytes) -> list[FetchItem]:
    return list(parse_fetch_request(parse_command(b"a FETCH 1 " + text).args[1:]).items)


def test_fetch_macros_and_simple_items() -> None:
    assert [i.name for i in _items(b"FAST")] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    assert [i.name for i in _items(b"ALL")][-1] == "ENVELOPE"
    assert [i.name for i in _items(b"full")][-1] == "BODY"
    items = _items(b"(uid rfc822.size BODY BODYSTRUCTURE RFC822.HEADER)")
    assert [i.name for i in items] == [
        "UID",
        "RFC822.SIZE",
        "BODY",
        "BODYSTRUCTURE",
        "RFC822.HEADER",
    ]
    assert items[2].section is None and not items[2].needs_message
    assert items[4].needs_message and not items[4].sets_seen


@pytest.mark.parametrize(
    ("text", "section", "name"),
    [
        (b"BODY[]", Section(), "BODY[]"),
        (b"BODY[TEXT]", Section((), "TEXT"), "BODY[TEXT]"),
        (b"body.peek[header]", Section((), "HEADER"), "BODY[HEADER]"),
        (b"BODY[1.2]", Section((1, 2)), "BODY[1.2]"),
        (b"BODY[1.MIME]", Section((1,), "MIME"), "BODY[1.MIME]"),
        (b"BODY[2.HEADER]", Section((2,), "HEADER"), "BODY[2.HEADER]"),
        (
            b'BODY[3.HEADER.FIELDS.NOT ("x y" date)]',
            Section((3,), "HEADER.FIELDS.NOT", ("X Y", "DATE")),
            'BODY[3.HEADER.FIELDS.NOT ("X Y" DATE)]',
        ),
        (b"BODY[]<10.5>", Section(), "BODY[]<10>"),
    ],
)
def test_fetch_sections(text: bytes, section: Section, name: str) -> None:
    (item,) = _items(text)
    assert item.section == section
    assert item.response_name() == name
    assert item.sets_seen == (not item.peek)


@pytest.mark.parametrize(
    "text",
    [b"BODY[MIME]", b"BODY[0]", b"BODY[1.FOO]", b"BODY[HEADER.FIELDS]", b"BODY[HEADER.FIELDS ()]",
     b"BODY[TEXT (a)]", b"BODY[]<1>", b"BODY[]<1.0>", b"BINARY[1]", b"(ALL)", b"()", b"NOPE",
     b"BODY[1.]"],
)  # fmt: skip
def test_bad_fetch_items(text: bytes) -> None:
    with pytest.raises(ProtocolError):
        _items(text)


def test_changedsince_implies_modseq() -> None:
    request = parse_fetch_request(parse_command(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 12)").args[1:])
    assert request.changed_since == 12
    assert [i.name for i in request.items] == ["FLAGS", "MODSEQ"]
    with pytest.raises(ProtocolError):
        parse_fetch_request(parse_command(b"a FETCH 1 FLAGS (VANISHED)").args[1:])


# --- flags, STORE, STATUS -------------------------------------------------------------------


def test_flag_lists_normalise_system_flags() -> None:
    flags = parse_flag_list(parse_command(b"a X (\\seen \\DELETED $Junk)").args[0])
    assert flags == {"\\Seen", "\\Deleted", "$Junk"}
    for bad in (b"(\\Recent)", b"(\\Unknown)", b'("quoted")', b"\\Seen", b"((a))"):
        with pytest.raises(ProtocolError):
            parse_flag_list(parse_command(b"a X " + bad).args[0])


def test_store_arguments() -> None:
    def store(text: bytes):
        return parse_store_args(parse_command(b"a STORE 1 " + text).args[1:])

    request = store(b"+FLAGS.SILENT (\\Seen)")
    assert (request.mode, request.flags, request.silent) == ("add", {"\\Seen"}, True)
    request = store(b"-flags \\Deleted \\Flagged")
    assert (request.mode, request.flags, request.silent) == (
        "remove",
        {"\\Deleted", "\\Flagged"},
        False,
    )
    request = store(b"(UNCHANGEDSINCE 320162338) FLAGS ()")
    assert (request.mode, request.flags, request.unchanged_since) == ("set", frozenset(), 320162338)
    for bad in (b"", b"FLAGS", b"+FLAGZ (\\Seen)", b"(CHANGEDSINCE 1) FLAGS ()", b"FLAGS (a) (b)"):
        with pytest.raises(ProtocolError):
            store(bad)


def test_status_items() -> None:
    items = parse_status_items(
        parse_command(b"a STATUS x (messages UIDNEXT highestmodseq)").args[1]
    )
    assert items == ("MESSAGES", "UIDNEXT", "HIGHESTMODSEQ")
    for bad in (b"()", b"MESSAGES", b"(SIZE)"):
        with pytest.raises(ProtocolError):
            parse_status_items(parse_command(b"a STATUS x " + bad).args[1])


# --- dates ----------------------------------------------------------------------------------


def test_dates() -> None:
    assert parse_date(Atom("1-Feb-1994")) == dt.date(1994, 2, 1)
    assert parse_date("01-feb-1994") == dt.date(1994, 2, 1)
    for bad in ("31-Feb-1994", "1-Foo-1994", "1994-02-01", None, b"1-Feb-1994"):
        with pytest.raises(ProtocolError):
            parse_date(bad)


def test_date_time_round_trip() -> None:
    when = parse_datetime("17-Jul-1996 02:44:25 -0700")
    assert when == dt.datetime(1996, 7, 17, 9, 44, 25, tzinfo=dt.UTC).timestamp()
    assert parse_datetime(" 7-Jul-1996 02:44:25 +0000") == parse_datetime(
        "07-Jul-1996 02:44:25 +0000"
    )
    assert format_internaldate(when) == "17-Jul-1996 09:44:25 +0000"
    assert format_internaldate(when, -420) == "17-Jul-1996 02:44:25 -0700"
    assert parse_datetime(format_internaldate(when, 330)) == when
    parsed = parse_to_datetime(format_internaldate(when, -420).encode(), normalise=False)
    assert parsed.timestamp() == when  # imapclient reads it
    for bad in ("17-Jul-1996 02:44:25", "17-Jul-1996 25:00:00 +0000", "x"):
        with pytest.raises(ProtocolError):
            parse_datetime(bad)


# --- strings and mailbox names --------------------------------------------------------------


def test_quote_chooses_quoted_or_literal() -> None:
    assert quote('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert quote("") == '""'
    assert quote("two\r\nlines") == "{10}\r\ntwo\r\nlines"
    assert quote("Jörg") == "{5}\r\nJörg"  # octets, not characters
    assert quote("a\0b") == "{5}\r\na\ufffdb"
    assert nstring(None) == "NIL"
    assert literal(b"xy") == b"{2}\r\nxy" and literal(None) == b"NIL"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_quote_round_trips_through_imapclient(value: str) -> None:
    wire = ("* 1 X (" + quote(value) + ")").encode("utf-8")
    parsed = parse_response(imaplib_records(wire[2:]))
    assert parsed[-1] == (value.replace("\0", "\ufffd").encode("utf-8"),)


def test_mailbox_names_use_modified_utf7() -> None:
    assert encode_mailbox("日本語") == "&ZeVnLIqe-"
    assert decode_mailbox(Atom("&ZeVnLIqe-")) == "日本語"
    assert decode_mailbox("Tom & Jerry".replace("&", "&-")) == "Tom & Jerry"
    assert format_mailbox("Entwürfe") == '"Entw&APw-rfe"'
    assert decode_mailbox(Atom("inbox")) == "INBOX"
    assert decode_mailbox(b"Sent") == "Sent"
    for bad in ("&AGE-", "caf\u00e9", "&Jjo", "a&b", "&AAA-"):
        with pytest.raises(ProtocolError):
            decode_mailbox(bad)
