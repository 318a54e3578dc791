"""argparse's own words ("usage:", "options", its error messages) in mua's catalog.

argparse asks the stdlib gettext for them, where no catalog holds them; pointing its `_` and
`ngettext` at mua's (mua.core.i18n) makes `mua --help` and usage errors speak the user's
language with everything else. The strings below are argparse's msgids, marked here so the
extractor puts them in mua.pot.
"""

from __future__ import annotations

import argparse

from mua.core import i18n
from mua.core.i18n import N_

ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("the following arguments are required: %s"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def translate_argparse() -> None:
    # argparse's own module globals, which typeshed does not list
    argparse._ = i18n._  # type: ignore[attr-defined]
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]
