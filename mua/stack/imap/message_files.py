"""A message's file in a Maildir folder as the index records it (`Stored`): the name it has
for a set of flags, what a file another program renamed or dropped in means, and the renames
that give changed messages their new names before a commit (`mailfolder.py` keeps the order
of a change: files, then the index, then memory)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mua import durable
from mua.stack.imap.mailchange import Batch
from mua.stack.imap.maildir import (
    LETTER_FLAGS,
    compose_filename,
    flags_of,
    letters_for,
    parse_filename,
    to_crlf,
)
from mua.stack.imap.maildir_index import Stored
from mua.stack.imap.model import MessageInfo

_NAME_FLAGS = frozenset(LETTER_FLAGS.values())


def letters(stored: Stored, flags: frozenset[str] | None = None) -> str:
    """The flag letters of the message's file name for `flags` (its own flags when None);
    letters we do not know are kept."""
    _, old = parse_filename(stored.filename.split("/", 1)[1])
    return letters_for(stored.info.flags if flags is None else flags, keep_from=old)


def filename_for(stored: Stored, flags: frozenset[str]) -> str:
    """Where a message with these flags lives: cur/, with the flag letters in its name."""
    wanted = letters(stored, flags)
    if stored.filename.startswith("cur/") and letters(stored) == wanted:
        return stored.filename
    return f"cur/{compose_filename(stored.key, wanted)}"


def rename_files(path: Path, entries: Mapping[int, Stored], batch: Batch) -> bool:
    """Give changed messages their new file names before the commit. A file that another
    program removed meanwhile drops out of the batch; returns whether one did."""
    missing = moved = False
    for uid, stored in list(batch.changed.items()):
        old = entries[uid].filename
        if stored.filename == old:
            continue
        try:
            os.replace(path / old, path / stored.filename)
        except FileNotFoundError:
            del batch.changed[uid]
            missing = True
        else:
            moved = True
    if moved:
        durable.fsync_dir(path / "new", path / "cur")
    return missing


def renamed(stored: Stored, filename: str, batch: Batch) -> Stored:
    """A message whose file another program renamed: its letters are its system flags."""
    _, in_name = parse_filename(filename.split("/", 1)[1])
    flags = flags_of(in_name) | (stored.info.flags - _NAME_FLAGS)
    info = stored.info
    if flags != info.flags:
        info = replace(info, flags=flags, modseq=batch.next_modseq())
    return replace(stored, info=info, filename=filename)


def examine(path: Path, filename: str, summary: Callable[[bytes], dict[str, Any]]) -> Stored | None:
    """Read a file not yet indexed: size, INTERNALDATE (its mtime), flags and summary; None
    when it is gone. UID and modseq are 0 until a batch numbers it."""
    try:
        with (path / filename).open("rb") as f:
            mtime = os.fstat(f.fileno()).st_mtime
            data = f.read()
    except FileNotFoundError:
        return None
    sub, name = filename.split("/", 1)
    key, in_name = parse_filename(name)
    wire = to_crlf(data)
    info = MessageInfo(0, flags_of(in_name), len(wire), mtime, 0, summary(wire))
    return Stored(info, key, filename, len(data), recent=sub == "new")
