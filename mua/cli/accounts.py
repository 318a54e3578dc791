"""`mua accounts add|list|remove`: accounts and their stored passwords.

`add` discovers what is not given (mua.net.discovery), checks that the account signs in, and
only then saves it (accounts in TOML, passwords in the keyring or the encrypted file).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mua.cli import oauth_signin, pop3_account
from mua.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    CliError,
    error_for,
)
from mua.core.account import Account, ServerSettings
from mua.core.i18n import _, error_text
from mua.core.tls_facts import Security

if TYPE_CHECKING:  # imported when used: the store opens the keyring
    from mua.store.secrets import Secrets


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `accounts` command and its actions (add, list, remove)."""
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
    pop3_account.add_arguments(add)
    oauth_signin.add_arguments(add)
    add.set_defaults(run=_accounts_add)
    ls = acc.add_parser("list", help=_("the configured accounts"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=_accounts_list)
    rm = acc.add_parser("remove", help=_("remove an account and its stored passwords"))
    rm.add_argument("address")
    rm.set_defaults(run=_accounts_remove)


def open_secrets() -> Secrets:
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
    if args.pop3 == pop3_account.DISCOVER:
        nameserver = _host_port(args.nameserver, "--nameserver") if args.nameserver else None
        pop3 = pop3_account.discovered(args, address, username, nameserver)
        if pop3 is None:
            raise CliError(
                _("No POP3 server was found for {address}; give it with --pop3 HOST:PORT.").format(
                    address=address
                ),
                EXIT_UNAVAILABLE,
            )
    elif args.pop3:
        host, port = _host_port(args.pop3, "--pop3")
        pop3 = pop3_account.settings(args, host, port, username, args.ca_file)
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
    if args.oauth:  # the browser step; IMAP checked with the token (oauth_signin.py)
        try:
            oauth = oauth_signin.settings_for(args, account, oauth_hint)
            account = account.with_changes(oauth=oauth)
            refresh_token = oauth_signin.sign_in(args, account)
        except Exception as exc:
            raise error_for(exc) from exc
    else:
        _check_signin(account, password)
    secrets = open_secrets()
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

    from mua.client.imap_connection import endpoint_for
    from mua.client.outbox_sender import submission_endpoint
    from mua.net.imap import ImapSession
    from mua.net.submission import probe

    try:
        if account.pop3 is not None:
            pop3_account.check_signin(account, password)
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
        raise error_for(exc) from exc


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
    secrets = open_secrets()
    if account is not None:
        for service in ("imap", "smtp", "oauth"):  # "oauth": an OAuth2 refresh token
            secrets.delete(account.key, service)
    print(_("Removed {address}.").format(address=args.address))
    return EXIT_OK
