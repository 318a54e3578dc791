"""Edit > Preferences shows how much opened mail is kept on this computer, and saving a
lower limit frees the cache at once (Settings.body_cache_megabytes; the engine evicts)."""

from __future__ import annotations

from dataclasses import replace

from tests.gui.conftest import finish

BOB = "bob@b.test"


def put_mail_in_bobs_inbox(demo_session, count: int) -> None:
    """Messages appended to bob's INBOX on the world's own thread."""
    world = demo_session.world.world

    async def append() -> None:
        store = world.providers["b.test"].store_for(world.mailbox(BOB))
        for n in range(count):
            store.folder("INBOX").append(f"Subject: kept {n}\r\n\r\n{'x' * 2000}\r\n".encode())

    demo_session.world.call(append())


def test_the_body_cache_limit_is_shown_and_saving_it_applies(
    qtbot, open_main_window, demo_session
) -> None:
    engine = demo_session.engine
    put_mail_in_bobs_inbox(demo_session, 3)
    window = open_main_window()
    finish(qtbot, engine.sync(BOB, ["INBOX"]))
    for uid in engine.cache.uids(BOB, "INBOX"):
        finish(qtbot, engine.body(BOB, "INBOX", uid))  # opened: kept on this computer
    assert engine.cache.bodies_size() > 6000

    window.apply_settings(replace(window.settings, body_cache_megabytes=64))
    qtbot.waitUntil(lambda: engine.body_cache_bytes == 64 * 1024 * 1024)
    window.act_preferences.trigger()
    dialog = window.preferences_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert (dialog.body_cache.value(), dialog.body_cache.suffix()) == (64, " MB")

    dialog.body_cache.setValue(0)
    with qtbot.waitSignal(window.settingsChanged) as changed:
        dialog.accept()
    assert changed.args[0].body_cache_megabytes == 0  # what the app saves to settings.toml
    qtbot.waitUntil(lambda: engine.cache.bodies_size() == 0)
    assert engine.body_cache_bytes == 0
