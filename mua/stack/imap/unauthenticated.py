"""The commands of the not authenticated state (RFC 3501 section 6.2): STARTTLS, LOGIN, and
AUTHENTICATE with PLAIN (SASL-IR, RFC 4959) or a bearer token (`oauth_auth`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mua.stack.imap import oauth_auth, protocol
from mua.stack.imap.command_args import at_least, text

if TYPE_CHECKING:
    from mua.stack.imap.server import Handler, Session


async def starttls(session: Session, cmd: protocol.Command) -> None:
    await session.starttls(cmd.tag)


async def login(session: Session, cmd: protocol.Command) -> None:
    user, password = at_least(cmd, 2, "user password")[:2]
    await session.login(
        cmd.tag, text(user, "a user", cmd.tag), text(password, "a password", cmd.tag)
    )


async def authenticate(session: Session, cmd: protocol.Command) -> None:
    args = at_least(cmd, 1, "mechanism [initial-response]")
    mechanism = text(args[0], "a mechanism", cmd.tag).upper()
    if mechanism in oauth_auth.PARSERS:
        initial = text(args[1], "a response", cmd.tag) if len(args) > 1 else None
        await oauth_auth.authenticate_bearer(session, cmd.tag, mechanism, initial)
        return
    if mechanism != "PLAIN":
        await session.send(f"{cmd.tag} NO Unsupported authentication mechanism")
        return
    initial = text(args[1], "a response", cmd.tag) if len(args) > 1 else None
    await session.authenticate_plain(cmd.tag, initial)


COMMANDS: dict[str, Handler] = {
    "STARTTLS": starttls,
    "LOGIN": login,
    "AUTHENTICATE": authenticate,
}
