"""The commands of any state (RFC 3501 section 6.1): CAPABILITY, NOOP, LOGOUT, and ID
(RFC 2971)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mua.stack.imap import protocol
from mua.stack.imap.session import CloseConnection, State

if TYPE_CHECKING:
    from mua.stack.imap.server import Handler, Session


async def capability(session: Session, cmd: protocol.Command) -> None:
    await session.send(f"* CAPABILITY {session.capabilities()}", f"{cmd.tag} OK Capability done")


async def noop(session: Session, cmd: protocol.Command) -> None:
    await session.send_updates()
    await session.send(f"{cmd.tag} OK Noop done")


async def logout(session: Session, cmd: protocol.Command) -> None:
    session.state = State.LOGOUT
    await session.send("* BYE Logging out", f"{cmd.tag} OK Logout done")
    raise CloseConnection


async def id_(session: Session, cmd: protocol.Command) -> None:
    # RFC 2971: the server's identity; what the client said is only logged.
    await session.send('* ID ("name" "mua" "vendor" "mua demo world")', f"{cmd.tag} OK ID done")


COMMANDS: dict[str, Handler] = {
    "CAPABILITY": capability,
    "NOOP": noop,
    "LOGOUT": logout,
    "ID": id_,
}
