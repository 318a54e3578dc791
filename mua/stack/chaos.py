"""The chaos switch: a share of the commands a server of the world receives go wrong.

`mua stack --chaos RATE` (Mailpit's users know the idea from its chaos mode): with
probability RATE a command is answered with a random error instead of being carried out,
its connection is dropped, or its reply is stalled, so that a mail client (mua's own, or
one under test) can be checked against a misbehaving server. Each listener that takes part
asks its `ChaosSource` before a command; the protocol decides how a fault looks on its wire:

| fault     | SMTP (MSA, MX)                      | IMAP                      | POP3              |
|-----------|-------------------------------------|---------------------------|-------------------|
| TEMPORARY | a 4xx reply (421 also closes)       | `NO [UNAVAILABLE]`        | `-ERR [SYS/TEMP]` |
| PERMANENT | a 5xx reply                         | `NO [SERVERBUG]` or `BAD` | `-ERR [SYS/PERM]` |
| DROP      | the connection is cut, nothing said | cut, or `* BYE` and cut   | cut, or `-ERR`    |
| STALL     | the command is carried out, late    | the same                  | the same          |

QUIT (SMTP, POP3) and LOGOUT (IMAP) are spared: after an SMTP 250 the client's QUIT is
mere politeness, and a POP3 QUIT is what makes deletions happen (RFC 1939 section 6).

The world's promises hold through it: a fault always comes *instead of* the command's work,
never after it, so a 250 still means the message is queued (RFC 5321 section 6.1) and an
error means nothing was done. A stall waits before the work; when the client gives up and
goes away meanwhile, the work is not done at all (the server notices the closed connection
and drops the command). Stalls are bounded by `ChaosOptions.stall`, kept below the
clients' timeouts, so that a stall cannot turn into a message queued after the client gave
up on it (a duplicate when it sends again).

Every listener draws from a random generator of its own, seeded from the world's seed and
the listener's name: one client talking to one listener sees the same faults on every run
with the same `--chaos-seed`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)

ROLES = ("msa", "mx", "imap", "pop3")  # the listeners that can take part


class Fault(Enum):
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    DROP = "drop"
    STALL = "stall"


# How a disrupted command goes wrong: weights of each fault.
FAULT_WEIGHTS = {Fault.TEMPORARY: 4, Fault.PERMANENT: 2, Fault.DROP: 2, Fault.STALL: 2}


@dataclass(frozen=True)
class ChaosOptions:
    """`rate`: the share of commands disrupted (0..1). `seed`: what the listeners' random
    generators start from. `stall`: the longest stall, in seconds. `roles`: which servers
    take part (of ROLES). `faults`: which kinds of fault may happen (all, by default).
    `commands`: only these commands are disrupted (SMTP verbs and "end of DATA", IMAP and
    POP3 commands, in capitals; None: every one)."""

    rate: float
    seed: int = 0
    stall: float = 3.0
    roles: frozenset[str] = field(default_factory=lambda: frozenset(ROLES))
    faults: frozenset[Fault] = field(default_factory=lambda: frozenset(Fault))
    commands: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"the chaos rate must be between 0 and 1, not {self.rate}")
        if self.stall < 0:
            raise ValueError(f"the longest stall cannot be negative: {self.stall}")
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown chaos roles: {', '.join(sorted(unknown))}")
        if not self.faults:
            raise ValueError("chaos needs at least one kind of fault")

    def source(self, role: str, listener: str) -> ChaosSource | None:
        """The fault source of one listener (`role` of ROLES; `listener` a name unique in
        the world, such as "smtp.a.test 465"), or None when that role takes no part."""
        if role not in self.roles or self.rate <= 0:
            return None
        return ChaosSource(self, listener)

    def to_json(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "stall": self.stall,
            "roles": sorted(self.roles),
            "faults": [f.value for f in Fault if f in self.faults],
        }


@dataclass(frozen=True)
class Disruption:
    fault: Fault
    choice: float  # in [0, 1): which reply of the fault's kind (the protocol picks by it)
    seconds: float = 0.0  # how long a STALL waits


class ChaosSource:
    """The faults of one listener."""

    def __init__(self, options: ChaosOptions, listener: str) -> None:
        self.options = options
        self.listener = listener
        self._random = random.Random(f"{options.seed}:{listener}")
        self.counts: Counter[Fault] = Counter()

    def draw(self, command: str) -> Disruption | None:
        """Whether `command` goes wrong, and how; None: carry it out as usual."""
        rng = self._random
        only = self.options.commands
        if only is not None and command not in only:
            return None
        if rng.random() >= self.options.rate:
            return None
        faults = [f for f in FAULT_WEIGHTS if f in self.options.faults]
        fault = rng.choices(faults, weights=[FAULT_WEIGHTS[f] for f in faults])[0]
        seconds = rng.uniform(0.0, self.options.stall) if fault is Fault.STALL else 0.0
        self.counts[fault] += 1
        log.info("chaos on %s: %s %s", self.listener, fault.value, command)
        return Disruption(fault, rng.random(), seconds)


async def next_fault(
    source: ChaosSource, command: str, reader: asyncio.StreamReader
) -> Disruption | None:
    """For servers on asyncio streams (IMAP, POP3): the fault that takes `command`'s place,
    or None to carry it out. A stall is served here: the command is carried out late, or,
    when the client went away meanwhile, not at all (a silent DROP is returned)."""
    disruption = source.draw(command)
    if disruption is None or disruption.fault is not Fault.STALL:
        return disruption
    await asyncio.sleep(disruption.seconds)
    if reader.at_eof():
        return Disruption(Fault.DROP, choice=0.99)
    return None


def pick(replies: tuple[str, ...], disruption: Disruption) -> str:
    return replies[int(disruption.choice * len(replies)) % len(replies)]


# SMTP replies (RFC 5321 section 4.2, enhanced codes of RFC 3463); "chaos" in each text
# says to a person reading a log that the world made it up.
SMTP_TEMPORARY = (
    "421 4.3.2 {host} chaos: service shutting down, closing the connection",
    "450 4.2.0 chaos: mailbox busy, try again later",
    "451 4.3.0 chaos: local error in processing, try again later",
    "452 4.3.1 chaos: insufficient system storage, try again later",
)
SMTP_PERMANENT = (
    "550 5.7.0 chaos: refused",
    "554 5.3.0 chaos: transaction failed",
)
IMAP_TEMPORARY = ("NO [UNAVAILABLE] chaos: try again later",)
IMAP_PERMANENT = ("NO [SERVERBUG] chaos: the command failed", "BAD chaos: command refused")
POP3_TEMPORARY = ("-ERR [SYS/TEMP] chaos: try again later",)  # RFC 3206 response codes
POP3_PERMANENT = ("-ERR [SYS/PERM] chaos: the command failed",)
