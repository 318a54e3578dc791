"""The scripting commands over the client engine: accounts, sync, list, read, send.

Exit codes a script can rely on (sysexits.h names):
  0 done; 1 failed; 2 bad usage; 65 (EX_DATAERR) the message or address is wrong;
  69 (EX_UNAVAILABLE) the server could not be reached; 75 (EX_TEMPFAIL) queued, will retry;
  77 (EX_NOPERM) password or certificate refused;
  78 (EX_CONFIG) no such account, no keyring, or a CA file that cannot be read.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from mua import cli_oauth, cli_pop3
from mua.core.account import Account, ServerSettings
from mua.core.i18n import N_, _, error_text, translated
from mua.core.tls import Security

EXIT_OK, EXIT_FAIL, EXIT_DATA, EXIT_UNAVAILABLE, EXIT_TEMPFAIL, EXIT_NOPERM, EXIT_CONFIG = (
    0,
    1,
    65,
    69,
    75,
    77,
    78,
)
EXIT_CODES = N_(
    "0 done; 1 failed; 2 bad usage; 65 (EX_DATAERR) the message or address is wrong;\n"
    "69 (EX_UNAVAILABLE) the server could not be reached; 75 (EX_TEMPFAIL) queued, will retry;\n"
    "77 (EX_NOPERM) password or certificate refused;\n"
    "78 (EX_CONFIG) no such account, no keyring, or a CA file that cannot be read."
)


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def register(sub: argparse._SubParsersAction) -> None:
    accounts = sub.add_parser("accounts", help=_("add, list or remove mail accounts"))
    acc = accounts.add_subparsers(title="accounts commands", metavar="ACTION", required=True)
    add = acc.add_parser(
        "add",
        help=_("add an account, discovering what is not given, and check that it signs in"),
        description=_(
            "Add an account. Servers not given are discovered (RFC 6186 SRV records, "
            "autoconfig, probing), implicit TLS preferred. The password is read from standard "
            "input and kept in the system keyring, never in a file."
        ),
    )
    add.add_argument("address")
    add.add_argument("--imap", metavar="HOST:PORT")
    add.add_argument("--smtp", metavar="HOST:PORT")
    add.add_argument("--imap-security", choices=[s.value for s in Security])
    add.add_argument("--smtp-security", choices=[s.value for s in Security])
    add.add_argument("--username", help=_("when it is not the address"))
    add.add_argument(
        "--imap-server-name", help=_("the name to verify when --imap gives an address")
    )
    add.add_argument(
        "--smtp-server-name", help=_("the name to verify when --smtp gives an address")
    )
    add.add_argument("--display-name", default="")
    add.add_argument("--ca-file", type=Path, help=_("trust this CA for the account's servers"))
    add.add_argument("--nameserver", metavar="HOST:PORT", help=_("DNS server for discovery"))
    add.add_argument("--trust-anchor", type=Path, help=_("DNSSEC trust anchor for --nameserver"))
    add.add_argument("--password-stdin", action="store_true")
    add.add_argument("--allow-cleartext", action="store_true", help=_("consent to security none"))
    add.add_argument(
        "--server-saves-sent",
        action="store_true",
        help=_(
            "the server files sent mail in Sent itself (as Gmail does): mua does not add a copy"
        ),
    )
    cli_pop3.add_arguments(add)
    cli_oauth.add_arguments(add)
    add.set_defaults(run=_accounts_add)
    ls = acc.add_parser("list", help=_("the configured accounts"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=_accounts_list)
    rm = acc.add_parser("remove", help=_("remove an account and its stored passwords"))
    rm.add_argument("address")
    rm.set_defaults(run=_accounts_remove)

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


# -- plumbing ---------------------------------------------------------------------------------


def _secrets():
    from mua.store.config import SettingsStore
    from mua.store.secrets import NoKeyring, Secrets, SecretsError

    settings = SettingsStore().load()
    try:
        if settings.secrets_backend == "encrypted-file":
            return Secrets.encrypted_file(_master_password())
        return Secrets()
    except NoKeyring as exc:
        hint = _(
            'For the command line, set secrets_backend = "encrypted-file" in {path} and '
            "provide MUA_MASTER_PASSWORD."
        ).format(path=SettingsStore().path)
        raise CliError(f"{error_text(exc)} {hint}", EXIT_CONFIG) from exc
    except SecretsError as exc:
        raise CliError(error_text(exc), EXIT_CONFIG) from exc


def _master_password() -> str:
    value = os.environ.get("MUA_MASTER_PASSWORD")
    if value:
        return value
    if sys.stdin.isatty():
        return getpass.getpass(_("mua master password: "))
    raise CliError(
        _("The password file needs its master password: set MUA_MASTER_PASSWORD."), EXIT_CONFIG
    )


def _engine():
    from mua.client.engine import Engine

    return Engine.open(_secrets())


def _errors(exc: BaseException) -> CliError:
    """One sentence and the right exit code for what the layers below raise."""
    from mua.client.engine import MissingPassword
    from mua.core.compose import ComposeError
    from mua.net import imap, pop3, submission_errors
    from mua.net.oauth import OAuthError
    from mua.net.oauth_providers import NoClientId
    from mua.net.tls import CaFileError

    text = error_text(exc)
    if isinstance(
        exc,
        imap.AuthenticationFailed
        | submission_errors.AuthenticationFailed
        | pop3.AuthenticationFailed,
    ):
        return CliError(text, EXIT_NOPERM)
    if isinstance(
        exc,
        imap.CertificateInvalid | submission_errors.CertificateInvalid | pop3.CertificateInvalid,
    ):
        return CliError(text, EXIT_NOPERM)
    if isinstance(exc, MissingPassword | LookupError | CaFileError | NoClientId):
        return CliError(text, EXIT_CONFIG)
    if isinstance(exc, OAuthError):  # refused in the browser, sign in again, unreachable
        return CliError(text, EXIT_NOPERM)
    if isinstance(exc, ConnectionError | TimeoutError | imap.ImapError | pop3.Pop3Error):
        return CliError(text, EXIT_UNAVAILABLE)
    if isinstance(exc, ComposeError):
        return CliError(text, EXIT_DATA)
    return CliError(text)


def _host_port(value: str, option: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise CliError(
            _("{option} needs HOST:PORT, not {value}.").format(option=option, value=repr(value)), 2
        )
    return host, int(port)


def _default_security(port: int, imap: bool) -> Security:
    starttls_ports = {143} if imap else {587, 25}
    return Security.STARTTLS if port in starttls_ports else Security.IMPLICIT


# -- accounts ---------------------------------------------------------------------------------


def _accounts_add(args: argparse.Namespace) -> int:
    import asyncio

    from mua.net import discovery
    from mua.store.config import AccountExists, AccountStore

    if args.oauth == args.password_stdin:
        raise CliError(_("Give either --password-stdin or --oauth."), 2)
    password = "" if args.oauth else sys.stdin.readline().rstrip("\r\n")
    if not password and not args.oauth:
        raise CliError(_("No password on standard input; pipe it in (--password-stdin)."), 2)
    address = args.address
    username = args.username or address
    if args.ca_file is not None:  # stored absolute: the account works from any directory
        args.ca_file = _readable_ca_file(args.ca_file)
    servers: dict[str, ServerSettings] = {}
    for kind, option, security, name in (
        ("imap", args.imap, args.imap_security, args.imap_server_name),
        ("smtp", args.smtp, args.smtp_security, args.smtp_server_name),
    ):
        if option:
            host, port = _host_port(option, f"--{kind}")
            mode = Security(security) if security else _default_security(port, kind == "imap")
            servers[kind] = ServerSettings(host, port, mode, username, args.ca_file, name)
    pop3 = None
    if args.pop3 == cli_pop3.DISCOVER:
        nameserver = _host_port(args.nameserver, "--nameserver") if args.nameserver else None
        pop3 = cli_pop3.discovered(args, address, username, nameserver)
        if pop3 is None:
            raise CliError(
                _("No POP3 server was found for {address}; give it with --pop3 HOST:PORT.").format(
                    address=address
                ),
                EXIT_UNAVAILABLE,
            )
    elif args.pop3:
        host, port = _host_port(args.pop3, "--pop3")
        pop3 = cli_pop3.settings(args, host, port, username, args.ca_file)
    if pop3 is not None:  # a POP3 account: `imap` repeats its server (never spoken to)
        servers.setdefault("imap", pop3.server)
    oauth_hint = None  # the provider's OAuth2 issuer, when its autoconfig file names one
    if len(servers) < 2:
        nameserver = _host_port(args.nameserver, "--nameserver") if args.nameserver else None
        found = asyncio.run(
            discovery.discover(
                address,
                nameserver=nameserver,
                trust_anchor_file=args.trust_anchor,
                ca_file=args.ca_file,
            )
        )
        oauth_hint = found.oauth2
        account = discovery.account_from(found, display_name=args.display_name)
        if account is None:
            raise CliError(
                _(
                    "No mail servers were found for {address}; give them with --imap and --smtp."
                ).format(address=address),
                EXIT_UNAVAILABLE,
            )
        servers.setdefault("imap", _with_user(account.imap, username, args.ca_file))
        servers.setdefault("smtp", _with_user(account.smtp, username, args.ca_file))
    for kind in ("imap", "smtp"):
        if servers[kind].security is Security.NONE and not args.allow_cleartext:
            raise CliError(
                _(
                    "The {protocol} server offers no TLS; passwords would cross the network in "
                    "clear. Use --allow-cleartext only if you accept that."
                ).format(protocol=kind.upper()),
                EXIT_NOPERM,
            )
        if servers[kind].security is Security.NONE:
            print(
                _(
                    "Warning: the {protocol} server offers no TLS: your password and your mail "
                    "will cross the network in clear, where anyone on the path can read them. "
                    "Allowed for {address} only, as you asked."
                ).format(protocol=kind.upper(), address=address),
                file=sys.stderr,
            )
    account = Account(
        address=address,
        display_name=args.display_name,
        imap=servers["imap"],
        smtp=servers["smtp"],
        nameserver=args.nameserver,
        cleartext_consent=args.allow_cleartext,
        # the error above named the risk: the password crosses in clear too
        allow_cleartext_auth=args.allow_cleartext,
        server_saves_sent=args.server_saves_sent,
        pop3=pop3,
    )
    refresh_token = ""
    if args.oauth:  # the browser step; IMAP checked with the token (cli_oauth.py)
        try:
            oauth = cli_oauth.settings_for(args, account, oauth_hint)
            account = account.with_changes(oauth=oauth)
            refresh_token = cli_oauth.sign_in(args, account)
        except Exception as exc:
            raise _errors(exc) from exc
    else:
        _check_signin(account, password)
    secrets = _secrets()
    store = AccountStore()
    try:
        store.add(account)
    except AccountExists as exc:
        raise CliError(error_text(exc), EXIT_FAIL) from exc
    if refresh_token:
        secrets.set(account.key, "oauth", refresh_token)
    else:
        secrets.set(account.key, "imap", password)
        secrets.set(account.key, "smtp", password)
    if account.pop3 is not None:
        print(
            _("Added {address}: POP3 {pop3}; SMTP {smtp}.").format(
                address=address, pop3=_describe(account.pop3.server), smtp=_describe(account.smtp)
            )
        )
    else:
        print(
            _("Added {address}: IMAP {imap}; SMTP {smtp}.").format(
                address=address, imap=_describe(account.imap), smtp=_describe(account.smtp)
            )
        )
    return EXIT_OK


def _readable_ca_file(path: Path) -> Path:
    from mua.net.tls import CaFileError, client_context

    path = path.expanduser().absolute()
    try:
        client_context(path)
    except CaFileError as exc:
        raise CliError(error_text(exc), EXIT_CONFIG) from exc
    return path


def _with_user(settings: ServerSettings, username: str, ca_file: Path | None) -> ServerSettings:
    from dataclasses import replace

    return replace(settings, username=username, ca_file=ca_file or settings.ca_file)


def _describe(s: ServerSettings) -> str:
    return f"{s.server_name or s.host}:{s.port} ({s.security.value})"


def _check_signin(account: Account, password: str) -> None:
    """Sign in to IMAP and look at the SMTP server before anything is saved."""
    import asyncio

    from mua.client.outbox import submission_endpoint
    from mua.client.sync import endpoint_for
    from mua.net.imap import ImapSession
    from mua.net.submission import probe

    try:
        if account.pop3 is not None:
            cli_pop3.check_signin(account, password)
            asyncio.run(probe(submission_endpoint(account), timeout=15))
            return
        with ImapSession.connect(endpoint_for(account), timeout=15) as session:
            session.login(
                account.imap.username,
                password,
                allow_cleartext_auth=account.allow_cleartext_auth,
            )
        asyncio.run(probe(submission_endpoint(account), timeout=15))
    except Exception as exc:
        raise _errors(exc) from exc


def _accounts_list(args: argparse.Namespace) -> int:
    from mua.store.config import AccountStore

    accounts = AccountStore().load()
    if args.json:
        print(json.dumps([a.to_dict() for a in accounts], indent=2))
        return EXIT_OK
    if not accounts:
        print(_("No accounts yet; add one with `mua accounts add ADDRESS --password-stdin`."))
    for a in accounts:
        incoming = f"POP3 {_describe(a.pop3.server)}" if a.pop3 else f"IMAP {_describe(a.imap)}"
        print(f"{a.address}  {incoming}  SMTP {_describe(a.smtp)}")
    return EXIT_OK


def _accounts_remove(args: argparse.Namespace) -> int:
    from mua.store.config import AccountNotFound, AccountStore

    store = AccountStore()
    account = store.get(args.address)
    try:
        store.remove(args.address)
    except AccountNotFound as exc:
        raise CliError(
            _("There is no account {address}.").format(address=args.address), EXIT_CONFIG
        ) from exc
    secrets = _secrets()
    if account is not None:
        for service in ("imap", "smtp", "oauth"):  # "oauth": an OAuth2 refresh token
            secrets.delete(account.key, service)
    print(_("Removed {address}.").format(address=args.address))
    return EXIT_OK


# -- reading ----------------------------------------------------------------------------------


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    engine = _engine()
    try:
        addresses = [args.address] if args.address else [a.address for a in engine.accounts.load()]
        report = []
        for address in addresses:
            try:
                results = asyncio.run(engine.sync(address, args.folder))
            except Exception as exc:
                raise _errors(exc) from exc
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
        when = datetime.fromtimestamp(r.date).strftime("%Y-%m-%d %H:%M")
        unread = " " if "\\Seen" in r.flags else "*"
        sender = (r.sender_name or r.sender_address)[:22]
        print(f"{r.uid:>6} {unread} {when}  {sender:<22}  {r.subject[:40]}")
    return EXIT_OK


def _row_json(r) -> dict:
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
        raise _errors(exc) from exc
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
            raise _errors(exc) from exc
    finally:
        engine.close()
    entry = outcome.entry
    result = {"sent": outcome.sent, "message_id": entry.message_id, "error": outcome.error}
    if outcome.result is not None:
        result["tls"] = outcome.result.tls.to_json()
        result["saved_to_sent"] = outcome.saved_to_sent
    if args.json:
        print(json.dumps(result, indent=2))
    elif outcome.sent:
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
