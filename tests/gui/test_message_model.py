"""The message list model over the local cache: paging, sorting, badges, updates, 100k rows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QTreeView

from mua.core.legs import Grade
from mua.gui.message_model import (
    MIME_TYPE,
    PAGE,
    Column,
    GradeRole,
    MessageListModel,
    MessageRole,
    worst_grade,
)
from mua.store.cache import CachedMessage, CachedTrace, MailCache

ME = "big@x.test"
BASE = 1_700_000_000.0


def message(uid: int, **fields) -> CachedMessage:
    values = {
        "message_id": f"<m{uid}@x.test>",
        "subject": f"Message {uid:06d}",
        "sender_name": ("Alice", "bob", "Carol")[uid % 3],
        "sender_address": ("alice@a.test", "bob@b.test", "carol@c.test")[uid % 3],
        "date": BASE + uid * 60,
        "size": 1000 + (uid * 7919) % 50_000,
        "flags": frozenset() if uid % 4 == 0 else frozenset({"\\Seen"}),
    }
    return CachedMessage(ME, "INBOX", uid, **{**values, **fields})


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[MailCache]:
    with MailCache(tmp_path / "cache.sqlite3") as opened:
        opened.sync_folder_list(ME, [("INBOX", "/", None, True)])
        yield opened


def test_a_folder_of_100000_messages_opens_pages_and_sorts(qtbot, cache: MailCache) -> None:
    started = time.perf_counter()
    cache.upsert_messages(ME, "INBOX", (message(uid) for uid in range(1, 100_001)))
    print(f"\nfilled the cache with 100,000 envelopes in {time.perf_counter() - started:.2f}s")

    model = MessageListModel(cache)
    started = time.perf_counter()
    model.set_folder(ME, "INBOX")
    print(f"opened the folder in {(time.perf_counter() - started) * 1000:.1f} ms")
    assert model.rowCount() == PAGE and model.canFetchMore()
    assert model.message_at(0).uid == 100_000  # newest first
    model.fetchMore()
    assert model.rowCount() == 2 * PAGE

    started = time.perf_counter()
    for row in range(60):  # about a screenful, every column, every role a view asks for
        for column in Column:
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                         Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ToolTipRole):  # fmt: skip
                model.data(index, role)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"data() for 60 rows x 6 columns x 4 roles in {elapsed:.1f} ms")
    assert model.data(model.index(0, Column.SUBJECT)) == "Message 100000"
    assert model.data(model.index(0, Column.SENDER)) == "bob"
    assert model.data(model.index(0, Column.SENDER), Qt.ItemDataRole.FontRole).bold()  # unread
    assert model.data(model.index(1, Column.SENDER), Qt.ItemDataRole.FontRole) is None

    started = time.perf_counter()
    model.sort(Column.SUBJECT, Qt.SortOrder.AscendingOrder)
    print(f"sorted by subject in {(time.perf_counter() - started) * 1000:.1f} ms")
    assert model.rowCount() == 2 * PAGE  # as many rows as were loaded
    assert [model.message_at(r).uid for r in range(3)] == [1, 2, 3]
    model.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    sizes = [model.message_at(r).size for r in range(model.rowCount())]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 50_999
    model.sort(Column.SENDER, Qt.SortOrder.AscendingOrder)
    assert {model.message_at(r).sender for r in range(model.rowCount())} == {"Alice"}
    model.sort(Column.BADGE, Qt.SortOrder.AscendingOrder)  # not sortable: nothing changes
    assert model.order == "sender"

    view = QTreeView()
    qtbot.addWidget(view)
    view.setUniformRowHeights(True)
    view.setModel(model)
    view.resize(800, 600)
    view.show()
    started = time.perf_counter()
    for _ in range(5):
        view.scrollToBottom()  # reaching the end asks the model for the next page
        qtbot.wait(1)
    print(f"scrolled five pages in {(time.perf_counter() - started) * 1000:.1f} ms")
    assert model.rowCount() >= 4 * PAGE

    model.set_search("000123")
    assert [model.message_at(r).uid for r in range(model.rowCount())] == [123]
    assert not model.canFetchMore()
    model.set_search("")
    assert model.rowCount() == PAGE


def test_rows_follow_the_cache(qtbot, cache: MailCache) -> None:
    cache.upsert_messages(ME, "INBOX", [message(uid) for uid in range(1, 6)])
    model = MessageListModel(cache)
    model.set_folder(ME, "INBOX")
    assert [model.message_at(r).uid for r in range(5)] == [5, 4, 3, 2, 1]
    cache.update_flags(ME, "INBOX", {4: frozenset({"\\Flagged"})})
    with qtbot.waitSignal(model.dataChanged):
        model.update_messages([4])
    assert model.data(model.index(1, Column.FLAGS), MessageRole).flags == {"\\Flagged"}
    assert model.data(model.index(1, Column.FLAGS), Qt.ItemDataRole.ToolTipRole) == (
        "unread, flagged"
    )
    cache.remove_messages(ME, "INBOX", [3, 5])
    with qtbot.waitSignal(model.rowsRemoved):
        model.remove_uids([3, 5])
    assert [model.message_at(r).uid for r in range(model.rowCount())] == [4, 2, 1]
    assert model.row_of(2) == 1 and model.row_of(5) is None
    cache.upsert_messages(ME, "INBOX", [message(9)])
    model.refresh()
    assert model.message_at(0).uid == 9

    data = model.mimeData([model.index(0, 0), model.index(0, 3), model.index(2, 0)])
    assert json.loads(bytes(data.data(MIME_TYPE).data())) == {
        "account": ME, "folder": "INBOX", "uids": [2, 9]
    }  # fmt: skip
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled
    assert model.rowCount(model.index(0, 0)) == 0 and model.rowCount(QModelIndex()) == 4


def test_the_badge_is_the_worst_known_leg(cache: MailCache) -> None:
    cache.upsert_messages(ME, "INBOX", [message(1), message(2), message(3, message_id=None)])
    legs = [{"grade": "green"}, {"grade": "internal"}, {"grade": "amber"}, {"grade": "unknown"}]
    cache.store_trace(ME, "<m1@x.test>", {"status": "delivered", "legs": legs})
    cache.add_observed_leg(ME, "<m2@x.test>", {"grade": "green", "index": 1})
    model = MessageListModel(cache)
    model.set_folder(ME, "INBOX")
    grades = [model.data(model.index(r, Column.BADGE), GradeRole) for r in range(3)]
    assert grades == [Grade.UNKNOWN, Grade.GREEN, Grade.AMBER]  # uid 3, 2, 1
    assert model.data(model.index(0, Column.BADGE), Qt.ItemDataRole.DecorationRole) is not None
    cache.store_trace(ME, "<m2@x.test>", {"status": "parsed", "legs": [{"grade": "red"}]})
    model.forget_grade("<m2@x.test>")
    assert model.data(model.index(1, Column.BADGE), GradeRole) is Grade.RED

    assert worst_grade(None) is Grade.UNKNOWN
    assert worst_grade(CachedTrace(ME, "<x>", None, [])) is Grade.UNKNOWN
    assert worst_grade(CachedTrace(ME, "<x>", {"legs": [{"grade": "internal"}]}, [])) is (
        Grade.GREEN
    )
    assert worst_grade(CachedTrace(ME, "<x>", {"legs": [{"grade": "unknown"}]}, [])) is (
        Grade.UNKNOWN
    )


def test_folder_tree_drops_a_removed_account_and_moved_folders_whole(cache: MailCache) -> None:
    """Removing a row deletes its children in Qt: the model must never touch them again
    (a removed account with nested folders, a folder that moved under another)."""
    from mua.gui.folder_model import FolderRole, FolderTreeModel

    other = "bob@b.test"
    cache.sync_folder_list(ME, [("INBOX", "/"), ("Work", "/"), ("Work/2026", "/")])
    cache.sync_folder_list(other, [("INBOX", "/"), ("Lists", "/"), ("Lists/python", "/")])
    model = FolderTreeModel()
    model.refresh(cache, [(ME, ME), (other, other)])
    assert model.folder_index(other, "Lists/python").isValid()

    model.refresh(cache, [(ME, ME)])  # bob's account was removed
    assert not model.folder_index(other, "INBOX").isValid()
    assert not model.folder_index(other, "Lists/python").isValid()
    assert model.rowCount() == 1

    cache.sync_folder_list(ME, [("INBOX", "/"), ("Work", "/"), ("Archive", "/"),
                                ("Archive/Work", "/"), ("Archive/Work/2026", "/")])  # fmt: skip
    model.refresh(cache, [(ME, ME)])
    moved = model.folder_index(ME, "Archive/Work/2026")
    assert moved.isValid() and moved.parent().data(FolderRole) == "Archive/Work"
    assert not model.folder_index(ME, "Work/2026").isValid()
