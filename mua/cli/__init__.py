"""The `mua` command: the argument parser and `main` (parser.py), the mail and account
commands (mail_commands.py, accounts.py, pop3_account.py, oauth_signin.py), the journey table
(trace_table.py, content_line.py), the demo (demo_command.py), the exit codes every command
shares (exit_codes.py), and Qt's own arguments set aside (qt_args.py)."""

from mua.cli.parser import main, parse

__all__ = ["main", "parse"]
