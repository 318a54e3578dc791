"""HTTPS for the client, on httpx2 (httpx's maintained continuation, same API; authlib's
client prefers it and deprecates plain httpx): one place that makes its clients.

`https_client(ca_file=..., resolver=..., port_for=...)`:
- verification as everywhere in mua (`tls.client_context`: the system store, or only the
  given CA file; hostname checked; TLS 1.2 at least);
- without a resolver, the system resolves names and httpx honours the user's proxy settings
  (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, read from the environment);
- with a resolver (the demo world's DNS, or a DNSSEC-validating one), host names are looked
  up there and `port_for(host)` may move a host's port 443 (the world's servers listen on
  other ports); TLS still checks the name the URL holds. No proxy then: the world is local.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpcore2 as httpcore
import httpx2 as httpx

from mua.net.dns import Resolver
from mua.net.tls import client_context

DEFAULT_TIMEOUT = 15.0


class AddressBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, connecting to the address `address_for(host)` gives (None: to
    the host itself, which the system resolves) and the port `port_for(host, port)` gives
    (an RFC 9460 HTTPS record's); TLS still checks the host name."""

    def __init__(
        self,
        address_for: Callable[[str], Awaitable[str | None]],
        port_for: Callable[[str, int], Awaitable[int]] | None = None,
    ) -> None:
        self._address_for = address_for
        self._port_for = port_for
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._address_for(host)
        if self._port_for is not None:
            port = await self._port_for(host, port)
        return await self._inner.connect_tcp(
            address or host, port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        return await self._inner.connect_unix_socket(*args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class AddressTransport(httpx.AsyncHTTPTransport):
    """A transport over `AddressBackend` (autoconfig's fetch: discovery's own name lookups)."""

    def __init__(
        self,
        verify: typing.Any,
        address_for: Callable[[str], Awaitable[str | None]],
        port_for: Callable[[str, int], Awaitable[int]] | None = None,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify, network_backend=AddressBackend(address_for, port_for)
        )


class ResolvingTransport(AddressTransport):
    """A transport whose names mua's `resolver` looks up (DNSSEC-validated in the demo world):
    the first address, or a connect error when the name has none."""

    def __init__(
        self,
        verify: typing.Any,
        resolver: Resolver,
        port_for: Callable[[str, int], int] | None = None,
    ) -> None:
        async def address_for(host: str) -> str:
            answer = await resolver.addresses(host)
            if not answer.records:
                raise httpcore.ConnectError(f"{host} has no address")
            return str(answer.records[0])

        async def moved(host: str, port: int) -> int:
            return port_for(host, port) if port_for is not None else port

        super().__init__(verify, address_for, moved)


@dataclass(frozen=True)
class HttpSettings:
    """How the client reaches HTTPS servers: which CA, which resolver (None: the system's)."""

    ca_file: Path | str | None = None
    resolver: Resolver | None = None
    port_for: Callable[[str, int], int] | None = None
    timeout: float = DEFAULT_TIMEOUT
    context: ssl.SSLContext | None = None  # made once by the caller (else from ca_file)

    def client_options(self) -> dict[str, typing.Any]:
        """Keyword arguments for httpx.AsyncClient or a subclass of it (authlib's client)."""
        context = self.context or client_context(self.ca_file)
        if self.resolver is None:
            return {"verify": context, "trust_env": True, "timeout": self.timeout}
        return {
            "transport": ResolvingTransport(context, self.resolver, self.port_for),
            "trust_env": False,
            "timeout": self.timeout,
        }


def https_client(
    *,
    ca_file: Path | str | None = None,
    resolver: Resolver | None = None,
    port_for: Callable[[str, int], int] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    """An httpx client with mua's verification rules (see the module's docstring)."""
    settings = HttpSettings(ca_file, resolver, port_for, timeout)
    return httpx.AsyncClient(**settings.client_options())
