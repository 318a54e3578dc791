"""Start-up to a usable window beside a bare PySide6 window, in the same run.

Each start is a fresh interpreter (QT_QPA_PLATFORM=offscreen, its own temporary MUA_HOME and
XDG directories, so nothing of the user's is read or written). The figure is the wall time
from the parent's Popen to the line the child prints once its window is shown and has been
painted once (the first Paint event on the window, then one more turn of the event loop).

- bare: QApplication + QMainWindow with a QLabel (the baseline).
- mua: what `mua.gui.app.run()` does for a configured profile, over an empty one (no accounts,
  empty cache, session-only secrets): qasync loop, Engine.open, the app's own _main_window.
- demo: what the app does with no account: DemoSession.prepare + the main window, the world
  (on 127.0.0.1) started once the window has painted (mua.gui.demo_start); "first" is a new
  demo directory each start, "again" reuses one, as the app does. Also printed: when the
  world was ready and the accounts pointed at it ("accounts ready", after the paint).

Printed: the median over --runs starts of each, the ratio mua / bare (target <= 2x) and,
from the children's own clocks, where mua's time goes. A child's marks are perf_counter()
readings against the parent's, which share one monotonic clock.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import time

_T_TOP = time.perf_counter()  # first thing: the child's "interpreter is up" mark

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

MODES = ("bare", "mua", "demo")


# -- the child ---------------------------------------------------------------------------------


def _report_on_first_paint(app, window, marks: dict[str, float], then) -> None:
    """On the window's first Paint event, one more event-loop turn, then print marks and
    call `then` (which quits)."""
    from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: TID251 (the bench drives Qt)

    class FirstPaint(QObject):
        done = False

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and not self.done:
                self.done = True
                marks["painted"] = time.perf_counter()
                QTimer.singleShot(0, finish)
            return False

    def finish() -> None:
        marks["ready"] = time.perf_counter()
        print(json.dumps(marks), flush=True)
        then()

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)
    app._first_paint = watcher  # keep it alive


def _child_bare(marks: dict[str, float]) -> None:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow  # noqa: TID251 (baseline)

    marks["imported"] = time.perf_counter()
    app = QApplication(sys.argv[:1])
    marks["engine"] = time.perf_counter()  # no engine: the app alone
    window = QMainWindow()
    window.setCentralWidget(QLabel("Hello"))
    window.resize(1280, 800)
    marks["built"] = time.perf_counter()
    _report_on_first_paint(app, window, marks, app.quit)
    window.show()
    marks["shown"] = time.perf_counter()
    app.exec()


def _child_mua(marks: dict[str, float], demo_dir: Path | None) -> None:
    import asyncio

    os.environ["QT_API"] = "pyside6"  # as mua.gui.app does
    import qasync  # noqa: TID251 (as mua.gui.app does)
    from PySide6.QtWidgets import QApplication  # noqa: TID251 (as mua.gui.app does)

    # with what _open_session and _main_window import lazily, so "imports" holds them all
    import mua.gui.bridge
    import mua.gui.journey_source
    import mua.gui.main_window
    import mua.store.config  # noqa: F401
    from mua import __version__
    from mua.client.engine import Engine
    from mua.gui.app import _main_window
    from mua.store.secrets import Secrets

    marks["imported"] = time.perf_counter()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("mua")
    app.setOrganizationName("mua")
    app.setApplicationVersion(__version__)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if demo_dir is None:
        session, engine = None, Engine.open(Secrets.session_only())
    else:
        from mua.gui.demo_profile import DemoSession

        # as the app does: the world starts after the first paint (mua.gui.demo_start)
        session = DemoSession.prepare(demo_dir)
        engine = session.engine
    marks["engine"] = time.perf_counter()
    window = _main_window(engine, session)
    marks["built"] = time.perf_counter()
    ready = asyncio.Event()
    _report_on_first_paint(app, window, marks, ready.set)
    if session is None:
        window.show()
    else:
        from mua.gui.app import _show
        from mua.gui.demo_start import demo_world_started

        _show(window, session)  # show, start the world once painted, the welcome
    marks["shown"] = time.perf_counter()
    with loop:
        loop.run_until_complete(ready.wait())
        if session is not None:  # "world": the accounts are ready (not part of "wall")
            loop.run_until_complete(demo_world_started(window))
            marks["world"] = time.perf_counter()
            print(json.dumps(marks), flush=True)
        window.close()
        loop.run_until_complete(window.aclose())
        loop.run_until_complete(session.aclose() if session else engine.aclose())


def _child(mode: str, demo_dir: Path | None) -> None:
    marks = {"top": _T_TOP}
    if mode == "bare":
        _child_bare(marks)
    else:
        _child_mua(marks, demo_dir if mode == "demo" else None)


# -- the parent --------------------------------------------------------------------------------


def _start_once(mode: str, home: Path, demo_dir: Path | None = None) -> dict[str, float]:
    """One fresh process: its marks relative to the parent's Popen, in seconds; "wall" is
    Popen to the ready line as the parent saw it."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MUA_HOME=str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # An installed app runs from byte-code caches (pip and PyInstaller compile them); without
    # this, a shell with PYTHONDONTWRITEBYTECODE set would compile every module at each start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, __file__, "--child", mode]
    if demo_dir is not None:
        command += ["--demo-dir", str(demo_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    wall = time.perf_counter() - t0
    if mode == "demo":  # a second line once the world is ready
        line = proc.stdout.readline() or line
    _out, err = proc.communicate(timeout=60)  # Qt's offscreen notices go here, unprinted
    if proc.returncode != 0 or not line:
        raise SystemExit(f"{mode} start failed (exit {proc.returncode}):\n{err}")
    marks = {k: v - t0 for k, v in json.loads(line).items()}
    marks["wall"] = wall
    return marks


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(s[key] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo starts")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--demo-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.demo_dir)
        return

    samples: dict[str, list[dict[str, float]]] = {"bare": [], "mua": [], "first": [], "again": []}
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        root = Path(tmp)
        for n, mode in enumerate(("bare", "mua")):  # one untimed start each: disk cache warm
            _start_once(mode, root / f"warm-{n}")
        for i in range(args.runs):  # interleaved, so drift hits both alike
            samples["bare"].append(_start_once("bare", root / f"bare-{i}"))
            samples["mua"].append(_start_once("mua", root / f"mua-{i}"))
        if not args.no_demo:
            again = root / "demo-again"
            _start_once("demo", again, again / "demo")  # creates the world once
            for i in range(args.runs):
                home = root / f"demo-first-{i}"
                samples["first"].append(_start_once("demo", home, home / "demo"))
                samples["again"].append(_start_once("demo", again, again / "demo"))

    bare, mua = _median(samples["bare"], "wall"), _median(samples["mua"], "wall")
    print(f"start-up to a shown, painted window, offscreen, median of {args.runs} (ms)")
    print(f"{'bare PySide6 QMainWindow + QLabel (baseline)':46}{bare * 1e3:>8.0f}")
    print(f"{'mua main window, empty profile':46}{mua * 1e3:>8.0f}")
    print(f"{'ratio mua / bare':46}{mua / bare:>8.2f}")
    print("target: ratio <= 2")
    if samples["first"]:
        first, again = _median(samples["first"], "wall"), _median(samples["again"], "wall")
        for label, value in (
            ("demo mode, first start (new world)", first),
            ("demo mode, again (existing world)", again),
        ):
            print(f"{label:46}{value * 1e3:>8.0f}  ({value / bare:.1f}x)")
        world = _median(samples["first"], "world")
        print(f"{'demo mode, first start: accounts ready at':46}{world * 1e3:>8.0f}")

    print("\nwhere the time goes (median ms from Popen; each column is the step before it)")
    steps = [
        ("interpreter", "top"),
        ("imports", "imported"),
        ("app (+engine)", "engine"),
        ("build window", "built"),
        ("show", "shown"),
        ("first paint", "painted"),
        ("one more turn", "ready"),
    ]
    print(f"{'':34}" + "".join(f"{name:>14}" for name, _ in steps))
    rows = [("bare", "bare"), ("mua", "mua")]
    if samples["first"]:
        rows += [("demo, first start", "first"), ("demo, again", "again")]
    for label, key in rows:
        cells, previous = [], 0.0
        for _name, mark in steps:
            if mark not in samples[key][0]:
                cells.append(f"{'-':>14}")
                continue
            at = _median(samples[key], mark)
            cells.append(f"{(at - previous) * 1e3:>14.0f}")
            previous = at
        print(f"{label:34}" + "".join(cells))


if __name__ == "__main__":
    main()
