"""Whose photo is it, and what does it teach: the one rule of learning by example, for the service
(chalicelib/flows/class_folders.py and learning.py: the ledger, by Dropbox file id) and for
`main.py --folder` (cli/folder_examples.py: the journal, by file identity).

A photo in a top-level folder is the user's unless the service (or the tool) put it in that very
folder: a photo renamed where it was put, or moved into a subfolder of it, is still ours. The
user's photo is an example of the folder it is in, when that folder stands for a class; when we
had put it in another class folder, the user corrected us, and it is a counter-example of that
one too. A photo back in the inbox teaches nothing. The adapters say where the photo is and where
we put it (top folders only), and which folders stand for a class.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from chalicelib.rules.configuration import top_folder

Role = Literal["example", "counter"]


@dataclass(frozen=True)
class Lesson:
    """The photo is an example (role "example") or a counter-example ("counter") of the class of `folder`."""

    folder: str
    role: Role


def put_there(now_in: str, put_in: str | None) -> bool:
    """Whether the photo is in the top folder we put it in (`put_in`; None: we never put it
    anywhere, or an undo took it back), renamed there or not."""
    return put_in is not None and put_in.casefold() == now_in.casefold()


def lessons(now_in: str, put_in: str | None, is_class_folder: Callable[[str], bool],
            inbox: str) -> tuple[Lesson, ...]:
    """What a photo in the top folder `now_in` teaches, given the top folder we put it in (None if
    we never did), which folders stand for a class and the inbox ("All", "Photos/Inbox"): an example
    of the folder it is in, and a counter-example of the folder we put it in when the user moved it
    from there; nothing when it is back in the inbox's top folder or still where we put it."""
    if now_in.casefold() == top_folder(inbox).casefold() or put_there(now_in, put_in):
        return ()
    taught = [Lesson(now_in, "example")] if is_class_folder(now_in) else []
    if put_in is not None and is_class_folder(put_in):  # an unsorted photo the user sorted is no correction
        taught.append(Lesson(put_in, "counter"))
    return tuple(taught)
