"""`mua trace --dns`: the content verdict with DKIM keys looked up (and kept in the cache)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from mua.client.message_file import MessageFile
from mua.core.content import ContentVerdict
from mua.core.i18n import _, translated
from mua.net.dkim_check import verify_content
from mua.net.dns import Resolver
from mua.net.posture import parse_nameserver
from mua.store.key_cache import KeyCache


def content_with_dns(
    found: MessageFile, nameserver: str, trust_anchor: Path | None
) -> ContentVerdict:
    resolver = Resolver(parse_nameserver(nameserver), trust_anchor_file=trust_anchor)
    return asyncio.run(
        verify_content(
            found.raw, resolver=resolver, keys=KeyCache(), own_hosts=set(found.own_hosts)
        )
    )


def content_line(verdict: ContentVerdict) -> str:
    """The verdict's sentence for the terminal, wrapped at 80 columns like the legs' table."""
    text = _("Content: {note}").format(note=translated(verdict.note))
    return textwrap.fill(text, width=80, subsequent_indent="    ")
