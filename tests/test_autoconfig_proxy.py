"""The autoconfig fetch goes through mua's HTTPS client (httpx2): with the system's resolver
it honours the user's proxy settings (HTTPS_PROXY, NO_PROXY), the certificate still checked
end to end, and it reads the world's `<oAuth2>` hint from the file it fetched."""

from __future__ import annotations

import pytest

from mua.net import autoconfig
from mua.stack.world import World
from tests.test_http_proxy import proxy  # noqa: F401  (the CONNECT proxy fixture)

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


async def test_autoconfig_goes_through_the_proxy_unless_no_proxy_says_not(
    world: World,
    proxy,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, port = proxy
    auth = world.providers["a.test"].auth_server
    assert auth is not None
    url = f"https://127.0.0.1:{auth.port}/.well-known/autoconfig/mail/config-v1.1.xml"
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")

    file = await autoconfig.fetch(url, "alice@a.test", None, ca_file=world.ca.ca_file)

    assert running.targets == [f"127.0.0.1:{auth.port}"]  # tunnelled, TLS checked end to end
    assert file.secure and {s.kind for s in file.servers} == {"imap", "smtp"}
    assert file.oauth2 is not None and file.oauth2.issuer == auth.issuer

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    again = await autoconfig.fetch(url, "alice@a.test", None, ca_file=world.ca.ca_file)
    assert again.servers == file.servers
    assert len(running.targets) == 1  # NO_PROXY: straight to the server
