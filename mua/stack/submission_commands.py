"""The mail transaction of a submission session: AUTH (RFC 4954), MAIL FROM, RCPT TO and DATA
(RFC 5321 section 3.3), on the loop of mua/stack/submission_session.py."""

from __future__ import annotations

import base64
import binascii
import logging

from mua.stack.smtp_paths import PATH, PATH_PREFIX, REQUIRETLS, parse_parameters, split_path
from mua.stack.smtp_wire import DataRead
from mua.stack.submission_session import (
    AUTH_INVALID,
    AUTH_LINE_LIMIT,
    AUTH_OK,
    DATA_LINE_LIMIT,
    MECHANISMS,
    NEEDS_ENCRYPTION,
    SessionLoop,
    Submitted,
    Transaction,
)
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

# What AUTH LOGIN asks (aiosmtpd's words, which clients ignore): RFC 4954 leaves them free.
LOGIN_USER = b"User Name\x00"
LOGIN_PASSWORD = b"Password\x00"


class _Aborted(Exception):
    """The client cancelled an AUTH exchange or sent what is not base64: already answered."""


class SubmissionSession(SessionLoop):
    # -- AUTH ------------------------------------------------------------------------------

    def smtp_AUTH(self, arg: str | None) -> None:
        if self._needs_helo("EHLO"):
            return
        if not self.extended:
            self.reply("500 Error: command 'AUTH' not recognized")
            return
        if self.listener.require_tls and self.wire.tls is None:
            self.reply(NEEDS_ENCRYPTION)
            return
        if self.mailbox is not None:
            self.reply("503 Already authenticated")
            return
        if not arg:
            self.reply("501 Not enough value")
            return
        args = arg.split()
        if len(args) > 2:
            self.reply("501 Too many values")
            return
        mechanism = args[0].upper()
        if mechanism not in MECHANISMS:
            self.reply("504 5.5.4 Unrecognized authentication type")
            return
        initial = args[1] if len(args) > 1 else None
        try:
            if mechanism in ("PLAIN", "LOGIN"):
                reply = self._password(mechanism, initial)
            else:
                reply = self._bearer(mechanism, initial)
        except _Aborted:
            return
        self.reply(reply)

    def _password(self, mechanism: str, initial: str | None) -> str:
        if mechanism == "PLAIN":
            blob = self._decoded(initial) if initial is not None else self._challenge(b"")
            try:
                _authz, login, password = blob.split(b"\x00")  # RFC 4616 section 2
            except ValueError:
                return "501 5.5.2 Can't split auth value"
        else:
            login = self._decoded(initial) if initial is not None else self._challenge(LOGIN_USER)
            password = self._challenge(LOGIN_PASSWORD)
        mailbox = self.rules.check_password(
            mechanism,
            login.decode("utf-8", "replace"),
            password.decode("utf-8", "replace"),
            self.wire.peer_ip,
        )
        return self._authenticated(mailbox)

    def _bearer(self, mechanism: str, initial: str | None) -> str:
        if self.wire.tls is None:  # the legacy listener in clear: no token crosses it
            return NEEDS_ENCRYPTION
        message = self._decoded(initial) if initial is not None else self._challenge(b"")
        outcome = self.rules.check_bearer(mechanism, message, self.wire.peer_ip)
        if isinstance(outcome, Mailbox):
            return self._authenticated(outcome)
        if outcome.challenge is not None:
            # RFC 7628 section 3.2.2: the client answers the error with a dummy response.
            self._challenge(outcome.challenge)
        return outcome.reply

    def _authenticated(self, mailbox: Mailbox | None) -> str:
        if mailbox is None:
            return AUTH_INVALID
        self.mailbox = mailbox
        return AUTH_OK

    def _decoded(self, text: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            self.reply("501 5.5.2 Can't decode base64")
            raise _Aborted from None

    def _challenge(self, challenge: bytes) -> bytes:
        """Send `334 <challenge>` (RFC 4954 section 4) and return the client's answer."""
        self.reply("334 " + base64.b64encode(challenge).decode("ascii"))
        line, too_long = self.wire.readline(AUTH_LINE_LIMIT)
        answer = line.strip()
        if answer == b"*":
            self.reply("501 5.7.0 Auth aborted")
            raise _Aborted
        if too_long:
            self.reply("500 Command line too long")
            raise _Aborted
        return self._decoded(answer.decode("ascii", "replace"))

    # -- MAIL and RCPT ---------------------------------------------------------------------

    def smtp_MAIL(self, arg: str | None) -> None:
        # RFC 5321 section 4.1.2: a path is always in angle brackets.
        if arg and PATH_PREFIX.match(arg) and not PATH.match(arg):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        if self._needs_helo() or self._needs_auth():
            return
        assert self.mailbox is not None
        syntax = self._syntax("MAIL FROM: <address>")
        path = self._path(arg, "FROM:", syntax)
        if path is None:
            return
        address, params = path
        if self.transaction.mail_from is not None:
            self.reply("503 Error: nested MAIL command")
            return
        options = params.upper().split()
        reply = self._mail_parameters(options, syntax)
        if reply is not None:
            self.reply(reply)
            return
        refusal = self.rules.sender(self.mailbox, address)
        if refusal is not None:
            self.reply(refusal)
            return
        self.transaction.mail_from = address
        self.transaction.mail_options = options
        self.reply("250 2.1.0 Ok")

    def _syntax(self, command: str) -> str:
        return f"501 Syntax: {command}" + (" [SP <mail-parameters>]" if self.extended else "")

    def _path(self, arg: str | None, keyword: str, syntax: str) -> tuple[str, str] | None:
        """The address and parameters after `keyword` ("FROM:" or "TO:"); None once the
        client has been told what is wrong with them."""
        if arg is None or arg[: len(keyword)].upper() != keyword:
            self.reply(syntax)
            return None
        address, params = split_path(arg[len(keyword) :].strip())
        if address is None:
            self.reply("553 5.1.3 Error: malformed address")
            return None
        if not address or (params and not self.extended):
            self.reply(syntax)
            return None
        return address, params

    def _mail_parameters(self, options: list[str], syntax: str) -> str | None:
        """The refusal of MAIL FROM's parameters (SIZE, BODY, REQUIRETLS), or None."""
        params = parse_parameters(options)
        if params is None:
            return syntax
        if params.pop(REQUIRETLS, False) and self.wire.tls is None:
            # RFC 8689 section 2 forbids the parameter outside TLS but prescribes no reply:
            # 530 answers a command that needs TLS first (RFC 3207 section 4), 5.7.10
            # "Encryption needed" is the status section 4.2.1 gives a relay.
            return "530 5.7.10 REQUIRETLS needs a TLS session: issue STARTTLS first"
        if params.pop("BODY", "7BIT") not in ("7BIT", "8BITMIME"):
            return "501 Error: BODY can only be one of 7BIT, 8BITMIME"
        if params.pop("SMTPUTF8", False):
            return "501 Error: SMTPUTF8 disabled"
        size = params.pop("SIZE", None)
        if size is not None:
            if not isinstance(size, str) or not size.isdigit():
                return syntax
            if int(size) > self.listener.data_size_limit:
                return "552 Error: message size exceeds fixed maximum message size"
        if params:
            return "555 MAIL FROM parameters not recognized or not implemented"
        return None

    def smtp_RCPT(self, arg: str | None) -> None:
        if arg and PATH_PREFIX.match(arg) and not PATH.match(arg):
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        if len(self.transaction.rcpt_tos) >= self.listener.max_recipients:
            # RFC 5321 section 4.5.3.1.10: the client sends the rest in another transaction.
            self.reply("452 4.5.3 Too many recipients")
            return
        if self._needs_helo() or self._needs_auth():
            return
        if self.transaction.mail_from is None:
            self.reply("503 Error: need MAIL command")
            return
        syntax = self._syntax("RCPT TO: <address>")
        path = self._path(arg, "TO:", syntax)
        if path is None:
            return
        address, params = path
        parsed = parse_parameters(params.upper().split())
        if parsed is None:
            self.reply(syntax)
            return
        if parsed:
            self.reply("555 RCPT TO parameters not recognized or not implemented")
            return
        refusal = self.rules.recipient(address)
        if refusal is not None:
            self.reply(refusal)
            return
        self.transaction.rcpt_tos.append(address)
        self.reply("250 2.1.5 Ok")

    # -- DATA ------------------------------------------------------------------------------

    def smtp_DATA(self, arg: str | None) -> None:
        if self._needs_helo() or self._needs_auth():
            return
        assert self.mailbox is not None and self.helo is not None
        if not self.transaction.rcpt_tos:
            self.reply("503 Error: need RCPT command")
            return
        if arg:
            self.reply("501 Syntax: DATA")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        read = self.wire.read_data(self.listener.data_size_limit, self.listener.budget)
        try:
            reply = self._data_read(read)
        finally:  # before the reply: a client told 250 finds the room its message took free
            self.listener.budget.give(read.held)
        if reply is not None:
            self.reply(reply)

    def _data_read(self, read: DataRead) -> str | None:
        """The reply to the message read; None when a chaos fault was answered instead."""
        assert self.mailbox is not None and self.helo is not None
        transaction, self.transaction = self.transaction, Transaction()
        trouble = _trouble(read)
        if trouble is not None:
            return trouble
        if self._chaos("end of DATA"):  # the message is in; not queued yet
            return None
        unstuffed = read.message.replace(b"\r\n.", b"\r\n")  # RFC 5321 section 4.5.2
        data = unstuffed[1:] if unstuffed.startswith(b".") else unstuffed
        message = Submitted(
            self.mailbox, self.helo, self.wire.peer_ip, self.tls_facts(), transaction, data
        )
        return self.rules.queue_message(message)


def _trouble(read: DataRead) -> str | None:
    """The reply for a message that cannot be taken, read to its end all the same (RFC 5321
    section 4.2.5); None when it can."""
    if read.starved:
        # RFC 5321 section 4.5.3.1.10's reply to a lack of resources: the client tries again.
        return "452 4.3.1 Insufficient system storage, try again later"
    if read.size and not read.message:
        return "552 Error: Too much mail data"
    if read.message and len(max(read.message.split(b"\r\n"), key=len)) + 2 > DATA_LINE_LIMIT:
        return "500 Line too long (see RFC5321 4.5.3.1.6)"
    return None
