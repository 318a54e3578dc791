"""Logging for the entry point: a rotating file under the user's log directory, and stderr.

Only the entry point calls this; every module just uses `logging.getLogger(__name__)`.
`MUA_HOME` moves every mua path (tests and scripts isolate themselves with it).
"""

from __future__ import annotations

import logging
import logging.handlers

from mua.store.paths import log_dir

_HANDLER_NAME = "mua"  # the handlers configure_logging added: it adds them once


def configure_logging(*, verbose: bool = False) -> None:
    root = logging.getLogger()
    if any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        return
    root.setLevel(logging.DEBUG)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter("mua: %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [stderr]
    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            directory / "mua.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file.setLevel(logging.INFO)
        file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(file)
    except OSError as exc:  # a read-only home must not stop mua
        stderr.handle(logging.makeLogRecord({"msg": f"no log file: {exc}", "levelno": 30}))
    for handler in handlers:
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    # aiosmtpd logs every command at INFO; its AUTH lines are sanitised, but keep it quiet.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
