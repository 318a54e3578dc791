"""Reopening the mail cache and showing the first page of a 100,000-message folder.

Builds, once, in a temporary directory, a cache whose INBOX holds --messages realistic
envelopes (written through MailCache.upsert_messages in sync-sized batches; the build time
is printed too). Then, over --runs runs, interleaved so that both see the same disk cache:
(a) MailCache(path) + page(limit=100): what the message list costs when mua starts, and
(b) the floor: a bare sqlite3.connect + the one SELECT ... ORDER BY date DESC LIMIT 100 that
    page() runs, fetched as tuples, on the same file.
Closing is not timed for either. Printed: median and best of each, the ratio of the
medians, and the target: (a) within 2x of (b).

    .venv/bin/python bench/cache_reopen.py [--messages 100000] [--runs 50]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mua.store.cache import CachedMessage, MailCache

ACCOUNT = "bob@b.test"
BASE_DATE = 1_690_000_000.0  # July 2023; three years of mail follow
TARGET = 2.0
FLOOR_SQL = (
    "SELECT uid, message_id, subject, sender_name, sender_address, recipients, date, size,"
    " flags, has_attachments, preview, in_reply_to, refs, internaldate FROM messages"
    " WHERE folder_id = (SELECT id FROM folders WHERE account = ? AND name = ?)"
    " ORDER BY date DESC, uid DESC LIMIT 100"
)
_WORDS = [
    "quarterly", "numbers", "meeting", "agenda", "invoice", "travel", "review", "draft",
    "release", "notes", "budget", "contract", "schedule", "lunch", "feedback", "report",
    "deploy", "outage", "postmortem", "offsite", "hiring", "plan",
]  # fmt: skip
_NAMES = ["Alice Martin", "Bruno Díaz", "Chen Wei", "Dana O'Neil", "Émile Roux", "", "Farah Ali"]


def _messages(count: int, rng: random.Random) -> Iterator[CachedMessage]:
    """Envelopes as a sync engine would hand them over: a few senders write most of the
    mail, a fifth has a Cc, a third is a reply, most are read, some share a Date."""
    date = BASE_DATE
    for uid in range(1, count + 1):
        date += 0 if uid % 50 == 0 else rng.expovariate(1 / 950)  # ~3 years for 100,000
        n = int(rng.paretovariate(1.2)) % 400
        name = _NAMES[n % len(_NAMES)]
        words = " ".join(rng.choices(_WORDS, k=rng.randint(2, 9)))
        reply = uid % 3 == 0
        flags = {"\\Seen"} if rng.random() < 0.85 else set()
        if rng.random() < 0.05:
            flags.add("\\Flagged")
        if reply and rng.random() < 0.3:
            flags.add("\\Answered")
        yield CachedMessage(
            account=ACCOUNT,
            folder="INBOX",
            uid=uid,
            message_id=f"<{uid}.{rng.getrandbits(40):x}@mail{n % 7}.example.org>",
            subject=("Re: " if reply else "") + words.capitalize(),
            sender_name=name,
            sender_address=f"sender{n}@example{n % 13}.org",
            recipients="Bob <bob@b.test>, team@b.test" if uid % 5 == 0 else "Bob <bob@b.test>",
            date=date,
            internaldate=date + rng.uniform(1, 90),
            size=int(rng.lognormvariate(9, 1.2)) + 800,
            flags=frozenset(flags),
            has_attachments=rng.random() < 0.1,
            preview=" ".join(rng.choices(_WORDS, k=24))[:200],
            in_reply_to=f"<{uid - 1}@mail.example.org>" if reply else None,
            references=f"<{uid - 2}@mail.example.org> <{uid - 1}@mail.example.org>"
            if reply
            else None,
        )


def build(path: Path, count: int, batch: int = 5000) -> float:
    rng = random.Random(20260528)
    started = time.perf_counter()
    with MailCache(path) as cache:
        cache.sync_folder_list(ACCOUNT, [("INBOX", "/", None, True), ("Sent", "/", "\\Sent", True)])
        pending: list[CachedMessage] = []
        for message in _messages(count, rng):
            pending.append(message)
            if len(pending) == batch:
                cache.upsert_messages(ACCOUNT, "INBOX", pending)
                pending.clear()
        cache.upsert_messages(ACCOUNT, "INBOX", pending)
        cache.set_folder_state(
            ACCOUNT, "INBOX", uidvalidity=1, uidnext=count + 1, highestmodseq=None
        )
    return time.perf_counter() - started


def reopen_and_page(path: Path) -> tuple[float, list[CachedMessage]]:
    started = time.perf_counter()
    cache = MailCache(path)
    rows = cache.page(ACCOUNT, "INBOX", limit=100)
    elapsed = time.perf_counter() - started
    cache.close()
    return elapsed, rows


def floor(path: Path) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    db = sqlite3.connect(path)
    rows = db.execute(FLOOR_SQL, (ACCOUNT, "INBOX")).fetchall()
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="mua-cache-bench-") as tmp:
        path = Path(tmp) / "mail.sqlite3"
        built = build(path, args.messages)
        size = path.stat().st_size / 1e6
        print(f"built {args.messages:,} envelopes in {built:.2f} s ({size:.1f} MB)")

        for _ in range(3):  # warm the OS page cache and the code paths
            reopen_and_page(path)
            floor(path)
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(args.runs):
            elapsed, rows = reopen_and_page(path)
            ours.append(elapsed)
            elapsed, tuples = floor(path)
            bare.append(elapsed)
        assert [m.uid for m in rows] == [t[0] for t in tuples], "page() and the floor disagree"

        a, b = statistics.median(ours), statistics.median(bare)
        print(f"(a) MailCache(path) + page(limit=100): median {_ms(a)}, best {_ms(min(ours))}")
        print(f"(b) floor: connect + SELECT LIMIT 100:  median {_ms(b)}, best {_ms(min(bare))}")
        verdict = "met" if a / b <= TARGET else "MISSED"
        print(f"ratio (a)/(b) {a / b:.2f}x; target <= {TARGET:.0f}x: {verdict}")


if __name__ == "__main__":
    main()
