"""The "oauth" demo scenario's sign-in: the demo acts as alice in the browser. It opens the
authorization URL at the world's server, fills the consent form with her user name and
password (as she would), and follows the redirect back to the client's loopback listener.
Over real HTTPS on loopback (mua.net.http), so the scenario exercises the whole flow."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from urllib.parse import urlsplit

from mua.net.http import HttpSettings
from mua.net.oauth import OAuthProvider, Tokens, discover, sign_in
from mua.stack.users import Mailbox

CLIENT_ID = "mua"  # the world's registered native client (oauth_server.CLIENT_ID)
SCOPES = ("openid", "email", "mail", "offline_access")


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and found.get("type") == "hidden" and "name" in found:
            self.fields[found["name"]] = found.get("value", "")


async def consent(settings: HttpSettings, url: str, mailbox: Mailbox) -> None:
    """What a person does in the browser: sign in on the form, allow, come back."""
    import httpx2 as httpx

    async with httpx.AsyncClient(**settings.client_options()) as web:
        page = await web.get(url)
        page.raise_for_status()
        form = _Form()
        form.feed(page.text)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        answer = {
            **form.fields,
            "username": mailbox.user,
            "password": mailbox.password,
            "action": "approve",
        }
        redirect = await web.post(origin + form.action, data=answer)
    async with httpx.AsyncClient(trust_env=False) as local:  # the loopback listener
        await local.get(redirect.headers["location"])


async def sign_in_as(
    settings: HttpSettings, issuer: str, mailbox: Mailbox, timeout: float = 20.0
) -> tuple[OAuthProvider, Tokens]:
    provider = await discover(settings, issuer, CLIENT_ID, SCOPES)
    browsing: list[asyncio.Task[None]] = []

    def open_browser(url: str) -> None:
        browsing.append(asyncio.ensure_future(consent(settings, url, mailbox)))

    tokens = await sign_in(provider, settings, open_browser, timeout=timeout)
    await asyncio.gather(*browsing)
    return provider, tokens
