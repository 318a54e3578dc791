"""Client protocols: submission, IMAP, DNS lookups, TLS inspection. Imports mua.core only."""
