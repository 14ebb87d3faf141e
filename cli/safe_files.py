"""Safe local file handling for `main.py --folder DIR`: every path is reached from a directory
descriptor with O_NOFOLLOW, so a symlink, wherever it sits, is neither read nor followed out of DIR,
and a file name never becomes a path outside DIR; a move never overwrites (a clash is autorenamed
the way Dropbox does it, "photo (1).jpg").

Here: the open flags (DIR_FLAGS, FILE_FLAGS), open_folder, read_photo, file_identity, autorename and
move_without_overwrite. The sort (cli/folder_photos.py), its examples (cli/folder_examples.py) and
--undo (cli/folder_undo.py) touch the folder through these alone.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence

from chalicelib.rules.photo_files import MAX_BYTES, too_large

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO swapped in after the scan must not hang the open.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class NotAFile(OSError):
    """What stands at a photo's path is no regular file (a FIFO, a device...)."""


def open_folder(base_fd: int, parts: Sequence[str], make: bool = False,
                made: Callable[[str], None] | None = None) -> int:
    """A new descriptor for <base>/<parts...>, reached without following symlinks (each folder
    made first if `make`; `made` is told each one it made, as "Cat/2024", parents first)."""
    fd = os.dup(base_fd)
    try:
        for n, part in enumerate(parts):
            if make:
                try:
                    os.mkdir(part, dir_fd=fd)
                    if made is not None:
                        made("/".join(parts[:n + 1]))
                except FileExistsError:
                    pass
            sub = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_photo(base_fd: int, path: str, max_bytes: int | None = None) -> tuple[os.stat_result, bytes]:
    """The bytes of the file at `path` ("trip/a.jpg", relative to the folder `base_fd`) and its
    fstat, reached without following symlinks. Refused by its size (over `max_bytes`, default
    photo_files.MAX_BYTES) before a byte is read.

    Raises OSError (NotAFile for anything but a regular file) or ImageTooLarge.
    """
    *folders, name = path.split("/")
    parent = open_folder(base_fd, folders)
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=parent)
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile("not a regular file")
        if (error := too_large(info.st_size, max_bytes)) is not None:
            raise error
        # One byte over the limit is enough to refuse a file that grew since fstat.
        return info, handle.read((max_bytes or MAX_BYTES) + 1)


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


def read_small(dir_fd: int, name: str, limit: int = 4 * 1024 * 1024) -> bytes | None:
    """The bytes of the regular file `name` in `dir_fd` (a sidecar), None when there is none;
    a symlink or anything but a regular file raises OSError (NotAFile)."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise NotAFile("not a regular file of at most 4 MB")
        return handle.read(limit + 1)


def replace_file(dir_fd: int, name: str, data: bytes) -> None:
    """Write `name` in `dir_fd` whole or not at all: a new file beside it, renamed over it (a
    symlink at `name` is replaced, never followed)."""
    partial = f".{name}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.rename(partial, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(partial, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
