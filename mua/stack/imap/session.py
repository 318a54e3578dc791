"""An IMAP session's state (RFC 3501 section 3) and what a command handler raises to end it
or refuse a command; the session itself is `server.Session`, the handlers are in the modules
named for the state they serve (`any_state`, `unauthenticated`, `authenticated`,
`selected_commands`, `ordering_commands`)."""

from __future__ import annotations

from enum import Enum


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class CloseConnection(Exception):
    """A handler decided the connection ends (LOGOUT, BYE)."""


class No(Exception):
    """A tagged NO: the text may start with a response code such as [TRYCREATE]."""
