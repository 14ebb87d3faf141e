"""Sort a local folder in-process, as the service sorts Dropbox: DIR/All/** -> DIR/<Class>/.

Photos are taken from All and its subfolders (a user who drops a whole folder of photos into All
expects them sorted too) and land flat in the class folder: the class is the new organisation.
Every path is opened relative to a directory descriptor with O_NOFOLLOW, so a symlink, wherever it
sits, is neither read nor followed out of DIR, and a file name never becomes a path outside DIR.
A move never overwrites: a clash is autorenamed the way Dropbox does it, "photo (1).jpg".
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import images
from .class_config import SortConfig
from .classifier import Classifier

INBOX = "All"
BATCH_SIZE = 16
# A batch also ends at this many bytes, so 16 large photos are never all in memory at once.
BATCH_BYTES = 64 * 1024 * 1024

# Errors that are not about the photo itself: the file could not be read, kept or moved.
FAILURES = frozenset({"unreadable", "changed", "move_failed"})

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO swapped in after the scan must not hang the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class FolderError(Exception):
    """The folder as a whole cannot be sorted (no inbox, inbox is a symlink...)."""


@dataclass(frozen=True)
class SortResult:
    """One photo. Paths are relative to DIR, with "/": file "All/trip/a.jpg", moved_to "Cat/a.jpg".

    `label` None with no `error` means unsorted. `moved_to` is None in a dry run and for a photo
    left in All, whose `error` is a short code (images.ImageError.reason, "unreadable",
    "changed" or "move_failed") and `detail` says why in words.
    """

    file: str
    label: str | None
    score: float
    moved_to: str | None
    error: str | None = None
    detail: str | None = None

    @property
    def failed(self) -> bool:
        return self.error in FAILURES


@dataclass(frozen=True)
class _Photo:
    file: str
    data: bytes
    identity: tuple[int, int, int, int]


def find_photos(root: Path) -> list[str]:
    """Image-named regular files under DIR/All, relative to DIR, in a stable order."""
    with _Tree(root) as tree:
        found: list[str] = []
        tree.walk(tree.inbox, INBOX, found)
        return found


def sort_photos(root: Path, photos: Sequence[str], config: SortConfig, classifier: Classifier,
                dry_run: bool = False, batch_size: int = BATCH_SIZE) -> Iterator[SortResult]:
    """Classify and move `photos` (from find_photos), yielding one result per photo, in order.

    One classify_batch call per batch; stopping the iteration stops between photos, each move
    being atomic.
    """
    with _Tree(root) as tree:
        batch: list[_Photo | SortResult] = []
        size = 0
        for file in photos:
            item = tree.read(file)
            batch.append(item)
            size += len(item.data) if isinstance(item, _Photo) else 0
            if len(batch) >= batch_size or size >= BATCH_BYTES:
                yield from _finish(tree, batch, config, classifier, dry_run)
                batch, size = [], 0
        yield from _finish(tree, batch, config, classifier, dry_run)


def _finish(tree: "_Tree", batch: list[_Photo | SortResult], config: SortConfig,
            classifier: Classifier, dry_run: bool) -> Iterator[SortResult]:
    photos = [item for item in batch if isinstance(item, _Photo)]
    outcomes = iter(classifier.classify_batch([p.data for p in photos], config.classes, config.threshold))
    for item in batch:
        if isinstance(item, SortResult):
            yield item
            continue
        outcome = next(outcomes)
        if isinstance(outcome, images.ImageError):
            yield SortResult(item.file, None, 0.0, None, outcome.reason, str(outcome))
        elif dry_run:
            yield SortResult(item.file, outcome.label, outcome.score, None)
        else:
            folder = config.folder_for(outcome.label).lstrip("/")
            yield tree.move(item, folder, outcome.label, outcome.score)


class _Tree:
    """Descriptors for DIR and DIR/All, and the folders photos are moved into."""

    def __init__(self, root: Path):
        self.root_path = root
        self._folders: dict[str, int] = {}

    def __enter__(self) -> "_Tree":
        try:
            self.root = os.open(self.root_path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise FolderError(f"cannot open {self.root_path}: {e.strerror}") from None
        try:
            self.inbox = os.open(INBOX, _DIR_FLAGS, dir_fd=self.root)
        except OSError as e:
            os.close(self.root)
            raise FolderError(
                f"cannot open {self.root_path / INBOX} as a plain folder: {e.strerror}") from None
        return self

    def __exit__(self, *exc) -> None:
        for fd in [self.inbox, self.root, *self._folders.values()]:
            os.close(fd)

    def walk(self, fd: int, prefix: str, found: list[str]) -> None:
        """Raises FolderError for a folder it cannot list, rather than silently skip its photos."""
        # Hidden entries are skipped: "._x.jpg" AppleDouble files and thumbnail caches are not photos.
        try:
            with os.scandir(fd) as listing:
                entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as e:
            raise FolderError(f"cannot list {prefix}: {e.strerror}") from None
        for entry in entries:
            path = f"{prefix}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                try:
                    sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    raise FolderError(f"cannot open {path}: {e.strerror}") from None
                try:
                    self.walk(sub, path, found)
                finally:
                    os.close(sub)
            elif entry.is_file(follow_symlinks=False) and images.is_image_name(entry.name):
                found.append(path)

    def _parent(self, file: str) -> tuple[int, str]:
        """A new descriptor for the folder holding `file` ("All/a/b.jpg"), reached without symlinks."""
        *folders, name = file.split("/")[1:]
        fd = os.dup(self.inbox)
        try:
            for folder in folders:
                sub = os.open(folder, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = sub
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def read(self, file: str) -> _Photo | SortResult:
        try:
            parent, name = self._parent(file)
            try:
                fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
            finally:
                os.close(parent)
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    return SortResult(file, None, 0.0, None, "unreadable", "not a regular file")
                if info.st_size > images.MAX_BYTES:
                    error = images.ImageTooLarge(
                        f"the file has {info.st_size} bytes, over the limit of {images.MAX_BYTES}")
                    return SortResult(file, None, 0.0, None, error.reason, str(error))
                # One byte over the limit is enough to refuse a file that grew since fstat.
                data = handle.read(images.MAX_BYTES + 1)
        except OSError as e:
            return SortResult(file, None, 0.0, None, "unreadable", e.strerror or str(e))
        return _Photo(file, data, _identity(info))

    def _folder(self, name: str) -> int:
        if name not in self._folders:
            try:
                os.mkdir(name, dir_fd=self.root)
            except FileExistsError:
                pass
            self._folders[name] = os.open(name, _DIR_FLAGS, dir_fd=self.root)
        return self._folders[name]

    def move(self, photo: _Photo, folder: str, label: str | None, score: float) -> SortResult:
        def left(code: str, detail: str) -> SortResult:
            return SortResult(photo.file, label, score, None, code, detail)

        try:
            target = self._folder(folder)
        except OSError as e:
            return left("move_failed", f"cannot use {folder}/ as a plain folder: {e.strerror}")
        try:
            parent, name = self._parent(photo.file)
        except OSError as e:
            return left("move_failed", e.strerror or str(e))
        try:
            if _identity(os.stat(name, dir_fd=parent, follow_symlinks=False)) != photo.identity:
                return left("changed", "the file changed while it was being classified")
            moved = _move_without_overwrite(parent, name, target)
        except OSError as e:
            return left("move_failed", e.strerror or str(e))
        finally:
            os.close(parent)
        return SortResult(photo.file, label, score, f"{folder}/{moved}")


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def autorename(name: str, n: int) -> str:
    """Dropbox's style for the n-th clash: "photo.jpg" -> "photo (1).jpg"."""
    stem, suffix = os.path.splitext(name)
    return f"{stem} ({n}){suffix}" if n else name


def _move_without_overwrite(source_dir: int, name: str, target_dir: int) -> str:
    """Move to the first free autorenamed name in `target_dir`; returns the name used.

    The name is reserved with O_EXCL (no race with another writer choosing it), then the photo
    is renamed over that empty placeholder. Unlike a hard link, this works on FAT/exFAT too.
    """
    n = 0
    while True:
        candidate = autorename(name, n)
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
