"""SORT and THREAD (RFC 5256, SORT=DISPLAY of RFC 5957): the base subject, the orderings and
the thread trees, then the commands over the wire and through imapclient."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imapclient import IMAPClient

from mua.stack.imap import sort
from mua.stack.imap.basesubject import base_subject
from mua.stack.imap.message_threads import format_threads, ordered_subject, references
from mua.stack.imap.model import MessageInfo
from mua.stack.imap.sort import Criterion, Facts
from mua.stack.world import World
from tests.imap_wire import ImapWire

# --- the base subject (section 2.1) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Lunch", "Lunch", False),
        ("Re: Lunch", "Lunch", True),
        ("RE:  re: Fwd:Lunch", "Lunch", True),
        ("Fw: Lunch", "Lunch", True),
        ("Re[2]: Lunch", "Lunch", True),  # subj-refwd: "re" *WSP [subj-blob] ":"
        ("Re [2]: Lunch", "Lunch", True),
        ("[mua-dev] Re: Lunch", "Lunch", True),  # blobs before the refwd belong to the leader
        ("[mua-dev] Lunch", "Lunch", False),  # step 4: a leading blob goes...
        ("[mua-dev]", "[mua-dev]", False),  # ...unless nothing would be left
        ("Lunch (fwd)", "Lunch", True),
        ("Lunch (FWD)  (fwd) ", "Lunch", True),
        ("[Fwd: Lunch]", "Lunch", True),
        ("Re: [fwd: Re: [list] Lunch (fwd)]", "Lunch", True),
        ("Lunch\t  plans\r\n tomorrow", "Lunch plans tomorrow", False),
        ("=?utf-8?q?Re=3A_D=C3=A9jeuner?=", "Déjeuner", True),  # step 1 decodes first
        ("", "", False),
        ("Re:", "", True),
        ("Reply: Lunch", "Reply: Lunch", False),
    ],
)
def test_base_subject_examples(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


_pieces = st.sampled_from(
    ["Re:", "re: ", "Fwd:", "FW:", "[list] ", "[", "]", "(fwd)", " ", "\t", ":", "Lunch", "ü"]
)
_subjects = st.lists(st.one_of(_pieces, st.text(max_size=5)), max_size=8).map("".join)


@given(_subjects)
def test_base_subject_is_a_fixed_point(subject: str) -> None:
    base, _ = base_subject(subject)
    assert base_subject(base) == (base, False)
    assert base == base.strip(" ")


@given(_subjects, st.sampled_from(["Re: ", "RE:", "Fwd: ", "fw:", "Re: [list] "]))
def test_a_reply_marker_does_not_change_the_base(subject: str, marker: str) -> None:
    base, _ = base_subject(subject)
    # A subject that is its own base; without brackets, which step 4 may take as a blob
    # before step 6 sees "[Fwd: ...]" (so "[Fwd: ]]" has the base "]", not a forward).
    if base and base == subject.strip(" ") and not {"[", "]"} & set(subject):
        assert base_subject(marker + subject) == (base, True)
        assert base_subject(subject + " (fwd)") == (base, True)
        assert base_subject(f"[Fwd: {subject}]") == (base, True)


# --- orderings and trees over plain facts ---------------------------------------------------

DAY = 86400.0


def facts(
    seq: int,
    subject: str = "",
    day: float = 0,
    *,
    mid: str | None = None,
    refs: tuple[str, ...] = (),
    size: int = 100,
    arrival: float | None = None,
    from_: tuple[str, str] = ("", ""),
    to: tuple[str, str] = ("", ""),
    cc: tuple[str, str] = ("", ""),
) -> Facts:
    return Facts(
        seq=seq, uid=seq * 10, size=size, arrival=arrival if arrival is not None else seq,
        sent=1e9 + day * DAY, subject=subject, from_=from_, to=to, cc=cc,
        message_id=mid, references=refs,
    )  # fmt: skip


def seqs(messages: list[Facts]) -> list[int]:
    return [f.seq for f in messages]


def test_sort_by_each_key_with_mailbox_order_for_ties() -> None:
    box = [
        facts(1, "Re: beta", 3, size=300, arrival=30, from_=("Zed", "zed@x"), to=("", "b@x")),
        facts(2, "alpha", 1, size=100, arrival=10, from_=("", "amy@y"), to=("Al", "c@x")),
        facts(3, "[list] Beta", 2, size=200, arrival=20, from_=("Bob", "bob@z"), cc=("", "a@q")),
        facts(4, "gamma", 1, size=100, arrival=10, from_=("", "Amy@w")),
    ]

    def by(*keys: str) -> list[int]:
        criteria, reverse = [], False
        for k in keys:
            if k == "REVERSE":
                reverse = True
                continue
            criteria.append(Criterion(k, reverse))
            reverse = False
        return seqs(sort.sort(box, criteria))

    assert by("ARRIVAL") == [2, 4, 3, 1]
    assert by("DATE") == [2, 4, 3, 1]
    assert by("SIZE") == [2, 4, 3, 1]
    assert by("REVERSE", "SIZE") == [1, 3, 2, 4]  # REVERSE leaves ties in mailbox order
    assert by("SUBJECT") == [2, 1, 3, 4]  # base subjects, case-insensitively
    assert by("SUBJECT", "REVERSE", "DATE") == [2, 1, 3, 4]
    assert by("FROM") == [2, 4, 3, 1]  # the local part: amy, Amy, bob, zed
    assert by("TO") == [3, 4, 1, 2]  # no To sorts first (the empty string)
    assert by("CC") == [1, 2, 4, 3]
    assert by("DISPLAYFROM") == [4, 2, 3, 1]  # Amy@w, amy@y, Bob, Zed (no case)
    assert by("DISPLAYTO") == [3, 4, 2, 1]  # "", "", Al, b@x


def test_facts_read_from_the_message_when_the_index_has_no_summary() -> None:
    raw = (
        b"From: =?utf-8?q?Z=C3=B6e?= <zoe@x.test>, amy@x.test\r\nTo: undisclosed-recipients:;\r\n"
        b"Subject: Re: =?utf-8?q?Caf=C3=A9?=\r\nDate: Sat, 28 Nov 2026 10:00:00 +0100\r\n"
        b"Message-ID: <m@x.test>\r\nReferences: junk\r\n"
        b"In-Reply-To: <p@x.test> <q@x.test>\r\n\r\nbody\r\n"
    )
    info = MessageInfo(uid=7, flags=frozenset(), size=len(raw), internaldate=5.0)
    got = Facts.of(3, info, lambda: raw)
    assert (got.seq, got.uid, got.arrival) == (3, 7, 5.0)
    assert got.sent == 1795856400.0  # 09:00 UTC
    assert got.from_ == ("Zöe", "zoe@x.test") and got.to == ("", "")
    assert got.base == ("Café", True)
    assert got.message_id == "<m@x.test>" and got.references == ("<p@x.test>",)
    undated = Facts.of(1, info, lambda: b"Subject: x\r\n\r\n")
    assert undated.sent == 5.0  # no Date: the internal date (section 2.2)


def test_sort_criteria_parse_and_refuse() -> None:
    from mua.stack.imap.protocol import Atom, ProtocolError

    parsed = sort.parse_criteria([Atom("REVERSE"), Atom("date"), Atom("SUBJECT")])
    assert parsed == [Criterion("DATE", True), Criterion("SUBJECT", False)]
    for bad in ([], [Atom("REVERSE")], [Atom("COLOR")], Atom("DATE"), [Atom("REVERSE")] * 2):
        with pytest.raises(ProtocolError):
            sort.parse_criteria(bad)


def test_references_builds_the_tree_of_the_rfcs_example() -> None:
    """Section 4's example response `(2)(3 6 (4 23)(44 7 96))`."""
    box = [
        facts(2, "Other", 0, mid="<2@x>"),
        facts(3, "Plan", 1, mid="<3@x>"),
        facts(4, "Re: Plan", 3, mid="<4@x>", refs=("<3@x>", "<6@x>")),
        facts(6, "Re: Plan", 2, mid="<6@x>", refs=("<3@x>",)),
        facts(7, "Re: Plan", 6, mid="<7@x>", refs=("<3@x>", "<6@x>", "<44@x>")),
        facts(23, "Re: Plan", 4, mid="<23@x>", refs=("<3@x>", "<6@x>", "<4@x>")),
        facts(44, "Re: Plan", 5, mid="<44@x>", refs=("<3@x>", "<6@x>")),
        facts(96, "Re: Plan", 7, mid="<96@x>", refs=("<3@x>", "<6@x>", "<44@x>", "<7@x>")),
    ]
    roots = references(box)
    assert format_threads(roots, by_uid=False) == "(2)(3 6 (4 23)(44 7 96))"
    assert format_threads(roots, by_uid=True) == "(20)(30 60 (40 230)(440 70 960))"


def test_references_keeps_a_dummy_root_for_siblings_of_a_missing_parent() -> None:
    """Two replies to a message not in the mailbox: `((3)(5))`; one alone is promoted."""
    box = [
        facts(3, "Re: Gone", 1, mid="<3@x>", refs=("<gone@x>",)),
        facts(5, "Re: Gone", 2, mid="<5@x>", refs=("<gone@x>",)),
        facts(6, "Re: Lost", 3, mid="<6@x>", refs=("<lost@x>",)),
    ]
    assert format_threads(references(box), by_uid=False) == "((3)(5))(6)"


def test_references_gathers_by_subject_and_prefers_the_original() -> None:
    """Step 5: no references, same base subject: the reply goes under the original; two
    non-replies become siblings under a dummy; an In-Reply-To serves when References is
    missing; a duplicate Message-ID and a loop of references do no harm."""
    box = [
        facts(1, "Re: Budget", 1, mid="<1@x>"),
        facts(2, "Budget", 2, mid="<2@x>"),
        facts(3, "Trip", 3, mid="<3@x>"),
        facts(4, "trip", 4, mid="<4@x>"),
        facts(5, "Re: Trip", 5, mid="<5@x>", refs=("<3@x>",)),  # In-Reply-To's first id
        facts(6, "Dup", 6, mid="<3@x>"),
        facts(7, "Loop", 7, mid="<7@x>", refs=("<8@x>",)),
        facts(8, "Re: Loop", 8, mid="<8@x>", refs=("<7@x>",)),
    ]
    out = format_threads(references(box), by_uid=False)
    assert out == "(2 1)((3 5)(4))(6)(8 7)"  # 7 came first, under its reference


def test_a_hostile_chain_of_references_threads_without_recursion() -> None:
    """Anyone can mail 5,000 messages each replying to the last, or one with 50,000
    References: the tree is built, pruned, sorted and written without recursing."""
    chain = [
        facts(n, "Re: x", n, mid=f"<{n}@x>", refs=(f"<{n - 1}@x>",) if n > 1 else ())
        for n in range(1, 5001)
    ]
    assert format_threads(references(chain), by_uid=False) == (
        "(" + " ".join(map(str, range(1, 5001))) + ")"
    )
    comb = [facts(1, "a", 1, mid="<1@x>")] + [
        facts(n, "b", n, mid=f"<{n}@x>", refs=(f"<{n - 1 if n % 2 == 0 else n - 2}@x>",))
        for n in range(2, 4001)
    ]
    assert format_threads(references(comb), by_uid=False).startswith("(1 (2)(3 (4)(5 (6)(7 ")
    many = [facts(1, "y", 1, mid="<1@x>", refs=tuple(f"<r{n}@x>" for n in range(50_000)))]
    assert format_threads(references(many), by_uid=False) == "(1)"


def test_ordered_subject_groups_by_base_subject_then_date() -> None:
    box = [
        facts(1, "Re: b", 5),
        facts(2, "a", 2),
        facts(3, "b", 1),
        facts(4, "Re: a", 3),
        facts(5, "Fwd: a", 4),
        facts(6, "c", 0),
    ]
    roots = ordered_subject(box)
    assert format_threads(roots, by_uid=False) == "(6)(3 1)(2 (4)(5))"


# --- over the wire ----------------------------------------------------------------------------


def _message(n: int, subject: str, day: int, *, refs: str = "", body: str = "x") -> bytes:
    date = email.utils.formatdate(1_700_000_000 + day * DAY, usegmt=True)
    head = f"From: u{n}@b.test\r\nTo: bob@b.test\r\nSubject: {subject}\r\nDate: {date}\r\n"
    head += f"Message-ID: <m{n}@b.test>\r\n" + (f"References: {refs}\r\n" if refs else "")
    return (head + "\r\n" + body + "\r\n").encode()


@pytest.fixture
async def bob(world: World) -> AsyncIterator[ImapWire]:
    b = world.providers["b.test"]
    wire = await ImapWire.open(b.ports.imap_implicit, world.ca.client_context())
    user = world.mailbox("bob@b.test")
    login = await wire.command("L", f"LOGIN {user.user} {user.password}")
    assert "SORT" in login[-1].split() and "THREAD=REFERENCES" in login[-1]
    messages = [
        _message(1, "Re: Plan", 3, refs="<m2@b.test>", body="y" * 300),
        _message(2, "Plan", 1, body="y" * 10),
        _message(3, "Another", 2, body="y" * 100),
    ]
    for i, msg in enumerate(messages):
        lines = await wire.command(f"A{i}", f"APPEND INBOX {{{len(msg)}+}}\r\n{msg.decode()}")
        assert lines[-1].startswith(f"A{i} OK")
    assert (await wire.command("S", "SELECT INBOX"))[-1].startswith("S OK")
    yield wire
    await wire.close()


async def test_sort_and_thread_over_the_wire(bob: ImapWire) -> None:
    assert await bob.command("a", "SORT (DATE) UTF-8 ALL") == [
        "* SORT 2 3 1",
        "a OK Sort completed",
    ]
    assert (await bob.command("b", "SORT (REVERSE SIZE) US-ASCII NOT DELETED"))[0] == "* SORT 1 3 2"
    assert (await bob.command("c", "SORT (SUBJECT) UTF-8 ALL"))[0] == "* SORT 3 1 2"
    assert (await bob.command("d", "SORT (DISPLAYFROM) UTF-8 ALL"))[0] == "* SORT 1 2 3"
    assert (await bob.command("e", "UID SORT (DATE) UTF-8 ALL"))[0] == "* SORT 2 3 1"
    assert (await bob.command("f", "SORT (ARRIVAL) UTF-8 SUBJECT nothing"))[0] == "* SORT"
    assert (await bob.command("g", "THREAD REFERENCES UTF-8 ALL"))[0] == "* THREAD (2 1)(3)"
    assert (await bob.command("h", "UID THREAD ORDEREDSUBJECT UTF-8 ALL"))[0] == (
        "* THREAD (2 1)(3)"
    )
    assert (await bob.command("i", "THREAD REFERENCES UTF-8 SUBJECT zzz"))[0] == "* THREAD"
    assert (await bob.command("j", "SORT (COLOR) UTF-8 ALL"))[-1].startswith("j BAD")
    assert (await bob.command("k", "SORT (DATE) ALL"))[-1].startswith("k BAD")
    assert (await bob.command("l", "SORT (DATE) KOI8-R ALL"))[-1].startswith("l NO [BADCHARSET")
    assert (await bob.command("m", "THREAD SHUFFLE UTF-8 ALL"))[-1].startswith("m BAD")


async def test_imapclient_sorts_and_threads(world: World, bob: ImapWire) -> None:
    """A client nobody here wrote, with UIDs as it uses by default."""
    user = world.mailbox("bob@b.test")

    def run() -> tuple[list[int], tuple]:
        with IMAPClient(
            "127.0.0.1",
            port=world.providers["b.test"].ports.imap_implicit,
            ssl_context=world.ca.client_context(),
        ) as client:
            client.login(user.user, user.password)
            client.select_folder("INBOX")
            assert b"SORT=DISPLAY" in client.capabilities()
            return client.sort(["REVERSE", "DATE"]), client.thread("REFERENCES", ["ALL"])

    sorted_uids, threads = await asyncio.to_thread(run)
    assert sorted_uids == [1, 3, 2]
    assert threads == ((2, 1), (3,))
