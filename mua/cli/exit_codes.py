"""How the scripting commands end: exit codes a script can rely on (sysexits.h names), and
`CliError`, one sentence and its code, made from what the layers below raise (`error_for`).

  0 done; 1 failed; 2 bad usage; 65 (EX_DATAERR) the message or address is wrong;
  66 (EX_NOINPUT) the message file cannot be read;
  69 (EX_UNAVAILABLE) the server could not be reached; 75 (EX_TEMPFAIL) queued, will retry;
  77 (EX_NOPERM) password or certificate refused;
  78 (EX_CONFIG) no such account, no keyring, or a CA file that cannot be read.
"""

from __future__ import annotations

from mua.core.i18n import N_, error_text

EXIT_OK, EXIT_FAIL, EXIT_DATA, EXIT_NOINPUT, EXIT_UNAVAILABLE = 0, 1, 65, 66, 69
EXIT_TEMPFAIL, EXIT_NOPERM, EXIT_CONFIG = 75, 77, 78
EXIT_CODES = N_(
    "0 done; 1 failed; 2 bad usage; 65 (EX_DATAERR) the message or address is wrong;\n"
    "66 (EX_NOINPUT) the message file cannot be read;\n"
    "69 (EX_UNAVAILABLE) the server could not be reached; 75 (EX_TEMPFAIL) queued, will retry;\n"
    "77 (EX_NOPERM) password or certificate refused;\n"
    "78 (EX_CONFIG) no such account, no keyring, or a CA file that cannot be read."
)


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def error_for(exc: BaseException) -> CliError:
    """One sentence and the right exit code for what the layers below raise."""
    from mua.client.engine import MissingPassword
    from mua.core.compose import ComposeError
    from mua.net.errors import AuthenticationFailed, CertificateInvalid, NetError
    from mua.net.oauth import OAuthError
    from mua.net.oauth_providers import NoClientId
    from mua.net.tls import CaFileError

    text = error_text(exc)
    if isinstance(exc, MissingPassword | LookupError | CaFileError | NoClientId):
        return CliError(text, EXIT_CONFIG)
    # OAuthError: refused in the browser, sign in again, the sign-in server unreachable
    if isinstance(exc, AuthenticationFailed | CertificateInvalid | OAuthError):
        return CliError(text, EXIT_NOPERM)
    if isinstance(exc, NetError | ConnectionError | TimeoutError):
        return CliError(text, EXIT_UNAVAILABLE)
    if isinstance(exc, ComposeError):
        return CliError(text, EXIT_DATA)
    return CliError(text)
