"""A first sync of a 10,000-message INBOX: mua's sync engine beside a bare imapclient FETCH.

Both servers of bench/imap_fetch.py (ours in a demo-world subprocess, and a throwaway
Dovecot; bench/_servers.py sets them up) get the same 10,000 messages and serve them over
implicit TLS with certificates from one LocalCA. For each server, --runs times, interleaved
(the order alternates run by run, so both see the same server state):
(a) the engine: `AccountSync.sync_folder("INBOX")` into a fresh, empty MailCache in a new
    temporary directory: connect, login, LIST/LSUB (the folder is not cached yet), EXAMINE,
    UID SEARCH ALL, UID FETCH of sync.FETCH_ITEMS in batches of sync.BATCH UIDs, and the
    cache writes (one transaction per batch, with the FTS5 index);
(b) the floor: a bare IMAPClient that connects, logs in, EXAMINEs INBOX, UID SEARCH ALL and
    UID FETCHes the same items for the same UIDs in the same batches, keeping the parsed
    results in memory.
Opening the empty cache and closing either connection are not timed. Before the timed runs,
one untimed bare run (Dovecot fills its cache file on the first FETCH; ours builds its index
before it serves) is printed as a one-off. Printed: medians and best of (a) and (b), and
(a)/(b) with the target 1.3x. --profile N prints cProfile's top N functions of one extra
sync per server (cumulative and own time).

    .venv/bin/python bench/first_sync.py [--messages 10000] [--runs 5] [--profile 0]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _servers import Server, filled_servers, start_ours
from imapclient import IMAPClient

from mua.client.sync import BATCH, FETCH_ITEMS, AccountSync
from mua.core.account import Account, ServerSettings
from mua.core.tls_facts import Security
from mua.net.tls import client_context
from mua.store.cache import MailCache

TARGET = 1.3


@dataclass
class Figures:
    """Seconds per run."""

    sync: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    one_off: dict[str, float] = field(default_factory=dict)
    tls: str = ""


def _account(server: Server) -> Account:
    imap = ServerSettings(
        "127.0.0.1", server.port, Security.IMPLICIT, server.user, server.ca_file, server.server_name
    )
    return Account(address="bob@b.test", imap=imap, smtp=imap)


def _bare(server: Server, messages: int) -> tuple[float, str]:
    """One bare first fetch; its seconds and the session's TLS version and cipher."""
    context = client_context(server.ca_file)
    start = time.perf_counter()
    client = IMAPClient("127.0.0.1", server.port, ssl=True, ssl_context=context, timeout=120)
    try:
        client.login(server.user, server.password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search(["ALL"]))
        rows = {}
        for at in range(0, len(uids), BATCH):
            rows.update(client.fetch(uids[at : at + BATCH], FETCH_ITEMS))
        elapsed = time.perf_counter() - start
        sock = client.socket()
        tls = f"{sock.version()} {sock.cipher()[0]}"
    finally:
        client.logout()
    if len(rows) != messages:
        raise RuntimeError(f"{server.name} gave the bare client {len(rows)} messages")
    return elapsed, tls


def _sync(server: Server, messages: int, profile: cProfile.Profile | None = None) -> float:
    """One first sync into a fresh cache; its seconds."""
    with (
        tempfile.TemporaryDirectory(prefix="mua-bench-cache-") as tmp,
        MailCache(Path(tmp) / "mail.sqlite3") as cache,
    ):
        sync = AccountSync(_account(server), lambda: server.password, cache, timeout=120)
        try:
            start = time.perf_counter()
            if profile is not None:
                profile.enable()
            result = sync.sync_folder("INBOX")
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - start
        finally:
            sync.close()
        cached = cache.count("bob@b.test", "INBOX")
    if result.added != messages or cached != messages:
        raise RuntimeError(f"{server.name}: synced {result.added}, cached {cached}")
    return elapsed


def _measure(server: Server, messages: int, runs: int, profile: int) -> Figures:
    figures = Figures(one_off=dict(server.one_off))
    figures.one_off["first bare fetch"], figures.tls = _bare(server, messages)
    for run in range(runs):
        steps = [
            lambda: figures.bare.append(_bare(server, messages)[0]),
            lambda: figures.sync.append(_sync(server, messages)),
        ]
        for step in steps if run % 2 == 0 else reversed(steps):
            step()
    if profile:
        profiler = cProfile.Profile()
        _sync(server, messages, profiler)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(profile)
        stats.sort_stats("tottime").print_stats(profile)
        print(f"--- cProfile of one sync from {server.name} ---\n{out.getvalue()}")
    return figures


def _report(results: list[tuple[str, Figures]], args: argparse.Namespace) -> None:
    tls = "; ".join(f"{name}: {f.tls}" for name, f in results)
    print(
        f"First sync of a {args.messages:,}-message INBOX on 127.0.0.1, implicit TLS ({tls})\n"
        f"UID FETCH ({' '.join(i.decode() for i in FETCH_ITEMS)}) in batches of {BATCH};"
        f" seconds, {args.runs} runs each"
    )
    head = f"{'(a) sync':>10}{'best':>8}{'(b) bare':>10}{'best':>8}{'a/b':>8}"
    print(f"  {'server':10}{head}  target")
    for name, f in results:
        a, b = statistics.median(f.sync), statistics.median(f.bare)
        verdict = "met" if a / b <= TARGET else "MISSED"
        print(
            f"  {name:10}{a:>10.3f}{min(f.sync):>8.3f}{b:>10.3f}{min(f.bare):>8.3f}"
            f"{a / b:>7.2f}x  <= {TARGET}x ({verdict})"
        )
    print("one-off, s (not in the figures above)")
    for name, f in results:
        print("  " + name + ": " + ", ".join(f"{k} {v:.2f}" for k, v in f.one_off.items()))
    if len(results) == 1:
        print("Dovecot is not installed (apt-get install dovecot-imapd): only ours was measured.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of (a) and of (b)")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print cProfile's top N functions"
    )
    args = parser.parse_args()
    results: list[tuple[str, Figures]] = []
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        world_dir, dovecot = filled_servers(Path(tmp), args.messages)
        proc, server = start_ours(world_dir)
        try:
            results.append(("ours", _measure(server, args.messages, args.runs, args.profile)))
        finally:
            proc.terminate()
            proc.wait()
        if dovecot is not None:
            dovecot.start()
            try:
                server = dovecot.server(world_dir / "ca" / "ca.pem")
                figures = _measure(server, args.messages, args.runs, args.profile)
                figures.tls += f", Dovecot {dovecot.version()}"
                results.append(("Dovecot", figures))
            finally:
                dovecot.stop()
    _report(results, args)


if __name__ == "__main__":
    main()
