"""Parsing a message without letting its MIME nesting crash the reader.

Python's email parser descends one generator (and, further on, ``walk()``, ``get_body()``
and the generator that writes a message out) per nested multipart or message/* part, so a
45 KB message of 1,000 nested multiparts raises RecursionError in whatever reads it; anyone
can mail one. Dovecot caps MIME nesting at 100 levels; we cap at :data:`MAX_DEPTH`, the
same depth as the IMAP server's BODYSTRUCTURE: a container part deeper than that is kept as
one opaque ``application/octet-stream`` leaf holding the rest of its text, and carries a
:class:`TooDeeplyNested` defect (as does the top-level message), so a reader shows what is
above the cap and says that the rest is too deeply nested.
"""

from __future__ import annotations

import email.policy
from email.errors import MessageDefect
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Policy
from typing import TYPE_CHECKING, Any, TypeVar, overload

from mua.core.i18n import _

MAX_DEPTH = 32  # multipart / message parts below this many levels are not taken apart
_M = TypeVar("_M", bound=Message)


class TooDeeplyNested(MessageDefect):
    """A multipart or message/* part lay deeper than MAX_DEPTH; it was kept unparsed."""


if TYPE_CHECKING:  # generic in typeshed only, not at run time
    _FeedParser = BytesFeedParser[Message]
else:
    _FeedParser = BytesFeedParser


class _DepthLimitedParser(_FeedParser):
    """The standard parser, but a container below MAX_DEPTH is read as one leaf.

    It hooks ``_parse_headers`` (the step between a part's header and its body, where
    the parser decides whether to descend), the one private method this relies on; the
    test of deep nesting fails loudly if a Python release changes it."""

    # FeedParser's private state, which typeshed does not list.
    _msgstack: list[Message]
    _cur: Message

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]  # private: typeshed omits it
        depth = len(self._msgstack)  # 1 for the top-level message
        part: Message = self._cur
        if depth <= MAX_DEPTH or part.get_content_maintype() not in ("multipart", "message"):
            return
        if "content-type" in part:
            part.replace_header("Content-Type", "application/octet-stream")
        else:  # a digest's part is message/rfc822 by default (RFC 2046 section 5.1.5)
            part["Content-Type"] = "application/octet-stream"
        part.defects.append(TooDeeplyNested())
        root: Message = self._msgstack[0]
        if not any(isinstance(d, TooDeeplyNested) for d in root.defects):
            root.defects.append(TooDeeplyNested())


@overload
def parse_bytes(raw: bytes) -> Message: ...
@overload
def parse_bytes(raw: bytes, policy: Policy[_M]) -> _M: ...
def parse_bytes(raw: bytes, policy: Policy[Any] = email.policy.compat32) -> Message:
    """``email.message_from_bytes`` with MIME nesting capped at MAX_DEPTH; the message is
    of the policy's class (an EmailMessage under ``email.policy.default``)."""
    parser = _DepthLimitedParser(policy=policy)
    parser.feed(raw)
    message: Message = parser.close()
    return message


def too_deeply_nested(message: Message) -> bool:
    """Whether :func:`parse_bytes` left parts of this message unparsed."""
    return any(isinstance(d, TooDeeplyNested) for d in message.defects)


def too_deep_note() -> str:
    """The sentence a reader shows under such a message, in the user's language."""
    return _(
        "The rest of this message is too deeply nested to show: its parts go more than "
        "{depth} levels deep. Such a message is usually made to crash mail programs."
    ).format(depth=MAX_DEPTH)
