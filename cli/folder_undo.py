"""`main.py --folder DIR --undo`: put every photo the last run moved back where it came from, and
take the labels the last `--tag` run added off the photos' XMP sidecars.

The run's journal (DIR/.image-categorizer/moves.jsonl, cli/journal.py) says, for each move,
which file it was (device, inode, size, modification time), where it came from and where it went.
This module gathers the facts (where that very file is now, looked for in the class folders the
run put photos in) and the rule shared with the service's POST /undo (chalicelib/rules/undo.py)
says what goes back: only a photo still where the run put it. One the user moved, changed or
deleted since is left alone and named in the report, with the service's reasons. Nothing is
overwritten (a name taken meanwhile gets a numbered name, as in a sort), and the class folders and
date folders (--by-date) the run made are removed when they are empty again (the service leaves
them: it never deletes).

A tagged photo's sidecar that nothing wrote to since the run is put back byte for byte as it was
(deleted, when the run created it); one written to since loses only the labels the run added (and
goes, when the run created it and nothing else is left in it).
"""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.rules import undo
from chalicelib.rules.configuration import top_folder
from cli.folder_photos import FolderError
from cli import sidecars
from cli.journal import STATE_DIR, Journal, JournalTags
from cli.safe_files import file_identity, move_without_overwrite, open_folder, read_small, replace_file


@dataclass
class Undone:
    run: str
    put_back: list[tuple[str, str]] = field(default_factory=list)  # (where it was, where it is now)
    left: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was left there)
    untagged: list[tuple[str, list[str]]] = field(default_factory=list)  # (photo, the labels taken off)


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
        where = _where(root_fd, {top_folder(move.to) for move in run.moves})
        for move in reversed(run.moves):
            # The last run not undone: no later run's move of a photo stands (an undone one's no more).
            found = undo.verdict(move.to, where.get(move.identity), sorted_again=False)
            if isinstance(found, undo.Left):
                undone.left.append((move.to, found.reason))
                continue
            now, why = _put_back(root_fd, move.identity, found.now, move.came_from)
            if now is not None:
                undone.put_back.append((found.now, now))
            else:
                undone.left.append((move.to, why or ""))
        # Where each tagged photo is now: anywhere in DIR, as the service finds a file by its id.
        anywhere = _where_anywhere(root_fd) if run.tags else {}
        for tags in reversed(run.tags):
            found = undo.verdict(tags.photo, anywhere.get(tags.identity), sorted_again=False)
            if isinstance(found, undo.Left):
                undone.left.append((tags.photo, found.reason))
                continue
            why = _untag(root_fd, tags)
            if why is None:
                undone.untagged.append((tags.photo, tags.added))
            else:
                undone.left.append((tags.photo, why))
        for folder in reversed(run.made):  # a date folder before the class folder it is in
            try:
                os.rmdir(folder, dir_fd=root_fd)
            except OSError:
                pass  # not empty: the user's photos, or one left in place
    finally:
        os.close(root_fd)
    journal.record_undone(run.run)
    return undone


def _where_anywhere(root_fd: int) -> dict[str, str]:
    """Each file's identity -> its path, for every file in DIR but the tool's own (no symlink followed)."""
    found: dict[str, str] = {}
    for path, folders, names, folder_fd in os.fwalk(".", dir_fd=root_fd, follow_symlinks=False):
        if path == ".":
            folders[:] = [f for f in folders if f != STATE_DIR]
        for name in names:
            try:
                info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[file_identity(info)] = f"{path}/{name}".removeprefix("./")
    return found


def _untag(root_fd: int, tags: JournalTags) -> str | None:
    """Take the run's labels off the photo's sidecar; None once done, else why it was left."""
    *folders, name = tags.photo.split("/")
    sidecar = sidecars.sidecar_of(name)
    try:
        parent = open_folder(root_fd, folders)
    except OSError:
        return undo.NOT_THERE
    try:
        now = read_small(parent, sidecar)
        if now is None:
            return f"{sidecar} is gone: no labels to take off"
        if hashlib.sha256(now).hexdigest() == tags.after:  # as the run left it: put back as it was
            restored, nothing_else = tags.before, tags.before is None
        else:  # written to since (another tool, the user): only the run's labels go
            restored, empty = sidecars.without_subjects(now, tags.added)
            nothing_else = empty and tags.before is None
        if nothing_else:
            os.unlink(sidecar, dir_fd=parent)
        elif restored is not None:
            replace_file(parent, sidecar, restored)
    except sidecars.SidecarError as e:
        return f"{sidecar} cannot be read as XMP any more ({e}): left as it is"
    except OSError as e:
        return f"{sidecar}: {e.strerror or e}"
    finally:
        os.close(parent)
    return None


def _where(root_fd: int, folders: Iterable[str]) -> dict[str, str]:
    """Each file's identity -> its path ("Cat/best/a.jpg"), for every file anywhere under these
    top folders (as the service lists the job's folders); no symlink is followed."""
    found: dict[str, str] = {}
    for folder in sorted(folders):
        for path, _, names, folder_fd in os.fwalk(folder, dir_fd=root_fd, follow_symlinks=False):
            for name in names:
                try:
                    info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                except OSError:
                    continue  # gone since the listing
                if stat.S_ISREG(info.st_mode):
                    found[file_identity(info)] = f"{path}/{name}"
    return found


def _put_back(root_fd: int, identity: str, now: str, came_from: str) -> tuple[str | None, str | None]:
    """(where the photo is now, None) once put back; (None, why) when it was left where it is."""
    here_parts, back_parts = now.split("/"), came_from.split("/")
    try:
        here = open_folder(root_fd, here_parts[:-1])
    except OSError:
        return None, undo.NOT_THERE
    try:
        try:
            info = os.stat(here_parts[-1], dir_fd=here, follow_symlinks=False)
        except FileNotFoundError:
            return None, undo.NOT_THERE
        if file_identity(info) != identity:
            return None, undo.NOT_THERE  # moved, changed or replaced since it was looked for
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
