"""The token exchange the world's IMAP and POP3 servers share for XOAUTH2 and OAUTHBEARER
(RFC 7628), without either protocol's framing.

`check_bearer` takes the client's initial response (or asks for it with an empty challenge),
parses it, and checks the token with the provider's `TokenVerifier`. A refused token is
answered first with the RFC 7628 section 3.2.2 error challenge, whose dummy response the
client sends before the final failure. The caller gives `ask`: send a continuation line, return
the client's answer (raising its protocol's end-of-session exception when the client has gone),
and words the outcome in its own replies (`imap/oauth_auth.py`, `pop3/oauth_auth.py`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from mua.stack.oauth_tokens import (
    SaslError,
    TokenRefused,
    TokenVerifier,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

PARSERS = {"XOAUTH2": parse_xoauth2, "OAUTHBEARER": parse_oauthbearer}


class Failure(Enum):
    CANCELLED = "cancelled"  # the client answered "*"
    MALFORMED = "malformed"  # not base64, or not the mechanism's message
    REFUSED = "refused"  # the token: expired, withdrawn, for another account or audience


@dataclass(frozen=True)
class BearerFailure:
    kind: Failure
    reason: str = ""  # REFUSED: the sentence for the final reply

    def worded(self, replies: Mapping[Failure, str], mechanism: str) -> str:
        """The protocol's reply: its template for this kind, with {mechanism} and {reason}."""
        return replies[self.kind].format(mechanism=mechanism, reason=self.reason)


async def check_bearer(
    verifier: TokenVerifier,
    mechanism: str,
    initial: str | None,
    ask: Callable[[str], Awaitable[str]],
    *,
    protocol: str,
    peer: str,
) -> Mailbox | BearerFailure:
    """The mailbox a good token signs in as, or why there is none."""
    if initial is None:  # no initial response: an empty challenge asks for it
        initial = await ask("+ ")
    if initial == "*":
        return BearerFailure(Failure.CANCELLED)
    try:
        response = PARSERS[mechanism](base64.b64decode(initial, validate=True))
        return verifier.verify(response.token, response.user)
    except (binascii.Error, SaslError):
        return BearerFailure(Failure.MALFORMED)
    except TokenRefused as refused:
        log.info("%s %s refused for %s: %s", protocol, mechanism, peer, refused.reason)
        challenge = base64.b64encode(error_challenge(refused.status, verifier.issuer)).decode()
        await ask(f"+ {challenge}")  # the client's dummy response (RFC 7628 3.2.3)
        return BearerFailure(Failure.REFUSED, refused.reason)
