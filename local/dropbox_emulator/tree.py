"""The emulated Dropbox's files: a folder on disk (display case kept) and the index Dropbox keeps of it.

Each entry gets what Dropbox gives it: a stable `id:` that survives moves, a rev that changes with
the content, the Dropbox content hash, and case-insensitive lookup. Every change is appended to a
log with a sequence number, which is what list_folder cursors point into.

Dropbox never changes a file's id, and the service keeps everything by it. Given an `ids_file`, the
tree keeps each entry's id, rev and hash there, and a later tree on the same folder takes them up
again: a file where it was keeps its id (and its rev while its content is the same); one that left
a path while another with its content appeared elsewhere, in one scan or while nothing ran, was
moved, and keeps its id too.

The user-facing methods (put ... scan) take `lock`; the others expect the caller to hold it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .replies import conflict, tagged

BLOCK_SIZE = 4 * 1024 * 1024


def content_hash(data: bytes) -> str:
    """Dropbox's content_hash: SHA-256 of the concatenated SHA-256s of each 4 MiB block."""
    blocks = b"".join(hashlib.sha256(data[i:i + BLOCK_SIZE]).digest()
                      for i in range(0, len(data), BLOCK_SIZE))
    return hashlib.sha256(blocks).hexdigest()


def _now() -> datetime:
    # Stone timestamps are naive UTC with whole seconds, like Dropbox's.
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass
class Node:
    id: str
    path: str  # display path
    folder: bool
    rev: str = ""
    size: int = 0
    hash: str | None = None
    modified: datetime | None = None
    stamp: tuple[int, int] | None = None  # (mtime_ns, size) on disk when indexed, for scan()
    # Dropbox's tags (files/tags/add), lower case, oldest first. They belong to the entry, so they
    # follow it through every move, as its id does.
    tags: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


class Tree:
    def __init__(self, root: Path, lock: threading.RLock, ids_file: Path | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = lock
        self.ids_file = Path(ids_file) if ids_file is not None else None
        # What an earlier tree knew (path_lower -> entry), until scan() has matched it to the disk.
        self._known: dict[str, Node] = self._load_ids()
        self._saved_seq = 0
        self.nodes: dict[str, Node] = {}  # path_lower -> node
        self.log: list[tuple[int, str, str]] = []  # (seq, path_lower, path_display)
        self.seq = 0
        # Bumped by reset(): older cursors get list_folder/continue "reset". Random at the start, so
        # that a cursor kept from another emulator run (the local stack keeps its state) is reset
        # too, rather than read against a change log it never saw.
        self.epoch = random.getrandbits(31)
        if self._known:
            self.scan()  # the entries on disk take up their ids before anyone asks for them

    def reset(self) -> None:
        """Empty the folder, the index, the change log and the ids kept for a later run."""
        for child in self.root.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        self.nodes.clear()
        self.log.clear()
        self._known.clear()
        self.epoch += 1
        self.save()

    def reset_cursors(self) -> None:
        """Void every list_folder cursor issued so far (list_folder/continue answers "reset"), as
        Dropbox does now and then; the files, their ids and the change log stay."""
        with self.lock:
            self.epoch += 1

    # --- as the user sees it ---------------------------------------------------------------------

    def put(self, path: str, data: bytes) -> str:
        """Add or replace a file as the user would; returns its id."""
        with self.lock:
            return self.write(self._check_path(path), data).id

    def read(self, path: str) -> bytes:
        with self.lock:
            node = self.nodes.get(path.lower())
            if node is None or node.folder:
                raise FileNotFoundError(path)
            return self.content(node)

    def files(self, under: str = "/") -> dict[str, bytes]:
        with self.lock:
            return {n.path: self.content(n)
                    for n in self._under(under.rstrip("/").lower(), recursive=True) if not n.folder}

    def exists(self, path: str) -> bool:
        with self.lock:
            return path.rstrip("/").lower() in self.nodes

    def id_of(self, path: str) -> str | None:
        """The `id:` of the entry at `path` (any case), None if there is none."""
        with self.lock:
            node = self.nodes.get(path.rstrip("/").lower())
            return None if node is None else node.id

    def path_of(self, file_id: str) -> str | None:
        """Where the entry with `file_id` is now (display path), None once it is deleted."""
        with self.lock:
            node = self.resolve(file_id)
            return None if node is None else node.path

    def tags_of(self, path_or_id: str) -> list[str]:
        """The tags of the entry at a path or with an `id:` (as files/tags/get answers them)."""
        with self.lock:
            node = self.resolve(path_or_id)
            if node is None:
                raise FileNotFoundError(path_or_id)
            return list(node.tags)

    def is_folder(self, path: str) -> bool:
        with self.lock:
            node = self.nodes.get(path.rstrip("/").lower())
            return node is not None and node.folder

    def user_move(self, src: str, dst: str) -> None:
        with self.lock:
            node = self.nodes.get(src.rstrip("/").lower())
            if node is None:
                raise FileNotFoundError(src)
            if dst.rstrip("/").lower() in self.nodes:
                raise FileExistsError(dst)
            self.move(node, self.display(self._check_path(dst)))

    def user_delete(self, path: str) -> None:
        with self.lock:
            node = self.nodes.get(path.rstrip("/").lower())
            if node is None:
                raise FileNotFoundError(path)
            doomed = [node, *self._under(node.path.lower(), recursive=True)]
            disk = self._disk(node.path)
            shutil.rmtree(disk) if node.folder else disk.unlink()
            for n in doomed:
                del self.nodes[n.path.lower()]
                self._touch(n.path)

    def scan(self, settle: float = 0.0) -> list[str]:
        """Index what was put on (or removed from, or moved on) disk directly; returns added or
        changed files.

        A file modified less than `settle` seconds ago is still being written: it is left for a
        later scan, as Dropbox only shows a file once its upload is complete."""
        changed: list[str] = []
        now = time.time()
        with self.lock:
            seen: set[str] = set()
            settling: set[str] = set()
            arrived: list[tuple[str, os.stat_result, Node | None]] = []  # new or changed on disk
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames.sort()
                rel = Path(dirpath).relative_to(self.root).as_posix()
                parent = "" if rel == "." else "/" + rel
                for name in dirnames:
                    path = f"{parent}/{name}"
                    seen.add(path.lower())
                    if path.lower() not in self.nodes:
                        known = self._known.get(path.lower())
                        folder_id = known.id if known is not None and known.folder else self._new_id()
                        self.nodes[path.lower()] = Node(folder_id, path, folder=True)
                        self._touch(path)
                for name in sorted(filenames):
                    path = f"{parent}/{name}"
                    try:
                        st = (self.root / path.lstrip("/")).stat()
                    except FileNotFoundError:
                        continue  # moved away while we walked
                    seen.add(path.lower())
                    node = self.nodes.get(path.lower())
                    if now - st.st_mtime < settle:
                        settling.add(path.lower())
                        continue
                    if node is None or node.stamp != (st.st_mtime_ns, st.st_size):
                        arrived.append((path, st, node))
            gone = [self.nodes.pop(lower) for lower in [k for k in self.nodes if k not in seen]]
            gone_paths = [n.path for n in gone]  # logged as deleted, moved or not
            # A file that left its path in this scan, or that an earlier tree knew and is not
            # where it was, may be what appeared elsewhere with its content: a move.
            departed: dict[str, list[Node]] = {}
            for node in [*gone, *(n for k, n in self._known.items() if k not in seen)]:
                if not node.folder:
                    departed.setdefault(node.hash, []).append(node)
            for path, st, node in arrived:
                known = self._known.get(path.lower()) if node is None else None
                if known is not None and not known.folder and known.stamp == (st.st_mtime_ns, st.st_size):
                    # Untouched since the earlier tree hashed it: taken up as it was, not read again.
                    known.path = path
                    self.nodes[path.lower()] = known
                    self._touch(path)
                    changed.append(path)
                    continue
                data = (self.root / path.lstrip("/")).read_bytes()
                digest = content_hash(data)
                if node is None and known is not None and not known.folder:
                    node = known  # the earlier tree's entry at this path: its content may have changed
                elif node is None:
                    node = self._moved_here(path, digest, departed)
                same = node is not None and node.hash == digest
                self._index_file(path, data, node, datetime.fromtimestamp(
                    int(st.st_mtime), timezone.utc).replace(tzinfo=None), keep_rev=same)
                changed.append(path)
            for path in gone_paths:
                self._touch(path)
            self._known = {k: n for k, n in self._known.items() if k in settling}
            if self.seq != self._saved_seq:
                self.save()
        return changed

    def save(self) -> None:
        """Keep every entry's id, rev and hash in the ids file (if any), for a later tree."""
        if self.ids_file is None:
            return
        with self.lock:
            entries = [{"path": n.path, "id": n.id, "folder": n.folder, "rev": n.rev, "size": n.size,
                        "hash": n.hash, "stamp": list(n.stamp) if n.stamp else None,
                        "modified": n.modified.isoformat() if n.modified else None, "tags": n.tags}
                       for n in [*self.nodes.values(), *self._known.values()]]
            partial = self.ids_file.with_name(self.ids_file.name + ".partial")
            partial.write_text(json.dumps({"entries": entries}))
            partial.replace(self.ids_file)
            self._saved_seq = self.seq

    # --- as the API changes it (lock held) -------------------------------------------------------

    def resolve(self, path: str) -> Node | None:
        """The entry at a path (any case) or with an `id:`."""
        if path.startswith("id:"):
            return next((n for n in self.nodes.values() if n.id == path), None)
        return self.nodes.get(path.rstrip("/").lower())

    def content(self, node: Node) -> bytes:
        return self._disk(node.path).read_bytes()

    def display(self, path: str) -> str:
        """`path` with each existing ancestor spelled the way Dropbox already spells it."""
        parts = path.strip("/").split("/")
        out = []
        for i, part in enumerate(parts):
            node = self.nodes.get(("/" + "/".join(parts[:i + 1])).lower())
            out.append(node.name if node is not None and i < len(parts) - 1 else part)
        return "/" + "/".join(out)

    def listing(self, folder: str, recursive: bool) -> list[Node]:
        """What list_folder shows of `folder` ("" for the root): itself too when recursive."""
        own = [self.nodes[folder]] if folder and recursive else []
        return own + self._under(folder, recursive)

    def make_parents(self, display: str, *where: str) -> None:
        """Create missing ancestor folders; a file in the way is a `file_ancestor` conflict."""
        parts = display.strip("/").split("/")[:-1]
        for i in range(len(parts)):
            path = "/" + "/".join(parts[:i + 1])
            node = self.nodes.get(path.lower())
            if node is None:
                self._disk(path).mkdir(exist_ok=True)
                self.nodes[path.lower()] = Node(self._new_id(), path, folder=True)
                self._touch(path)
            elif not node.folder:
                raise conflict(tagged(*where, "conflict", "file_ancestor"))

    def add_folder(self, display: str) -> Node:
        """A new folder at `display`, whose parent exists."""
        self._disk(display).mkdir()
        node = self.nodes[display.lower()] = Node(self._new_id(), display, folder=True)
        self._touch(display)
        return node

    def write(self, path: str, data: bytes, *where: str) -> Node:
        display = self.display(path)
        existing = self.nodes.get(display.lower())
        if existing is not None and existing.folder:
            raise conflict(tagged(*where, "conflict", "folder"))
        self.make_parents(display, *where)
        if existing is not None:
            display = existing.path
        self._disk(display).write_bytes(data)
        return self._index_file(display, data, existing, _now())

    def move(self, node: Node, to: str) -> Node:
        old = node.path
        moving = [node, *self._under(old.lower(), recursive=True)]
        self.make_parents(to, "to")
        os.rename(self._disk(old), self._disk(to))
        for n in moving:
            del self.nodes[n.path.lower()]
            self._touch(n.path)
        for n in moving:
            n.path = to + n.path[len(old):]
            self.nodes[n.path.lower()] = n
            self._touch(n.path)
        return node

    def autorename(self, display: str) -> str:
        """Dropbox's "photo.jpg" -> "photo (1).jpg" -> "photo (2).jpg"."""
        p = PurePosixPath(display)
        stem, ext = (p.stem, p.suffix) if p.stem else (p.name, "")
        n = 1
        while (candidate := str(p.with_name(f"{stem} ({n}){ext}"))).lower() in self.nodes:
            n += 1
        return candidate

    # --- the change log --------------------------------------------------------------------------

    def cursor(self, **state) -> str:
        """A list_folder cursor holding `state`, stamped with the epoch so reset() voids it."""
        return base64.urlsafe_b64encode(json.dumps({"e": self.epoch, **state}).encode()).decode()

    def read_cursor(self, cursor: str) -> dict | None:
        """The state in `cursor`; None if a reset() came after it, ValueError if it is no cursor."""
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return state if state.pop("e") == self.epoch else None

    def changes(self, folder: str, recursive: bool, since: int) -> list[tuple[int, str, str]]:
        """Log entries after `since` in `folder` ("" for the root): each path once, in its latest
        state, oldest change first."""
        prefix = folder + "/"
        latest: dict[str, tuple[int, str, str]] = {}
        for seq, lower, display in self.log:
            if seq > since and lower.startswith(prefix) and (
                    recursive or "/" not in lower[len(prefix):]):
                latest[lower] = (seq, lower, display)
        return sorted(latest.values())

    # --- internals -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "id:" + secrets.token_urlsafe(16)[:22]

    def _moved_here(self, path: str, digest: str, departed: dict[str, list[Node]]) -> Node | None:
        """The departed file with this content that `path` is taken to be (one of the same name
        first, for copies of one photo in several places), given its new path; None if none."""
        candidates = departed.get(digest) or []
        if not candidates:
            return None
        name = PurePosixPath(path).name.lower()
        node = next((n for n in candidates if n.name.lower() == name), candidates[0])
        candidates.remove(node)
        self._known.pop(node.path.lower(), None)
        node.path = path
        return node

    def _load_ids(self) -> dict[str, Node]:
        if self.ids_file is None or not self.ids_file.is_file():
            return {}
        try:
            entries = json.loads(self.ids_file.read_text())["entries"]
        except (ValueError, KeyError):  # unreadable: the files get new ids, as without the file
            return {}
        return {e["path"].lower(): Node(
            e["id"], e["path"], e["folder"], e["rev"], e["size"], e["hash"],
            datetime.fromisoformat(e["modified"]) if e["modified"] else None,
            tuple(e["stamp"]) if e["stamp"] else None, list(e.get("tags") or [])) for e in entries}

    def _check_path(self, path: str) -> str:
        if not path.startswith("/") or path.rstrip("/") == "" or "//" in path:
            raise ValueError(f"not a Dropbox path: {path!r}")
        return path.rstrip("/")

    def _disk(self, display: str) -> Path:
        # Paths come from API callers: "." and ".." are not names, and nothing resolves outside root.
        if any(part in (".", "..") for part in display.split("/")):
            raise conflict(tagged("path", "malformed_path"))
        return self.root / display.lstrip("/")

    def _touch(self, display: str) -> None:
        self.seq += 1
        self.log.append((self.seq, display.lower(), display))

    def _under(self, lower: str, recursive: bool) -> list[Node]:
        prefix = lower.rstrip("/") + "/"
        return sorted((n for k, n in self.nodes.items()
                       if k.startswith(prefix) and (recursive or "/" not in k[len(prefix):])),
                      key=lambda n: n.path.lower())

    def _index_file(self, display: str, data: bytes, existing: Node | None,
                    modified: datetime, keep_rev: bool = False) -> Node:
        """`keep_rev`: the content is the one `existing` had (a file only touched, or moved on disk)."""
        st = self._disk(display).stat()
        node = existing or Node(self._new_id(), display, folder=False)
        if not keep_rev:
            node.rev = secrets.token_hex(8)
        node.size, node.hash = len(data), content_hash(data)
        node.modified, node.stamp = modified, (st.st_mtime_ns, st.st_size)
        self.nodes[display.lower()] = node
        self._touch(display)
        return node
