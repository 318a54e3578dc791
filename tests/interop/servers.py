"""Throwaway Dovecot (IMAPS, and POP3S with dovecot-pop3d) and Postfix (submission) on 127.0.0.1.

Everything lives under one temporary directory: both configurations, the certificates (from a
`LocalCA`), Dovecot's passwd-file and state, Postfix's queue and data directories, carol's
Maildir and both servers' logs. Nothing under /etc is read for configuration (`dovecot -c`,
`postfix -c`), nothing listens beyond 127.0.0.1, and Postfix delivers only to interop.test:
its `virtual` agent writes carol's Maildir, every other destination is the `error` transport,
and master.cf has no `smtp` client at all.

Both run as root, as their packages expect, and drop privileges themselves: Dovecot to
nobody's ids for mail access and to dovenull for logins, Postfix to its `postfix` user (its
`virtual` agent to nobody's ids, so the Maildir has one owner). Those users must get through
the directory, which is why it is a `tempfile.mkdtemp` made 0755 and not pytest's tmp_path
(pytest keeps /tmp/pytest-of-root at 0700).

Postfix checks passwords through Dovecot's auth socket (`smtpd_sasl_type = dovecot`), so one
passwd-file serves IMAP and submission alike.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from mua.core.account import Account, Pop3Settings, ServerSettings
from mua.core.tls_facts import Security
from mua.stack.ca import LocalCA, ServerCert

DOMAIN = "interop.test"
ADDRESS = f"carol@{DOMAIN}"
OTHER_ADDRESS = f"dave@{DOMAIN}"  # someone else to write to, so carol's INBOX stays quiet
IMAP_NAME = f"imap.{DOMAIN}"
SMTP_NAME = f"smtp.{DOMAIN}"
LOOPBACK = "127.0.0.1"
NOBODY = 65534  # mail is read (Dovecot) and written (Postfix virtual) as nobody:nogroup
START_TIMEOUT = 20.0
BINARIES = ("dovecot", "postfix", "postconf")
SYSTEM_USERS = ("dovecot", "dovenull", "postfix")
# Debian's dovecot-pop3d: Dovecot serves POP3S too when it is installed (scripts/system-deps)
DOVECOT_POP3 = Path("/usr/lib/dovecot/pop3")
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


class ServerFailed(RuntimeError):
    """A server did not start or stop; str() carries the tail of its logs."""


def which(binary: str) -> str | None:
    path = os.environ.get("PATH", "")
    return shutil.which(binary, path=f"{path}:{_SBIN}" if path else _SBIN)


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if which(b) is None]


def missing_users() -> list[str]:
    missing = []
    for name in SYSTEM_USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            missing.append(name)
    return missing


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later), and one this
    process has not handed out before: two calls in a row could get the same port from the
    kernel, and Dovecot then refused its configuration ("duplicate listener")."""
    while True:
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            port: int = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


_handed_out: set[int] = set()


def wait_for_port(port: int, *, alive, timeout: float, what: str) -> None:
    """Until something accepts on 127.0.0.1:`port`; `alive()` False or the deadline fails."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            if not alive():
                raise ServerFailed(f"{what} exited before it listened on port {port}") from None
            if time.monotonic() > deadline:
                message = f"{what} did not listen on port {port} within {timeout:g} s"
                raise ServerFailed(message) from None
            time.sleep(0.05)


def ssha256(password: str) -> str:
    """Dovecot's {SSHA256} scheme: base64(SHA-256(password + salt) + salt)."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode()


def tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({path.name}: {exc.strerror or exc})"
    return text[-limit:] if len(text) > limit else text


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    for path in [top, *top.rglob("*")]:
        os.chown(path, uid, gid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group this module started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Dovecot:
    """IMAPS on one loopback port, and the auth socket Postfix asks for passwords."""

    def __init__(
        self,
        root: Path,
        cert: ServerCert,
        users: dict[str, str],
        *,
        idle_keepalive: int | None = None,
    ) -> None:
        """`idle_keepalive`: seconds between the `* OK Still here` Dovecot sends during IDLE
        (imap_idle_notify_interval); None keeps Dovecot's 2 minutes."""
        self.root = root
        self.cert = cert
        self.users = users  # address -> password
        self.idle_keepalive = idle_keepalive
        self.dir = root / "dovecot"
        self.config = self.dir / "dovecot.conf"
        self.log = root / "logs" / "dovecot.log"
        self.stderr = root / "logs" / "dovecot.stderr"
        self.auth_socket = self.dir / "run" / "auth-postfix"
        self.port = free_port()
        self.pop3_port = free_port() if DOVECOT_POP3.exists() else None  # POP3S
        self.proc: subprocess.Popen | None = None

    @property
    def log_files(self) -> list[Path]:
        return [self.log, self.stderr]

    def start(self) -> None:
        d = self.dir
        for sub in ("run", "state"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "passwd").write_text(
            "".join(f"{user}:{ssha256(pw)}::::::\n" for user, pw in self.users.items())
        )
        for user in self.users:
            local = user.partition("@")[0]
            for sub in ("cur", "new", "tmp"):
                (self.root / "mail" / local / sub).mkdir(parents=True, exist_ok=True)
            (self.root / "home" / local).mkdir(parents=True, exist_ok=True)
        for top in (self.root / "mail", self.root / "home"):
            _chown_tree(top, NOBODY, NOBODY)
        self.config.write_text(self._config())
        with self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its children share the group: nothing outlives stop()
                env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:{_SBIN}"},
            )
        proc = self.proc
        try:
            for port in (self.port, self.pop3_port):
                if port is not None:
                    wait_for_port(
                        port,
                        alive=lambda: proc.poll() is None,
                        timeout=START_TIMEOUT,
                        what="Dovecot",
                    )
            deadline = time.monotonic() + START_TIMEOUT
            while not self.auth_socket.exists():
                if time.monotonic() > deadline:
                    raise ServerFailed(f"Dovecot did not create {self.auth_socket}")
                time.sleep(0.05)
        except ServerFailed as exc:
            self.stop()
            raise ServerFailed(f"{exc}\n{self.logs()}") from None

    def _config(self) -> str:
        r, d = self.root, self.dir
        return f"""# Throwaway Dovecot for mua's interop tests; nothing here is read from /etc.
base_dir = {d}/run
state_dir = {d}/state
log_path = {self.log}
log_timestamp = "%Y-%m-%d %H:%M:%S "
auth_verbose = yes
protocols = imap{" pop3" if self.pop3_port else ""}
listen = {LOOPBACK}
default_login_user = dovenull
default_internal_user = dovecot
ssl = required
ssl_cert = <{self.cert.cert_file}
ssl_key = <{self.cert.key_file}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=SSHA256 username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={NOBODY} gid={NOBODY} home={r}/home/%n
}}
mail_location = maildir:{r}/mail/%n
first_valid_uid = 1
first_valid_gid = 1
{self._idle_keepalive()}namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = {LOOPBACK}
    port = {self.port}
    ssl = yes
  }}
}}
{self._pop3_service()}service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""

    def _idle_keepalive(self) -> str:
        if self.idle_keepalive is None:
            return ""
        return f"imap_idle_notify_interval = {self.idle_keepalive} secs\n"

    def _pop3_service(self) -> str:
        if self.pop3_port is None:
            return ""
        return f"""service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    address = {LOOPBACK}
    port = {self.pop3_port}
    ssl = yes
  }}
}}
"""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # the master stops its children, then exits
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _kill_group(proc.pid)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{tail(p)}" for p in self.log_files)


class Postfix:
    """Submission on two loopback ports: implicit TLS (the 465 role) and STARTTLS (587)."""

    def __init__(self, root: Path, cert: ServerCert, dovecot: Dovecot) -> None:
        self.root = root
        self.cert = cert
        self.dovecot = dovecot
        self.dir = root / "postfix"
        self.config_dir = self.dir / "etc"
        self.queue = self.dir / "queue"
        self.data = self.dir / "data"
        self.log = root / "logs" / "postfix.log"
        self.control_log = root / "logs" / "postfix.control"
        self.implicit_port = free_port()
        self.starttls_port = free_port()
        self._master_pid: int | None = None

    @property
    def log_files(self) -> list[Path]:
        return [self.log, self.control_log]

    def _postfix(self, command: str, timeout: float = START_TIMEOUT) -> int:
        with self.control_log.open("ab") as out:
            out.write(f"$ postfix -c {self.config_dir} {command}\n".encode())
            out.flush()
            done = subprocess.run(
                [which("postfix") or "postfix", "-c", str(self.config_dir), command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        return done.returncode

    def start(self) -> None:
        for path in (self.config_dir, self.queue, self.data, self.root / "logs"):
            path.mkdir(parents=True, exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(self.data, owner.pw_uid, owner.pw_gid)  # the queue itself stays root's
        (self.config_dir / "main.cf").write_text(self._main_cf())
        (self.config_dir / "master.cf").write_text(self._master_cf())
        try:
            if self._postfix("start") != 0:  # `master -w`: returns once the master is up
                raise ServerFailed("`postfix start` failed")
            self._master_pid = self._read_master_pid()
            for port in (self.implicit_port, self.starttls_port):
                wait_for_port(port, alive=self._alive, timeout=START_TIMEOUT, what="Postfix")
        except (ServerFailed, subprocess.TimeoutExpired) as exc:
            self.stop()
            raise ServerFailed(f"{exc}\n{self.logs()}") from None

    def _read_master_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        return None

    def _alive(self) -> bool:
        return self._master_pid is not None and _running(self._master_pid)

    def _main_cf(self) -> str:
        r = self.root
        no_route = "error:mua interop tests deliver to interop.test only"
        return f"""# Throwaway Postfix for mua's interop tests; nothing here is read from /etc.
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.log}
maillog_file_prefixes = {r}
myhostname = {SMTP_NAME}
mydomain = {DOMAIN}
myorigin = $mydomain
mydestination =
relay_domains =
inet_interfaces = {LOOPBACK}
inet_protocols = ipv4
mynetworks = {LOOPBACK}/32
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = {no_route}
default_transport = {no_route}
relay_transport = {no_route}
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {r}/mail
virtual_mailbox_maps = inline:{{ {self._mailboxes()} }}
virtual_uid_maps = static:{NOBODY}
virtual_gid_maps = static:{NOBODY}
smtpd_tls_cert_file = {self.cert.cert_file}
smtpd_tls_key_file = {self.cert.key_file}
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self.dovecot.auth_socket}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
smtpd_sender_login_maps = inline:{{ {self._logins()} }}
smtpd_client_restrictions = permit_sasl_authenticated, reject
smtpd_sender_restrictions = reject_sender_login_mismatch
smtpd_relay_restrictions = reject_unauth_destination, permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
"""

    def _mailboxes(self) -> str:
        return ", ".join(f"{u}={u.partition('@')[0]}/" for u in self.dovecot.users)

    def _logins(self) -> str:
        return ", ".join(f"{u}={u}" for u in self.dovecot.users)

    def _master_cf(self) -> str:
        # Debian's master.cf without chroot (the queue is under /tmp), minus every client
        # that could reach another host (smtp, relay, lmtp) and the pipe examples.
        services = [
            f"{LOOPBACK}:{self.implicit_port} inet n - n - - smtpd",
            "  -o syslog_name=postfix/submissions",
            "  -o smtpd_tls_wrappermode=yes",
            f"{LOOPBACK}:{self.starttls_port} inet n - n - - smtpd",
            "  -o syslog_name=postfix/submission",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        return "# Throwaway Postfix for mua's interop tests.\n" + "\n".join(services) + "\n"

    def stop(self) -> None:
        pid = self._master_pid or self._read_master_pid()
        if pid is None:
            return
        if _running(pid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._postfix("stop", timeout=15)  # waits up to 5 s, then kills the group
        if _running(pid):
            _kill_group(pid)  # the master is a session leader: its group is this instance
        self._master_pid = None

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{tail(p)}" for p in self.log_files)


@dataclass
class MailServers:
    """Dovecot and Postfix for carol@ and dave@interop.test, and what a client needs to reach
    them."""

    root: Path
    ca: LocalCA
    passwords: dict[str, str]  # address -> password
    dovecot: Dovecot
    postfix: Postfix
    address: str = ADDRESS
    started_in: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(cls) -> MailServers:
        root = Path(tempfile.mkdtemp(prefix="mua-interop-"))
        os.chmod(root, 0o755)  # the servers' unprivileged users must get through
        (root / "logs").mkdir()
        began = time.monotonic()
        ca = LocalCA(root / "ca", organization="mua interop")
        passwords = {user: secrets.token_urlsafe(18) for user in (ADDRESS, OTHER_ADDRESS)}
        # A keepalive every second, not every 2 minutes: the IDLE tests meet it as a client
        # of a real Dovecot does in a long slice (it must not count as new mail).
        dovecot = Dovecot(root, ca.server_cert(IMAP_NAME), passwords, idle_keepalive=1)
        postfix = Postfix(root, ca.server_cert(SMTP_NAME), dovecot)
        servers = cls(root, ca, passwords, dovecot, postfix)
        try:
            dovecot.start()
            postfix.start()
        except BaseException:
            servers.stop()
            raise
        servers.started_in = time.monotonic() - began
        return servers

    @property
    def password(self) -> str:
        return self.passwords[self.address]

    @property
    def ca_file(self) -> Path:
        return self.ca.ca_file

    @property
    def log_files(self) -> list[Path]:
        return [*self.dovecot.log_files, *self.postfix.log_files]

    def account(self) -> Account:
        """carol's account: 127.0.0.1 for both servers, their names verified against the CA
        (ServerSettings.server_name); submission on the 465 role (implicit TLS)."""
        user = self.address
        smtp = (self.postfix.implicit_port, Security.IMPLICIT)
        return Account(
            address=user,
            display_name="Carol Interop",
            imap=ServerSettings(
                LOOPBACK, self.dovecot.port, Security.IMPLICIT, user, self.ca_file, IMAP_NAME
            ),
            smtp=ServerSettings(LOOPBACK, *smtp, user, self.ca_file, SMTP_NAME),
        )

    def pop3_account(self) -> Account:
        """carol's account reading over Dovecot's POP3S (the 995 role) instead of IMAP."""
        assert self.dovecot.pop3_port is not None, "dovecot-pop3d is not installed"
        account = self.account()
        server = ServerSettings(
            LOOPBACK,
            self.dovecot.pop3_port,
            Security.IMPLICIT,
            self.address,
            self.ca_file,
            IMAP_NAME,  # one certificate for Dovecot's IMAP and POP3
        )
        return replace(account, imap=server, pop3=Pop3Settings(server))

    def logs(self) -> str:
        return f"{self.dovecot.logs()}\n{self.postfix.logs()}"

    def stop(self, *, remove: bool = True) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.postfix.stop()
        finally:
            self.dovecot.stop()
            if remove:
                shutil.rmtree(self.root, ignore_errors=True)
