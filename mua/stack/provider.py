"""One mail provider of the world: MSA + MTA and its queue + MX + MDA for one domain."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import threading
from pathlib import Path

from mua.net.dns import Resolver
from mua.net.mta_sts import MtaStsClient
from mua.stack.autoconfig_file import autoconfig_xml
from mua.stack.ca import LocalCA
from mua.stack.dkim_keys import DkimKeys
from mua.stack.events import EventLog
from mua.stack.imap import render
from mua.stack.imap.mailchange import StoreError
from mua.stack.imap.mailstore import MailStore
from mua.stack.imap.server import ImapServer
from mua.stack.lmtp import LmtpClient, LmtpMode, StoreHost
from mua.stack.mda import Mda, ensure_maildir
from mua.stack.msa import Msa, MsaPorts
from mua.stack.mta import Mta
from mua.stack.mta_sts_server import PolicyServer, policy_id, policy_text
from mua.stack.mx import Mx
from mua.stack.oauth_http import AuthWebServer
from mua.stack.oauth_tokens import TokenVerifier
from mua.stack.pop3.server import Pop3Server
from mua.stack.provider_options import MxTls, ProviderOptions, ProviderPorts
from mua.stack.queue import MailQueue
from mua.stack.relay import NextHop, RelayClient
from mua.stack.spf_check import spf_record
from mua.stack.tlsrpt import TlsReportLog
from mua.stack.tlsrpt_daily import DailyTlsReports
from mua.stack.tlsrpt_https import ReportPoster
from mua.stack.tlsrpt_server import ReportReceiver, receiver_paths
from mua.stack.users import Mailbox, UserDirectory

log = logging.getLogger(__name__)


class Provider:
    def __init__(
        self,
        domain: str,
        directory: Path,
        ca: LocalCA,
        events: EventLog,
        options: ProviderOptions,
    ) -> None:
        self.domain = domain
        self.directory = Path(directory)
        self.options = options
        self.smtp_host = f"smtp.{domain}"
        self.mx_host = f"mx.{domain}"
        self.imap_host = f"imap.{domain}"
        self.pop3_host = f"pop.{domain}"
        self.mta_sts_host = f"mta-sts.{domain}"
        self.tlsrpt_host = f"tlsrpt.{domain}"
        self.auth_host = f"auth.{domain}"
        self.autoconfig_host = f"autoconfig.{domain}"  # served by the authorization server
        self.users = UserDirectory.load_or_create(
            domain, list(options.users), self.directory / "users.json"
        )
        self.mda = Mda(self.directory / "mail")
        for mailbox in self.users:
            ensure_maildir(self.mda.maildir(mailbox.user))
        self.queue = MailQueue(self.directory / "queue")
        self.events = events
        self.ca = ca
        self.smtp_cert = ca.server_cert(self.smtp_host)
        self.mx_cert = (
            LocalCA(self.directory / "untrusted-ca", organization="Untrusted Example")
            if options.mx_tls is MxTls.UNVERIFIABLE
            else ca
        ).server_cert(self.mx_host)
        self.imap_cert = ca.server_cert(self.imap_host)
        self.pop3_cert = ca.server_cert(self.pop3_host)
        self.dkim = DkimKeys(domain, self.directory / "dkim")
        self._stores: dict[str, MailStore] = {}
        self._stores_lock = threading.Lock()
        self._stopping = False  # stores are closing: a late delivery is found by the next rescan
        self.mda.add_listener(self._delivered)
        self.msa: Msa | None = None
        self.ms: ImapServer | None = None
        self.pop3: Pop3Server | None = None  # the same store's POP3 face
        self.mx: Mx | None = None
        self.mta: Mta | None = None
        self.policy_server: PolicyServer | None = None
        self.report_receiver: ReportReceiver | None = None
        self.auth_server: AuthWebServer | None = None
        self.token_verifier: TokenVerifier | None = None  # the MSA's, IMAP's and POP3's
        self.store_host: StoreHost | None = None  # with options.lmtp (mua.stack.lmtp)
        self.daily_reports: DailyTlsReports | None = None
        self.ports: ProviderPorts | None = None
        # The loopback address its MTA sends from and its SPF record names (spf_check.py);
        # set by the world before the zones are built. None: no SPF record.
        self.sending_address: str | None = None

    def _auth_context(self) -> ssl.SSLContext:
        """auth.<domain>'s TLS, and autoconfig.<domain>'s certificate for a client that asks
        for that name (SNI): one HTTPS server answers for both (the world's DNS sends
        autoconfig.<domain> there with an RFC 9460 HTTPS record naming its port)."""
        context = self.ca.server_cert(self.auth_host).server_context()
        autoconfig = self.ca.server_cert(self.autoconfig_host).server_context()

        def by_name(sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
            if name == self.autoconfig_host:
                sock.context = autoconfig

        context.sni_callback = by_name
        return context

    async def start_servers(
        self, ports: ProviderPorts, msa_ports: MsaPorts | None = None
    ) -> ProviderPorts:
        """Listen (MSA and MX); the MTA starts later, once the world's DNS answers.
        `msa_ports`: the MSA runs elsewhere (`msa_process`) and listens there."""
        self._stopping = False
        self.mx = Mx(
            hostname=self.mx_host,
            users=self.users,
            mda=self.mda,
            events=self.events,
            tls_context=(
                None
                if self.options.mx_tls is MxTls.NONE
                else self.mx_cert.server_context(*self.options.mx_tls_versions)
            ),
            idle_timeout=self.options.idle_timeout,
            requiretls=self.options.mx_requiretls,
            limits=self.options.connection_limits,
            max_recipients=self.options.max_recipients,
            chaos=self.options.chaos,
        )
        mx_port = await self.mx.start(ports.mx)
        lmtp_port = await self._start_store_host(ports.lmtp)
        if msa_ports is None:
            msa_ports = await self._start_msa(ports)
        self.ms = ImapServer(
            hostname=self.imap_host,
            users=self.users,
            store_for=self.store_for,
            events=self.events,
            tls_context=self.imap_cert.server_context(),
            limits=self.options.imap_limits,
            connection_limits=self.options.connection_limits,
            cleartext_auth=self.options.cleartext_auth,
            chaos=self.options.chaos,
        )
        imap_ports = await self.ms.start(ports.imap_implicit, ports.imap_starttls)
        self.pop3 = Pop3Server(
            hostname=self.pop3_host,
            users=self.users,
            store_for=self.store_for,
            events=self.events,
            tls_context=self.pop3_cert.server_context(),
            limits=self.options.pop3_limits,
            connection_limits=self.options.connection_limits,
            cleartext_auth=self.options.cleartext_auth,
            chaos=self.options.chaos,
        )
        pop3_ports = await self.pop3.start(ports.pop3_implicit, ports.pop3_starttls)
        sts_port = 0
        if self.options.mta_sts is not None:
            cert = self.ca.server_cert(self.mta_sts_host)
            self.policy_server = PolicyServer(self.sts_policy_text(), cert.server_context())
            sts_port = await self.policy_server.start(ports.mta_sts)
        rpt_port = 0
        paths = receiver_paths(self.options.tlsrpt_rua, self.tlsrpt_host)
        if paths:
            self.report_receiver = ReportReceiver(
                self.tlsrpt_host,
                paths,
                self.directory / "tlsrpt" / "received",
                self.events,
                self.ca.server_cert(self.tlsrpt_host).server_context(),
            )
            rpt_port = await self.report_receiver.start(ports.tlsrpt)
        self.auth_server = AuthWebServer(
            self.domain,
            self.users,
            self._auth_context(),
            self.directory / "oauth" / "signing-key.json",
            autoconfig=lambda: autoconfig_xml(self),
        )
        auth_port = await self.auth_server.start(ports.oauth)
        self.token_verifier = TokenVerifier(self.auth_server.authorization)
        if self.msa is not None:  # else the MSA process asks the parent (msa_process)
            self.msa.accept_tokens(self.token_verifier)
        self.ms.token_verifier = self.token_verifier
        self.pop3.token_verifier = self.token_verifier
        self.ports = ProviderPorts(
            msa_ports.implicit_tls,
            msa_ports.starttls,
            mx_port,
            *imap_ports,
            mta_sts=sts_port,
            tlsrpt=rpt_port,
            oauth=auth_port,
            pop3_implicit=pop3_ports[0],
            pop3_starttls=pop3_ports[1],
            legacy_submission=msa_ports.legacy,
            lmtp=lmtp_port,
        )
        return self.ports

    async def _start_msa(self, ports: ProviderPorts) -> MsaPorts:
        self.msa = Msa(
            hostname=self.smtp_host,
            users=self.users,
            queue=self.queue,
            events=self.events,
            tls_context=self.smtp_cert.server_context(),
            # called in the MSA's session threads: the MTA is woken on this loop
            on_queued=functools.partial(
                asyncio.get_running_loop().call_soon_threadsafe, self.queued
            ),
            idle_timeout=self.options.idle_timeout,
            limits=self.options.connection_limits,
            max_recipients=self.options.max_recipients,
            cleartext_auth=self.options.cleartext_auth,
            chaos=self.options.chaos,
        )
        return await self.msa.start(
            ports.submission_implicit, ports.submission_starttls, ports.legacy_submission
        )

    async def _start_store_host(self, port: int) -> int:
        """With `options.lmtp`: the store host's LMTP server, and the MX set to use it."""
        mode = self.options.lmtp
        if mode is None or self.mx is None:
            return 0
        name = f"store.{self.domain}"
        tls = mode is LmtpMode.TLS
        self.store_host = StoreHost(
            hostname=name,
            users=self.users,
            mda=self.mda,
            events=self.events,
            tls_context=self.ca.server_cert(name).server_context() if tls else None,
        )
        bound = await self.store_host.start(port)
        self.mx.handler.lmtp = LmtpClient(
            self.mx_host, "127.0.0.1", bound, name, self.ca.ca_file if tls else None
        )
        return bound

    def sts_policy_text(self) -> str:
        assert self.options.mta_sts is not None
        if self.options.mta_sts_policy is not None:
            return self.options.mta_sts_policy
        return policy_text(self.options.mta_sts, [self.mx_host])

    def sts_txt(self) -> dict[str, list[str]]:
        """The `_mta-sts` TXT record (RFC 8461 section 3.1), when a policy is published."""
        if self.options.mta_sts is None:
            return {}
        return {f"_mta-sts.{self.domain}": [f"v=STSv1; id={policy_id(self.sts_policy_text())};"]}

    def tlsrpt_txt(self) -> dict[str, list[str]]:
        """The `_smtp._tls` TXT record (RFC 8460 section 3), when the domain asks for reports."""
        if not self.options.tlsrpt_rua:
            return {}
        rua = ",".join(self.options.tlsrpt_rua)
        return {f"_smtp._tls.{self.domain}": [f"v=TLSRPTv1; rua={rua}"]}

    def authentication_txt(self) -> dict[str, list[str]]:
        """The DKIM key records (RFC 6376 section 3.6.2), the SPF record (RFC 7208) of the
        domain and of its MTA's HELO name, and a DMARC policy (RFC 7489 section 6.3) that
        rejects mail From this domain that no aligned signature or SPF pass covers."""
        spf = spf_record(self.sending_address)
        spf_txt = {self.domain: spf, self.smtp_host: spf} if spf else {}
        dmarc = f"v=DMARC1; p=reject; adkim=r; rua=mailto:postmaster@{self.domain}"
        return self.dkim.txt_records() | spf_txt | {f"_dmarc.{self.domain}": [dmarc]}

    def store_for(self, mailbox: Mailbox) -> MailStore:
        """The message store of one user, shared by the MDA and every IMAP session."""
        with self._stores_lock:
            store = self._stores.get(mailbox.user)
            if store is None:
                store = MailStore(self.mda.maildir(mailbox.user), summarize=render.summarize)
                self._stores[mailbox.user] = store
            return store

    def _delivered(self, user: str, path: Path) -> None:
        """The MDA wrote a message (in a worker thread): index it now, which wakes IDLE."""
        mailbox = self.users.get(user)
        with self._stores_lock:
            if self._stopping:  # the file is safe in the Maildir; the next start rescans it
                return
        if mailbox is None:
            return
        try:
            self.store_for(mailbox).notice_delivery(path)
        except StoreError:
            if not self._stopping:  # closed under us by stop(): the rescan finds the file
                raise

    def start_mta(
        self,
        resolver: Resolver,
        port_for_mx: dict[str, int],
        port_for_https: dict[str, int] | None = None,
        next_hop: NextHop | None = None,
    ) -> None:
        """`port_for_https` maps the world's HTTPS hosts (MTA-STS policy hosts, TLS-RPT
        receivers) to their ports (443 when absent). Starts the MTA and its daily reports."""
        https = port_for_https or {}
        if self.mx is not None:
            self.mx.handler.resolver = resolver

        def https_port(host: str) -> int:
            return https.get(host.lower().rstrip("."), 443)

        mta_sts = MtaStsClient(
            resolver,
            ca_file=self.ca.ca_file,
            port_for=https_port,
            timeout=self.options.relay_timeout,
        )
        relay = RelayClient(
            self.smtp_host,
            resolver,
            port_for=lambda host: port_for_mx.get(host.lower().rstrip("."), 25),
            ca_file=self.ca.ca_file,
            timeout=self.options.relay_timeout,
            mta_sts=mta_sts,
            next_hop=next_hop,  # a smarthost or relay instead of the MX (relay_host.py)
            source_address=self.sending_address,
        )
        sessions = TlsReportLog(
            self.directory / "tlsrpt" / "sessions.jsonl", clock=self.options.clock
        )
        self.mta = Mta(
            hostname=self.smtp_host,
            dkim=self.dkim if self.options.dkim_sign else None,
            queue=self.queue,
            relay=relay,
            events=self.events,
            retry_delays=self.options.retry_delays,
            retry_window=self.options.retry_window,
            tls_reports=sessions,
            report_poster=ReportPoster(
                resolver,
                ca_file=self.ca.ca_file,
                port_for=https_port,
                timeout=self.options.relay_timeout,
            ),
        )
        self.mta.start()
        self.daily_reports = DailyTlsReports(
            self.mta.send_tls_report,
            sessions,
            self.directory / "tlsrpt" / "sent.json",
            send_at=self.options.tlsrpt_send_at,
            retry_delays=self.options.retry_delays,
        )
        self.daily_reports.start()

    def queued(self) -> None:
        """Its MSA queued a message: the MTA looks at the queue now."""
        if self.mta is not None:
            self.mta.wake()

    async def stop(self) -> None:
        parts = (
            self.daily_reports,  # before the MTA it sends through
            self.msa,
            self.mx,
            self.mta,
            self.ms,
            self.pop3,
            self.policy_server,
            self.report_receiver,
            self.auth_server,
            self.store_host,
        )
        for part in parts:
            if part is not None:
                await part.stop()
        self.msa = self.mx = self.mta = self.ms = self.pop3 = self.policy_server = None
        self.daily_reports = self.report_receiver = self.auth_server = self.store_host = None
        with self._stores_lock:
            self._stopping = True
            for store in self._stores.values():
                store.close()
            self._stores.clear()
