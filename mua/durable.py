"""Durable writes: what is written here is on disk, whole, when the call returns.

One place for the fsync and rename dance that the MTA's queue and the client's Outbox (both
through `mua.spool`), the MDA and the IMAP server's Maildir, the config and TLS-RPT files
need. A file is written under a temporary name, fsync'ed, renamed over its final name with
`os.replace` (atomic on POSIX and on Windows), and the directory fsync'ed so the rename
itself survives a power loss: after a crash the file is the old one or the new one, never
half of either, and a write that fails (a full disk) leaves no temporary file behind. The
MSA relies on it to answer 250 only once the message is safe in the queue: having accepted
a message, an SMTP server "MUST NOT lose the message for frivolous reasons, such as because
the host later crashes" (RFC 5321 section 6.1). A new spool entry, whose reader can tell a
file cut short, takes the cheaper order of `write_renamed_then_synced` (rename, then fsync).

A leaf: the standard library only, nothing of mua, so every layer may import it.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
from pathlib import Path

O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no "\n" -> "\r\n" in what is written


def fsync_dir(*directories: Path) -> None:
    """Make the renames, links and removals made inside `directories` durable.

    POSIX needs the directory itself fsync'ed for that; Windows cannot open a directory
    (PermissionError) and its file system journals the rename, so this does nothing there.

    Threads that ask for the same directory at once share its fsyncs (a group commit):
    a call returns after an fsync of the directory that began after the call did, which
    covers what the caller changed in it before, however many callers it served. Twenty
    deliveries into one Maildir's `new/` at once cost two or three fsyncs, not twenty.
    """
    if os.name == "nt":
        return
    for directory in directories:
        _ask_directory_sync(directory).wait()


class _Asked:
    """One request for a directory's fsync: `wait` returns once an fsync begun after it was
    made is done (or raises its error)."""

    __slots__ = ("_done", "error")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()  # released by the syncer
        self.error: OSError | None = None

    def finish(self, error: OSError | None) -> None:
        self.error = error
        self._done.release()

    def wait(self) -> None:
        self._done.acquire()
        if self.error is not None:
            raise self.error


class _DirectorySyncer:
    """A thread that fsyncs one directory for whoever asks: every request waiting when an
    fsync begins is answered by it, so callers at once share one. The thread ends after
    `SYNCER_IDLE` seconds without a request (the next request starts another).

    Why a thread of its own rather than a pool's: `write_renamed_then_synced` asks for the
    directory's fsync while its caller fsyncs the file, once per message the MSA queues.
    The request and the answer are a queue put and a lock release (C, no Python Condition or
    Future), which keeps the hand-over and the GIL switches it causes short."""

    def __init__(self, key: str) -> None:
        self._key = key
        self.requests: queue.SimpleQueue[_Asked] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="fsync-dir", daemon=True).start()

    def _run(self) -> None:
        directory = Path(self._key)
        while True:
            try:
                batch = [self.requests.get(timeout=SYNCER_IDLE)]
            except queue.Empty:
                with _syncers_lock:  # requests are put under it: none can come in between
                    if self.requests.empty():
                        del _syncers[self._key]
                        return
                continue
            while not self.requests.empty():
                batch.append(self.requests.get_nowait())
            try:
                _fsync_now(directory)
            except OSError as exc:
                error: OSError | None = exc
            else:
                error = None
            for asked in batch:
                asked.finish(error)


def _ask_directory_sync(directory: Path) -> _Asked:
    asked = _Asked()
    key = os.fspath(directory)
    with _syncers_lock:
        syncer = _syncers.get(key)
        if syncer is None:
            syncer = _syncers[key] = _DirectorySyncer(key)
        syncer.requests.put(asked)
    return asked


def _fsync_now(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SYNCER_IDLE = 5.0  # seconds a directory's syncer thread waits for a request before it ends
_syncers: dict[str, _DirectorySyncer] = {}
_syncers_lock = threading.Lock()


def write_new(path: Path, data: bytes, *, mode: int = 0o666, mtime: float | None = None) -> None:
    """Create `path` (it must not exist) holding `data`, fsync'ed: when this returns the
    file's content is on disk, or, if it raised, there is no file. Its directory entry is
    the caller's to make durable (`fsync_dir`), usually after renaming it into place.

    `mode` is the permission the file is created with (less the umask); `mtime`, when
    given, its modification time (a Maildir message's INTERNALDATE).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_atomic(
    path: Path,
    data: bytes,
    *,
    tmp_dir: Path | None = None,
    mode: int = 0o666,
    mtime: float | None = None,
) -> None:
    """Replace (or create) `path` with `data`, atomically and durably: the data is written
    to a temporary file and fsync'ed, renamed over `path`, and `path`'s directory fsync'ed.
    After a crash `path` is the old file or the new one; on failure the temporary file is
    removed and `path` is untouched.

    The temporary file is `.<name>.<random>.tmp` beside `path`, or `<name>.<random>` in
    `tmp_dir` (on the same file system) for the directories that keep their writes in
    progress apart: Maildir's `tmp/`, the spool's `tmp/`. `mode` and `mtime` as for
    `write_new`.
    """
    token = secrets.token_hex(4)
    if tmp_dir is None:
        tmp = path.with_name(f".{path.name}.{token}.tmp")
    else:
        tmp = tmp_dir / f"{path.name}.{token}"
    write_new(tmp, data, mode=mode, mtime=mtime)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_renamed_then_synced(
    path: Path, data: bytes, *, tmp_dir: Path, into: Path | None = None
) -> None:
    """Create `path` holding `data`, durably, with the two fsyncs at once where
    `write_atomic` makes them one after the other: the data is written to a temporary file
    in `tmp_dir`, renamed to `path`, and only then the file and `path`'s directory fsync'ed.

    On a journaling file system (ext4 data=ordered, xfs) `write_atomic`'s file fsync commits
    the journal once and its directory fsync, for the rename made after it, a second time;
    here the file's fsync commits the rename with it and the directory's finds it
    committed. Without a journal (this project's VM runs ext4 without one:
    /sys/fs/ext4/<dev>/journal_task says `<none>`) each fsync writes its own blocks, and
    the gain is that the two are in flight together: 0.39 -> 0.34 ms for both (medians,
    this VM). Both fsyncs are always made: POSIX promises neither that a file's fsync
    makes its name durable (a journal that commits the rename with the file does; ext2 and
    ext4 without a journal do not) nor that a directory's fsync writes a file's data, so
    when this returns the data and the name are on disk on any POSIX file system.

    What changes is a crash before this returns: `path` may then exist holding fewer
    bytes than `data` (none, or a torn part), where `write_atomic` leaves it absent or
    whole. So this is only for a new file whose every reader can tell it is short (the
    spool's entries record their length) and whose writer had acknowledged nothing yet;
    never to replace a file, whose old content such a crash could lose. While running,
    readers see `path` only once all of `data` was written into it: whole.

    The two fsyncs are made at once, the directory's in a worker thread: both must be done
    before this returns, in no order, and issued together neither waits for the other's
    write (on a journal: for a commit of its own behind other processes'). `mua stack`
    accepted 406/364/386 messages/s with them together against
    376/364/365 one after the other (pairs of runs alternating, bench/world_throughput.py).

    `into`: an existing file in `tmp_dir` that this caller alone holds (the spool's spare,
    `mua.spool`), written over from its start and cut to `data`'s length instead of a new
    file created: the same steps after that. A crash before this returns may then also
    leave `path` holding the bytes the file held before, which its readers must tell apart
    (the spool's entries record their own id).

    Windows cannot rename a file this process holds open: it gets `write_atomic` (and
    `into` is removed). On failure `path` and the temporary file are removed: the caller
    acknowledged nothing, and a file left behind would be a message nobody was told about.
    """
    if os.name == "nt":
        if into is not None:
            into.unlink(missing_ok=True)
        write_atomic(path, data, tmp_dir=tmp_dir)
        return
    if into is None:
        tmp = tmp_dir / f"{path.name}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o666)  # POSIX only
    else:
        tmp = into
        fd = os.open(tmp, os.O_WRONLY | O_BINARY)
    written = tmp
    try:
        try:  # the descriptor itself: a file object would cost three more system calls
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if into is not None:
                os.ftruncate(fd, len(data))
            os.replace(tmp, path)
            written = path
            directory = _ask_directory_sync(path.parent)
            try:
                os.fsync(fd)
            finally:
                directory.wait()
        finally:
            os.close(fd)
    except BaseException:
        written.unlink(missing_ok=True)
        raise


def append(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Append `data` to `path` (created if missing). `sync`: fsync'ed before returning,
    with everything appended before it; otherwise it survives the process being killed,
    not the machine losing power. Callers that share the file serialise their appends."""
    with path.open("ab") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def sync_descriptor(fd: int) -> None:
    """fsync the file open as `fd`: what was written to it so far (by any process)."""
    os.fsync(fd)


def sync_file(path: Path) -> None:
    """fsync `path`: what was appended to it so far (by any process) is on disk."""
    with path.open("ab") as f:  # Windows' fsync needs a file open for writing
        os.fsync(f.fileno())
