"""The two IMAP servers the benchmarks compare, filled with the same INBOX.

`filled_servers(root, messages)` writes `messages` plain 2 kB messages (CRLF, as the MDA's
deliver_to_maildir writes them) into bob's Maildir in a demo world under `root / "world"`,
and, when Dovecot is installed, copies the same files into a throwaway Dovecot's Maildir.
Both serve implicit TLS with certificates from the world's LocalCA:
- ours: `start_ours(world_dir)` runs the demo world in a subprocess (this file with
  --serve), which builds bob's index before it reports its port;
- Dovecot: `Dovecot(root, cert).start()` runs it from a throwaway configuration on a loopback
  port, with its defaults otherwise (mail_fsync=optimized).
Used by bench/imap_fetch.py and bench/first_sync.py (run as scripts, so `bench/` is on
sys.path and `import _servers` finds this file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from mua.stack.ca import LocalCA, ServerCert
from mua.stack.mda import deliver_to_maildir
from mua.stack.world import World

BASE_DATE = 1_780_000_000  # 2026-05-28
USER = "bob@b.test"
DOVECOT_NAME = "imap.dovecot.test"


def message(i: int) -> bytes:
    """A plain 2 kB message; every 4th has a Cc, every 3rd is a reply, some subjects are
    encoded words, as in a real inbox."""
    n = i % 97
    subject = f"Quarterly numbers, part {i}" if i % 5 else f"=?utf-8?q?R=C3=A9sum=C3=A9_{i}?="
    lines = [
        f"Return-Path: <sender{n}@example.org>",
        f"Received: from mx.example.org (mx.example.org [192.0.2.{n}]) by mx.b.test"
        f" with ESMTPS id Q{i:08d} for <bob@b.test>; {formatdate(BASE_DATE + i * 60)}",
        f'From: "Sender {n}" <sender{n}@example.org>',
        "To: Bob <bob@b.test>",
        *(["Cc: Carol <carol@example.net>, dave@example.net"] if i % 4 == 0 else []),
        f"Subject: {subject}",
        f"Date: {formatdate(BASE_DATE + i * 60)}",
        f"Message-ID: <bench-{i}@example.org>",
        *([f"In-Reply-To: <bench-{i - 1}@example.org>"] if i % 3 == 0 else []),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
    ]
    body = [
        f"Line {k} of message {i}: the numbers are as expected this quarter." for k in range(24)
    ]
    return "\r\n".join(lines + body + [""]).encode()


@dataclass
class Server:
    name: str
    port: int
    ca_file: Path
    user: str
    password: str
    server_name: str  # the name its certificate carries (it also names 127.0.0.1)
    one_off: dict[str, float] = field(default_factory=dict)


def filled_servers(root: Path, messages: int) -> tuple[Path, Dovecot | None]:
    """Write the INBOX for ours (the world directory, returned) and, when Dovecot is
    installed, for a Dovecot under `root / "dovecot"` (not started)."""
    os.chmod(root, 0o755)  # Dovecot's unprivileged processes must get to their files
    world_dir = root / "world"
    inbox = World(world_dir).providers["b.test"].mda.maildir("bob")
    start = time.perf_counter()
    for i in range(messages):
        deliver_to_maildir(inbox, message(i))
    print(f"({messages:,} messages written in {time.perf_counter() - start:.1f} s)")
    if shutil.which("dovecot") is None:
        return world_dir, None
    cert = LocalCA(world_dir / "ca").server_cert(DOVECOT_NAME)
    dovecot = Dovecot(root / "dovecot", cert)
    for path in (inbox / "new").iterdir():
        shutil.copyfile(path, dovecot.maildir / "new" / path.name)
    return world_dir, dovecot


# -- our server -------------------------------------------------------------------------------


async def _serve(directory: Path) -> None:
    """The subprocess: the demo world on free ports; builds bob's index, then says so."""
    world = World(directory)
    await world.start()
    provider = world.providers["b.test"]
    start = time.perf_counter()
    mailbox = world.mailbox(USER)
    provider.store_for(mailbox).folder("INBOX")
    built = time.perf_counter() - start
    assert provider.ports is not None
    print(json.dumps({"port": provider.ports.imap_implicit, "index": built}), flush=True)
    await asyncio.Event().wait()


def start_ours(directory: Path) -> tuple[subprocess.Popen, Server]:
    """The demo world in a subprocess; stop it with `proc.terminate(); proc.wait()`."""
    world = World(directory)  # not started: only to read its CA and bob's password
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline())
    except ValueError:
        proc.terminate()
        proc.wait()
        raise RuntimeError("our server did not start") from None
    bob = world.mailbox(USER)
    host = world.providers["b.test"].imap_host
    server = Server("ours", ready["port"], world.ca.ca_file, bob.user, bob.password, host)
    server.one_off["index build (in the server)"] = ready["index"]
    return proc, server


# -- Dovecot ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """Dovecot from a throwaway configuration under `root`, on one loopback port."""

    def __init__(self, root: Path, cert: ServerCert, user: str = "bob", password: str = "bench"):
        self.root, self.cert, self.user, self.password = root, cert, user, password
        self.maildir = root / "mail" / user
        self.port = free_port()
        self.config = root / "dovecot.conf"
        self.proc: subprocess.Popen | None = None
        if os.geteuid() == 0:  # Dovecot refuses mail access as root: use nobody's ids
            self.uid, self.gid = 65534, 65534
            self.login_user, self.internal_user = "dovenull", "dovecot"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            self.login_user = self.internal_user = _user_name()
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", f"home/{user}"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        r = self.root
        (r / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.config.write_text(
            f"""base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
ssl = required
ssl_cert = <{self.cert.cert_file}
ssl_key = <{self.cert.key_file}
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {r}/passwd
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={r}/home/%n
}}
mail_location = maildir:{r}/mail/%n
first_valid_uid = 1
first_valid_gid = 1
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
"""
        )
        if os.geteuid() == 0:
            os.chmod(r, 0o755)  # the mail user and the login user must get through
            for top in (r / "mail", r / "home"):
                for path in [top, *top.rglob("*")]:
                    os.chown(path, self.uid, self.gid)
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = r / "dovecot.log"
                    raise RuntimeError(
                        "Dovecot did not start: "
                        + (log.read_text()[-2000:] if log.exists() else "no log")
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # the master stops its children
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def server(self, ca_file: Path) -> Server:
        return Server("Dovecot", self.port, ca_file, self.user, self.password, DOVECOT_NAME)

    def version(self) -> str:
        out = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
        return out.stdout.split()[0] if out.stdout else "?"


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="serve the demo world (for start_ours)")
    parser.add_argument("--serve", type=Path, required=True)
    asyncio.run(_serve(parser.parse_args().serve))
