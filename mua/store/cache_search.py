"""Turning what a person typed into the search box into a query, for FTS5 or for LIKE.

Both forms match messages that contain every word typed. FTS5 matches words by their
beginning ("ali" finds "Alice", "resume" finds "Résumé"); LIKE matches anywhere inside a
field and folds only ASCII case.
"""

from __future__ import annotations


def words(text: str) -> list[str]:
    """The words typed, without those of punctuation only ("-", "&"), which match nothing."""
    return [word for word in text.split() if any(ch.isalnum() for ch in word)]


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression: each word a quoted prefix phrase, all required. None: no words.

    Quoting makes every character literal to the FTS5 query syntax (AND, NEAR, ^, : and
    column filters included); the tokenizer then splits "alice@a.test" as it split the text.
    """
    found = words(text)
    if not found:
        return None
    return " ".join('"' + word.replace('"', '""') + '"*' for word in found)


def like_patterns(text: str) -> list[str]:
    """One LIKE pattern per word (to be used with ESCAPE '\\'), each matching it anywhere."""
    return [
        "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for word in words(text)
    ]
