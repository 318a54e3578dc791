"""File calls that differ on Windows, where the hosted CI runs the frozen app (issue #12).

- `os.open` without `O_BINARY` gives a text-mode descriptor on Windows: every "\\n" written
  becomes "\\r\\n" (a PEM key, a JSON file), and `os.fdopen(fd, "w")`'s own newline handling
  then doubles it. Every `os.open` that writes must pass `getattr(os, "O_BINARY", 0)`.
- Windows cannot open a directory to fsync it (PermissionError): every directory fsync is
  skipped there, as `mua.durable.fsync_dir` does.
"""

from __future__ import annotations

import ast
import os
import ssl
from pathlib import Path

import pytest

from mua.stack.events import EventLog
from mua.stack.tlsrpt_server import ReportReceiver

PACKAGE = Path(__file__).resolve().parents[1] / "mua"
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}


def os_open_calls() -> list[tuple[str, set[str]]]:
    """Every `os.open(...)` in mua: where, and the names its flags argument uses."""
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "open"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os"
                and len(node.args) >= 2
            ):
                names = {
                    n.attr if isinstance(n, ast.Attribute) else n.id if isinstance(n, ast.Name)
                    else n.value  # getattr(os, "O_BINARY", 0)
                    for n in ast.walk(node.args[1])
                    if isinstance(n, (ast.Attribute, ast.Name))
                    or (isinstance(n, ast.Constant) and isinstance(n.value, str))
                }  # fmt: skip
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                calls.append((where, names))
    return calls


def test_every_os_open_that_writes_is_binary_on_windows() -> None:
    calls = os_open_calls()
    writes = [(where, names) for where, names in calls if names & WRITE_FLAGS]
    assert writes, calls  # mua.durable.write_new, which every private file goes through
    text_mode = [where for where, names in writes if "O_BINARY" not in names]
    assert not text_mode, f'os.open without getattr(os, "O_BINARY", 0): {text_mode}'


def test_the_tls_report_receiver_keeps_a_report_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on Windows: opening a directory raises PermissionError; the report is still kept."""
    receiver = ReportReceiver(
        "tlsrpt.b.test",
        frozenset({"/tlsrpt"}),
        tmp_path / "received",
        EventLog(tmp_path / "events.jsonl"),
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),
    )
    real_open = os.open

    def windows_open(path, flags, *args, **kwargs):
        if os.path.isdir(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as windows:  # undone before pytest reports anything
        windows.setattr(os, "name", "nt")
        windows.setattr(os, "open", windows_open)
        try:
            kept = receiver._keep(b'{"report-id": "r1"}', ".json")
        except PermissionError as exc:
            error = exc
        else:
            error = None
    assert error is None, f"a directory fsync without the Windows guard: {error}"
    assert kept.read_bytes() == b'{"report-id": "r1"}'
    assert receiver.received() == [kept]
