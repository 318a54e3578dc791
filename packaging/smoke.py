"""Smoke-test a frozen or installed mua executable: its version, and one demo message.

    python packaging/smoke.py PATH/TO/mua[.exe]

Runs `mua --version` (must be the package's version) and `mua demo --headless --json` (the
message must be delivered through all six legs), each with a temporary MUA_HOME. The CI
workflow runs it on Windows and macOS; on Linux tests/packaging does the same and more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appmeta


def smoke(executable: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mua-smoke-") as home:
        env = {**os.environ, "MUA_HOME": home}

        def run(*argv: str) -> str:
            result = subprocess.run(
                [str(executable), *argv], env=env, capture_output=True, text=True, timeout=300
            )
            if result.returncode != 0:
                raise SystemExit(f"mua {' '.join(argv)} exited {result.returncode}:\n{result}")
            return result.stdout

        version = run("--version").strip()
        if version != f"mua {appmeta.version()}":
            raise SystemExit(f"--version said {version!r}, the package is {appmeta.version()}")
        trace = json.loads(run("demo", "--headless", "--json"))
        if trace["status"] != "delivered" or len(trace["legs"]) != 6:
            raise SystemExit(f"the demo message was {trace['status']}: {trace}")
    print(f"{executable}: {version}, demo message delivered over {len(trace['legs'])} legs")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    smoke(Path(sys.argv[1]))
