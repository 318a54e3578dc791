"""The account wizard's OAuth2 offer on the discovery page (issue 17): when the provider's
autoconfig file names OAuth2 and its issuer (mua.net.discovery's `Discovery.oauth2`, from an
HTTPS file only), "Sign in with my browser" is checked for the user, with that issuer.
Light on purpose: the OAuth2 client (wizard_oauth.py) loads only when the sign-in starts."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox

from mua.core.i18n import _
from mua.net.candidates import Discovery


class OAuthOffer(QCheckBox):
    """On the discovery page: shown when the provider's autoconfig file names OAuth2, checked,
    with the issuer it names; it checks (or unchecks) the first page's "Sign in with my
    browser". The issuer joins the wizard's `oauth_options` for the domain (the client ID
    from those options, else MUA_OAUTH_CLIENT_ID)."""

    def __init__(
        self, identity_box: Callable[[], QCheckBox], options: dict[str, dict[str, str]]
    ) -> None:
        """`identity_box`: the first page's check box (made after this page)."""
        super().__init__()
        self._identity_box, self._options = identity_box, options
        self.setVisible(False)
        self.toggled.connect(lambda checked: self._identity_box().setChecked(checked))

    def offer(self, discovery: Discovery) -> None:
        hint = discovery.oauth2
        self.setVisible(hint is not None)
        if hint is None:
            return
        domain = discovery.address.rpartition("@")[2].lower()
        known = self._options.get(domain, {})
        client_id = known.get("client_id") or os.environ.get("MUA_OAUTH_CLIENT_ID", "")
        self._options[domain] = {"issuer": hint.issuer, "client_id": client_id}
        self.setText(
            _("Sign in with my browser at {issuer} (OAuth2), as your provider asks").format(
                issuer=hint.issuer
            )
        )
        self.setChecked(True)
        self._identity_box().setChecked(True)
