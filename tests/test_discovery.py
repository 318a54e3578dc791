"""Account discovery against the running demo world: SRV records from its DNSSEC-signed DNS,
autoconfig files from local HTTP(S) servers, probes against its real TLS servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mua.core.account import Account, ServerSettings
from mua.core.legs import Grade
from mua.core.tls_facts import Security, TlsMode
from mua.net import autoconfig
from mua.net.autoconfig import AutoconfigRefused, AutoconfigServer
from mua.net.discovery import (
    Candidate,
    Discovery,
    DiscoveryError,
    Source,
    account_from,
    discover,
)
from mua.net.errors import CertificateInvalid
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.submission import SubmissionEndpoint, submit
from mua.net.tls import CertificateProblem
from mua.stack.ca import LOOPBACK, LocalCA, ServerCert
from mua.stack.dns_server import DnsServer
from mua.stack.world import World
from mua.stack.zones import DomainSpec, WorldZones


def NO_AUTOCONFIG(domain: str, address: str) -> list[str]:
    return []


CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="c.test">
    <domain>c.test</domain>
    <displayName>C Mail</displayName>
    <incomingServer type="pop3">
      <hostname>pop.c.test</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.a.test</hostname>
      <port>{imaps}</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
      <authentication>OAuth2</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.a.test</hostname>
      <port>{submission}</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


def lookup(world: World) -> dict[str, Any]:
    """The world's DNS, trust anchor and CA: what discover() needs instead of the system's."""
    assert world.dns is not None and world.zones is not None
    return {
        "nameserver": (LOOPBACK, world.dns.port),
        "trust_anchor_file": world.zones.trust_anchor_file,
        "ca_file": world.ca.ca_file,
    }


def world_ports(world: World, domain: str = "a.test") -> dict[str, tuple[int, ...]]:
    ports = world.providers[domain].ports
    assert ports is not None
    return {
        "imaps": (ports.imap_implicit,),
        "imap": (ports.imap_starttls,),
        "submissions": (ports.submission_implicit,),
        "submission": (ports.submission_starttls,),
    }


def shape(candidates: tuple[Candidate, ...]) -> list[tuple[str, int, Security]]:
    return [(c.host, c.port, c.security) for c in candidates]


# --- a local web server for autoconfig files ----------------------------------------------


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_length: bool = True  # False: the body simply ends with the connection


class Site:
    """http.server in a thread, HTTPS when given a certificate; records the paths asked for."""

    def __init__(self, pages: dict[str, Page], cert: ServerCert | None) -> None:
        self.pages = pages
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self.server.site = self  # type: ignore[attr-defined]
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        if cert is not None:
            context = cert.server_context()
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if cert is not None else "http"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.requests.append(self.path)
        page = site.pages.get(self.path.partition("?")[0], Page(status=404))
        self.send_response(page.status)
        for name, value in page.headers.items():
            self.send_header(name, value)
        if page.content_length:
            self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        self.wfile.write(page.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Callable[..., Site]]:
    started: list[Site] = []

    def start(pages: dict[str, Page], cert: ServerCert | None = None) -> Site:
        started.append(Site(pages, cert))
        return started[-1]

    yield start
    for each in started:
        each.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def config_for(world: World) -> bytes:
    ports = world.providers["a.test"].ports
    assert ports is not None
    text = CONFIG.format(imaps=ports.imap_implicit, submission=ports.submission_starttls)
    return text.encode()


# --- SRV ----------------------------------------------------------------------------------


async def test_srv_records_name_both_servers_implicit_tls_first(world: World) -> None:
    asked: list[str] = []

    def urls(domain: str, address: str) -> list[str]:
        asked.append(domain)
        return []

    found = await discover("alice@a.test", **lookup(world), autoconfig_urls=urls, probe=False)

    ports = world.providers["a.test"].ports
    assert ports is not None
    assert shape(found.smtp) == [
        ("smtp.a.test", ports.submission_implicit, Security.IMPLICIT),
        ("smtp.a.test", ports.submission_starttls, Security.STARTTLS),
    ]
    assert shape(found.imap) == [
        ("imap.a.test", ports.imap_implicit, Security.IMPLICIT),
        ("imap.a.test", ports.imap_starttls, Security.STARTTLS),
    ]
    for c in found.imap + found.smtp:
        assert c.source is Source.SRV and c.secure_lookup and not c.confirm
        assert c.username == "alice@a.test" and c.address == LOOPBACK
        assert c.verified is None and c.tls is None
        assert "DNSSEC-signed SRV record" in c.note
    assert [c.grade for c in found.smtp] == [Grade.GREEN, Grade.AMBER]
    assert "RFC 8314 recommends" in found.smtp[0].note
    # SRV named both servers, but not how to sign in: autoconfig is still asked (HTTPS only)
    assert asked == ["a.test"] and "Autoconfig: no addresses to try." in found.steps


async def test_srv_candidates_are_probed_with_verified_tls(world: World) -> None:
    found = await discover("alice@a.test", **lookup(world), autoconfig_urls=NO_AUTOCONFIG)

    for c in found.imap + found.smtp:
        assert c.verified is True and c.tls is not None and c.tls.verified
        expected = TlsMode.IMPLICIT if c.security is Security.IMPLICIT else TlsMode.STARTTLS
        assert c.tls.mode is expected and c.tls.peer_name == c.host
    assert [c.grade for c in found.imap] == [Grade.GREEN, Grade.AMBER]
    imap, smtp = found.best()
    assert imap is found.imap[0] and smtp is found.smtp[0]
    assert "a probe saw TLSv1" in smtp.note
    assert sum(step.startswith("Probe ") for step in found.steps) == 4


async def test_unsigned_srv_outside_the_domain_must_be_confirmed(tmp_path: Path) -> None:
    specs = [
        DomainSpec(
            domain="unsigned.test",
            hosts={"imap.unsigned.test": LOOPBACK},
            srv=[
                ("_submissions._tcp", 0, 1, 465, "smtp.elsewhere.test"),
                ("_imaps._tcp", 0, 1, 993, "imap.unsigned.test"),
            ],
            signed=False,
        ),
        DomainSpec(
            domain="declined.test",
            srv=[("_imaps._tcp", 0, 0, 0, "."), ("_imap._tcp", 0, 0, 0, ".")],
        ),
    ]
    zones = WorldZones.build(specs, tmp_path / "dns")
    server = DnsServer(zones, idle_timeout=0.5)
    await server.start()
    try:
        dns = {"nameserver": (LOOPBACK, server.port), "trust_anchor_file": zones.trust_anchor_file}
        found = await discover(
            "eve@unsigned.test", **dns, probe=False, autoconfig_urls=NO_AUTOCONFIG
        )
        declined = await discover(
            "dan@declined.test", **dns, autoconfig_urls=NO_AUTOCONFIG, ports={"imaps": (1,)}
        )
    finally:
        await server.stop()

    (smtp,) = found.smtp
    assert smtp.host == "smtp.elsewhere.test" and not smtp.secure_lookup and smtp.confirm
    assert "outside unsigned.test, which could be forged" in smtp.note
    (imap,) = found.imap
    assert not imap.secure_lookup and not imap.confirm  # unsigned, but in the user's domain
    assert found.best() == (imap, smtp)  # confirm-worthy is still chosen when it is all there is

    assert declined.imap == ()
    assert any("does not offer this service" in step for step in declined.steps)
    assert not any(step.startswith("Probe imap.") for step in declined.steps)  # no guessing


# --- autoconfig ---------------------------------------------------------------------------


async def test_autoconfig_over_https_when_there_is_no_srv(
    world: World, site: Callable[..., Site]
) -> None:
    cert = world.ca.server_cert("autoconfig.c.test")  # also valid for 127.0.0.1
    web = site({"/mail/config-v1.1.xml": Page(config_for(world))}, cert)

    found = await discover(
        "carol@c.test",
        **lookup(world),
        autoconfig_urls=lambda d, a: [web.url(f"/mail/config-v1.1.xml?emailaddress={a}")],
    )

    assert web.requests == ["/mail/config-v1.1.xml?emailaddress=carol@c.test"]
    assert any(s.startswith("SRV _imaps._tcp.c.test: none published") for s in found.steps)
    ports = world.providers["a.test"].ports
    assert ports is not None
    (imap,) = found.imap
    assert (imap.host, imap.port, imap.security) == ("imap.a.test", ports.imap_implicit, "implicit")
    assert imap.username == "carol"  # %EMAILLOCALPART%
    assert imap.authentication == ("password-cleartext", "OAuth2")
    (smtp,) = found.smtp
    assert (smtp.host, smtp.port, smtp.security) == (
        "smtp.a.test",
        ports.submission_starttls,
        Security.STARTTLS,
    )
    assert smtp.username == "carol@c.test"  # %EMAILADDRESS%
    for c in (imap, smtp):
        assert c.source is Source.AUTOCONFIG and c.secure_lookup and not c.confirm
        assert c.verified is True  # probed through the world's DNS, certificate verified
    assert (imap.grade, smtp.grade) == (Grade.GREEN, Grade.AMBER)
    assert any("skipped a pop3 server" in step for step in found.steps)


async def test_plain_http_autoconfig_is_a_last_resort_and_marked(
    site: Callable[..., Site], closed_port: int
) -> None:
    web = site({"/mail/config-v1.1.xml": Page(CONFIG.format(imaps=993, submission=587).encode())})
    https = f"https://{LOOPBACK}:{closed_port}/mail/config-v1.1.xml"
    plain = web.url("/mail/config-v1.1.xml")

    found = await discover(
        "carol@c.test", srv=False, probe=False, autoconfig_urls=lambda d, a: [plain, https]
    )

    assert [c.port for c in found.imap + found.smtp] == [993, 587]
    for c in found.imap + found.smtp:
        assert not c.secure_lookup and c.confirm
        assert "plain HTTP" in c.note and "could have altered" in c.note
    steps = [s for s in found.steps if s.startswith("Autoconfig")]
    assert steps[0].startswith(f"Autoconfig {https}: could not fetch")  # HTTPS was tried first
    assert steps[1] == f"Autoconfig {plain}: 2 server(s) listed."


async def test_plain_http_is_not_asked_when_https_answers(
    world: World, site: Callable[..., Site]
) -> None:
    cert = world.ca.server_cert("autoconfig.c.test")
    secure = site({"/config.xml": Page(config_for(world))}, cert)
    plain = site({"/config.xml": Page(config_for(world))})

    found = await discover(
        "carol@c.test",
        ca_file=world.ca.ca_file,
        srv=False,
        probe=False,
        autoconfig_urls=lambda d, a: [plain.url("/config.xml"), secure.url("/config.xml")],
    )

    assert plain.requests == [] and len(secure.requests) == 1
    assert all(c.secure_lookup for c in found.imap + found.smtp)


async def test_https_autoconfig_with_an_untrusted_certificate_is_refused(
    world: World, site: Callable[..., Site], tmp_path: Path
) -> None:
    stranger = LocalCA(tmp_path / "stranger").server_cert("autoconfig.c.test")
    web = site({"/config.xml": Page(config_for(world))}, stranger)

    found = await discover(
        "carol@c.test",
        ca_file=world.ca.ca_file,
        srv=False,
        probe=False,
        autoconfig_urls=lambda d, a: [web.url("/config.xml")],
    )

    assert found.imap == () and found.smtp == ()
    assert "comes from an unknown authority" in found.steps[-1]
    # the refusal is a CertificateInvalid, as submission's, IMAP's and POP3's are
    with pytest.raises(CertificateInvalid) as refused:
        await autoconfig.fetch(
            web.url("/config.xml"), "carol@c.test", None, ca_file=world.ca.ca_file
        )
    assert isinstance(refused.value, autoconfig.AutoconfigError)
    assert refused.value.reason is CertificateProblem.UNKNOWN_ISSUER


async def test_a_redirect_from_https_to_plain_http_is_refused(
    world: World, site: Callable[..., Site]
) -> None:
    plain = site({"/config.xml": Page(config_for(world))})
    redirect = Page(status=302, headers={"Location": plain.url("/config.xml")})
    secure = site({"/config.xml": redirect}, world.ca.server_cert("autoconfig.c.test"))

    found = await discover(
        "carol@c.test",
        ca_file=world.ca.ca_file,
        srv=False,
        probe=False,
        autoconfig_urls=lambda d, a: [secure.url("/config.xml")],
    )

    assert found.imap == () and plain.requests == []
    assert "redirected to plain HTTP, which was refused" in found.steps[-1]


async def test_an_autoconfig_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(8)
        url = f"https://{LOOPBACK}:{listener.getsockname()[1]}/config.xml"

        found = await discover(
            "carol@c.test", srv=False, probe=False, timeout=0.5, autoconfig_urls=lambda d, a: [url]
        )

    (step,) = found.steps  # the timeout fired: without it, no answer would ever come
    assert step.startswith(f"Autoconfig {url}: ") and "within 0.5 seconds" in step


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<clientConfig><emailProvider><incomingServer type="imap"><hostname>&lol2;</hostname>
</incomingServer></emailProvider></clientConfig>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><clientConfig>&x;</clientConfig>"""


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (Page(b"<clientConfig>" + b" " * 200_000 + b"</clientConfig>"), "larger than 100 kB"),
        (Page(b"<a>" * 60_000, content_length=False), "larger than 100 kB"),
        (Page(BILLION_LAUGHS), "DOCTYPE"),
        (Page(EXTERNAL_ENTITY), "DOCTYPE"),
        (Page(b"<clientConfig><emailProvider>"), "not well-formed XML"),
        (Page(b"<html><body>Not found</body></html>"), "not an autoconfig file"),
        (Page(b""), "not well-formed XML"),
        (Page(status=404), "answered HTTP 404"),
    ],
)
async def test_hostile_or_broken_files_are_refused_cleanly(
    world: World, site: Callable[..., Site], page: Page, reason: str
) -> None:
    web = site({"/config.xml": page}, world.ca.server_cert("autoconfig.c.test"))

    found = await discover(
        "carol@c.test",
        ca_file=world.ca.ca_file,
        srv=False,
        probe=False,
        autoconfig_urls=lambda d, a: [web.url("/config.xml")],
    )

    assert found.imap == () and found.smtp == ()
    assert reason in found.steps[-1]


def test_parse_fills_placeholders_and_maps_socket_types() -> None:
    document = b"""<clientConfig version="1.1"><emailProvider id="x">
      <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname>
        <socketType>STARTTLS</socketType><username>%EMAILLOCALPART%@corp</username>
      </incomingServer>
      <incomingServer type="imap"><hostname>bad host:25</hostname><port>143</port>
        <socketType>plain</socketType></incomingServer>
      <incomingServer type="imap"><hostname>x.test</hostname><socketType>TLS13</socketType>
      </incomingServer>
      <outgoingServer type="smtp"><hostname>SMTP.x.test.</hostname><port>2525</port>
        <socketType>plain</socketType></outgoingServer>
      <outgoingServer type="smtp"><hostname>smtp.x.test</hostname><port>99999</port>
        <socketType>SSL</socketType></outgoingServer>
    </emailProvider></clientConfig>"""

    servers, skipped = autoconfig.parse(document, "joe@x.test")

    assert servers == (
        AutoconfigServer("imap", "imap.x.test", 143, Security.STARTTLS, "joe@corp", ()),
        AutoconfigServer("smtp", "smtp.x.test", 2525, Security.NONE, "joe@x.test", ()),
    )
    assert len(skipped) == 3
    assert "'bad host:25' is not a host name" in skipped[0]
    assert "unknown socketType 'TLS13'" in skipped[1]
    assert "'99999' is not a port" in skipped[2]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parse_never_crashes(data: bytes) -> None:
    with contextlib.suppress(AutoconfigRefused):
        autoconfig.parse(data, "joe@x.test")


# --- probing ------------------------------------------------------------------------------


async def test_probing_finds_the_world_servers_implicit_tls_first(world: World) -> None:
    found = await discover(
        "alice@a.test",
        **lookup(world),
        srv=False,
        autoconfig_urls=NO_AUTOCONFIG,
        ports=world_ports(world),
    )

    ports = world.providers["a.test"].ports
    assert ports is not None
    assert shape(found.imap) == [
        ("imap.a.test", ports.imap_implicit, Security.IMPLICIT),
        ("imap.a.test", ports.imap_starttls, Security.STARTTLS),
    ]
    assert shape(found.smtp) == [
        ("smtp.a.test", ports.submission_implicit, Security.IMPLICIT),
        ("smtp.a.test", ports.submission_starttls, Security.STARTTLS),
    ]
    for c in found.imap + found.smtp:
        assert c.source is Source.PROBE and c.verified and c.tls is not None
        assert not c.secure_lookup and not c.confirm
    assert "Probe mail.a.test: the name mail.a.test has no address; not tried." in found.steps
    assert found.best() == (found.imap[0], found.smtp[0])


async def test_a_port_that_never_speaks_times_out(world: World) -> None:
    with socket.socket() as listener:  # the kernel accepts; nobody ever answers
        listener.bind((LOOPBACK, 0))
        listener.listen(8)
        silent = listener.getsockname()[1]
        keys = ("imaps", "imap", "submissions", "submission")

        found = await discover(
            "alice@a.test",
            **lookup(world),
            srv=False,
            autoconfig_urls=NO_AUTOCONFIG,
            ports=dict.fromkeys(keys, (silent,)),
            timeout=0.5,
        )

    assert found.imap == () and found.smtp == ()
    timeouts = [s for s in found.steps if "did not answer within 0.5 seconds" in s]
    assert len(timeouts) == 4  # imap.a.test and smtp.a.test, each implicit and STARTTLS
    assert found.best() == (None, None)
    with pytest.raises(DiscoveryError, match="No working IMAP and SMTP server"):
        account_from(found)


async def test_a_failed_probe_is_kept_but_never_chosen(
    world: World, site: Callable[..., Site], closed_port: int
) -> None:
    ports = world.providers["a.test"].ports
    assert ports is not None
    imap = '<incomingServer type="imap"><hostname>imap.a.test</hostname><port>{}</port>'
    document = (
        '<clientConfig version="1.1"><emailProvider>'
        f"{imap.format(closed_port)}<socketType>SSL</socketType></incomingServer>"
        f"{imap.format(ports.imap_starttls)}<socketType>STARTTLS</socketType></incomingServer>"
        "</emailProvider></clientConfig>"
    )
    web = site({"/c.xml": Page(document.encode())}, world.ca.server_cert("autoconfig.c.test"))

    found = await discover(
        "carol@c.test", **lookup(world), autoconfig_urls=lambda d, a: [web.url("/c.xml")]
    )

    dead, alive = found.imap
    assert dead.port == closed_port and dead.verified is False
    assert "refused the connection" in dead.problem and "connecting to it failed" in dead.note
    assert dead.grade is Grade.GREEN  # nothing was learnt about its TLS
    assert alive.verified is True and alive.grade is Grade.AMBER
    assert found.best()[0] is alive  # STARTTLS that works beats implicit TLS that does not


# --- the account --------------------------------------------------------------------------


async def test_account_from_discovery_signs_in_and_sends(world: World) -> None:
    found = await discover("alice@a.test", **lookup(world), autoconfig_urls=NO_AUTOCONFIG)

    account = account_from(found, display_name="Alice")

    assert account.imap.host == LOOPBACK and account.imap.server_name == "imap.a.test"
    assert account.smtp.server_name == "smtp.a.test"
    assert account.imap.security is Security.IMPLICIT is account.smtp.security
    assert account.provider_hosts == ("imap.a.test", "smtp.a.test")
    assert account.nameserver == f"{LOOPBACK}:{lookup(world)['nameserver'][1]}"
    assert Account.from_dict(account.to_dict()) == account
    password = world.mailbox("alice@a.test").password

    def read(settings: ServerSettings) -> list[str]:
        endpoint = ImapEndpoint(
            settings.host,
            settings.port,
            settings.security,
            ca_file=settings.ca_file,
            server_name=settings.server_name,
        )
        with ImapSession.connect(endpoint, timeout=5.0) as session:
            session.login(settings.username, password)
            return [name for _, _, name in session.client.list_folders()]

    assert "INBOX" in await asyncio.to_thread(read, account.imap)

    message = EmailMessage()
    message["From"] = f"Alice <{account.address}>"
    message["To"] = "bob@b.test"
    message["Subject"] = "Discovered"
    message.set_content("Found the servers by myself.\n")
    s = account.smtp
    endpoint = SubmissionEndpoint(
        s.host, s.port, s.security, ca_file=s.ca_file, server_name=s.server_name
    )
    result = await submit(endpoint, message, username=s.username, password=password, timeout=5.0)
    assert result.tls.verified and result.tls.mode is TlsMode.IMPLICIT


def test_best_prefers_verified_then_unconfirmed_then_implicit() -> None:
    def candidate(port: int, security: Security, **kw: Any) -> Candidate:
        c = Candidate.planned(
            "smtp",
            "smtp.x.test",
            port,
            security,
            username="joe@x.test",
            source=Source.SRV,
            origin="From a test",
            secure_lookup=True,
        )
        return replace(c, **kw)

    implicit = candidate(1, Security.IMPLICIT)
    starttls_verified = candidate(2, Security.STARTTLS, verified=True)
    forged_implicit = candidate(3, Security.IMPLICIT, confirm=True)
    failed = candidate(4, Security.IMPLICIT, verified=False)
    cleartext = candidate(5, Security.NONE)

    def best(*cs: Candidate, **kw: Any) -> Candidate | None:
        return Discovery("joe@x.test", (), cs, ()).best(**kw)[1]

    assert best(implicit, starttls_verified) is starttls_verified
    assert best(forged_implicit, candidate(6, Security.STARTTLS)).port == 6
    assert best(candidate(7, Security.STARTTLS), implicit) is implicit
    assert best(failed, cleartext) is None
    assert best(failed, cleartext, allow_cleartext=True) is cleartext
