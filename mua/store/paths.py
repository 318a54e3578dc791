"""Where mua keeps its files. `MUA_HOME` moves every one of them (tests, scripts, portable use)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "mua"


def _home() -> Path | None:
    home = os.environ.get("MUA_HOME")
    return Path(home) if home else None


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP, appauthor=False))


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP, appauthor=False))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP, appauthor=False))


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP, appauthor=False))


def window_state_file() -> Path:
    """Where the desktop app keeps window sizes, splitters and small reading choices (an
    INI file written by Qt's QSettings), beside the other settings."""
    return config_dir() / "window-state.ini"
