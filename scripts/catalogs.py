"""mua's translation catalogs, with Babel: extract the marked strings, update the .po files,
compile the .mo files. `make po` runs `extract` then `update`; the build compiles (README,
"Languages").

    python scripts/catalogs.py extract [--output FILE]   mua/**.py -> mua/locale/mua.pot
    python scripts/catalogs.py update                     the .pot merged into every .po
    python scripts/catalogs.py compile                    every .po -> its .mo
    python scripts/catalogs.py init LANG                  a new language's .po
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mua import __version__  # noqa: E402
from mua.core.i18n import DOMAIN, KEYWORDS  # noqa: E402

LOCALE = ROOT / "mua" / "locale"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"


def extract() -> Catalog:
    """Every marked string in mua/ (the keywords of mua.core.i18n), with where it is used."""
    catalog = Catalog(project="mua", version=__version__, charset="utf-8")
    found = extract_from_dir(
        str(ROOT / "mua"),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(
            message,
            None,
            [(f"mua/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def po_files() -> list[Path]:
    return sorted(LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def write_template(catalog: Catalog, path: Path) -> None:
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=False)


def update(template: Catalog) -> None:
    for po in po_files():
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        catalog.update(template, update_header_comment=False)
        with po.open("wb") as handle:
            write_po(handle, catalog, width=100, ignore_obsolete=True)
        print(f"updated {po.relative_to(ROOT)}")


def compile_all() -> list[Path]:
    compiled = []
    for po in po_files():
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        compiled.append(mo)
    return compiled


def init(language: str) -> Path:
    target = LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    catalog = extract()
    catalog.locale = language
    catalog.fuzzy = False
    with target.open("wb") as handle:
        write_po(handle, catalog, width=100)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    out = sub.add_parser("extract")
    out.add_argument("--output", type=Path, default=TEMPLATE)
    sub.add_parser("update")
    sub.add_parser("compile")
    new = sub.add_parser("init")
    new.add_argument("language")
    args = parser.parse_args(argv)
    if args.command == "extract":
        write_template(extract(), args.output)
    elif args.command == "update":
        update(extract())
    elif args.command == "compile":
        for mo in compile_all():
            print(f"compiled {mo.relative_to(ROOT)}")
    else:
        print(f"created {init(args.language).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
