"""The world's message store (MS): an IMAP4rev1 server over the MDA's Maildirs."""
