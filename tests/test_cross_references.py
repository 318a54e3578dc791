"""Every cross-reference in the code and the docs points at something that exists.

Cited repository paths (`mua/core/grade.py`, `docs/design.md`, `bench/startup.py`), sections
(`docs/design.md#trust-sources`, `docs/architecture.md's "Headers into legs"`, relative
Markdown links between the docs) and dotted names (`mua.core.grade.grade_leg`) are checked in
mua/, tests/, bench/, README.md and docs/. Modules are found with importlib.util.find_spec
(importing packages' `__init__` only) and names in them with ast, so no GUI module is imported.
RFC citations are out of scope.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SOURCES = (
    sorted(ROOT.glob("mua/**/*.py"))
    + sorted(ROOT.glob("tests/**/*.py"))
    + sorted(ROOT.glob("bench/*.py"))
    + [ROOT / "README.md"]
    + sorted(ROOT.glob("docs/*.md"))
)

# A repository path: a top-level directory, then path characters, ending on a name character.
PATH = re.compile(
    r"(?<![\w./~-])((?:mua|docs|tests|bench|scripts|packaging)/[\w./-]*\w)(?![\w<*{])"
)
# Files a test run writes: cited, but absent from a fresh clone.
GENERATED = ("tests/artifacts/",)
# Paths that look like the repository's but name something else, and why.
NOT_REPOSITORY_PATHS = {
    "mua/locale/qt/qtbase_ru.qm": "inside the frozen bundle (packaging/mua.spec puts it there)",
    "mua/locale/de/LC_MESSAGES/mua.po": "README's example of a new language's catalog",
}
# A section cited by its anchor or by its heading in quotes (the forms the docstring shows)
ANCHOR = re.compile(r"\b(docs/[\w/-]+\.md)#([\w-]+)")
QUOTED = re.compile(r"\b(docs/[\w/-]+\.md)(?:'s|,)\s+\"([^\"]+)\"")
QUOTED_BEFORE = re.compile(r"\"([^\"]+)\"\s+(?:section\s+)?(?:of|in)\s+(docs/[\w/-]+\.md)")
# A relative Markdown link in the docs: [text](design.md#trace)
LINK = re.compile(r"\]\((?!https?:|mailto:)([^)\s#]*)(?:#([^)\s]+))?\)")
# A dotted name under mua; file names that start with "mua." (mua.po, mua.spec) are not one.
DOTTED = re.compile(r"(?<![\w./-])mua(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = {
    "app", "desktop", "example", "icns", "ico", "ini", "json", "log", "mo", "png", "po",
    "pot", "py", "qm", "spec", "svg", "toml", "txt",
}  # fmt: skip


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _where(path: Path, text: str, offset: int) -> str:
    return f"{path.relative_to(ROOT)}:{_line(text, offset)}"


@cache
def _anchors(md: Path) -> frozenset[str]:
    """GitHub's anchors for the headings of a Markdown file (outside code blocks)."""
    found = set()
    fenced = False
    for line in _text(md).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(_slug(line.lstrip("#").strip()))
    return frozenset(found)


@cache
def _headings(md: Path) -> tuple[str, ...]:
    fenced = False
    found = []
    for line in _text(md).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.append(" ".join(line.lstrip("#").split()).lower())
    return tuple(found)


def _slug(heading: str) -> str:
    """GitHub's rule: lower case, punctuation other than - and _ dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def test_slug_follows_github() -> None:
    assert _slug("Roles and the grading table") == "roles-and-the-grading-table"
    assert (
        _slug("Headers into legs (`mua/core/received.py`)") == "headers-into-legs-muacorereceivedpy"
    )
    assert _slug("OAuth2 (issue 17)") == "oauth2-issue-17"


def test_cited_paths_exist() -> None:
    missing = []
    for path in SOURCES:
        text = _text(path)
        for match in PATH.finditer(text):
            cited = match.group(1).rstrip(".")
            if cited.startswith(GENERATED) or cited in NOT_REPOSITORY_PATHS:
                continue
            if (ROOT / cited).exists():
                continue
            missing.append(f"{_where(path, text, match.start())}: {cited}")
    assert not missing, "paths cited that do not exist:\n" + "\n".join(missing)


def test_nothing_cites_a_file_outside_the_repository() -> None:
    """The design contract is docs/design.md; what the code cites must ship with it."""
    outside = re.compile(r"\.\./shared/|\bDESIGN\.md")
    found = [
        f"{_where(path, text, match.start())}: {match.group(0)}"
        for path in SOURCES
        if path != Path(__file__).resolve()
        for text in [_text(path)]
        for match in outside.finditer(text)
    ]
    assert not found, "citations of files outside the repository:\n" + "\n".join(found)


def test_cited_sections_exist() -> None:
    missing = []
    for path in SOURCES:
        text = _text(path)
        for match in ANCHOR.finditer(text):
            md, anchor = ROOT / match.group(1), match.group(2)
            if not md.exists() or anchor not in _anchors(md):
                missing.append(f"{_where(path, text, match.start())}: {match.group(0)}")
        quoted = [(m, m.group(1), m.group(2)) for m in QUOTED.finditer(text)]
        quoted += [(m, m.group(2), m.group(1)) for m in QUOTED_BEFORE.finditer(text)]
        for match, md_name, heading in quoted:
            md, wanted = ROOT / md_name, " ".join(heading.split()).lower()
            if not md.exists() or not any(wanted in h for h in _headings(md)):
                missing.append(f"{_where(path, text, match.start())}: {md_name} {heading!r}")
    assert not missing, "sections cited that do not exist:\n" + "\n".join(missing)


def test_markdown_links_resolve() -> None:
    missing = []
    for md in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]:
        text = _text(md)
        for match in LINK.finditer(text):
            target, anchor = match.group(1), match.group(2)
            linked = (md.parent / target).resolve() if target else md
            if not linked.exists():
                missing.append(f"{_where(md, text, match.start())}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                missing.append(f"{_where(md, text, match.start())}: {target}#{anchor}")
    assert not missing, "links that lead nowhere:\n" + "\n".join(missing)


def test_dotted_names_exist() -> None:
    missing = []
    for path in SOURCES:
        text = _text(path)
        for match in DOTTED.finditer(text):
            name = match.group(0)
            if name.rsplit(".", 1)[-1] in FILE_SUFFIXES:
                continue
            if not _resolves(name):
                missing.append(f"{_where(path, text, match.start())}: {name}")
    assert not missing, "dotted names that do not resolve:\n" + "\n".join(missing)


@cache
def _resolves(dotted: str) -> bool:
    """Whether a dotted name under mua names a module, or a name defined in one (ast)."""
    parts = dotted.split(".")
    module = parts[0]
    spec = importlib.util.find_spec(module)
    rest = parts[1:]
    while rest and spec is not None and spec.submodule_search_locations is not None:
        child = importlib.util.find_spec(f"{module}.{rest[0]}")
        if child is None:
            break
        module, spec, rest = f"{module}.{rest[0]}", child, rest[1:]
    if spec is None or spec.origin is None:
        return False
    return _defines(module, tuple(rest))


def _defines(module: str, names: tuple[str, ...]) -> bool:
    if not names:
        return True
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    return _found(_module_tree(spec.origin), names, module)


@cache
def _module_tree(origin: str) -> ast.Module:
    return ast.parse(Path(origin).read_text(encoding="utf-8"))


def _found(scope: ast.AST, names: tuple[str, ...], module: str) -> bool:
    first, rest = names[0], names[1:]
    if first.startswith("__") and first.endswith("__"):
        return True  # a module's or class's own attribute (__file__, __version__)
    for node in _definitions(scope):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == first:
                return not rest or (isinstance(node, ast.ClassDef) and _found(node, rest, module))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == first:
                    source = _absolute(node, module)
                    if _resolves(f"{source}.{alias.name}"):
                        return not rest or _resolves(".".join((source, alias.name, *rest)))
        elif first in _assigned(node):
            return not rest  # a value: what it holds is not followed
    return False


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if importlib.util.find_spec(module).submodule_search_locations is None:
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _definitions(scope: ast.AST):
    """The statements that define names in a module or class body, inside if/try/with too,
    and for a class the attributes its methods assign on self."""
    for node in getattr(scope, "body", []):
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for inner in getattr(node, block, []):
                    yield from _definitions(ast.Module(body=[inner], type_ignores=[]))
                    if isinstance(inner, ast.ExceptHandler):
                        yield from _definitions(inner)
        else:
            yield node
    if isinstance(scope, ast.ClassDef):
        for method in scope.body:
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(method):
                    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                        yield node


def _assigned(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    elif isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    else:
        return set()
    names = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif (
                isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == "self"
            ):
                names.add(sub.attr)
    return names
