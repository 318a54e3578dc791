"""The base subject of a message (RFC 5256 section 2.1), what SORT SUBJECT and both THREAD
algorithms compare: "Re: [list] Fwd: Lunch (fwd)" and "Lunch" are the same conversation.

Pure functions over str. `base_subject` also says whether the extraction removed a reply or
forward marker (`Re:`, `Fwd:`, `(fwd)`, `[fwd: ...]`), which THREAD=REFERENCES uses (step 5).
"""

from __future__ import annotations

import email.header
import re
import unicodedata

_WSP_RUN = re.compile(r"[ \t\r\n]+")
# subj-trailer = "(fwd)" / WSP
_TRAILER = re.compile(r"(?:\(fwd\)| )\Z", re.IGNORECASE)
# subj-leader = (*subj-blob subj-refwd) / WSP; subj-refwd = ("re" / ("fw" ["d"])) *WSP
# [subj-blob] ":"; subj-blob = "[" *BLOBCHAR "]" *WSP (BLOBCHAR: any CHAR8 but "[" and "]")
_BLOB = r"\[[^\[\]\x00]*\] *"
_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?) *(?:{_BLOB})?:", re.IGNORECASE)
_BLOB_PREFIX = re.compile(_BLOB)


def decode_subject(raw: str) -> str:
    """Step 1: encoded-words (RFC 2047) decoded, folding and tabs as single spaces."""
    text = raw
    if "=?" in raw:
        try:
            text = str(email.header.make_header(email.header.decode_header(raw)))
        except (ValueError, LookupError, UnicodeError, AssertionError):
            text = raw
    return _WSP_RUN.sub(" ", text)


def base_subject(raw: str) -> tuple[str, bool]:
    """(base subject, whether it was a reply or forward) of a Subject field's value."""
    text = decode_subject(raw)
    reply = False
    while True:
        # Step 2: trailers.
        while match := _TRAILER.search(text):
            reply = reply or match.group() != " "
            text = text[: match.start()]
        # Steps 3 to 5: leaders, then one blob unless it is all that is left, until stable.
        while True:
            before = text
            while True:
                if text.startswith(" "):
                    text = text.lstrip(" ")
                elif match := _LEADER.match(text):
                    reply, text = True, text[match.end() :]
                else:
                    break
            blob = _BLOB_PREFIX.match(text)
            if blob and text[blob.end() :]:
                text = text[blob.end() :]
            if text == before:
                break
        # Step 6: "[fwd: ...]" around the whole subject, then back to step 2.
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            reply, text = True, text[5:-1]
            continue
        return text, reply


def collation_key(text: str) -> str:
    """i;unicode-casemap (RFC 5051): titlecase each character, then decompose (NFKD)."""
    return unicodedata.normalize("NFKD", "".join(c.title() for c in text))
