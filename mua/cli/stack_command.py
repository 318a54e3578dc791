"""`mua stack`: the demo mail world on fixed ports until Ctrl-C, and what it prints about itself
(`settings_text`; `--json` prints the settings themselves: docs/design.md, "World settings")."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from mua.cli.chaos_options import with_chaos
from mua.core.i18n import _


def run_stack_command(args: argparse.Namespace) -> int:
    import asyncio

    from mua.stack.msa_process import yield_to_acceptance
    from mua.stack.world import World, WorldOptions

    async def serve(directory: Path) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # before anything is printed
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(sig, stop.set)
        options = WorldOptions(fixed_ports=True, msa_process=True)  # see msa_process.py
        world = World(directory, with_chaos(options, args))
        try:
            await world.start()
        except OSError as exc:
            print(
                _(
                    "Could not start the mail world: {error}. Is another `mua stack` running?"
                ).format(error=exc)
            )
            raise SystemExit(1) from exc
        yield_to_acceptance()  # this process delivers; the MSA child accepts
        try:
            settings = world.settings()
            if args.json:
                print(json.dumps(settings), flush=True)
            else:
                print(settings_text(settings, directory), flush=True)
            await stop.wait()
        finally:
            await world.stop()
            print(_("mua stack: stopped."), file=sys.stderr)

    if args.dir:
        asyncio.run(serve(args.dir))
    else:
        with tempfile.TemporaryDirectory(prefix="mua-world-") as tmp:
            asyncio.run(serve(Path(tmp)))
    return 0


def settings_text(settings: dict[str, Any], directory: Path) -> str:
    lines = [
        _("mua stack: the demo mail world is running in {directory}").format(directory=directory),
        "  " + _("CA certificate:  {file}").format(file=settings["ca_file"]),
        "  "
        + _("DNS (DNSSEC):    {host} port {port}  (trust anchor {file})").format(
            host=settings["dns"]["host"],
            port=settings["dns"]["port"],
            file=settings["trust_anchor_file"],
        ),
    ]
    for account in settings["accounts"]:
        smtp, imap = account["smtp"], account["imap"]
        lines += [
            "  "
            + _("{address}  user {user}  password {password}").format(
                address=account["address"], user=account["username"], password=account["password"]
            ),
            "    "
            + _(
                "SMTP {host}: implicit TLS 127.0.0.1:{implicit}, STARTTLS 127.0.0.1:{starttls}"
            ).format(
                host=smtp["host"],
                implicit=smtp["implicit_tls_port"],
                starttls=smtp["starttls_port"],
            ),
        ]
        if imap["implicit_tls_port"]:
            lines.append(
                "    "
                + _(
                    "IMAP {host}: implicit TLS 127.0.0.1:{implicit}, STARTTLS 127.0.0.1:{starttls}"
                ).format(
                    host=imap["host"],
                    implicit=imap["implicit_tls_port"],
                    starttls=imap["starttls_port"],
                )
            )
        pop3 = account.get("pop3")
        if pop3 and pop3["implicit_tls_port"]:
            lines.append(
                "    "
                + _(
                    "POP3 {host}: implicit TLS 127.0.0.1:{implicit}, STLS 127.0.0.1:{starttls}"
                ).format(
                    host=pop3["host"],
                    implicit=pop3["implicit_tls_port"],
                    starttls=pop3["starttls_port"],
                )
            )
    for domain in settings["domains"]:
        lines.append(
            "  "
            + _("MX of {domain}: {host} 127.0.0.1:{port}").format(
                domain=domain["name"], host=domain["mx"]["host"], port=domain["mx"]["port"]
            )
        )
    if settings.get("chaos"):
        lines.append(
            "  "
            + _(
                "Chaos: {percent} of the commands go wrong on purpose (seed {seed}; repeat "
                "the run with --chaos-seed {seed})."
            ).format(  # the sign in the value: "{percent}% of" would read as a %-format to Babel
                percent=f"{settings['chaos']['rate'] * 100:g}%", seed=settings["chaos"]["seed"]
            )
        )
    lines.append(_("Press Ctrl-C to stop."))
    return "\n".join(lines)
