"""What every command handler reads from its arguments, refused as the client's mistake: BAD
(a `ProtocolError` with the command's tag) when the syntax is wrong, NO [CANNOT] (RFC 5530)
for a mailbox name no mailbox can have. The parsers of particular arguments (sequence sets,
FETCH items, flags, dates) are `arguments`'."""

from __future__ import annotations

from mua.stack.imap import protocol
from mua.stack.imap.session import No


def text(token: protocol.Token, what: str, tag: str) -> str:
    """A string argument (atom, quoted or literal); `what` names it in the BAD reply."""
    if isinstance(token, bytes):
        return token.decode("utf-8", "replace")
    if isinstance(token, str):
        return token
    raise protocol.ProtocolError(f"Expected {what}", tag)


def at_least(cmd: protocol.Command, count: int, usage: str) -> list[protocol.Token]:
    """The command's arguments, when it has `count` or more; else BAD with its usage."""
    if len(cmd.args) < count:
        raise protocol.ProtocolError(f"Usage: {cmd.name} {usage}", cmd.tag)
    return cmd.args


def mailbox(token: protocol.Token, tag: str) -> str:
    """A mailbox name argument, decoded (`protocol.decode_mailbox`)."""
    name = text(token, "a mailbox name", tag)  # not a string at all: BAD
    try:
        return protocol.decode_mailbox(name)
    except protocol.ProtocolError as exc:  # a string no mailbox can be called: NO (RFC 5530)
        raise No(f"[CANNOT] {exc}") from exc
