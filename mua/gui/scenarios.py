"""Demo mode's Demo menu: send a sample message under another scenario (modern, starttls,
opportunistic, plaintext, the attacks...) and show it in the main window, where a user
looks for mail: the message in Bob's Inbox (a bounce in Alice's; for a message still
waiting in the queue, Alice's Sent copy), selected, with its journey on the Journey tab.

Each scenario runs in a throwaway world on a worker thread with its own event loop (an MX
without TLS or an attacker cannot be switched on in the world the user is signed in to);
its mail is then landed in the user's world and its journey kept by Message-ID
(mua.stack.scenario_mail, mua.gui.demo_profile.ScenarioJourneys)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from mua.core.i18n import _
from mua.core.labels import status_label
from mua.core.legs import TraceStatus
from mua.stack.scenario_names import SCENARIO_NAMES
from mua.store.cache_rows import message_id_key

if TYPE_CHECKING:
    from mua.gui.main_window import MainWindow
    from mua.gui.ports_table_window import PortsTableWindow

log = logging.getLogger(__name__)


def install_scenario_menu(window: MainWindow, bridge) -> list[QAction]:
    """A Demo menu with one action per scenario, its description in the item's text.

    The descriptions live with the scenarios (mua.stack.demo, which imports the whole mail
    world): while demo mode's world is still starting, the items are named only, and
    mua.gui.demo_start calls `describe_scenarios` once it runs (the window's first paint
    does not wait for the world's modules)."""
    menu = window.menuBar().addMenu(_("&Demo"))
    menu.setToolTipsVisible(True)
    actions = []
    for name in SCENARIO_NAMES:
        action = QAction(name, window)
        action.setData(name)
        action.triggered.connect(lambda _checked=False, n=name: run_scenario(window, bridge, n))
        menu.addAction(action)
        actions.append(action)
    window.scenario_actions = actions
    menu.addSeparator()
    table = QAction(_("Ports and encryption table…"), window)
    table.setStatusTip(_("Every leg's options side by side, each with its grade and scenario"))
    table.triggered.connect(lambda _checked=False: show_ports_table(window, bridge))
    menu.addAction(table)
    window.ports_table_action = table
    if getattr(window.demo, "ready", True):
        describe_scenarios(window)
    return actions


def describe_scenarios(window: MainWindow) -> None:
    """Each Demo menu item's description: in its text, status tip and tool tip."""
    from mua.stack.demo import SCENARIOS

    for action in getattr(window, "scenario_actions", []):
        name = action.data()
        description = _(SCENARIOS[name].description)
        action.setText(f"{name} \u2014 {description}".replace("&", "&&"))
        action.setStatusTip(description)
        action.setToolTip(description)


def show_ports_table(window: MainWindow, bridge) -> PortsTableWindow:
    """Open (or raise) the ports table (mua.gui.ports_table_window) over `window`; a click
    on a cell runs its scenario here, when no other is running. Imported on first use, as
    the scenarios are: the table's descriptions come from the mail world's modules."""
    from mua.gui.ports_table_window import PortsTableWindow

    def run(name: str) -> None:
        actions = getattr(window, "scenario_actions", [])
        if all(action.isEnabled() for action in actions):  # one scenario at a time
            run_scenario(window, bridge, name)

    shown = getattr(window, "ports_table", None)
    if shown is None:
        shown = PortsTableWindow(window, run)
        window.ports_table = shown
    shown.show()
    shown.raise_()
    return shown


def where_to_look(mail) -> tuple[str, str, str]:
    """(account, folder, Message-ID) of the copy a user would open for this scenario."""
    from mua.stack.demo import RECIPIENT, SENDER

    status, message_id = mail.trace.status, mail.trace.message_id or ""
    if status is TraceStatus.DELIVERED and mail.delivered is not None:
        return RECIPIENT, "INBOX", message_id
    if status is TraceStatus.BOUNCED and mail.bounce_id:
        return SENDER, "INBOX", mail.bounce_id
    return SENDER, "Sent", message_id  # deferred: still in the queue, as Alice sent it


def run_scenario(window: MainWindow, bridge, name: str):
    """Run scenario `name`, land its mail in the demo world and show it; the bridge task."""
    from mua.stack.demo import SCENARIOS
    from mua.stack.scenario_mail import land, run_scenario_mail

    session = window.demo
    window.statusBar().showMessage(_("Running the '{scenario}' scenario…").format(scenario=name))
    for action in getattr(window, "scenario_actions", []):
        action.setEnabled(False)  # one at a time: each starts a world of its own

    async def job():
        # the Demo menu is there in demo mode only, its items enabled once the world runs
        assert session is not None and session.world is not None
        assert session.journeys is not None
        mail = await asyncio.to_thread(asyncio.run, run_scenario_mail(SCENARIOS[name]))
        await asyncio.to_thread(session.world.call, land(session.world.world, mail))
        session.journeys.remember(mail.message_ids(), mail.trace)
        account, folder, message_id = where_to_look(mail)
        await window.engine.sync(account, [folder])
        return mail, account, folder, message_id

    def done(result) -> None:
        _enable(window)
        mail, account, folder, message_id = result
        _show(window, account, folder, message_id)
        text = _("Scenario '{scenario}': the message was {status}.").format(
            scenario=name, status=status_label(mail.trace.status)
        )
        window.statusBar().showMessage(text, 8000)

    def failed(error: str) -> None:
        _enable(window)
        window.statusBar().showMessage(error, 8000)

    return bridge.run(_("Scenario {scenario}").format(scenario=name), job(), done, failed)


def _enable(window: MainWindow) -> None:
    for action in getattr(window, "scenario_actions", []):
        action.setEnabled(True)


def _show(window: MainWindow, account: str, folder: str, message_id: str) -> bool:
    """Select the message in the main window's list and show its Journey tab."""
    window.refresh_folders()
    if (window.account, window.folder) == (account, folder):
        window.messages.refresh()
    elif not window.select_folder(account, folder):
        return False
    uid = next(
        (
            uid
            for uid in sorted(window.engine.cache.uids(account, folder), reverse=True)
            if (m := window.engine.cache.message(account, folder, uid)) is not None
            and message_id_key(m.message_id or "") == message_id_key(message_id)
        ),
        None,
    )
    row = window.messages.row_of(uid) if uid is not None else None
    if uid is None or row is None:
        log.warning("scenario message %s not found in %s %s", message_id, account, folder)
        return False
    window.select_uids([uid], uid)
    window.message_view.scrollTo(window.messages.index(row, 0))
    window.tabs.setCurrentWidget(window.hop_panel)
    return True
