"""Run by the SYSTEM Python (pyatspi is a Debian package, not a wheel) inside a private D-Bus
session (`dbus-run-session`), for tests/gui/test_atspi.py:

    atspi_probe.py --leg "Leg 1 of 2:" --window TITLE -- PROGRAM ARGS...

starts Xvfb, the AT-SPI bus, then PROGRAM (the app) on them; finds through AT-SPI, as a screen
reader would, the list item whose name starts with --leg; focuses the window titled TITLE
(xdotool: no window manager runs), gives the focus to the item's list through AT-SPI, presses
Right then Return, and reads which item says it is focused, then selected, and the focus
events a screen reader would hear; prints what it
found as one JSON line and stops everything it started. Exit 0 when the leg was found, 1
when it was not (the JSON says why).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _xvfb() -> tuple[subprocess.Popen, str]:
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as numbers:
        number = numbers.readline().strip()  # written once the server accepts clients
    if not number.isdigit():
        _stop(server)
        raise RuntimeError("Xvfb did not start")
    return server, f":{number}"


def _describe(accessible) -> dict:
    return {"name": accessible.name, "role": accessible.getRoleName()}


def _find(pyatspi, prefix: str, deadline: float, app: subprocess.Popen):
    """The list item named `prefix...` in any application on the bus, once it is there."""

    def is_leg(node) -> bool:
        return node.getRole() == pyatspi.ROLE_LIST_ITEM and (node.name or "").startswith(prefix)

    while time.monotonic() < deadline and app.poll() is None:
        desktop = pyatspi.Registry.getDesktop(0)
        for application in desktop:
            if application is None:
                continue
            found = pyatspi.utils.findDescendant(application, is_leg, breadth_first=True)
            if found is not None:
                return application, found
        time.sleep(0.25)  # the app is still starting: ask the bus again
    return None, None


def _xdotool(*argv: str) -> None:
    subprocess.run(["xdotool", *argv], check=True, timeout=30, stdout=subprocess.DEVNULL)


def _pump_events() -> None:
    """Deliver the AT-SPI events that arrived (pyatspi dispatches them from GLib's loop)."""
    from gi.repository import GLib

    context = GLib.MainContext.default()
    while context.iteration(False):
        pass


def _wait_for_state(pyatspi, diagram, state, deadline: float, previous=None) -> str | None:
    """The name of the first item of `diagram` in `state` other than `previous`, once one is
    (None at the deadline)."""
    while time.monotonic() < deadline:
        _pump_events()
        for i in range(diagram.childCount):
            item = diagram.getChildAtIndex(i)
            if item.getState().contains(state) and item.name != previous:
                return item.name
        time.sleep(0.1)  # the key travels through the X server to the app: ask again
    return None


def probe(prefix: str, window: str, program: list[str], within: float) -> dict:
    deadline = time.monotonic() + within
    server, display = _xvfb()
    started = [server]
    try:
        os.environ["DISPLAY"] = display
        quiet = {"stdout": sys.stderr}  # stdout is for the one JSON line
        started.append(subprocess.Popen([BUS_LAUNCHER, "--launch-immediately"], **quiet))
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}
        app = subprocess.Popen(program, env=env, **quiet)
        started.append(app)
        import pyatspi  # after DISPLAY and the bus exist: it connects on first use

        application, leg = _find(pyatspi, prefix, deadline, app)
        if leg is None:
            why = f"the app exited ({app.returncode})" if app.poll() is not None else "timeout"
            return {"found": False, "why": why}
        diagram = leg.parent
        result = {
            "found": True,
            "application": application.name,
            "leg": _describe(leg),
            "states": sorted(s.value_nick for s in leg.getState().getStates()),
            "list": _describe(diagram) | {"children": diagram.childCount},
            "items": [diagram.getChildAtIndex(i).name for i in range(diagram.childCount)],
        }
        # The keyboard's way in: the window gets the X input focus (no window manager runs to
        # give it), AT-SPI moves the focus to the list, then real key presses move through it.
        # What a screen reader hears: the focus events of the list's items, in order.
        heard = result["focus_events"] = []

        def on_focus(event) -> None:
            if event.detail1 and event.source.getRole() == pyatspi.ROLE_LIST_ITEM:
                heard.append(event.source.name)

        pyatspi.Registry.registerEventListener(on_focus, "object:state-changed:focused")
        _xdotool("search", "--sync", "--onlyvisible", "--name", window, "windowfocus", "--sync")
        diagram.queryComponent().grabFocus()
        first = _wait_for_state(pyatspi, diagram, pyatspi.STATE_FOCUSED, deadline)
        _xdotool("key", "Right")
        second = _wait_for_state(pyatspi, diagram, pyatspi.STATE_FOCUSED, deadline, first)
        result["focused"] = [first, second]
        _xdotool("key", "Return")
        result["selected"] = _wait_for_state(pyatspi, diagram, pyatspi.STATE_SELECTED, deadline)
        while len(heard) < 2 and time.monotonic() < deadline:
            _pump_events()
            time.sleep(0.1)  # events trail the states they announce: wait for them too
        pyatspi.Registry.deregisterEventListener(on_focus, "object:state-changed:focused")
        return result
    finally:
        for process in reversed(started):
            _stop(process)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leg", required=True, help="the start of the leg's accessible name")
    parser.add_argument("--window", required=True, help="the title of the app's window")
    parser.add_argument("--within", type=float, default=60.0, help="seconds to find it")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    result = probe(args.leg, args.window, program, args.within)
    print(json.dumps(result))
    return 0 if result["found"] else 1


if __name__ == "__main__":
    sys.exit(main())
