"""`main.py --folder DIR --undo`: put every photo the last run moved back where it came from.

The run's journal (DIR/.image-categorizer/moves.jsonl, cli/journal.py) says, for each move,
which file it was (device, inode, size, modification time), where it came from and where it went.
A photo is put back only if that very file is still where the run put it: one the user moved,
changed or deleted since is left alone and named in the report. Nothing is overwritten (a name
taken meanwhile gets a numbered name, as in a sort), and the class folders the run made are
removed when they are empty again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cli.folder_photos import FolderError
from cli.journal import Journal
from cli.safe_files import file_identity, move_without_overwrite, open_folder


@dataclass
class Undone:
    run: str
    put_back: list[tuple[str, str]] = field(default_factory=list)  # (where it was, where it is now)
    left: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was left there)


def undo_last_run(root: Path) -> Undone:
    """Raises FolderError when DIR cannot be opened or no run is left to undo."""
    journal = Journal(root)
    run = journal.last_run()
    if run is None:
        raise FolderError(f"nothing to undo in {root}: no sort of this tool is on record there")
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise FolderError(f"cannot open {root}: {e.strerror}") from None
    undone = Undone(run.run)
    try:
        for move in reversed(run.moves):
            now, why = _put_back(root_fd, move.identity, move.to, move.came_from)
            if now is not None:
                undone.put_back.append((move.to, now))
            else:
                undone.left.append((move.to, why or ""))
        for folder in run.made:
            try:
                os.rmdir(folder, dir_fd=root_fd)
            except OSError:
                pass  # not empty: the user's photos, or one left in place
    finally:
        os.close(root_fd)
    journal.record_undone(run.run)
    return undone


def _put_back(root_fd: int, identity: str, to: str, came_from: str) -> tuple[str | None, str | None]:
    """(where the photo is now, None) once put back; (None, why) when it was left where it is."""
    here_parts, back_parts = to.split("/"), came_from.split("/")
    try:
        here = open_folder(root_fd, here_parts[:-1])
    except OSError:
        return None, "not there any more"
    try:
        try:
            info = os.stat(here_parts[-1], dir_fd=here, follow_symlinks=False)
        except FileNotFoundError:
            return None, "not there any more"
        if file_identity(info) != identity:
            return None, "changed since the sort, so left where it is"
        try:
            back = open_folder(root_fd, back_parts[:-1], make=True)
        except OSError as e:
            return None, f"cannot open {'/'.join(back_parts[:-1])}: {e.strerror}"
        try:
            name = move_without_overwrite(here, here_parts[-1], back, back_parts[-1])
        except OSError as e:
            return None, f"cannot move it back: {e.strerror}"
        finally:
            os.close(back)
    finally:
        os.close(here)
    return "/".join([*back_parts[:-1], name]), None
