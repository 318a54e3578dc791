"""An account: who the user is and how mua reaches their provider. No secrets here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mua.core.tls_facts import Security


@dataclass(frozen=True)
class ServerSettings:
    """One server of an account (IMAP or SMTP submission)."""

    host: str  # where to connect: a name, or an address when server_name is set
    port: int
    security: Security
    username: str
    ca_file: Path | None = None  # trust only this CA (a local or company server); None: system
    server_name: str | None = None  # the name to verify when `host` is an address

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security.value,
            "username": self.username,
        }
        if self.ca_file:
            data["ca_file"] = str(self.ca_file)
        if self.server_name:
            data["server_name"] = self.server_name
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerSettings:
        return cls(
            host=str(data["host"]),
            port=int(data["port"]),
            security=Security(data["security"]),
            username=str(data["username"]),
            ca_file=Path(data["ca_file"]) if data.get("ca_file") else None,
            server_name=data.get("server_name"),
        )


@dataclass(frozen=True)
class Pop3Settings:
    """A POP3 account's server and what stays on it. The defaults are Thunderbird's: leave
    the messages on the server, remove them there 14 days after download, and at once when
    the user deletes them here."""

    server: ServerSettings
    leave_on_server: bool = True
    keep_days: int | None = 14  # None: keep on the server for as long as the user keeps them
    delete_when_deleted_locally: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.server.to_dict(),
            "leave_on_server": self.leave_on_server,
            "keep_days": self.keep_days or 0,  # TOML has no null: 0 is "no limit"
            "delete_when_deleted_locally": self.delete_when_deleted_locally,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pop3Settings:
        keep = int(data.get("keep_days", 14))
        return cls(
            server=ServerSettings.from_dict(data),
            leave_on_server=bool(data.get("leave_on_server", True)),
            keep_days=keep if keep > 0 else None,
            delete_when_deleted_locally=bool(data.get("delete_when_deleted_locally", True)),
        )


@dataclass(frozen=True)
class OAuthSettings:
    """An account that signs in with OAuth2 (issue 17): where and as which client. The
    refresh token is in the keyring (kind "oauth"), never here; a client secret, where a
    provider has one, comes from the environment (mua.net.oauth_providers)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    scopes: tuple[str, ...]
    mechanism: str = "XOAUTH2"  # or "OAUTHBEARER" (RFC 7628)
    provider_key: str = ""  # the table's key (mua.net.oauth_providers), "" for others

    def to_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
            "mechanism": self.mechanism,
            "provider_key": self.provider_key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OAuthSettings:
        return cls(
            issuer=str(data["issuer"]),
            authorization_endpoint=str(data["authorization_endpoint"]),
            token_endpoint=str(data["token_endpoint"]),
            client_id=str(data["client_id"]),
            scopes=tuple(data.get("scopes", ())),
            mechanism=str(data.get("mechanism", "XOAUTH2")),
            provider_key=str(data.get("provider_key", "")),
        )


@dataclass(frozen=True)
class Account:
    address: str
    imap: ServerSettings
    smtp: ServerSettings
    display_name: str = ""
    # A nameserver to ask instead of the system's (the demo world's DNS), "host:port".
    nameserver: str | None = None
    # Security.NONE is only ever used when the user consented to it for this account.
    cleartext_consent: bool = False
    # A password (or token) may cross a connection without TLS: a second, separate consent,
    # given per account with a warning that names the risk (anyone on the path reads it).
    allow_cleartext_auth: bool = False
    # Host names that belong to the user's own provider, for the trace's trust boundary.
    provider_hosts: tuple[str, ...] = field(default=())
    # Some servers (Gmail's among them) file every submitted message in Sent themselves; no
    # IMAP or SMTP extension says so, so it is a setting, as in other mail clients.
    server_saves_sent: bool = False
    # Set: the account downloads its mail over POP3 into the local INBOX (mua.client.pop3_sync)
    # and mua never speaks IMAP to it; `imap` then repeats the POP3 server's settings.
    pop3: Pop3Settings | None = None
    # Set: the account signs in with OAuth2 tokens instead of a password (mua.net.oauth).
    oauth: OAuthSettings | None = None

    @property
    def key(self) -> str:
        """Accounts are identified by their address, case-insensitively."""
        return self.address.lower()

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()

    def with_changes(self, **changes: Any) -> Account:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "address": self.address,
            "display_name": self.display_name,
            "imap": self.imap.to_dict(),
            "smtp": self.smtp.to_dict(),
            "cleartext_consent": self.cleartext_consent,
            "allow_cleartext_auth": self.allow_cleartext_auth,
            "provider_hosts": list(self.provider_hosts),
            "server_saves_sent": self.server_saves_sent,
        }
        if self.nameserver:
            data["nameserver"] = self.nameserver
        if self.pop3 is not None:
            data["pop3"] = self.pop3.to_dict()
        if self.oauth is not None:
            data["oauth"] = self.oauth.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        return cls(
            address=str(data["address"]),
            display_name=str(data.get("display_name", "")),
            imap=ServerSettings.from_dict(data["imap"]),
            smtp=ServerSettings.from_dict(data["smtp"]),
            nameserver=data.get("nameserver"),
            cleartext_consent=bool(data.get("cleartext_consent", False)),
            allow_cleartext_auth=bool(data.get("allow_cleartext_auth", False)),
            provider_hosts=tuple(data.get("provider_hosts", ())),
            server_saves_sent=bool(data.get("server_saves_sent", False)),
            pop3=Pop3Settings.from_dict(data["pop3"]) if data.get("pop3") else None,
            oauth=OAuthSettings.from_dict(data["oauth"]) if data.get("oauth") else None,
        )
