"""FolderPhotos, the sorting core's PhotoStore on a local folder, for `main.py --folder DIR`:
DIR/All/** -> DIR/<Class>/, or, for a plain folder of photos without DIR/All, DIR/* -> DIR/<Class>/.
With --inbox PATH, DIR/PATH/** is the inbox instead (it must exist).

Every file under DIR/All and its subfolders is looked at (a user who drops a whole folder of
photos into All expects them sorted too); in a plain folder, only DIR's own files (its folders
are class folders, or the user's). Photos land flat in the class folder, and every other
file stays where it is and is reported, as in Dropbox. The folder is read and written through
cli/safe_files.py alone (no symlink followed, no overwrite), and each move is written to the
journal (cli/journal.py).

It is also the core's Originals port: the journal keeps each sorted photo's content hash, so an
exact copy of a photo sorted in this run or an earlier one is known (Dropbox's content_hash).
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from chalicelib.rules.configuration import INBOX
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.photo_files import (
    MAX_RAW_BYTES,
    ImageError,
    companions,
    content_hash,
    kind_of,
    not_sortable,
    pair_key,
    preview_of,
)
from chalicelib.rules.ports import Lead, Move, Photo, Tagging
from cli import sidecars
from cli.journal import Journal
from cli.safe_files import (
    DIR_FLAGS,
    file_identity,
    move_without_overwrite,
    open_folder,
    read_photo,
    read_small,
    replace_file,
)

BATCH_SIZE = 16
# A batch also ends at this many bytes, so 16 large photos are never all in memory at once.
BATCH_BYTES = 64 * 1024 * 1024


class FolderError(Exception):
    """The folder as a whole cannot be sorted (no inbox, inbox is a symlink...)."""


class FolderPhotos:
    """Open with `with`: it holds descriptors for DIR, DIR/All and the class folders. A photo's
    ref is its path relative to DIR ("All/trip/a.jpg"), which is also how it is reported."""

    def __init__(self, root: Path, inbox: str = INBOX):
        self.root_path, self._inbox_path = root, inbox
        self.journal = Journal(root)
        self._folders: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        self._contents: dict[str, tuple[str, str]] | None = None  # read from the journal when first asked
        self._leads: dict[str, str] = {}  # a file that goes with a photo -> that photo (find)
        self._placed: dict[str, str] = {}  # a photo -> where this run moved it
        self._stays: set[str] = set()  # photos tagged where they are, by this run or one not undone

    def __enter__(self) -> "FolderPhotos":
        try:
            self._root = os.open(self.root_path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise FolderError(f"cannot open {self.root_path}: {e.strerror}") from None
        try:
            self._inbox = open_folder(self._root, self._inbox_path.split("/"))
            self.inbox = self._inbox_path
        except FileNotFoundError:
            if self._inbox_path != INBOX:
                os.close(self._root)
                raise FolderError(f"there is no inbox {self.root_path / self._inbox_path}") from None
            # No DIR/All: DIR is a plain folder of photos, and its own files are the inbox.
            self._inbox, self.inbox = os.dup(self._root), ""
        except OSError as e:
            os.close(self._root)
            raise FolderError(f"cannot open {self.root_path / self._inbox_path} as a plain folder: "
                              f"{e.strerror}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in [self._inbox, self._root, *self._folders.values()]:
            os.close(fd)

    # --- finding ----------------------------------------------------------------------------------

    def find(self) -> list[str]:
        """Every regular file under DIR/All (or, without DIR/All, directly in DIR), relative to DIR,
        in a stable order: the files that go with a photo of their name (a Live Photo's video...)
        last, so that each photo is sorted before them. Raises FolderError for a folder it cannot
        list, rather than silently skip its photos."""
        files = list(self._walk(self._inbox, self.inbox, recurse=bool(self.inbox)))
        self._leads = companions(files)
        # One that came after its photo was sorted (by an earlier run) follows it, if it is still there.
        earlier = self.journal.photos_by_name()
        for file in files:
            if file not in self._leads and kind_of(file) in ("raw", "video", "sidecar"):
                identity, came_from, to = earlier.get(pair_key(file), ("", file, ""))
                if came_from != file and to and self._unchanged(identity, to):
                    self._leads[file], self._placed[came_from] = came_from, to
        return [f for f in files if f not in self._leads] + [f for f in files if f in self._leads]

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

    def read(self, refs: Sequence[str], inbox: str) -> list[Photo[str] | Outcome]:
        """`inbox` is the one this folder was opened with."""
        return [self._read(file) for file in refs]

    def _read(self, file: str) -> Photo[str] | Outcome:
        """A photo's bytes, a RAW's preview, only the identity of a video or a sidecar."""
        if (error := not_sortable(file)) is not None:
            return Outcome.skipped(file, error)
        kind = kind_of(file)
        try:
            if kind in ("video", "sidecar"):
                parent, name = self._parent(file)
                try:
                    info, data = os.stat(name, dir_fd=parent, follow_symlinks=False), b""
                finally:
                    os.close(parent)
            else:
                info, data = read_photo(self._inbox, self._in_inbox(file),
                                        MAX_RAW_BYTES if kind == "raw" else None)
            whole = content_hash(data) if data else None
            if kind == "raw":
                data = preview_of(data)
        except ImageError as not_usable:  # too large, or a RAW without a preview
            return Outcome.skipped(file, not_usable)
        except OSError as e:
            return _failed(file, "unreadable", e.strerror or str(e))
        return Photo(file, file, file, data, file_identity(info), whole, info.st_mtime, file in self._leads)

    def move(self, moves: Sequence[Move[str]], inbox: str) -> list[str | Outcome]:
        return [self._move(m.photo.ref, m.photo.version, m.folder, m.photo.content_hash, m.name) for m in moves]

    def leads(self, refs: Sequence[str], inbox: str, placed: Mapping[str, str]) -> list[Lead | None]:
        """Each file's photo was sorted before it (find puts it first): it follows it where this
        run moved it (or a dry run would), stays beside it when it is tagged where it is, or goes on
        its own when it was neither."""
        leads: list[Lead | None] = []
        for ref in refs:
            lead = self._leads.get(ref, "")
            to = placed.get(lead) or self._placed.get(lead)
            leads.append(Lead.placed(to) if to else Lead("stays", lead) if lead in self._stays else None)
        return leads

    def _move(self, file: str, version: str, folder: str, content: str | None = None,
              rename: str | None = None) -> str | Outcome:
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
            moved = move_without_overwrite(parent, name, target, rename)
        except OSError as e:
            return _failed(file, "move_failed", e.strerror or str(e))
        finally:
            os.close(parent)
        self.journal.record(version, file, f"{folder}/{moved}", content)
        self._placed[file] = f"{folder}/{moved}"
        if content and self._contents is not None and self._contents.get(content, ("",))[0] == version:
            self._contents[content] = (version, f"{folder}/{moved}")  # the first of its content, where it is now
        return f"{folder}/{moved}"

    def tag(self, taggings: Sequence[Tagging[str]], inbox: str) -> list[tuple[str, ...] | Outcome]:
        """Each photo's labels into its XMP sidecar ("a.jpg.xmp" beside it), merged into one that
        exists; the photo is only looked at (its identity), never opened for writing."""
        return [self._tag(t.photo.ref, t.photo.version, t.tags) for t in taggings]

    def _tag(self, file: str, version: str, tags: tuple[str, ...]) -> tuple[str, ...] | Outcome:
        try:
            parent, name = self._parent(file)
        except OSError as e:
            return _failed(file, "tag_failed", e.strerror or str(e))
        sidecar = sidecars.sidecar_of(name)
        try:
            if file_identity(os.stat(name, dir_fd=parent, follow_symlinks=False)) != version:
                return _failed(file, "changed", "the file changed while it was being classified")
            before = read_small(parent, sidecar)
            after, added = sidecars.with_subjects(before, tags)
            if added:
                replace_file(parent, sidecar, after)
        except sidecars.SidecarError as e:
            return _failed(file, "tag_failed", f"{sidecar} cannot take the labels: {e}")
        except OSError as e:
            return _failed(file, "tag_failed", f"{sidecar}: {e.strerror or e}")
        finally:
            os.close(parent)
        if added:
            self.journal.record_tags(version, file, added, before, after)
        self._stays.add(file)
        return added

    def tagged_already(self, files: Sequence[str]) -> set[str]:
        """Those of `files` (from find) a run not undone tagged where they are: a sort leaves them,
        as the service leaves the photos it tagged (flows/inbox.py)."""
        tagged = self.journal.tagged()
        found = set()
        for file in files:
            try:
                parent, name = self._parent(file)
            except OSError:
                continue
            try:
                if file_identity(os.stat(name, dir_fd=parent, follow_symlinks=False)) in tagged:
                    found.add(file)
                    self._stays.add(file)
            except OSError:
                pass
            finally:
                os.close(parent)
        return found

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

    def _in_inbox(self, file: str) -> str:
        """`file` ("All/a/b.jpg") relative to the inbox ("a/b.jpg")."""
        return file[len(self.inbox) + 1:] if self.inbox else file

    def _parent(self, file: str) -> tuple[int, str]:
        """A new descriptor for the folder holding `file` ("All/a/b.jpg"), reached without symlinks."""
        *folders, name = self._in_inbox(file).split("/")
        return open_folder(self._inbox, folders), name

    def _folder(self, name: str) -> int:
        """The folder `name` ("Cat", "Cat/2024"), each folder of it made when missing and journaled
        as made (parents first), so --undo removes those it empties."""
        if name not in self._folders:
            self._folders[name] = open_folder(self._root, name.split("/"), make=True, made=self.journal.made)
        return self._folders[name]


def _failed(file: str, reason: str, detail: str) -> Outcome:
    return Outcome(file, "failed", reason=reason, detail=detail)
