"""Maildir++ conventions, as pure functions, and the folder scans built on them.

Folder names. IMAP names use "/" as the hierarchy delimiter; on disk a folder is the directory
`<root>/.A.B` for `A/B` (Maildir++), and INBOX is the root itself. Inside one level of the name
the characters "." (the Maildir++ separator), "%" (the escape), the ones Windows forbids in file
names (`\\ : * ? " < > |`) and a trailing space are written as %XX (the character's ASCII
code): `v1.2` <-> `.v1%2E2`, `Q&A: 2024` <-> `.Q&A%3A 2024`. Every other character, non-ASCII
included, is written as is (UTF-8 on Linux, UTF-16 on Windows and macOS), after NFC
normalisation so macOS's decomposed file names come back as the same name. Control characters
are refused. Windows' reserved device names (CON, NUL...) never arise: every directory name
starts with ".". Names longer than one file name (255 bytes) are refused.

Message files. `<key>:2,<letters>` where letters are the Maildir flags in ASCII order:
D=\\Draft F=\\Flagged P=$Forwarded (passed) R=\\Answered (replied) S=\\Seen T=\\Deleted
(trashed). Windows forbids ":" in file names, so there the separator is "!"; both are read
everywhere. Letters we do not know (Dovecot's a-z keywords) are kept when we rename a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from mua import durable
from mua.stack.imap.model import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

log = logging.getLogger(__name__)

INFO_SEP = "!" if os.name == "nt" else ":"
DELIMITER = "/"
FORWARDED = "$Forwarded"  # RFC 5788 keyword; Maildir's P (passed)
LETTER_FLAGS = {"D": DRAFT, "F": FLAGGED, "P": FORWARDED, "R": ANSWERED, "S": SEEN, "T": DELETED}
FLAG_LETTERS = {flag: letter for letter, flag in LETTER_FLAGS.items()}
NAME_MAX = 255
TMP_MAX_AGE = 36 * 3600

_ESCAPED = frozenset('.%\\:*?"<>|')


# -- message file names ---------------------------------------------------------------------


def parse_filename(name: str) -> tuple[str, str]:
    """Split a message file name into (key, flag letters); letters are "" without `:2,`."""
    colon = name.find(":")
    if colon >= 0:
        key, info = name[:colon], name[colon + 1 :]
    else:
        bang = name.rfind("!2,")
        if bang < 0:
            return name, ""
        key, info = name[:bang], name[bang + 1 :]
    return key, info[2:] if info.startswith("2,") else ""


def compose_filename(key: str, letters: str) -> str:
    return f"{key}{INFO_SEP}2,{letters}"


def flags_of(letters: str) -> frozenset[str]:
    """The IMAP flags that Maildir letters stand for (unknown letters are ignored)."""
    return frozenset(LETTER_FLAGS[c] for c in letters if c in LETTER_FLAGS)


def letters_for(flags: Iterable[str], keep_from: str = "") -> str:
    """Maildir letters for `flags`, keeping letters of `keep_from` that are not ours."""
    ours = {FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS}
    theirs = {c for c in keep_from if c not in LETTER_FLAGS and c.isascii() and c.isalpha()}
    return "".join(sorted(ours | theirs))


def to_crlf(data: bytes) -> bytes:
    """The wire form: every bare LF becomes CRLF; existing CRLFs stay as they are."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# -- folder names ---------------------------------------------------------------------------


def canonical_folder_name(name: str) -> str:
    """The form the store keys folders by; raises ValueError for names it cannot hold."""
    name = unicodedata.normalize("NFC", name)
    if name.endswith(DELIMITER):  # RFC 3501 6.3.3: "A/" means "A, expected to have children"
        name = name[:-1]
    parts = name.split(DELIMITER)
    if not name or any(not p for p in parts):
        raise ValueError(f"{name!r} has an empty level")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ValueError(f"{name!r} contains a control character")
    if parts[0].casefold() == "inbox":
        parts[0] = "INBOX"
    name = DELIMITER.join(parts)
    if name != "INBOX" and len(folder_dirname(name).encode()) > NAME_MAX:
        raise ValueError(f"{name!r} is too long for a directory name")
    return name


def _escape_level(level: str) -> str:
    out = [f"%{ord(c):02X}" if c in _ESCAPED else c for c in level]
    if out[-1] == " ":
        out[-1] = "%20"  # Windows drops trailing spaces from file names
    return "".join(out)


def folder_dirname(name: str) -> str:
    """The Maildir++ directory name (inside the root) of a canonical non-INBOX folder name."""
    return "." + ".".join(_escape_level(level) for level in name.split(DELIMITER))


def folder_name(dirname: str) -> str | None:
    """The folder name a Maildir++ directory name stands for; None if it is not one."""
    if not dirname.startswith(".") or dirname in (".", ".."):
        return None
    levels = [urllib.parse.unquote(level) for level in dirname[1:].split(".")]
    if any(not level or DELIMITER in level for level in levels):
        return None
    try:
        return canonical_folder_name(DELIMITER.join(levels))
    except ValueError:
        return None


# -- one folder's files ---------------------------------------------------------------------


def scan_messages(path: Path, label: str = "") -> dict[str, str]:
    """key -> "new/<name>" or "cur/<name>" for every message file of the Maildir `path`
    (names starting with "." are not messages, per the spec)."""
    found: dict[str, str] = {}
    for sub in ("cur", "new"):
        try:
            entries = os.scandir(path / sub)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                key, _ = parse_filename(entry.name)
                if key in found:
                    log.warning("%s: two files for %s; ignoring %s", label, key, entry.path)
                    continue
                found[key] = f"{sub}/{entry.name}"
    return found


def link_or_copy(source: Path, folder: Path, filename: str, mtime: float) -> bool:
    """Put a copy of `source` at folder/filename: a hard link where the file system has
    them, else a durable copy through tmp/. False if `source` has vanished."""
    target = folder / filename
    try:
        os.link(source, target)
    except FileNotFoundError:
        return False
    except OSError:  # FAT, some network shares
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            return False
        durable.write_atomic(target, data, tmp_dir=folder / "tmp", mtime=mtime)
    return True


def clean_tmp(path: Path, max_age: float = TMP_MAX_AGE) -> None:
    """Remove files older than `max_age` from tmp/: writers that died (the spec's 36 hours)."""
    limit = time.time() - max_age
    with os.scandir(path / "tmp") as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
