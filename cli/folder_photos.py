"""The sorting core's PhotoStore on a local folder, for `main.py --folder DIR`: DIR/All/** -> DIR/<Class>/,
or, for a plain folder of photos without DIR/All, DIR/* -> DIR/<Class>/.

Every file under DIR/All and its subfolders is looked at (a user who drops a whole folder of
photos into All expects them sorted too); in a plain folder, only DIR's own files (its folders
are class folders, or the user's). Photos land flat in the class folder, and every other
file stays where it is and is reported, as in Dropbox. Every path is opened relative to a
directory descriptor with O_NOFOLLOW, so a symlink, wherever it sits, is neither read nor followed
out of DIR, and a file name never becomes a path outside DIR. A move never overwrites: a clash is
autorenamed the way Dropbox does it, "photo (1).jpg".

It is also the core's Originals port: the journal keeps each sorted photo's content hash, so an
exact copy of a photo sorted in this run or an earlier one is known (Dropbox's content_hash).
"""
from __future__ import annotations

import json
import os
import stat
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from chalicelib.rules.configuration import INBOX
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.photo_files import MAX_BYTES, content_hash, not_a_photo, too_large
from chalicelib.rules.ports import Move, Photo

BATCH_SIZE = 16
# The tool's own files in DIR (its journal of moves, the examples' features): never a class folder.
STATE_DIR = ".image-categorizer"
JOURNAL = "moves.jsonl"
# A batch also ends at this many bytes, so 16 large photos are never all in memory at once.
BATCH_BYTES = 64 * 1024 * 1024

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO swapped in after the scan must not hang the open.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK

# One line of the journal (each kind holds some of these: Journal says which).
JournalEntry = TypedDict("JournalEntry", {"run": str, "identity": str, "from": str, "to": str, "hash": str,
                                          "made": str, "undone": str}, total=False)


@dataclass(frozen=True)
class JournalMove:
    identity: str  # file_identity(): the same file, unchanged
    came_from: str  # "All/trip/a.jpg"
    to: str  # "Cat/a.jpg"


@dataclass(frozen=True)
class Run:
    run: str
    moves: list[JournalMove]
    made: list[str]  # the class folders this run created


class Journal:
    """The tool's own moves, one JSON line each: {"run", "identity", "from", "to", "hash"}; a class
    folder a run made, {"run", "made"}; a run undone, {"undone"}. It tells a photo the user put in
    a class folder from one the tool put there (cli/folder_examples.py), lets --undo put a run
    back, and knows which photo of each content the tool sorted."""

    def __init__(self, root: Path, run: str | None = None):
        self.path = root / STATE_DIR / JOURNAL
        self.run = run or f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"

    def record(self, identity: str, came_from: str, to: str, content_hash: str | None = None) -> None:
        self._append({"run": self.run, "identity": identity, "from": came_from, "to": to,
                      **({"hash": content_hash} if content_hash else {})})

    def made(self, folder: str) -> None:
        self._append({"run": self.run, "made": folder})

    def record_undone(self, run: str) -> None:
        self._append({"undone": run})

    def placed(self) -> dict[str, str]:
        """Each moved file's identity -> the top folder the tool last put it in (undone runs aside)."""
        return {e["identity"]: e["to"].split("/", 1)[0] for e in self._standing_moves()}

    def sorted_contents(self) -> dict[str, tuple[str, str]]:
        """Each content hash -> (identity, path) of the photo with it that the tool last moved
        (undone runs aside)."""
        return {e["hash"]: (e["identity"], e["to"]) for e in self._standing_moves() if "hash" in e}

    def _standing_moves(self) -> list[JournalEntry]:
        """The moves of the runs not undone, oldest first."""
        entries = self._entries()
        undone = {e["undone"] for e in entries if "undone" in e}
        return [e for e in entries if "identity" in e and "to" in e and e.get("run") not in undone]

    def last_run(self) -> Run | None:
        """The newest run that moved a photo and is not undone yet."""
        entries = self._entries()
        undone = {e["undone"] for e in entries if "undone" in e}
        runs = [e["run"] for e in entries if "run" in e and "to" in e and "from" in e]
        for run in reversed(list(dict.fromkeys(runs))):
            if run not in undone:
                mine = [e for e in entries if e.get("run") == run]
                return Run(run, [JournalMove(e["identity"], e["from"], e["to"]) for e in mine if "to" in e],
                           [e["made"] for e in mine if "made" in e])
        return None

    def _append(self, entry: JournalEntry) -> None:
        self.path.parent.mkdir(exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry) + "\n")

    def _entries(self) -> list[JournalEntry]:
        if not self.path.exists():
            return []
        entries: list[JournalEntry] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut off by a crash
            if isinstance(entry, dict):
                entries.append(cast(JournalEntry, entry))  # a line _append wrote (or one edited by hand)
        return entries


class FolderError(Exception):
    """The folder as a whole cannot be sorted (no inbox, inbox is a symlink...)."""


class FolderPhotos:
    """Open with `with`: it holds descriptors for DIR, DIR/All and the class folders. A photo's
    ref is its path relative to DIR ("All/trip/a.jpg"), which is also how it is reported."""

    def __init__(self, root: Path):
        self.root_path = root
        self.journal = Journal(root)
        self._folders: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        self._contents: dict[str, tuple[str, str]] | None = None  # read from the journal when first asked

    def __enter__(self) -> "FolderPhotos":
        try:
            self._root = os.open(self.root_path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise FolderError(f"cannot open {self.root_path}: {e.strerror}") from None
        try:
            self._inbox = os.open(INBOX, DIR_FLAGS, dir_fd=self._root)
            self.inbox = INBOX
        except FileNotFoundError:
            # No DIR/All: DIR is a plain folder of photos, and its own files are the inbox.
            self._inbox, self.inbox = os.dup(self._root), ""
        except OSError as e:
            os.close(self._root)
            raise FolderError(f"cannot open {self.root_path / INBOX} as a plain folder: {e.strerror}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in [self._inbox, self._root, *self._folders.values()]:
            os.close(fd)

    # --- finding ----------------------------------------------------------------------------------

    def find(self) -> list[str]:
        """Every regular file under DIR/All (or, without DIR/All, directly in DIR), relative to DIR,
        in a stable order. Raises FolderError for a folder it cannot list, rather than silently
        skip its photos."""
        return list(self._walk(self._inbox, self.inbox, recurse=bool(self.inbox)))

    def _walk(self, fd: int, prefix: str, recurse: bool = True) -> Iterator[str]:
        try:
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            raise FolderError(f"cannot list {prefix}: {e.strerror}") from None
        for entry in entries:
            path = f"{prefix}/{entry.name}" if prefix else entry.name
            if entry.is_dir(follow_symlinks=False):
                if not recurse:
                    continue  # DIR's own folders: class folders, or the user's, never the inbox

                try:
                    sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    raise FolderError(f"cannot open {path}: {e.strerror}") from None
                try:
                    yield from self._walk(sub, path)
                finally:
                    os.close(sub)
            elif entry.is_file(follow_symlinks=False):
                self._sizes[path] = entry.stat(follow_symlinks=False).st_size
                yield path

    def batches(self, files: Sequence[str], size: int = BATCH_SIZE,
                max_bytes: int = BATCH_BYTES) -> Iterator[list[str]]:
        """`files` (from find) in batches of at most `size` files or about `max_bytes`."""
        batch: list[str] = []
        total = 0
        for file in files:
            batch.append(file)
            total += self._sizes.get(file, 0)
            if len(batch) >= size or total >= max_bytes:
                yield batch
                batch, total = [], 0
        if batch:
            yield batch

    # --- the PhotoStore port ----------------------------------------------------------------------

    def read(self, refs: Sequence[str]) -> list[Photo[str] | Outcome]:
        return [self._read(file) for file in refs]

    def _read(self, file: str) -> Photo[str] | Outcome:
        if (error := not_a_photo(file)) is not None:
            return Outcome(file, "skipped", reason=error.reason, detail=str(error))
        try:
            parent, name = self._parent(file)
            try:
                fd = os.open(name, FILE_FLAGS, dir_fd=parent)
            finally:
                os.close(parent)
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    return _failed(file, "unreadable", "not a regular file")
                if (error := too_large(info.st_size)) is not None:
                    return Outcome(file, "skipped", reason=error.reason, detail=str(error))
                # One byte over the limit is enough to refuse a file that grew since fstat.
                data = handle.read(MAX_BYTES + 1)
        except OSError as e:
            return _failed(file, "unreadable", e.strerror or str(e))
        return Photo(file, file, file, data, file_identity(info), content_hash(data))

    def move(self, moves: Sequence[Move[str]]) -> list[str | Outcome]:
        return [self._move(m.photo.ref, m.photo.version, m.folder, m.photo.content_hash) for m in moves]

    def _move(self, file: str, version: str, folder: str, content: str | None = None) -> str | Outcome:
        try:
            target = self._folder(folder)
        except OSError as e:
            return _failed(file, "move_failed", f"cannot use {folder}/ as a plain folder: {e.strerror}")
        try:
            parent, name = self._parent(file)
        except OSError as e:
            return _failed(file, "move_failed", e.strerror or str(e))
        try:
            if file_identity(os.stat(name, dir_fd=parent, follow_symlinks=False)) != version:
                return _failed(file, "changed", "the file changed while it was being classified")
            moved = move_without_overwrite(parent, name, target)
        except OSError as e:
            return _failed(file, "move_failed", e.strerror or str(e))
        finally:
            os.close(parent)
        self.journal.record(version, file, f"{folder}/{moved}", content)
        if content and self._contents is not None and self._contents.get(content, ("",))[0] == version:
            self._contents[content] = (version, f"{folder}/{moved}")  # the first of its content, where it is now
        return f"{folder}/{moved}"

    # --- the Originals port -----------------------------------------------------------------------

    def earlier(self, photos: Sequence[Photo[str]], claim: bool) -> list[str | None]:
        if self._contents is None:
            self._contents = self.journal.sorted_contents()
        where: list[str | None] = []
        for photo in photos:
            known = self._contents.get(photo.content_hash or "")
            if known is not None and known[0] != photo.version and self._unchanged(*known):
                where.append(known[1])
                continue
            where.append(None)
            if claim and photo.content_hash:
                self._contents[photo.content_hash] = (photo.version, photo.path)
        return where

    def withdraw(self, photos: Sequence[Photo[str]]) -> None:
        for photo in photos:
            if self._contents is not None and self._contents.get(photo.content_hash or "", ("",))[0] == photo.version:
                del self._contents[photo.content_hash or ""]

    def _unchanged(self, identity: str, path: str) -> bool:
        """Whether the file at `path` (relative to DIR) is still that one, as it was."""
        *folders, name = path.split("/")
        try:
            parent = open_folder(self._root, folders)
            try:
                return file_identity(os.stat(name, dir_fd=parent, follow_symlinks=False)) == identity
            finally:
                os.close(parent)
        except OSError:
            return False

    # --- descriptors ------------------------------------------------------------------------------

    def _parent(self, file: str) -> tuple[int, str]:
        """A new descriptor for the folder holding `file` ("All/a/b.jpg"), reached without symlinks."""
        *folders, name = file.split("/")[1:] if self.inbox else file.split("/")
        return open_folder(self._inbox, folders), name

    def _folder(self, name: str) -> int:
        if name not in self._folders:
            try:
                os.mkdir(name, dir_fd=self._root)
                self.journal.made(name)
            except FileExistsError:
                pass
            self._folders[name] = os.open(name, DIR_FLAGS, dir_fd=self._root)
        return self._folders[name]


def open_folder(base_fd: int, parts: Sequence[str], make: bool = False) -> int:
    """A new descriptor for <base>/<parts...>, reached without following symlinks (each folder
    made first if `make`)."""
    fd = os.dup(base_fd)
    try:
        for part in parts:
            if make:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            sub = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def _failed(file: str, reason: str, detail: str) -> Outcome:
    return Outcome(file, "failed", reason=reason, detail=detail)


def file_identity(info: os.stat_result) -> str:
    """Which file this is, and which content: device, inode, size and modification time."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def autorename(name: str, n: int) -> str:
    """Dropbox's style for the n-th clash: "photo.jpg" -> "photo (1).jpg"."""
    stem, suffix = os.path.splitext(name)
    return f"{stem} ({n}){suffix}" if n else name


def move_without_overwrite(source_dir: int, name: str, target_dir: int, target_name: str | None = None) -> str:
    """Move to the first free autorenamed `target_name` (default `name`) in `target_dir`; returns
    the name used.

    The name is reserved with O_EXCL (no race with another writer choosing it), then the photo
    is renamed over that empty placeholder. Unlike a hard link, this works on FAT/exFAT too.
    """
    n = 0
    while True:
        candidate = autorename(target_name or name, n)
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                             dir_fd=target_dir))
            break
        except FileExistsError:
            n += 1
    try:
        os.rename(name, candidate, src_dir_fd=source_dir, dst_dir_fd=target_dir)
    except BaseException:
        os.unlink(candidate, dir_fd=target_dir)
        raise
    return candidate
