"""A write that fails midway (a full disk: ENOSPC at fsync) leaves no file in tmp/: neither
in the MTA's queue nor in a Maildir (issue 14, fault 9)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mua.stack.mda import Mda
from mua.stack.queue import MailQueue


def test_a_failed_queue_write_leaves_nothing_in_queue_tmp(tmp_path: Path, monkeypatch) -> None:
    queue = MailQueue(tmp_path / "queue")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", _no_space)
        with pytest.raises(OSError, match="No space"):
            queue.enqueue("a@a.test", ["b@b.test"], b"Subject: x\r\n\r\nbody\r\n")
    assert list((tmp_path / "queue" / "tmp").iterdir()) == []
    assert queue.entries() == []


def test_a_failed_maildir_delivery_leaves_nothing_in_maildir_tmp(tmp_path: Path, monkeypatch):
    mda = Mda(tmp_path / "mail")
    mda.deliver("bob", b"Subject: first\r\n\r\nbody\r\n")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", _no_space)
        with pytest.raises(OSError, match="No space"):
            mda.deliver("bob", b"Subject: second\r\n\r\nbody\r\n")
    maildir = mda.maildir("bob")
    assert list((maildir / "tmp").iterdir()) == []
    assert len(list((maildir / "new").iterdir())) == 1


def _no_space(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
