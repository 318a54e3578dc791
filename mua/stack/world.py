"""The demo world: two providers (a.test with alice, b.test with bob), their DNS, their CA.

    async with World(directory) as world:
        world.settings()   # what a mail client needs to connect

Everything listens on 127.0.0.1. With `fixed_ports` the ports are role + 10000 for a.test
and role + 20000 for b.test (docs/design.md#the-demo-world); otherwise the system picks free
ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mua.net.dns import Resolver
from mua.net.mta_sts import MtaStsClient
from mua.stack.attacker import Attacker, AttackMode
from mua.stack.ca import LOOPBACK, LocalCA
from mua.stack.dns_server import DnsServer
from mua.stack.events import EventLog
from mua.stack.msa import MsaPorts
from mua.stack.msa_process import MsaProcess, msa_spec
from mua.stack.provider import Provider
from mua.stack.provider_options import MxTls, ProviderOptions, ProviderPorts
from mua.stack.relay import NextHop, RelayClient
from mua.stack.relay_host import HopSpec, RelayHost
from mua.stack.spf_check import sending_address
from mua.stack.users import Mailbox
from mua.stack.zones import DomainSpec, WorldZones

log = logging.getLogger(__name__)

DEMO_USERS = {"a.test": ("alice",), "b.test": ("bob",)}
PORT_OFFSETS = {"a.test": 10000, "b.test": 20000}
FIXED_DNS_PORT = 10053


@dataclass
class WorldOptions:
    fixed_ports: bool = False
    providers: dict[str, ProviderOptions] = field(
        default_factory=lambda: {d: ProviderOptions(users=u) for d, u in DEMO_USERS.items()}
    )
    # A man-in-the-middle on the path to `victim`'s MX: every MTA's route to that MX goes
    # through it (the MX itself and the world's settings are unchanged).
    attacker: AttackMode | None = None
    victim: str = "b.test"
    # Hosts a.test's outbound mail crosses before b.test's MX, in order (relay_host.py):
    # a smarthost, filters. Empty: a.test's MTA relays straight to the MX.
    hops: tuple[HopSpec, ...] = ()
    # The MSAs in a process of their own (msa_process.py), as `mua stack` runs them, so
    # submission has a core to itself while the rest delivers; tests keep them in-process.
    msa_process: bool = False


class World:
    def __init__(self, directory: Path, options: WorldOptions | None = None) -> None:
        self.directory = Path(directory)
        self.options = options or WorldOptions()
        self.ca = LocalCA(self.directory / "ca")
        self.events = EventLog(self.directory / "events.jsonl")
        self.providers = {
            domain: Provider(domain, self.directory / domain, self.ca, self.events, opts)
            for domain, opts in self.options.providers.items()
        }
        for index, provider in enumerate(self.providers.values()):
            provider.sending_address = sending_address(index)  # its SPF record's (spf_check)
        self.zones: WorldZones | None = None
        self.dns: DnsServer | None = None
        self.attacker: Attacker | None = None
        self.relay_hosts: list[RelayHost] = []
        self.msa_process: MsaProcess | None = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        fixed = self.options.fixed_ports
        wanted = {
            domain: ProviderPorts.offset(PORT_OFFSETS[domain]) if fixed else ProviderPorts()
            for domain in self.providers
        }
        msa_ports = await self._start_msa_process(wanted) if self.options.msa_process else {}
        for domain, provider in self.providers.items():
            await provider.start_servers(wanted[domain], msa_ports.get(domain))
        self.zones = WorldZones.build(
            [self._zone_spec(p) for p in self.providers.values()], self.directory / "dns"
        )
        self.dns = DnsServer(self.zones, host=LOOPBACK, port=FIXED_DNS_PORT if fixed else 0)
        await self.dns.start()
        port_for_mx = {p.mx_host: p.ports.mx for p in self.providers.values() if p.ports}
        if self.options.attacker is not None:
            victim = self.providers[self.options.victim]
            assert victim.ports is not None
            self.attacker = Attacker(
                self.options.attacker,
                mx_host=victim.mx_host,
                upstream_port=victim.ports.mx,
                events=self.events,
                ca=LocalCA(self.directory / "attacker-ca", organization="Attacker"),
            )
            port_for_mx[victim.mx_host] = await self.attacker.start()
        port_for_https: dict[str, int] = {}
        for p in self.providers.values():
            if p.ports and p.ports.mta_sts:
                port_for_https[p.mta_sts_host] = p.ports.mta_sts
            if p.ports and p.ports.tlsrpt:
                port_for_https[p.tlsrpt_host] = p.ports.tlsrpt
        await self._start_hops(port_for_mx, port_for_https)
        for domain, provider in self.providers.items():
            next_hop = self._first_hop() if domain == "a.test" else None
            provider.start_mta(self.resolver(), port_for_mx, port_for_https, next_hop)
        log.info("world up in %s (DNS on port %s)", self.directory, self.dns.port)

    async def _start_msa_process(self, wanted: dict[str, ProviderPorts]) -> dict[str, MsaPorts]:
        smarthost = bool(self.options.hops) and self.options.hops[0].smarthost
        specs = [
            msa_spec(p, wanted[d], smarthost=smarthost and d == "a.test")
            for d, p in self.providers.items()
        ]
        self.msa_process = MsaProcess(
            specs,
            on_queued=lambda domain: self.providers[domain].queued(),
            verifier_for=lambda domain: self.providers[domain].token_verifier,
        )
        return await self.msa_process.start()

    def _first_hop(self) -> NextHop | None:
        if not self.relay_hosts:
            return None
        first = self.relay_hosts[0]
        msa = self.providers["a.test"].msa
        if first.spec.smarthost and msa is not None:  # else told when the process started
            msa.use_smarthost()
        return first.spec.next_hop(first.login)

    async def _start_hops(
        self, port_for_mx: dict[str, int], port_for_https: dict[str, int]
    ) -> None:
        """The intermediate hosts of `options.hops`, each relaying to the next, the last to
        b.test's MX; their names join `port_for_mx` so the MTAs before them find them."""
        relay_timeout = self.options.providers["a.test"].relay_timeout
        retry_delays = self.options.providers["a.test"].retry_delays
        for spec in self.options.hops:
            host = RelayHost(
                spec,
                self.directory / "relays" / spec.host,
                self.events,
                self.ca.server_cert(spec.host).server_context(),
                retry_delays=retry_delays,
                relay_timeout=relay_timeout,
            )
            self.relay_hosts.append(host)
            port_for_mx[spec.host] = await host.start_listener()

        def make_relay(hostname: str, next_hop: NextHop | None) -> RelayClient:
            resolver = self.resolver()
            return RelayClient(
                hostname,
                resolver,
                port_for=lambda host: port_for_mx.get(host.lower().rstrip("."), 25),
                ca_file=self.ca.ca_file,
                timeout=relay_timeout,
                mta_sts=MtaStsClient(
                    resolver,
                    ca_file=self.ca.ca_file,
                    port_for=lambda host: port_for_https.get(host.lower().rstrip("."), 443),
                    timeout=relay_timeout,
                ),
                next_hop=next_hop,
                # a.test's own relays (smarthost, filters): they send from its address
                source_address=self.providers["a.test"].sending_address,
            )

        for index, host in enumerate(self.relay_hosts):
            after = self.relay_hosts[index + 1] if index + 1 < len(self.relay_hosts) else None
            host.start_mta(make_relay, after.spec.next_hop(after.login) if after else None)

    async def stop(self) -> None:
        if self.msa_process is not None:  # first: no message is queued after this
            await self.msa_process.stop()
            self.msa_process = None
        for relay_host in self.relay_hosts:
            await relay_host.stop()
        self.relay_hosts = []
        if self.attacker is not None:
            await self.attacker.stop()
            self.attacker = None
        for provider in self.providers.values():
            await provider.stop()
        if self.dns is not None:
            await self.dns.stop()
            self.dns = None
        self.events.close()  # its file, kept open while records come (a start reopens it)

    async def __aenter__(self) -> World:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def resolver(self, timeout: float = 3.0) -> Resolver:
        """A DNSSEC-validating resolver that asks the world's DNS server."""
        assert self.dns is not None and self.zones is not None, "the world is not running"
        return Resolver(
            (LOOPBACK, self.dns.port),
            trust_anchor_file=self.zones.trust_anchor_file,
            timeout=timeout,
        )

    def mailbox(self, address: str) -> Mailbox:
        domain = address.rpartition("@")[2].lower()
        found = self.providers[domain].users.get(address)
        if found is None:
            raise KeyError(address)
        return found

    def rebuild_zones(self, edit: Callable[[list[DomainSpec]], None]) -> None:
        """Re-sign the zones after `edit` changed their specs, and answer from them from the
        next query on (tests publish other TLSA records this way). Resolvers made before
        keep cached answers until `flush()`."""
        assert self.dns is not None
        specs = [self._zone_spec(p) for p in self.providers.values()]
        edit(specs)
        self.zones = WorldZones.build(specs, self.directory / "dns")
        self.dns.replace_zones(self.zones)

    def _zone_spec(self, provider: Provider) -> DomainSpec:
        assert provider.ports is not None
        d = provider.domain
        hosts = {
            provider.smtp_host: LOOPBACK,
            provider.mx_host: LOOPBACK,
            provider.imap_host: LOOPBACK,
            provider.auth_host: LOOPBACK,
            provider.autoconfig_host: LOOPBACK,
            provider.pop3_host: LOOPBACK,
        }
        if provider.options.mta_sts is not None:
            hosts[provider.mta_sts_host] = LOOPBACK
        if provider.report_receiver is not None:
            hosts[provider.tlsrpt_host] = LOOPBACK
        return DomainSpec(
            domain=d,
            hosts=hosts,
            mx=[(10, provider.mx_host)],
            # RFC 7672 section 3.1.1: DANE-EE(3) SPKI(1) SHA2-256(1) pins the MX key itself.
            # An MX without a trustworthy certificate publishes no TLSA, as in real life.
            tlsa=(
                {f"_25._tcp.{provider.mx_host}": [(3, 1, 1, provider.mx_cert.spki_sha256())]}
                if provider.options.mx_tls is MxTls.VERIFIED and provider.options.dane
                else {}
            ),
            txt=provider.sts_txt() | provider.tlsrpt_txt() | provider.authentication_txt(),
            # RFC 9460: autoconfig.<domain> serves HTTPS on the authorization server's port
            https={provider.autoconfig_host: [f"1 . port={provider.ports.oauth}"]},
            # RFC 6186 / RFC 8314 section 5.1: implicit TLS is listed (and preferred) first.
            srv=[
                ("_submissions._tcp", 0, 1, provider.ports.submission_implicit, provider.smtp_host),
                ("_submission._tcp", 10, 1, provider.ports.submission_starttls, provider.smtp_host),
                ("_imaps._tcp", 0, 1, provider.ports.imap_implicit, provider.imap_host),
                ("_imap._tcp", 10, 1, provider.ports.imap_starttls, provider.imap_host),
                ("_pop3s._tcp", 0, 1, provider.ports.pop3_implicit, provider.pop3_host),
                ("_pop3._tcp", 10, 1, provider.ports.pop3_starttls, provider.pop3_host),
            ],
        )

    def settings(self) -> dict[str, Any]:
        """What any mail client needs to use the world (the `mua stack --json` object)."""
        assert self.dns is not None and self.zones is not None
        accounts = []
        domains = []
        for provider in self.providers.values():
            assert provider.ports is not None
            domains.append(
                {
                    "name": provider.domain,
                    "mx": {"host": provider.mx_host, "port": provider.ports.mx},
                    "oauth": {
                        "issuer": provider.auth_server.issuer if provider.auth_server else None
                    },
                }
            )
            for mailbox in provider.users:
                accounts.append(
                    {
                        "address": mailbox.address,
                        "username": mailbox.user,
                        "password": mailbox.password,
                        "smtp": {
                            "host": provider.smtp_host,
                            "implicit_tls_port": provider.ports.submission_implicit,
                            "starttls_port": provider.ports.submission_starttls,
                        },
                        "imap": {
                            "host": provider.imap_host,
                            "implicit_tls_port": provider.ports.imap_implicit,
                            "starttls_port": provider.ports.imap_starttls,
                        },
                        "pop3": {
                            "host": provider.pop3_host,
                            "implicit_tls_port": provider.ports.pop3_implicit,
                            "starttls_port": provider.ports.pop3_starttls,
                        },
                    }
                )
        chaos = next((p.options.chaos for p in self.providers.values() if p.options.chaos), None)
        return {
            "ca_file": str(self.ca.ca_file),
            "trust_anchor_file": str(self.zones.trust_anchor_file),
            "dns": {"host": LOOPBACK, "port": self.dns.port},
            "domains": domains,
            "accounts": accounts,
            # `mua stack --chaos`: the servers misbehave on purpose (mua/stack/chaos.py)
            "chaos": chaos.to_json() if chaos is not None else None,
        }
