"""`mua stack --chaos RATE [--chaos-seed N]`: the world's servers misbehave on purpose
(mua/stack/chaos.py)."""

from __future__ import annotations

import argparse
import dataclasses
import random
from typing import TYPE_CHECKING

from mua.core.i18n import _

if TYPE_CHECKING:
    from mua.stack.world import WorldOptions


def add_chaos_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chaos",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help=_(
            "misbehave on purpose: answer this share (0 to 1) of the SMTP, IMAP and POP3 commands "
            "with a random 4xx/5xx error, a dropped connection or a stalled reply"
        ),
    )
    parser.add_argument(
        "--chaos-seed",
        type=int,
        default=None,
        metavar="N",
        help=_("start the chaos from this seed, so that a run can be repeated"),
    )


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(
            _("{value} is no rate: give a number from 0 to 1").format(value=value)
        )
    return rate


def with_chaos(options: WorldOptions, args: argparse.Namespace) -> WorldOptions:
    """The options with `--chaos` applied to every provider; the seed, drawn when not given,
    is in the settings (`mua stack --json`: `chaos.seed`) so that a run can be repeated."""
    if not args.chaos:
        return options
    from mua.stack.chaos import ChaosOptions

    seed = args.chaos_seed if args.chaos_seed is not None else random.randrange(2**31)
    chaos = ChaosOptions(rate=args.chaos, seed=seed)
    providers = {
        domain: dataclasses.replace(opts, chaos=chaos) for domain, opts in options.providers.items()
    }
    return dataclasses.replace(options, providers=providers)
