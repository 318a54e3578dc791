"""The `mua` command: parses arguments, calls the layers, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mua import __version__
from mua.cli.accounts import register as register_account_commands
from mua.cli.argparse_i18n import translate_argparse
from mua.cli.chaos_options import add_chaos_arguments
from mua.cli.demo_command import add_demo_arguments, run_demo_command
from mua.cli.exit_codes import EXIT_CODES, EXIT_CONFIG, EXIT_NOINPUT, CliError
from mua.cli.mail_commands import register as register_mail_commands
from mua.cli.qt_args import platform_chosen, split_qt_args
from mua.cli.stack_command import run_stack_command
from mua.core.i18n import _, error_text, set_language
from mua.logsetup import configure_logging

if TYPE_CHECKING:  # imported when used
    from mua.client.message_file import MessageFile

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    set_language(None)  # the system's language (LANGUAGE, LC_ALL, LC_MESSAGES, LANG)
    translate_argparse()
    args = parse(argv)
    configure_logging(verbose=args.verbose)
    if args.command is None:
        return _default(args)
    try:
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except CliError as exc:
        print(f"mua: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """mua's arguments. For the desktop app (no command, or `open`), Qt's own options
    (`-style fusion`, `-reverse`, `-platform offscreen`: mua.cli.qt_args) are set aside in
    `qt_args` for its QApplication; a terminal command gets its arguments as given."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, qt_args = split_qt_args(argv)
    command = next((token for token in ours if not token.startswith("-")), None)
    if command not in (None, "open"):
        ours, qt_args = argv, []
    args = _parser().parse_args(ours)
    args.qt_args = qt_args
    return args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mua",
        description=_(
            "A mail client that shows how your mail travels. Without a command it "
            "starts the desktop app (or, without a display, the terminal demo)."
        ),
        epilog=_("exit codes:") + "\n" + _(EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mua {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log details to stderr"))
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    from mua.stack.scenario_names import SCENARIO_NAMES

    demo = sub.add_parser(
        "demo",
        help=_("send one message through a temporary local mail world and show its journey"),
        description=_(
            "Start the demo world in a temporary directory, send alice@a.test -> "
            "bob@b.test through every leg, print each leg and what protected it, stop. "
            "Exit 0 when the outcome is the scenario's expected one."
        ),
    )
    add_demo_arguments(demo, SCENARIO_NAMES)
    demo.set_defaults(command="demo", run=_demo)

    stack = sub.add_parser(
        "stack",
        help=_("run the local mail world until interrupted"),
        description=_(
            "Run the demo world (a.test with alice, b.test with bob) on 127.0.0.1 "
            "until SIGINT/SIGTERM, and print the settings a mail client needs. Ports: role + "
            "10000 for a.test, role + 20000 for b.test, DNS on 10053."
        ),
    )
    stack.add_argument(
        "--dir", type=Path, help=_("keep the world (CA, keys, queue, mail) in DIR across restarts")
    )
    stack.add_argument(
        "--json", action="store_true", help=_("print the settings as one JSON object (first line)")
    )
    add_chaos_arguments(stack)
    stack.set_defaults(command="stack", run=run_stack_command)
    trace = sub.add_parser(
        "trace",
        help=_("the legs that a stored message's headers show"),
        description=_(
            "Read a message (.eml) and show each leg of its journey from its "
            "Received headers, with what protected it. Headers written by your own provider "
            "are 'recorded'; those from further upstream are only 'claimed'. The provider's "
            "hosts come from the account (--account, else the configured account the message "
            "was addressed to), and what mua observed itself when it sent the message is "
            "merged in."
        ),
    )
    trace.add_argument("file", type=Path, help=_("a message file (RFC 5322, .eml)"))
    trace.add_argument("--json", action="store_true", help=_("print one JSON document"))
    trace.add_argument(
        "--account",
        metavar="ADDRESS",
        help=_("the account it belongs to (default: its recipient's)"),
    )
    trace.add_argument(
        "--dns",
        metavar="HOST:PORT",
        help=_(
            "look DKIM keys up at this name server (and keep them in the cache); without it "
            "only keys already in the cache are used"
        ),
    )
    trace.add_argument(
        "--trust-anchor",
        type=Path,
        metavar="FILE",
        help=_("DNSSEC trust anchor (DS records) for --dns"),
    )
    trace.set_defaults(command="trace", run=_trace)
    opener = sub.add_parser(
        "open",
        help=_("show a message file (.eml) and its journey in a window"),
        description=_(
            "Open a message file in a window: the message, safely rendered, and the "
            "hop panel of its journey from its Received headers. The account it was sent to, when "
            "configured here, tells which headers your provider recorded. Without a display, "
            "prints what `mua trace` prints. This is what opening an .eml file in the file "
            "manager runs; without FILE it starts mua as `mua` does."
        ),
    )
    opener.add_argument(
        "file", type=Path, nargs="?", help=_("a message file (RFC 5322, .eml); none: start mua")
    )
    opener.add_argument(
        "--account",
        metavar="ADDRESS",
        help=_("the account it belongs to (default: its recipient's)"),
    )
    opener.set_defaults(command="open", run=_open)
    check = sub.add_parser(
        "check",
        help=_("the transport-security posture of a domain's inbound mail"),
        description=_(
            "Look up DOMAIN's MX hosts and probe each one: STARTTLS, the TLS versions "
            "it accepts, its certificate, DANE (TLSA), MTA-STS, TLS-RPT and REQUIRETLS. Grades "
            "each MX and the domain, with one sentence per problem saying what to fix. Exit 0 "
            "when the domain grades green, 1 otherwise."
        ),
    )
    check.add_argument("domain")
    check.add_argument("--json", action="store_true", help=_("print one JSON document"))
    check.add_argument("--nameserver", metavar="HOST:PORT", help=_("ask this DNS server"))
    check.add_argument("--port", type=int, default=25, help=_("the SMTP port to probe (25)"))
    check.add_argument("--mta-sts-port", type=int, default=443, help=argparse.SUPPRESS)
    check.add_argument("--ca-file", type=Path, help=_("trust only this CA for certificates"))
    check.add_argument(
        "--trust-anchor", type=Path, help=_("validate DNSSEC with this trust anchor (DS/DNSKEY)")
    )
    check.set_defaults(command="check", run=_check)
    register_account_commands(sub)
    register_mail_commands(sub)
    for action in sub.choices.values():
        action.set_defaults(command=action.prog.split()[-1])
    return parser


def _default(args: argparse.Namespace) -> int:
    if _has_display(args.qt_args):
        from mua.gui.app import run

        return run([sys.argv[0], *args.qt_args])
    print(_("No display found: running the terminal demo instead."), file=sys.stderr)
    args.scenario, args.json = "modern", False
    return _demo(args)


def _has_display(qt_args: list[str]) -> bool:
    """A screen to show windows on; a Qt platform chosen explicitly (QT_QPA_PLATFORM or
    `-platform`, e.g. offscreen or vnc) counts as one."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    if platform_chosen(qt_args):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _demo(args: argparse.Namespace) -> int:
    return run_demo_command(args)


def _read_file(path: Path, account: str | None) -> MessageFile:
    from mua.client.message_file import NoSuchAccount, read_message_file

    try:
        return read_message_file(path, account)
    except OSError as exc:
        why = exc.strerror or exc
        raise CliError(
            _("Cannot read {path}: {why}.").format(path=path, why=why), EXIT_NOINPUT
        ) from exc
    except NoSuchAccount as exc:
        raise CliError(error_text(exc), EXIT_CONFIG) from exc


def _open(args: argparse.Namespace) -> int:
    if args.file is None:  # the menu entry's "mua open %f" with no file
        return _default(args)
    if not _has_display(args.qt_args):
        print(_("No display found: showing the journey as `mua trace` does."), file=sys.stderr)
        args.json = False
        return _trace(args)
    found = _read_file(args.file, args.account)
    from mua.gui.viewer import show_file

    return show_file(found, args.qt_args)


def _trace(args: argparse.Namespace) -> int:
    from mua.cli.content_line import content_line
    from mua.cli.trace_table import render_trace
    from mua.core.journey import transport_notes

    found = _read_file(args.file, args.account)
    message, own_hosts, trace = found.message, found.own_hosts, found.trace
    if getattr(args, "dns", None):  # `mua open` without a display has no --dns
        from mua.cli.content_line import content_with_dns

        trace.content = content_with_dns(found, args.dns, args.trust_anchor)
    if args.json:
        print(json.dumps(trace.to_json(), indent=2))
        return 0
    print(render_trace(trace, title=f"{args.file.name}"))
    notes = transport_notes(message, own_hosts)
    if notes.tls_required_no:
        print(_("TLS-Required: No — the sender asked servers not to insist on TLS (RFC 8689)."))
    for results in notes.authentication:
        checks = ", ".join(f"{r.method}={r.result}" for r in results.results)
        print(
            _("Authentication-Results by {host}: {checks}").format(
                host=results.authserv_id, checks=checks
            )
        )
    if not trace.legs:
        print(_("This message has no Received headers: nothing shows how it travelled."))
    if trace.content is not None:
        print(content_line(trace.content))
    from mua.core.mime import too_deep_note, too_deeply_nested

    if too_deeply_nested(message):
        print(too_deep_note())
    return 0


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from mua.core.legs import Grade
    from mua.net.dns import Resolver
    from mua.net.posture import parse_nameserver
    from mua.net.posture_check import check_domain
    from mua.net.posture_text import describe

    if args.nameserver:
        resolver = Resolver(parse_nameserver(args.nameserver), trust_anchor_file=args.trust_anchor)
    else:  # the system's resolver: its AD bit is trusted unless an anchor is given
        resolver = Resolver(
            None, trust_anchor_file=args.trust_anchor, trust_ad=args.trust_anchor is None
        )
    report = asyncio.run(
        check_domain(
            args.domain,
            resolver,
            port=args.port,
            ca_file=args.ca_file,
            mta_sts_port=args.mta_sts_port,
        )
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else describe(report))
    return 0 if report.grade is Grade.GREEN else 1


if __name__ == "__main__":
    sys.exit(main())
