"""What `mua.store.secrets` and its keyring half (`mua.store.keyring_backends`) raise.

Apart from both so that neither imports the other for its errors: `secrets` imports
`keyring_backends` (lazily, keyring is slow to import), never the other way round.
No password is ever put in one of these messages.
"""

from __future__ import annotations

from pathlib import Path

_OPTIONS = (
    "mua can keep passwords for this session only, or in a file encrypted with a master password"
)


class SecretsError(RuntimeError):
    """A password could not be read, stored or deleted; str() is a sentence for the user."""


class NoKeyring(SecretsError):
    """There is no usable OS keyring (as on a headless Linux box); nothing was written."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(f"No usable system keyring was found{detail}; {_OPTIONS}.")


class WrongMasterPassword(SecretsError, ValueError):
    """The master password does not open the encrypted password file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"The master password does not open {path}; try again.")


class UndecryptableEntry(SecretsError):
    """An entry of the encrypted file does not decrypt with the key in hand."""
