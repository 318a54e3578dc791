"""imapclient's own live test suite (`python -m imapclient.livetest`, shipped inside
imapclient) run as a subprocess against one IMAPS account, with its outcome per test.

The suite makes its UID and non-UID classes from one factory, so both report as
`createUidTestClass.<locals>.LiveTest`; the runner gives them their real names first."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

_RUNNER = """
import imapclient.livetest as live
make = live.createUidTestClass
def named(conf, use_uid):
    klass = make(conf, use_uid)
    klass.__qualname__ = "TestWithUIDs" if use_uid else "TestWithoutUIDs"
    return klass
live.createUidTestClass = named
live.main()
"""
_LINE = re.compile(r"^(test\w+) \([\w.]*?(Test\w+)\.test\w+\)")
_VERDICT = re.compile(r"\.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)")

# Tests of the client's own socket timeouts, not of the server: a 1 ms connect timeout
# fails only when the server's TLS handshake is slower than that (Dovecot's is, the world's
# on loopback often is not).
TIMING = frozenset(
    {"TestSocketTimeout.test_small_connection_timeout_fail",
     "TestSocketTimeout.test_small_read_timeout_fail"}
)  # fmt: skip


def write_ini(path: Path, *, port: int, username: str, password: str, ca_file: Path) -> Path:
    path.write_text(
        "[DEFAULT]\n"
        "host = 127.0.0.1\n"
        f"port = {port}\n"
        "ssl = true\n"
        "ssl_check_hostname = false\n"
        f"ssl_ca_file = {ca_file}\n"
        f"username = {username}\n"
        f"password = {password}\n"
        "timeout = 30\n"
    )
    return path


async def run_livetest(ini: Path, *, timeout: float = 300) -> tuple[dict[str, str], str]:
    """({"TestWithUIDs.test_sort": "ok" | "FAIL" | "ERROR" | "skipped", ...}, the report)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RUNNER, str(ini), "-v",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    report = out.decode("utf-8", "replace")
    outcomes: dict[str, str] = {}
    pending: str | None = None  # a test whose docstring pushed its verdict to the next line
    for line in report.splitlines():
        match = _LINE.match(line)
        if match:
            pending = f"{match.group(2)}.{match.group(1)}"
        verdict = _VERDICT.search(line)
        if pending and verdict:
            outcomes[pending], pending = verdict.group(1), None
    return outcomes, report
