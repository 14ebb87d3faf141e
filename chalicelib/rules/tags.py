"""Tags instead of moves ("action": "tag"): which classes a photo is tagged with, and the tag text
each class becomes.

A photo gets one tag per class whose score reaches that class's threshold (a cat and a person:
both), and stays where it is; one with no such class gets none and counts as unsorted. Dropbox's
tag_text is 1 to 32 word characters ([\\w]+) and Dropbox keeps it in lower case, so a class name
becomes its tag by: lower case; every run of other characters (spaces, hyphens, apostrophes...)
one "_"; no "_" at either end; the first 32 characters. "Ice cream" -> "ice_cream",
"t-shirt" -> "t_shirt". The XMP sidecars of `main.py --folder DIR --tag` hold the same text.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

MAX_TAG_LENGTH = 32  # Dropbox's TagText
_NOT_WORD = re.compile(r"[^\w]+")


def tag_text(label: str) -> str:
    """The tag a class becomes: "Ice cream" -> "ice_cream"; "" when nothing of the name is left."""
    return _NOT_WORD.sub("_", label.lower()).strip("_")[:MAX_TAG_LENGTH].rstrip("_")


def tag_problem(labels: Sequence[str]) -> str | None:
    """Why these classes cannot be tags (a name with no letter or digit, two names one tag), or None."""
    seen: dict[str, str] = {}
    for label in labels:
        text = tag_text(label)
        if not text:
            return f"class {label!r} has no letter or digit to make a tag of"
        if text in seen:
            return f"classes {seen[text]!r} and {label!r} would both be the tag {text!r}"
        seen[text] = label
    return None
