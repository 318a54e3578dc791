"""What can go wrong with the local cache, catchable by meaning."""

from __future__ import annotations


class CacheError(Exception):
    """The local cache could not do what was asked (the message says what and why)."""


class CacheClosedError(CacheError, RuntimeError):
    """The cache was used after `MailCache.close()`."""


class CacheVersionError(CacheError, RuntimeError):
    """The cache file was written by a newer mua, with a schema this version cannot read."""


class UnknownFolderError(CacheError, LookupError):
    """The folder is not in the account's cached folder list (see `sync_folder_list`)."""


class UnknownMessageError(CacheError, LookupError):
    """No cached message has that UID in that folder."""


class UidValidityError(CacheError, ValueError):
    """A folder's UIDVALIDITY changed while its old messages are still cached.

    RFC 3501 2.3.1.1: every cached UID of the folder is then meaningless. Call
    `MailCache.reset_folder` first, which forgets them.
    """
