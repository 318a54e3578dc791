"""`mua accounts add --pop3 HOST:PORT --pop3-security implicit|starttls|none`: a POP3 account.

The account downloads its mail over POP3 into the local INBOX (mua.client.pop3_sync), with
Thunderbird's leave-on-server defaults (`--pop3-keep-days`, `--pop3-no-leave-on-server`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mua.core.account import Account, Pop3Settings, ServerSettings
from mua.core.i18n import _
from mua.core.tls_facts import Security

DISCOVER = "discover"  # `--pop3` given without HOST:PORT


def add_arguments(add: argparse.ArgumentParser) -> None:
    add.add_argument(
        "--pop3",
        metavar="HOST:PORT",
        nargs="?",
        const=DISCOVER,
        help=_(
            "download mail over POP3 from this server instead of using IMAP; without "
            "HOST:PORT, the server is discovered (SRV records, usual names, implicit TLS first)"
        ),
    )
    add.add_argument("--pop3-security", choices=[s.value for s in Security])
    add.add_argument(
        "--pop3-server-name", help=_("the name to verify when --pop3 gives an address")
    )
    add.add_argument(
        "--pop3-keep-days",
        type=int,
        default=14,
        help=_("remove messages from the server this many days after download (0: never)"),
    )
    add.add_argument(
        "--pop3-no-leave-on-server",
        action="store_true",
        help=_("remove messages from the server as soon as they are downloaded"),
    )


def settings(
    args: argparse.Namespace,
    host: str,
    port: int,
    username: str,
    ca_file: Path | None,
    *,
    security: Security | None = None,
    server_name: str | None = None,
) -> Pop3Settings:
    """The POP3 settings `args` ask for; the 110 role defaults to STLS, anything else to TLS."""
    if args.pop3_security:
        security = Security(args.pop3_security)
    elif security is None:
        security = Security.STARTTLS if port == 110 else Security.IMPLICIT
    name = args.pop3_server_name or server_name
    server = ServerSettings(host, port, security, username, ca_file, name)
    return Pop3Settings(
        server,
        leave_on_server=not args.pop3_no_leave_on_server,
        keep_days=args.pop3_keep_days if args.pop3_keep_days > 0 else None,
    )


def discovered(
    args: argparse.Namespace,
    address: str,
    username: str,
    nameserver: tuple[str, int] | None,
) -> Pop3Settings | None:
    """`--pop3` without HOST:PORT: the first POP3 server that works (mua.net.pop3_discovery)."""
    import asyncio

    from mua.net.pop3_discovery import discover_pop3

    found = asyncio.run(
        discover_pop3(
            address,
            nameserver=nameserver,
            trust_anchor_file=args.trust_anchor,
            ca_file=args.ca_file,
        )
    ).found
    if found is None:
        return None
    return settings(
        args,
        found.host,
        found.port,
        username,
        args.ca_file,
        security=found.security,
        server_name=found.server_name,
    )


def check_signin(account: Account, password: str) -> None:
    """Sign in over POP3 (and QUIT at once, deleting nothing) before the account is saved."""
    from mua.client.pop3_sync import endpoint_for
    from mua.net.pop3 import Pop3Session

    session = Pop3Session.connect(endpoint_for(account), timeout=15)
    try:
        assert account.pop3 is not None
        session.login(
            account.pop3.server.username,
            password,
            allow_cleartext_auth=account.allow_cleartext_auth,
        )
        session.quit()
    finally:
        session.close()
