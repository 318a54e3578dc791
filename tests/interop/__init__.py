"""Interop tests: the client engine against Debian's Dovecot and Postfix on loopback."""
