"""What the desktop app imports before its first window: only what that window shows
(docs/architecture.md, the GUI's two rules; bench/startup.py measures the cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Each of these loads only with the feature that needs it. Together they cost about 250 ms
# of start-up (httpx2, authlib and aiohttp for OAuth2 accounts; dkimpy, authheaders and the
# public suffix list for content checks; the mail world for demo mode).
LATE = ("aiohttp", "authlib", "httpx2", "joserfc", "dkim", "authheaders", "publicsuffixlist",
        "mua.net.oauth", "mua.stack")  # fmt: skip


def test_the_main_window_loads_no_feature_library_before_it_is_used() -> None:
    code = (
        "import json, sys\n"
        "import mua.gui.app, mua.gui.main_window, mua.client.engine\n"
        f"late = {LATE!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] if not m.startswith('mua.') else m"
        " for m in sys.modules if m.startswith(late)})))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
