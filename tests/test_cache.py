"""The local mail cache (mua.store.cache): every method, on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mua.core.legs import Endpoint, Leg, Protocol, Role, Source, Trace, TraceStatus
from mua.core.tls_facts import TlsFacts, TlsMode
from mua.store.cache import (
    _EVICT,
    CacheClosedError,
    CachedMessage,
    CacheVersionError,
    ListedFolder,
    MailCache,
    UidValidityError,
    UnknownFolderError,
    UnknownMessageError,
)
from mua.store.cache_rows import PREVIEW_CHARS
from mua.store.cache_schema import MIGRATIONS, SCHEMA_VERSION, fts5_available, migrate
from mua.store.cache_search import fts_query, like_patterns

ALICE = "alice@a.test"
BOB = "bob@b.test"


def _fts5() -> bool:
    db = sqlite3.connect(":memory:")
    try:
        return fts5_available(db)
    finally:
        db.close()


SEARCH_MODES = [
    pytest.param(True, id="fts5", marks=pytest.mark.skipif(not _fts5(), reason="no FTS5")),
    pytest.param(False, id="like"),
]


def msg(uid: int, folder: str = "INBOX", account: str = BOB, **fields: object) -> CachedMessage:
    values: dict[str, object] = {
        "message_id": f"<{uid}@a.test>",
        "subject": f"message {uid}",
        "sender_name": "Alice",
        "sender_address": ALICE,
        "recipients": BOB,
        "date": 1_700_000_000.0 + uid,
        "internaldate": 1_700_000_100.0 + uid,
        "size": 1000 + uid,
    }
    values.update(fields)
    return CachedMessage(account, folder, uid, **values)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "mail.sqlite3"


@pytest.fixture
def cache(path: Path) -> Iterator[MailCache]:
    with MailCache(path) as c:
        c.sync_folder_list(BOB, [("INBOX", "/", None, True), ("Sent", "/", "\\Sent", True)])
        yield c


def test_new_file_is_wal_at_the_current_schema_version(path: Path) -> None:
    MailCache(path).close()  # the directory is created too
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_migration_hook_runs_missing_steps_in_order(path: Path) -> None:
    MailCache(path).close()

    def add_column(db: sqlite3.Connection, full_text: bool) -> None:
        db.execute("ALTER TABLE folders ADD COLUMN colour TEXT")

    db = sqlite3.connect(path, isolation_level=None)
    try:
        steps = {**MIGRATIONS, SCHEMA_VERSION: add_column}
        migrate(db, full_text=True, target=SCHEMA_VERSION + 1, migrations=steps)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        columns = [row[1] for row in db.execute("PRAGMA table_info(folders)")]
        assert "colour" in columns
    finally:
        db.close()
    with pytest.raises(CacheVersionError, match="newer mua"):
        MailCache(path)  # this mua reads SCHEMA_VERSION only


def test_a_version_1_file_gets_the_bodies_size_in_its_age_index(path: Path) -> None:
    MailCache(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    try:  # as version 1 made it
        db.executescript(
            "DROP INDEX bodies_by_age; CREATE INDEX bodies_by_age ON bodies (stored_at);"
            " PRAGMA user_version = 1;"
        )
    finally:
        db.close()
    MailCache(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        columns = [row[2] for row in db.execute("PRAGMA index_info(bodies_by_age)")]
        assert columns == ["stored_at", "size"]
    finally:
        db.close()


def test_damaged_file_is_moved_aside_and_replaced(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not an sqlite database, " * 200)
    with MailCache(path) as cache:
        cache.sync_folder_list(BOB, [("INBOX",)])
        assert [f.name for f in cache.folders(BOB)] == ["INBOX"]
    aside = [p.name for p in path.parent.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1


def test_reopen_keeps_everything(path: Path) -> None:
    with MailCache(path) as cache:
        cache.sync_folder_list(BOB, [("INBOX", "/", None, True)])
        cache.set_folder_state(BOB, "INBOX", uidvalidity=7, uidnext=3, highestmodseq=40)
        cache.upsert_messages(BOB, "INBOX", [msg(1), msg(2, flags=frozenset({"\\Seen"}))])
        cache.store_body(BOB, "INBOX", 1, b"Subject: hi\r\n\r\nbody\r\n")
        cache.store_trace(BOB, "<1@a.test>", {"status": "delivered", "legs": []})
        before = (cache.folders(BOB), cache.page(BOB, "INBOX"), cache.trace(BOB, "<1@a.test>"))
    with MailCache(path) as cache:
        assert (cache.folders(BOB), cache.page(BOB, "INBOX"), cache.trace(BOB, "<1@a.test>")) == (
            before
        )
        assert cache.body(BOB, "INBOX", 1) == b"Subject: hi\r\n\r\nbody\r\n"
        assert cache.folder(BOB, "INBOX").uidvalidity == 7


# -- folders --------------------------------------------------------------------------------


def test_folder_list_adds_updates_and_orders_inbox_first(path: Path) -> None:
    with MailCache(path) as cache:
        cache.sync_folder_list(
            "Bob@B.test",
            [ListedFolder("Archive", "/"), ("inbox", "/", None, True), ("Junk", ".", "\\Junk", 0)],
        )
        folders = cache.folders(BOB)
        assert [f.name for f in folders] == ["INBOX", "Archive", "Junk"]
        junk = cache.folder(BOB, "Junk")
        assert junk is not None
        assert (junk.account, junk.delimiter, junk.special_use, junk.subscribed) == (
            BOB, ".", "\\Junk", False,
        )  # fmt: skip
        assert (junk.uidvalidity, junk.uidnext, junk.highestmodseq, junk.total) == (
            None, None, None, 0,
        )  # fmt: skip
        cache.sync_folder_list(BOB, [("INBOX",), ("Archive",), ("Junk", "/", None, True)])
        assert cache.folder(BOB, "Junk").subscribed
        assert cache.folder(BOB, "inbox") == cache.folder(BOB, "INBOX")
        assert cache.folder(BOB, "Nope") is None
        assert cache.folders(ALICE) == []


def test_vanished_folder_goes_with_its_messages_and_bodies(cache: MailCache) -> None:
    cache.upsert_messages(BOB, "Sent", [msg(1, "Sent"), msg(2, "Sent")])
    cache.upsert_messages(BOB, "INBOX", [msg(1)])
    cache.store_body(BOB, "Sent", 1, b"raw")
    cache.store_trace(BOB, "<1@a.test>", {"status": "delivered", "legs": []})
    cache.sync_folder_list(BOB, [("INBOX", "/", None, True)])
    assert [f.name for f in cache.folders(BOB)] == ["INBOX"]
    assert cache.uids(BOB, "Sent") == []
    assert cache.bodies_size() == 0
    assert cache.uids(BOB, "INBOX") == [1]
    assert cache.trace(BOB, "<1@a.test>") is not None  # keyed by Message-ID, not by folder
    cache.sync_folder_list(BOB, [("INBOX",), ("Sent",)])  # back again: empty
    assert cache.count(BOB, "Sent") == 0
    assert cache.page(BOB, "Sent") == []


def test_folder_state_and_uidvalidity_reset(cache: MailCache) -> None:
    cache.set_folder_state(BOB, "INBOX", uidvalidity=100, uidnext=3, highestmodseq=9)
    cache.upsert_messages(BOB, "INBOX", [msg(1), msg(2, flags=frozenset({"\\Seen"}))])
    cache.store_body(BOB, "INBOX", 1, b"raw")
    cache.set_folder_state(BOB, "INBOX", uidvalidity=100, uidnext=4, highestmodseq=12)
    folder = cache.folder(BOB, "INBOX")
    assert folder is not None
    assert (folder.uidvalidity, folder.uidnext, folder.highestmodseq) == (100, 4, 12)

    with pytest.raises(UidValidityError):
        cache.set_folder_state(BOB, "INBOX", uidvalidity=200, uidnext=1, highestmodseq=None)
    assert cache.folder(BOB, "INBOX") == folder  # unchanged

    cache.reset_folder(BOB, "INBOX", 200)
    folder = cache.folder(BOB, "INBOX")
    assert folder is not None
    assert (folder.uidvalidity, folder.uidnext, folder.highestmodseq) == (200, None, None)
    assert (folder.total, folder.unread) == (0, 0)
    assert cache.uids(BOB, "INBOX") == []
    assert cache.body(BOB, "INBOX", 1) is None
    assert cache.bodies_size() == 0
    cache.set_folder_state(BOB, "INBOX", uidvalidity=200, uidnext=1, highestmodseq=None)

    with pytest.raises(UnknownFolderError):
        cache.set_folder_state(BOB, "Nope", uidvalidity=1, uidnext=1, highestmodseq=None)
    with pytest.raises(UnknownFolderError):
        cache.reset_folder(BOB, "Nope", 1)


def test_forget_account(cache: MailCache) -> None:
    cache.sync_folder_list(ALICE, [("INBOX",)])
    cache.upsert_messages(BOB, "INBOX", [msg(1)])
    cache.upsert_messages(ALICE, "INBOX", [msg(1, account=ALICE)])
    cache.store_trace(BOB, "<1@a.test>", {"status": "parsed", "legs": []})
    cache.add_observed_leg(ALICE, "<1@a.test>", {"index": 1})
    cache.forget_account("BOB@b.test")
    assert cache.folders(BOB) == []
    assert cache.trace(BOB, "<1@a.test>") is None
    assert cache.uids(ALICE, "INBOX") == [1]
    assert cache.trace(ALICE, "<1@a.test>") is not None


# -- messages -------------------------------------------------------------------------------


def test_upsert_round_trips_and_replaces(cache: MailCache) -> None:
    full = msg(
        5,
        recipients="bob@b.test, carol@c.test",
        internaldate=1_700_000_000.0,
        flags=frozenset({"\\Seen", "$Label1"}),
        has_attachments=True,
        preview="Hello Bob",
        in_reply_to="<4@a.test>",
        references="<3@a.test> <4@a.test>",
    )
    cache.upsert_messages(BOB, "INBOX", [full])
    assert cache.message(BOB, "inbox", 5) == full
    assert (full.sender, full.seen) == ("Alice", True)

    cache.store_body(BOB, "INBOX", 5, b"raw")
    changed = msg(5, subject="edited", flags=frozenset())
    cache.upsert_messages(BOB, "INBOX", [changed])
    assert cache.message(BOB, "INBOX", 5) == changed
    assert cache.body(BOB, "INBOX", 5) == b"raw"  # same UID, same message: body kept
    assert cache.count(BOB, "INBOX") == 1


def test_date_falls_back_to_internaldate_and_preview_is_cut(cache: MailCache) -> None:
    cache.upsert_messages(
        BOB,
        "INBOX",
        [
            msg(1, date=None, internaldate=1234.5, preview="x" * 1000),
            msg(2, date=None, internaldate=None),
        ],
    )
    first = cache.message(BOB, "INBOX", 1)
    assert first is not None
    assert (first.date, first.internaldate) == (1234.5, 1234.5)
    assert first.preview == "x" * PREVIEW_CHARS
    assert cache.message(BOB, "INBOX", 2).date == 0.0


def test_upsert_checks_where_messages_go(cache: MailCache) -> None:
    with pytest.raises(UnknownFolderError, match="Nope"):
        cache.upsert_messages(BOB, "Nope", [msg(1, "Nope")])
    with pytest.raises(ValueError, match="Sent"):  # one of them is not an INBOX message
        cache.upsert_messages(BOB, "INBOX", [msg(1), msg(2, "Sent")])
    assert cache.uids(BOB, "INBOX") == []  # nothing written
    cache.sync_folder_list(ALICE, [("INBOX",)])
    cache.upsert_messages("ALICE@a.test", "inbox", [msg(3, "INBOX", account="Alice@A.test")])
    assert cache.uids(ALICE, "INBOX") == [3]
    assert cache.uids(BOB, "INBOX") == []
    assert cache.message(ALICE, "INBOX", 3).account == ALICE


def test_unread_counts_follow_flags_and_removals(cache: MailCache) -> None:
    seen = frozenset({"\\Seen"})
    cache.upsert_messages(
        BOB, "INBOX", [msg(uid, flags=seen if uid <= 2 else frozenset()) for uid in range(1, 6)]
    )

    def counts() -> tuple[int, int]:
        folder = cache.folder(BOB, "INBOX")
        assert folder is not None
        return folder.total, folder.unread

    assert counts() == (5, 3)
    changed = cache.update_flags(
        BOB, "INBOX", {3: seen, 1: frozenset({"\\Flagged"}), 2: frozenset({"\\SEEN"}), 99: seen}
    )
    assert changed == 3  # UID 99 is not cached
    assert counts() == (5, 3)  # 3 read, 1 unread again, 2 still read (any case)
    assert cache.message(BOB, "INBOX", 1).flags == {"\\Flagged"}
    assert cache.update_flags(BOB, "INBOX", {3: seen}) == 1
    assert counts() == (5, 3)
    cache.upsert_messages(BOB, "INBOX", [msg(4, flags=seen)])  # a re-fetched envelope counts too
    assert counts() == (5, 2)
    assert cache.remove_messages(BOB, "INBOX", [5, 1, 42]) == 2
    assert counts() == (3, 0)
    assert cache.count(BOB, "INBOX") == 3
    assert [f.unread for f in cache.folders(BOB)] == [0, 0]
    with pytest.raises(UnknownFolderError):
        cache.update_flags(BOB, "Nope", {1: seen})
    with pytest.raises(UnknownFolderError):
        cache.remove_messages(BOB, "Nope", [1])


def test_uids_max_uid_count_and_lenient_reads(cache: MailCache) -> None:
    assert (cache.uids(BOB, "INBOX"), cache.max_uid(BOB, "INBOX"), cache.count(BOB, "INBOX")) == (
        [], 0, 0,
    )  # fmt: skip
    cache.upsert_messages(BOB, "INBOX", [msg(uid) for uid in (30, 4, 1000, 7)])
    assert cache.uids(BOB, "INBOX") == [4, 7, 30, 1000]
    assert cache.max_uid(BOB, "INBOX") == 1000
    assert cache.count(BOB, "INBOX") == 4
    assert cache.message(BOB, "INBOX", 5) is None
    for read in (cache.uids, cache.max_uid, cache.count, cache.page):
        assert not read(BOB, "Nope")
        assert not read(ALICE, "INBOX")


def test_page_orders_with_uid_tie_break(cache: MailCache) -> None:
    cache.upsert_messages(
        BOB,
        "INBOX",
        [
            msg(1, date=100.0, subject="beta", sender_name="", sender_address="zed@z.test", size=5),
            msg(2, date=300.0, subject="Alpha", sender_name="Yann", size=5),
            msg(3, date=200.0, subject="alpha", sender_name="", sender_address="al@a.test", size=1),
            msg(4, date=300.0, subject="Gamma", sender_name="bea", size=9),
            msg(5, date=100.0, subject="alpha", sender_name="Carl", size=5),
        ],
    )

    def order(by: str, descending: bool = True) -> list[int]:
        return [m.uid for m in cache.page(BOB, "INBOX", order=by, descending=descending)]

    assert order("date") == [4, 2, 3, 5, 1]
    assert order("date", descending=False) == [1, 5, 3, 2, 4]
    assert order("subject", descending=False) == [2, 3, 5, 1, 4]  # case folded, then uid
    assert order("subject") == [4, 1, 5, 3, 2]
    assert order("sender", descending=False) == [3, 4, 5, 2, 1]  # name, else address
    assert order("size", descending=False) == [3, 1, 2, 5, 4]
    with pytest.raises(ValueError, match="date"):
        cache.page(BOB, "INBOX", order="uid; DROP TABLE messages")


def test_pages_partition_the_list(cache: MailCache) -> None:
    cache.upsert_messages(BOB, "INBOX", [msg(uid, date=float(uid // 3)) for uid in range(1, 251)])
    whole = cache.page(BOB, "INBOX", limit=1000)
    assert len(whole) == 250
    pages = [cache.page(BOB, "INBOX", offset=o, limit=40) for o in range(0, 250, 40)]
    assert [len(p) for p in pages] == [40, 40, 40, 40, 40, 40, 10]
    assert [m for p in pages for m in p] == whole
    assert [m.uid for m in whole[:4]] == [250, 249, 248, 247]
    assert cache.page(BOB, "INBOX", offset=250) == []


# -- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("full_text", SEARCH_MODES)
def test_search(path: Path, full_text: bool) -> None:
    with MailCache(path, full_text=full_text) as cache:
        assert cache.full_text is full_text
        cache.sync_folder_list(BOB, [("INBOX",), ("Archive",)])
        cache.upsert_messages(
            BOB,
            "INBOX",
            [
                msg(1, subject="Quarterly numbers", preview="see the attached spreadsheet"),
                msg(2, subject="Lunch?", sender_name="Carol", sender_address="carol@c.test"),
                msg(4, subject="Budget 100% done", recipients="dave@d.test, erin@e.test"),
                msg(5, subject="snake_case and percent", preview="nothing else"),
            ],
        )
        cache.upsert_messages(
            BOB, "Archive", [msg(3, "Archive", subject="Old quarterly numbers", date=1.0)]
        )

        def found(text: str, folder: str | None = "INBOX", limit: int = 200) -> list[int]:
            return [m.uid for m in cache.search(BOB, folder, text, limit)]

        assert found("quarterly") == [1]
        assert found("QUARTERLY numbers", folder=None) == [1, 3]  # newest first
        assert [m.folder for m in cache.search(BOB, None, "quarterly")] == ["INBOX", "Archive"]
        assert found("quarterly lunch") == []  # every word must match
        assert found("carol") == [2]  # sender address or name
        assert found("erin") == [4]  # Cc
        assert found("spreadsheet") == [1]  # preview
        assert found("carol@c.test") == [2]
        assert found("quarterly", folder=None, limit=1) == [1]
        assert found("") == found("  - ") == []
        for hostile in ('"', "OR NOT", "NEAR(", "subject:x", "*", "'; DROP TABLE messages; --"):
            assert found(hostile) == []
        assert cache.count(BOB, "INBOX") == 4

        cache.upsert_messages(BOB, "INBOX", [msg(2, subject="Dinner?", sender_name="Carol")])
        assert found("lunch") == []
        assert found("dinner") == [2]
        cache.remove_messages(BOB, "INBOX", [1])
        assert found("quarterly", folder=None) == [3]
        assert found("quart", folder=None) == [3]
        if full_text:
            assert found("uarterly", folder=None) == []  # words match by their beginning
            db = sqlite3.connect(path)
            try:  # the external-content index agrees with the table after all that
                db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
            finally:
                db.close()
        else:
            assert found("uarterly", folder=None) == [3]  # anywhere in a field
            assert found("100%") == [4]  # % and _ are literal, not wildcards
            assert found("e_c") == [5]
            assert found("0%d") == []


@pytest.mark.skipif(not _fts5(), reason="no FTS5")
def test_full_text_search_folds_diacritics(cache: MailCache) -> None:
    cache.upsert_messages(BOB, "INBOX", [msg(1, subject="Résumé attached", sender_name="Zoë")])
    assert [m.uid for m in cache.search(BOB, "INBOX", "resume zoe")] == [1]


def test_search_query_building() -> None:
    assert fts_query('say "hi" - now') == '"say"* """hi"""* "now"*'
    assert fts_query(" & ") is None
    assert like_patterns("50%_off\\") == ["%50\\%\\_off\\\\%"]


# -- bodies ---------------------------------------------------------------------------------


def test_bodies_round_trip_and_eviction(cache: MailCache) -> None:
    cache.upsert_messages(BOB, "INBOX", [msg(uid) for uid in range(1, 5)])
    assert cache.body(BOB, "INBOX", 1) is None
    raw = b"From: alice@a.test\r\nSubject: \xe9\r\n\r\n" + bytes(range(256))
    cache.store_body(BOB, "INBOX", 1, raw)
    assert cache.body(BOB, "INBOX", 1) == raw
    for uid in (2, 3, 4):
        cache.store_body(BOB, "INBOX", uid, bytes(100))
    assert cache.bodies_size() == len(raw) + 300
    with pytest.raises(UnknownMessageError):
        cache.store_body(BOB, "INBOX", 99, b"x")
    with pytest.raises(UnknownMessageError):
        cache.store_body(BOB, "Nope", 1, b"x")

    assert cache.evict_bodies(keep_bytes=250) == 2  # the oldest two: 1 and 2
    assert [cache.body(BOB, "INBOX", uid) is not None for uid in (1, 2, 3, 4)] == [
        False, False, True, True,
    ]  # fmt: skip
    assert cache.message(BOB, "INBOX", 1) is not None  # the envelope stays
    cache.remove_messages(BOB, "INBOX", [3])
    assert cache.bodies_size() == 100
    assert cache.evict_bodies(keep_bytes=0) == 1
    assert cache.bodies_size() == 0


def test_eviction_of_some_accounts_reads_sizes_from_the_index(cache: MailCache) -> None:
    """Only the accounts named lose bodies, and only theirs count toward the limit; sizes
    come from the age index (schema 2), never from the rows, where each follows its blob."""
    cache.sync_folder_list(ALICE, [("INBOX", "/", None, True)])
    for account in (BOB, ALICE):
        cache.upsert_messages(account, "INBOX", [msg(uid, account=account) for uid in (1, 2)])
        for uid in (1, 2):
            cache.store_body(account, "INBOX", uid, bytes(100))
    assert cache.evict_bodies(keep_bytes=100, accounts=[BOB.upper()]) == 1
    assert [cache.body(BOB, "INBOX", u) is not None for u in (1, 2)] == [False, True]
    assert [cache.body(ALICE, "INBOX", u) is not None for u in (1, 2)] == [True, True]
    assert cache.evict_bodies(keep_bytes=0, accounts=[]) == 0
    db = sqlite3.connect(cache.path)
    try:
        plans = [
            [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
            for sql, args in (
                ("SELECT coalesce(sum(size), 0) FROM bodies", ()),
                (_EVICT.format(where="WHERE f.account IN (?)"), (BOB, 0)),
                (_EVICT.format(where=""), (0,)),
            )
        ]
    finally:
        db.close()
    for plan in plans:  # bodies are read through the index, messages and folders by key
        assert "SCAN b USING COVERING INDEX bodies_by_age" in plan or plan == [
            "SCAN bodies USING COVERING INDEX bodies_by_age"
        ], plan
        assert not [step for step in plan if "SCAN m" in step or "SCAN f" in step], plan


# -- traces ---------------------------------------------------------------------------------


def _submission_leg() -> Leg:
    facts = TlsFacts(encrypted=True, mode=TlsMode.IMPLICIT, version="TLS1_3", verified=True)
    return Leg(
        Endpoint(Role.MUA), Endpoint(Role.MSA, "smtp.a.test"), Protocol.SUBMISSION, facts,
        Source.OBSERVED, port_role=465, port_actual=10465,
    )  # fmt: skip


def test_traces_round_trip(cache: MailCache) -> None:
    assert cache.trace(BOB, "<1@a.test>") is None
    trace = Trace(TraceStatus.DELIVERED, [_submission_leg()], "hi", "<1@a.test>")
    cache.store_trace("Bob@B.TEST", "<1@a.test>", trace)
    stored = cache.trace(BOB, " 1@a.test ")  # same Message-ID, however written
    assert stored is not None
    assert (stored.account, stored.message_id) == (BOB, "<1@a.test>")
    assert stored.trace == trace.to_json()
    assert stored.trace["legs"][0]["tls"]["version"] == "TLSv1.3"
    assert stored.observed_legs == []

    replaced = {"status": "deferred", "legs": [], "subject": None, "message_id": "<1@a.test>"}
    cache.store_trace(BOB, "<1@a.test>", replaced)
    assert cache.trace(BOB, "<1@a.test>").trace == replaced
    assert cache.trace(ALICE, "<1@a.test>") is None


def test_observed_legs_before_and_beside_the_trace(cache: MailCache) -> None:
    leg = _submission_leg().to_json(1)
    cache.add_observed_leg(ALICE, "<sent@a.test>", leg)  # the outbox, before any trace
    cache.add_observed_leg(ALICE, "<sent@a.test>", dict(leg))  # a retry: same observation
    stored = cache.trace(ALICE, "<sent@a.test>")
    assert stored is not None
    assert (stored.trace, stored.observed_legs) == (None, [leg])

    cache.store_trace(ALICE, "<sent@a.test>", {"status": "delivered", "legs": []})
    other = {**leg, "note": "second attempt"}
    cache.add_observed_leg(ALICE, "<sent@a.test>", other)
    stored = cache.trace(ALICE, "<sent@a.test>")
    assert stored is not None
    assert stored.trace == {"status": "delivered", "legs": []}
    assert stored.observed_legs == [leg, other]


# -- threads and closing --------------------------------------------------------------------


def test_reader_is_not_blocked_by_a_write_in_progress(cache: MailCache) -> None:
    cache.upsert_messages(BOB, "INBOX", [msg(uid) for uid in range(1, 11)])
    writing, release = threading.Event(), threading.Event()

    def slow_writer() -> None:  # a sync batch that is still running
        with cache._file.writing() as db:
            db.execute("UPDATE messages SET subject = 'changed'")
            writing.set()
            release.wait(10)

    worker = threading.Thread(target=slow_writer)
    worker.start()
    try:
        assert writing.wait(10)
        assert {m.subject for m in cache.page(BOB, "INBOX")} != {"changed"}  # last commit
        assert cache.count(BOB, "INBOX") == 10
    finally:
        release.set()
        worker.join(10)
    assert {m.subject for m in cache.page(BOB, "INBOX")} == {"changed"}


def test_concurrent_writer_and_reader(cache: MailCache) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    seen_counts: list[int] = []

    def writer() -> None:
        try:
            for batch in range(20):
                uids = range(batch * 50 + 1, batch * 50 + 51)
                cache.upsert_messages(BOB, "INBOX", [msg(uid) for uid in uids])
                cache.update_flags(BOB, "INBOX", {uid: frozenset({"\\Seen"}) for uid in uids})
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                seen_counts.append(cache.folders(BOB)[0].total)
                page = cache.page(BOB, "INBOX", limit=50)
                assert [m.date for m in page] == sorted((m.date for m in page), reverse=True)
                cache.search(BOB, "INBOX", "message")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert seen_counts == sorted(seen_counts)  # committed batches only, in order
    folder = cache.folder(BOB, "INBOX")
    assert folder is not None
    assert (folder.total, folder.unread) == (1000, 0)
    assert cache.uids(BOB, "INBOX") == list(range(1, 1001))


def test_close_closes_every_thread_connection(path: Path) -> None:
    cache = MailCache(path)
    cache.sync_folder_list(BOB, [("INBOX",)])
    worker = threading.Thread(target=lambda: cache.upsert_messages(BOB, "INBOX", [msg(1)]))
    worker.start()
    worker.join(10)
    assert cache.uids(BOB, "INBOX") == [1]
    assert Path(f"{path}-wal").exists()
    cache.close()
    cache.close()  # idempotent
    # SQLite checkpoints and removes the WAL when the last connection to the file closes.
    assert not Path(f"{path}-wal").exists()
    with pytest.raises(CacheClosedError):
        cache.uids(BOB, "INBOX")
    with pytest.raises(CacheClosedError):
        cache.upsert_messages(BOB, "INBOX", [msg(2)])
