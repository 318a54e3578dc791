"""`ImapSession.examine_qresync` against Dovecot, which has QRESYNC (RFC 7162; the world's
IMAP server has CONDSTORE only): after another client flags one message and expunges
another, EXAMINE with the folder's last UIDVALIDITY and HIGHESTMODSEQ names both; with a
stale UIDVALIDITY the server ignores the parameters; a folder that does not exist is an
ImapError. The folder's name is not ASCII and holds a quote, so it is written in modified
UTF-7 and quoted as imapclient would."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from mua.client.imap_connection import endpoint_for
from mua.client.imap_rows import uids_in_sets
from mua.net.imap import ImapError, ImapSession
from tests.interop.servers import MailServers
from tests.interop.test_dovecot_postfix import server_view

pytestmark = pytest.mark.interop


@pytest.fixture
def session(servers: MailServers) -> Iterator[ImapSession]:
    """carol's session, signed in, with QRESYNC enabled."""
    with ImapSession.connect(endpoint_for(servers.account()), timeout=15.0) as session:
        session.login(servers.address, servers.password)
        assert [bytes(c).upper() for c in session.client.enable("QRESYNC")] == [b"QRESYNC"]
        yield session


def test_examine_qresync_names_what_changed_since_a_modseq(
    servers: MailServers, session: ImapSession
) -> None:
    folder = f'Reçus "{secrets.token_hex(3)}"'
    with server_view(servers) as other:
        other.create_folder(folder)
        for n in range(3):
            other.append(folder, f"Subject: qresync {n}\r\n\r\nbody {n}\r\n".encode())
        other.select_folder(folder)
        kept, flagged, expunged = sorted(other.search(["ALL"]))
        before = session.client.select_folder(folder, readonly=True)
        uidvalidity, modseq = before[b"UIDVALIDITY"], before[b"HIGHESTMODSEQ"]
        other.add_flags([flagged], [b"\\Flagged"])
        other.add_flags([expunged], [b"\\Deleted"])
        other.uid_expunge([expunged])
        try:
            answer = session.examine_qresync(folder, uidvalidity, modseq)
            assert answer.uidvalidity == uidvalidity
            assert answer.uidnext == before[b"UIDNEXT"]
            assert answer.highestmodseq is not None and answer.highestmodseq > modseq
            assert uids_in_sets([kept, flagged, expunged], answer.vanished) == [expunged]
            assert b"\\Flagged" in answer.flags[flagged]
            assert kept not in answer.flags
            # The folder is selected for imapclient's own commands afterwards.
            assert sorted(session.client.search(["ALL"])) == [kept, flagged]

            stale = session.examine_qresync(folder, uidvalidity + 1, modseq)
            assert stale.uidvalidity == uidvalidity  # the parameters were ignored
            assert not stale.vanished and not stale.flags
        finally:
            other.delete_folder(folder)


def test_examine_qresync_of_a_missing_folder_is_an_imap_error(session: ImapSession) -> None:
    with pytest.raises(ImapError, match="refused to open No such folder"):
        session.examine_qresync("No such folder", 1, 1)


def test_commands_work_after_examine_qresync_on_a_fresh_connection(
    servers: MailServers, session: ImapSession
) -> None:
    """EXAMINE's [READ-ONLY] code must not fail the next command (imaplib raises 'mailbox
    status changed to READ-ONLY' unless told the folder was opened read-only): the first
    sync of a folder fetches right after it."""
    folder = f"fresh {secrets.token_hex(3)}"
    with server_view(servers) as other:
        other.create_folder(folder)
        other.append(folder, b"Subject: fresh\r\n\r\nbody\r\n")
        try:
            status = other.folder_status(folder, [b"UIDVALIDITY", b"HIGHESTMODSEQ"])
            session.examine_qresync(folder, status[b"UIDVALIDITY"], status[b"HIGHESTMODSEQ"])
            fetched = session.client.fetch(session.client.search(["ALL"]), ["FLAGS"])
            assert len(fetched) == 1
        finally:
            other.delete_folder(folder)
