"""authlib's framework-neutral server fed by aiohttp: a request already read (its query and
form as dicts) in authlib's shape, and authlib's answer before it becomes HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonPayload


@dataclass
class OAuthAnswer:
    """What authlib answers, before the web server turns it into HTTP (`location` is how
    authlib's RFC 9207 extension adds `iss` to a redirect)."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["Location"] = value


class FormPayload(BasicOAuth2Payload):
    pass


class WorldRequest(OAuth2Request):
    """An HTTP request already read by the web server: its query and form as plain dicts."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: dict[str, str],
        query: dict[str, Any],
        form: dict[str, Any],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._query = query
        self._form = form
        self.payload = FormPayload({**query, **form})

    @property
    def args(self) -> dict[str, Any]:
        return self._query

    @property
    def form(self) -> dict[str, Any]:
        return self._form


class WorldJsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data
