"""The world's IMAP server against hostile or mistaken input, over raw sockets: an over-long
line is never parsed in part, an invalid mailbox name is the client's mistake (RFC 5530
codes, no traceback), SUBSCRIBE needs a mailbox that exists (as Dovecot does)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from mua.stack.world import World
from tests.imap_wire import ImapWire


@pytest.fixture
async def imap_wire(world: World) -> AsyncIterator:
    opened: list[ImapWire] = []

    async def open_wire() -> ImapWire:
        b = world.providers["b.test"]
        wire = await ImapWire.open(b.ports.imap_implicit, world.ca.client_context())
        opened.append(wire)
        bob = world.mailbox("bob@b.test")
        assert (await wire.command("L", f"LOGIN {bob.user} {bob.password}"))[-1].startswith("L OK")
        return wire

    yield open_wire
    for wire in opened:
        await wire.close()


async def _rest(wire: ImapWire) -> list[str]:
    """Every line until the server hangs up (or goes quiet for 5 s: TimeoutError)."""
    lines = []
    while (line := await wire.line()) != "<closed>":
        lines.append(line)
    return lines


async def test_a_huge_command_line_is_never_read_as_new_commands(imap_wire) -> None:
    """Fault 5 of issue 14: a 1.4 MB line got BAD, then a slice of it ran as a command."""
    wire = await imap_wire()
    # The slices that would come back as tags are sequence sets, as in the report.
    sequence = ",".join(f"{n}:{n + 1}" for n in range(1, 220_000, 2))
    line = f"a UID FETCH {sequence} (FLAGS)\r\n".encode()
    assert len(line) > 1_400_000
    await wire.write(line + b"z NOOP\r\n")
    lines = await wire.until_tagged("z", timeout=10)
    replies = [ln for ln in lines if not ln.startswith("* BYE")]
    # One BAD for the long line; then either z's own answer, or BYE and the end.
    assert replies[0].startswith(("a BAD", "* BAD")), lines
    assert all(ln.split(" ", 1)[0] in {"a", "*", "z", "<closed>"} for ln in lines), lines[:5]
    if lines[-1] == "<closed>":
        assert any(ln.startswith("* BYE") for ln in lines)
    else:
        assert lines[-1] == "z OK Noop done" and len(replies) == 2, lines


def _huge_line() -> bytes:
    """Over 1.4 MB of sequence sets: slices of it look like tags and commands."""
    line = ",".join(f"{n}:{n + 1}" for n in range(1, 220_000, 2)).encode() + b"\r\n"
    assert len(line) > 1_400_000
    return line


def _answered_once(lines: list[str], tag: str) -> None:
    """`tag` was refused once, and then only z's NOOP answered (or the server hung up)."""
    assert not any("SERVERBUG" in line for line in lines), lines[:5]
    assert all(ln.split(" ", 1)[0] in {tag, "*", "z", "<closed>"} for ln in lines), lines[:5]
    refusals = [ln for ln in lines if ln.startswith((f"{tag} ", "* BAD", "* NO"))]
    assert len(refusals) == 1 and " OK " not in refusals[0], lines[:5]
    if lines[-1] == "<closed>":
        assert any(ln.startswith("* BYE") for ln in lines), lines
    else:
        assert lines[-1] == "z OK Noop done", lines


async def test_a_huge_sasl_response_is_never_read_as_commands(world: World) -> None:
    """The same fault on AUTHENTICATE's continuation line, before login."""
    b = world.providers["b.test"]
    wire = await ImapWire.open(b.ports.imap_implicit, world.ca.client_context())
    try:
        await wire.write("a AUTHENTICATE PLAIN\r\n")
        assert (await wire.line()).startswith("+")
        await wire.write(_huge_line() + b"z NOOP\r\n")
        _answered_once(await wire.until_tagged("z", timeout=10), "a")
    finally:
        await wire.close()


async def test_a_huge_line_instead_of_done_ends_idle_without_parsing_it(imap_wire) -> None:
    wire = await imap_wire()
    await wire.write("a IDLE\r\n")
    assert (await wire.line()).startswith("+")
    await wire.write(_huge_line() + b"z NOOP\r\n")
    _answered_once(await wire.until_tagged("z", timeout=10), "a")


async def test_a_long_line_under_the_drop_limit_is_skipped_and_the_session_goes_on(
    imap_wire,
) -> None:
    wire = await imap_wire()
    await wire.write(b"a NOOP " + b"9," * 100_000 + b"9\r\nb NOOP\r\n")
    lines = await wire.until_tagged("b")
    assert lines[0].startswith("a BAD") and lines[-1] == "b OK Noop done", lines


INVALID = ['"/etc"', '"a//b"', '"/"', '"' + "x" * 300 + '"', '"&Jjo"', '"a&b"', '"a\tb"']


@pytest.mark.parametrize("name", INVALID)
async def test_an_invalid_mailbox_name_is_a_plain_no(
    imap_wire, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault 6 of issue 14: these answered NO [SERVERBUG] and logged a traceback."""
    wire = await imap_wire()
    message = "Subject: x\r\n\r\nx\r\n"
    append = f"APPEND {name} {{{len(message)}+}}\r\n{message}"
    assert (await wire.command("s", "SELECT INBOX"))[-1].startswith("s OK")
    await wire.command("p", f"APPEND INBOX {{{len(message)}+}}\r\n{message}")
    commands = [
        f"COPY 1 {name}", f"MOVE 1 {name}", f"UID COPY 1:* {name}", f"UID MOVE 1:* {name}",
        f"SELECT {name}", f"EXAMINE {name}", f"STATUS {name} (MESSAGES)", append,
        f"SUBSCRIBE {name}", f"DELETE {name}", f"RENAME {name} Other",
        f"RENAME INBOX {name}", f"CREATE {name}",
    ]  # fmt: skip
    with caplog.at_level(logging.ERROR):
        for i, text in enumerate(commands):
            tagged = (await wire.command(f"c{i}", text))[-1]
            assert tagged.startswith((f"c{i} NO [CANNOT] ", f"c{i} NO [NONEXISTENT] ")), (
                text,
                tagged,
            )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_subscribe_needs_a_mailbox_that_exists(imap_wire) -> None:
    """As Dovecot does (issue 14): SUBSCRIBE of a mailbox that does not exist is refused;
    UNSUBSCRIBE of one still works, so a stale subscription can be removed."""
    wire = await imap_wire()
    assert (await wire.command("a", "SUBSCRIBE Nowhere"))[-1].startswith("a NO [NONEXISTENT]")
    assert not any("Nowhere" in line for line in await wire.command("b", 'LSUB "" *'))
    assert (await wire.command("c", "CREATE Somewhere"))[-1].startswith("c OK")
    assert (await wire.command("d", "SUBSCRIBE Somewhere"))[-1].startswith("d OK")
    assert (await wire.command("e", "UNSUBSCRIBE Nowhere"))[-1].startswith("e OK")
    lsub = await wire.command("f", 'LSUB "" *')
    assert any(line.endswith('"Somewhere"') for line in lsub), lsub


@pytest.mark.parametrize(
    "items",
    [
        "MESSAGES",  # not a list: RFC 3501 section 9 (status-att-list is parenthesised)
        "()",  # an empty list: status-att-list holds at least one item
        '("MESSAGES")',  # a quoted string is no status-att keyword
    ],
)
async def test_status_takes_a_parenthesised_list_of_item_names(imap_wire, items: str) -> None:
    """Issue 15: the STATUS handler parsed its items by hand and answered OK to these;
    `arguments.parse_status_items`, the tested parser, says BAD as RFC 3501 section 9 does."""
    wire = await imap_wire()
    lines = await wire.command("a", f"STATUS INBOX {items}")
    assert lines[-1].startswith("a BAD"), lines
    assert not any(line.startswith("* STATUS") for line in lines), lines
    lines = await wire.command("b", "STATUS INBOX (messages UIDNEXT)")
    assert lines[0] == '* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1)', lines


async def test_list_and_status_write_mailbox_names_in_modified_utf7_quoted(imap_wire) -> None:
    """Issue 15: LIST, LSUB and STATUS write a name as `protocol.format_mailbox` does:
    modified UTF-7 (RFC 3501 section 5.1.3), quoted, `"` and `\\` escaped."""
    wire = await imap_wire()
    names = {
        "Entwürfe": '"Entw&APw-rfe"',
        "Tom & Jerry": '"Tom &- Jerry"',
        'Say "hi"': '"Say \\"hi\\""',
        "Back\\slash": '"Back\\\\slash"',
    }
    for i, written in enumerate(names.values()):  # sent as the server writes them
        assert (await wire.command(f"c{i}", f"CREATE {written}"))[-1].startswith(f"c{i} OK")
        assert (await wire.command(f"s{i}", f"SUBSCRIBE {written}"))[-1].startswith(f"s{i} OK")
        status = await wire.command(f"t{i}", f"STATUS {written} (MESSAGES)")
        assert status[0] == f"* STATUS {written} (MESSAGES 0)", status
    listed = await wire.command("l", 'LIST "" *')
    subscribed = await wire.command("m", 'LSUB "" *')
    for written in names.values():
        assert any(line.endswith(f' "/" {written}') for line in listed), listed
        assert any(line.endswith(f' "/" {written}') for line in subscribed), subscribed


async def test_each_state_answers_its_own_commands(imap_wire) -> None:
    """The handler table by state (RFC 3501 section 6): a command of another state is BAD
    and says so; one no state knows is unknown."""
    wire = await imap_wire()  # signed in: the authenticated state
    assert (await wire.command("a", "LOGIN bob x"))[-1] == (
        "a BAD LOGIN is not allowed in the authenticated state"
    )
    for i, text in enumerate(["FETCH 1 FLAGS", "SORT (DATE) UTF-8 ALL", "UID FETCH 1 FLAGS"]):
        name = text.split(" ")[0]
        assert (await wire.command(f"b{i}", text))[-1] == (
            f"b{i} BAD {name} is not allowed in the authenticated state"
        )
    assert (await wire.command("c", "FROB"))[-1] == "c BAD Unknown command FROB"
    assert (await wire.command("d", "SELECT INBOX"))[-1].startswith("d OK")
    for i, text in enumerate(
        ["NOOP", 'LIST "" INBOX', "SORT (DATE) UTF-8 ALL", "UID SORT (DATE) UTF-8 ALL", "CHECK"]
    ):
        assert (await wire.command(f"e{i}", text))[-1].startswith(f"e{i} OK"), text
    assert (await wire.command("f", "STARTTLS"))[-1] == (
        "f BAD STARTTLS is not allowed in the selected state"
    )
    assert (await wire.command("g", "LOGOUT"))[-1] == "g OK Logout done"
