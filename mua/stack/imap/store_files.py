"""The files of a user's message store beside the messages (the layout: `mailstore.py`'s
docstring): the folder directories, each with its identity file, made and cleared in one
step; the last UIDVALIDITY handed out; the subscribed names. Each survives a lost index."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from mua import durable
from mua.stack.imap.mailchange import StoreError
from mua.stack.imap.maildir import folder_dirname, folder_name
from mua.stack.imap.maildir_index import FolderRow
from mua.stack.mda import ensure_maildir

UIDVALIDITY_FILE = "mua-uidvalidity"
SUBSCRIPTIONS_FILE = "mua-subscriptions"
FOLDER_ID_FILE = "mua-folder-id"
_CREATING, DELETING = "mua-creating.", "mua-deleting."


def clear_unfinished(root: Path) -> None:
    """Remove what a crash left of folders being created or deleted."""
    for entry in os.scandir(root):
        if entry.name.startswith((_CREATING, DELETING)):
            shutil.rmtree(entry.path, ignore_errors=True)


def make_folder(root: Path, name: str) -> None:
    """Build the folder's directory aside, then rename it into place in one step."""
    final = root / folder_dirname(name)
    staging = root / f"{_CREATING}{uuid.uuid4().hex}"
    ensure_maildir(staging)
    (staging / "maildirfolder").touch()
    durable.write_new(staging / FOLDER_ID_FILE, uuid.uuid4().hex.encode())
    durable.fsync_dir(staging)
    try:
        os.rename(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(f"could not create {name}: {exc}") from exc
    durable.fsync_dir(root)


def folder_dirs(root: Path) -> dict[str, Path]:
    """Every folder on disk by name, INBOX (the root itself) first."""
    disk: dict[str, Path] = {"INBOX": root}
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            name = folder_name(entry.name)
            if name and name not in disk and os.path.isdir(os.path.join(entry.path, "cur")):
                disk[name] = Path(entry.path)
    return disk


def folder_guids(disk: dict[str, Path], known: dict[str, FolderRow]) -> dict[str, str]:
    """name -> identity; a directory copied with its identity file gets a new one (the
    copy whose name the index does not know for that identity)."""
    found: dict[str, str] = {}
    for name, path in disk.items():
        try:
            found[name] = (path / FOLDER_ID_FILE).read_text().strip()
        except FileNotFoundError:
            found[name] = ""
    owners: dict[str, str] = {}

    def claims(item: tuple[str, str]) -> bool:  # the index knows this name for this id
        row = known.get(item[1])
        return row is not None and row.name == item[0]

    for name, guid in sorted(found.items(), key=claims, reverse=True):
        if not guid or guid in owners:
            guid = uuid.uuid4().hex
            durable.write_atomic(disk[name] / FOLDER_ID_FILE, guid.encode())
        owners[guid] = name
        found[name] = guid
    return found


def new_uidvalidity(root: Path) -> int:
    """Time-based, and above the last one handed out in this root even within a second."""
    path = root / UIDVALIDITY_FILE
    try:
        last = int(path.read_text())
    except (FileNotFoundError, ValueError):
        last = 0
    value = max(int(time.time()), last + 1) % 2**32 or 1
    durable.write_atomic(path, str(value).encode())
    return value


def read_subscriptions(root: Path) -> set[str]:
    try:
        text = (root / SUBSCRIPTIONS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line for line in text.splitlines() if line}


def write_subscriptions(root: Path, names: set[str]) -> None:
    text = "".join(f"{n}\n" for n in sorted(names))
    durable.write_atomic(root / SUBSCRIPTIONS_FILE, text.encode())
