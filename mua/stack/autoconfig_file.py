"""A provider's Thunderbird-style autoconfig file (`config-v1.1.xml`), served by its
authorization server's host: IMAP and SMTP with implicit TLS and STARTTLS, each taking
OAuth2 or a password, and an `<oAuth2>` element naming the issuer and scope (as
Thunderbird's ISPDB does), so that discovery finds that the world wants OAuth2."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from mua.stack.oauth_server import SCOPES

if TYPE_CHECKING:
    from mua.stack.provider import Provider


def autoconfig_xml(provider: Provider) -> str:
    ports, auth = provider.ports, provider.auth_server
    assert ports is not None and auth is not None
    servers = [
        ("incomingServer", "imap", provider.imap_host, ports.imap_implicit, "SSL"),
        ("incomingServer", "imap", provider.imap_host, ports.imap_starttls, "STARTTLS"),
        ("outgoingServer", "smtp", provider.smtp_host, ports.submission_implicit, "SSL"),
        ("outgoingServer", "smtp", provider.smtp_host, ports.submission_starttls, "STARTTLS"),
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{escape(provider.domain)}">',
        f"    <domain>{escape(provider.domain)}</domain>",
    ]
    for tag, kind, host, port, socket_type in servers:
        lines += [
            f'    <{tag} type="{kind}">',
            f"      <hostname>{escape(host)}</hostname>",
            f"      <port>{port}</port>",
            f"      <socketType>{socket_type}</socketType>",
            "      <username>%EMAILADDRESS%</username>",
            "      <authentication>OAuth2</authentication>",
            "      <authentication>password-cleartext</authentication>",
            f"    </{tag}>",
        ]
    lines += [
        "  </emailProvider>",
        "  <oAuth2>",
        f"    <issuer>{escape(auth.issuer)}</issuer>",
        f"    <scope>{escape(' '.join(SCOPES))}</scope>",
        f"    <authURL>{escape(auth.issuer)}authorize</authURL>",
        f"    <tokenURL>{escape(auth.issuer)}token</tokenURL>",
        "  </oAuth2>",
        "</clientConfig>",
    ]
    return "\n".join(lines) + "\n"
