"""The scripting commands over the client engine: sync, list, read, send, outbox.

`accounts` is in mua/cli/accounts.py; the exit codes all of them share in mua/cli/exit_codes.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mua.cli.accounts import open_secrets
from mua.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_FAIL,
    EXIT_OK,
    EXIT_TEMPFAIL,
    CliError,
    error_for,
)
from mua.core.i18n import _, error_text, translated

if TYPE_CHECKING:  # imported when used: a command's start-up stays light
    from mua.client.engine import Engine
    from mua.store.cache_rows import CachedMessage


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The mail commands: sync, list, read, send, outbox."""
    sync = sub.add_parser("sync", help=_("bring the local cache up to date with the server"))
    sync.add_argument("address", nargs="?", help=_("one account (default: all)"))
    sync.add_argument("--folder", action="append", help=_("only this folder (repeatable)"))
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(run=_sync)

    lst = sub.add_parser("list", help=_("messages of a folder, from the local cache"))
    lst.add_argument("address")
    lst.add_argument("--folder", default="INBOX")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)

    read = sub.add_parser("read", help=_("show one message (fetched when not cached)"))
    read.add_argument("address")
    read.add_argument("uid", type=int)
    read.add_argument("--folder", default="INBOX")
    read.add_argument("--raw", action="store_true", help=_("the message exactly as stored"))
    read.set_defaults(run=_read)

    send = sub.add_parser(
        "send",
        help=_("send a message through the Outbox"),
        description=_(
            "The message goes into the Outbox first; it is submitted at once, and "
            "retried later if the server cannot take it now (exit 75)."
        ),
    )
    send.add_argument("--from", dest="sender", required=True)
    send.add_argument("--to", action="append", default=[], required=True)
    send.add_argument("--cc", action="append", default=[])
    send.add_argument("--bcc", action="append", default=[])
    send.add_argument("--subject", default="")
    body = send.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file", type=Path)
    send.add_argument("--attach", action="append", type=Path, default=[])
    send.add_argument("--json", action="store_true")
    send.set_defaults(run=_send)

    outbox = sub.add_parser("outbox", help=_("what waits in the Outbox; --flush sends what is due"))
    outbox.add_argument("--flush", action="store_true")
    outbox.add_argument("--json", action="store_true")
    outbox.set_defaults(run=_outbox)


def _engine() -> Engine:
    from mua.client.engine import Engine

    return Engine.open(open_secrets())


# -- reading ----------------------------------------------------------------------------------


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    engine = _engine()
    try:
        addresses = [args.address] if args.address else [a.address for a in engine.accounts.load()]
        report: list[dict[str, Any]] = []
        for address in addresses:
            try:
                results = asyncio.run(engine.sync(address, args.folder))
            except Exception as exc:
                raise error_for(exc) from exc
            report.append({"address": address, "folders": [r.__dict__ for r in results]})
    finally:
        engine.close()
    if args.json:
        print(json.dumps({"accounts": report}, indent=2))
    else:
        for entry in report:
            for f in entry["folders"]:
                counts = _("{added} new, {removed} removed, {flags} flag changes").format(
                    added=f["added"], removed=f["removed"], flags=f["flags_changed"]
                )
                reset = "; " + _("the server renumbered it (UIDVALIDITY)") if f["reset"] else ""
                print(f"{entry['address']} {f['folder']}: {counts}{reset}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        account = engine.account(args.address)
        rows = engine.cache.page(account.key, args.folder, limit=args.limit)
    except LookupError as exc:
        raise CliError(error_text(exc), EXIT_CONFIG) from exc
    finally:
        engine.close()
    if args.json:
        print(json.dumps([_row_json(r) for r in rows], indent=2))
        return EXIT_OK
    for r in rows:
        when = datetime.fromtimestamp(r.date).strftime("%Y-%m-%d %H:%M") if r.date else " " * 16
        unread = " " if "\\Seen" in r.flags else "*"
        sender = (r.sender_name or r.sender_address)[:22]
        print(f"{r.uid:>6} {unread} {when}  {sender:<22}  {r.subject[:40]}")
    return EXIT_OK


def _row_json(r: CachedMessage) -> dict[str, Any]:
    return {
        "uid": r.uid,
        "message_id": r.message_id,
        "date": r.date,
        "from": {"name": r.sender_name, "address": r.sender_address},
        "to": r.recipients,
        "subject": r.subject,
        "size": r.size,
        "flags": sorted(r.flags),
        "has_attachments": r.has_attachments,
    }


def _read(args: argparse.Namespace) -> int:
    import asyncio
    import email.policy

    from mua.core.mime import parse_bytes, too_deep_note, too_deeply_nested

    engine = _engine()
    try:
        raw = asyncio.run(engine.body(args.address, args.folder, args.uid))
    except Exception as exc:
        raise error_for(exc) from exc
    finally:
        engine.close()
    if args.raw:
        sys.stdout.buffer.write(raw)
        return EXIT_OK
    msg = parse_bytes(raw, policy=email.policy.default)
    for header in ("From", "To", "Cc", "Date", "Subject"):
        if msg[header]:
            print(f"{header}: {msg[header]}")
    print()
    body = msg.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else _("(no text part)")
    print(text.replace("\r\n", "\n").rstrip("\n"))
    attachments = [part.get_filename() or _("unnamed") for part in msg.iter_attachments()]
    if attachments:
        print("\n" + _("Attachments: {names}").format(names=", ".join(attachments)))
    if too_deeply_nested(msg):
        print("\n" + too_deep_note())
    return EXIT_OK


# -- sending ----------------------------------------------------------------------------------


def _send(args: argparse.Namespace) -> int:
    import asyncio

    from mua.core.compose import Attachment, Draft

    text = args.body if args.body is not None else args.body_file.read_text()
    try:
        attachments = tuple(Attachment.from_path(p) for p in args.attach)
    except OSError as exc:
        raise CliError(
            _("Cannot read the attachment: {error}.").format(error=exc), EXIT_DATA
        ) from exc
    draft = Draft(
        sender=args.sender,
        to=tuple(args.to),
        cc=tuple(args.cc),
        bcc=tuple(args.bcc),
        subject=args.subject,
        text=text,
        attachments=attachments,
    )
    engine = _engine()
    try:
        try:
            outcome = asyncio.run(engine.send(draft))
        except Exception as exc:
            raise error_for(exc) from exc
    finally:
        engine.close()
    entry = outcome.entry
    result = {"sent": outcome.sent, "message_id": entry.message_id, "error": outcome.error}
    if outcome.result is not None:
        result["tls"] = outcome.result.tls.to_json()
        result["saved_to_sent"] = outcome.saved_to_sent
    if args.json:
        print(json.dumps(result, indent=2))
    elif outcome.sent and outcome.result is not None:  # sent: its result is there
        tls = translated(outcome.result.tls.summary())
        print(_("Sent {message_id} ({tls}).").format(message_id=entry.message_id, tls=tls))
    if outcome.sent:
        return EXIT_OK
    if not args.json:
        print(f"mua: {translated(outcome.error or '')}", file=sys.stderr)
    return EXIT_TEMPFAIL if not entry.failed else EXIT_FAIL


def _outbox(args: argparse.Namespace) -> int:
    import asyncio

    engine = _engine()
    try:
        if args.flush:
            asyncio.run(engine.flush_outbox())
        entries = engine.outbox.entries()
    finally:
        engine.close()
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2))
    else:
        for e in entries:
            when = f"{datetime.fromtimestamp(e.next_attempt):%H:%M}"
            state = _("failed") if e.failed else _("retry after {time}").format(time=when)
            print(f"{e.account}  {e.subject[:40]!r}  {state}: {e.last_error or ''}")
    return EXIT_OK
