"""Examples for `main.py --folder DIR`: the photos in DIR/<Class>/ (and in its date folders,
DIR/<Class>/2024/, as --by-date sorts) that this tool did not put there.

Every move the tool makes is written to DIR/.image-categorizer/moves.jsonl (the file's identity and
where it went): that is where the tool put each photo, and the rule shared with the service
(chalicelib/rules/learning.py) says what a photo teaches. A photo in a class folder that the
journal does not put there is the user's: an example of that class and, when the journal had put it
in another class folder, a counter-example of that class too (a correction). Deleting an example, or moving it away, is seen at the next run.
Features are cached beside the journal, by file identity, so a run computes only new examples'.
Folders are read as the sorting reads DIR/All: no symlink is followed.
"""
from __future__ import annotations

import base64
import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from chalicelib.rules import examples, learning
from chalicelib.rules.configuration import INBOX, MAX_EXAMPLES, folder_name, is_date_folder, top_folder
from chalicelib.rules.photo_files import MAX_RAW_BYTES, ImageError, kind_of, not_sortable, preview_of
from chalicelib.rules.ports import PhotoFeatures
from cli.journal import STATE_DIR, Journal
from cli.safe_files import DIR_FLAGS, file_identity, read_photo

CACHE = "features.json"
BATCH = 16


@dataclass(frozen=True)
class Found:
    path: str      # relative to DIR: "Grandma/a.jpg"
    identity: str  # device, inode, size, modification time (cli/safe_files.py)
    mtime: float


@dataclass(frozen=True)
class Teaching:
    """Per class (as configured): its examples and counter-examples, newest last."""

    positives: dict[str, list[Found]]
    negatives: dict[str, list[Found]]

    def counts(self) -> dict[str, int]:
        return {label: len(found) for label, found in self.positives.items()}


def teaching(root: Path, classes: Collection[str], inbox: str = INBOX) -> Teaching:
    """What the class folders teach, without reading a photo: cheap enough to run before the
    classes are validated (an unknown name needs its examples). `inbox`: DIR's inbox ("All")."""
    placed = Journal(root).placed()
    # Only the classes of this run matter (the service keeps every class folder's: a later
    # /configure may name it).
    by_folder = {folder_name(c).casefold(): c for c in classes}
    positives: dict[str, list[Found]] = {c: [] for c in classes}
    negatives: dict[str, list[Found]] = {c: [] for c in classes}

    def configured(folder: str) -> bool:
        return folder.casefold() in by_folder

    for folder, found in _class_folders(root, top_folder(inbox)):
        for photo in found:
            for lesson in learning.lessons(folder, placed.get(photo.identity), configured, inbox):
                label = by_folder[lesson.folder.casefold()]
                (positives if lesson.role == "example" else negatives)[label].append(photo)
    return Teaching({c: _oldest_first(f) for c, f in positives.items()},
                    {c: _oldest_first(f) for c, f in negatives.items()})


def _oldest_first(found: list[Found]) -> list[Found]:
    return sorted(found, key=lambda f: (f.mtime, f.path))


def load(root: Path, taught: Teaching, classifier: PhotoFeatures) -> examples.Examples:
    """The examples' features (cached by identity), for the classes that have any."""
    cache_path = root / STATE_DIR / CACHE
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    wanted = {f.identity: f for found in (*taught.positives.values(), *taught.negatives.values())
              for f in found[-MAX_EXAMPLES:]}
    missing = [f for identity, f in wanted.items() if identity not in cache]
    for start in range(0, len(missing), BATCH):
        batch = missing[start:start + BATCH]
        for found, features in zip(batch, classifier.features_batch([_read(root, f.path) for f in batch])):
            if not isinstance(features, Exception):
                cache[found.identity] = base64.b64encode(examples.encode(features)).decode()
    if missing:
        cache = {identity: cache[identity] for identity in wanted if identity in cache}
        cache_path.parent.mkdir(exist_ok=True)
        cache_path.write_text(json.dumps(cache), encoding="utf-8")

    def rows(found: list[Found]) -> list[bytes]:
        return [base64.b64decode(cache[f.identity]) for f in found if f.identity in cache]

    return {label: examples.stored(rows(taught.positives[label]), rows(taught.negatives[label]))
            for label in taught.positives if taught.positives[label] or taught.negatives[label]}


def _class_folders(root: Path, inbox_top: str) -> Iterator[tuple[str, list[Found]]]:
    """Each top-level folder but the one holding the inbox and hidden ones, with the photos directly
    in it and in its date folders ("2024", "2024-06")."""
    with os.scandir(root) as entries:
        folders = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False)
                         and not e.name.startswith(".") and e.name.casefold() != inbox_top.casefold())
    for folder in folders:
        found: list[Found] = []
        _photos_in(root, folder, found, dated=True)
        yield folder, found


def _photos_in(root: Path, folder: str, found: list[Found], dated: bool) -> None:
    """The photos directly in DIR/folder, and with `dated` in its date folders, added to `found`."""
    try:
        fd = os.open(root / folder, DIR_FLAGS)
    except OSError:
        return
    dates = []
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not_sortable(entry.name, ("photo", "raw")) is None:
                    info = entry.stat(follow_symlinks=False)
                    found.append(Found(f"{folder}/{entry.name}", file_identity(info), info.st_mtime))
                elif dated and entry.is_dir(follow_symlinks=False) and is_date_folder(entry.name):
                    dates.append(entry.name)
    finally:
        os.close(fd)
    for date in sorted(dates):
        _photos_in(root, f"{folder}/{date}", found, dated=False)


def _read(root: Path, path: str) -> bytes:
    """The photo's bytes (a RAW file's embedded preview), or b"" when it is gone since the scan or
    none to read: the classifier reports an empty file, and it is left out."""
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if kind_of(path) == "raw":
                return preview_of(read_photo(root_fd, path, MAX_RAW_BYTES)[1])
            return read_photo(root_fd, path)[1]
        finally:
            os.close(root_fd)
    except (OSError, ImageError):  # gone, too large, or a RAW without a preview
        return b""
