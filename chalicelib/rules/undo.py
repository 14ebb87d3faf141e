"""What an undo may put back, and what it leaves where it is: the one rule for the service's
POST /undo (chalicelib/flows/undo.py: Dropbox by file id, the ledger) and for `main.py --folder DIR
--undo` (cli/folder_undo.py: the folder by file identity, the journal).

A photo goes back only when that very photo is still where the sort put it (renamed in case only,
on a store that ignores case, it is still there) and no later sort moved it since: one the user
moved, deleted or replaced is the user's now, and is left where it is with the reason. Where it
goes back to (the path it came from, never over another file) is the adapters' to do.
"""
from __future__ import annotations

from dataclasses import dataclass

NOT_THERE = "not there any more (moved or deleted since): left alone"
SORTED_AGAIN = "sorted again since by a later job: undo that one to put it back"


def moved_since(now: str) -> str:
    return f"moved since, to {now}: left where it is"


@dataclass(frozen=True)
class Back:
    """Put the photo back where it came from; it is at `now`."""

    now: str


@dataclass(frozen=True)
class Left:
    """Leave the photo where it is, and say why."""

    reason: str


def verdict(to: str, now: str | None, sorted_again: bool) -> Back | Left:
    """A recorded move to `to`: where that very photo is `now` (None: not found, so moved away,
    deleted or changed), and whether a later sort moved it again since."""
    if now is None:
        return Left(NOT_THERE)
    if now.casefold() != to.casefold():
        return Left(moved_since(now))
    if sorted_again:
        return Left(SORTED_AGAIN)
    return Back(now)
