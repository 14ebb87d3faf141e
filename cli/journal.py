"""The journal of moves of `main.py --folder DIR`: DIR/.image-categorizer/moves.jsonl (and of the
labels `--tag` added to XMP sidecars).

Journal writes and reads it (one JSON line an entry, JournalEntry); JournalMove and Run are a run's
moves as --undo reads them back. STATE_DIR is the tool's own folder in DIR, JOURNAL the file's name.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, cast

from chalicelib.rules.configuration import top_folder
from chalicelib.rules.photo_files import kind_of, pair_key

# The tool's own files in DIR (its journal of moves, the examples' features): never a class folder.
STATE_DIR = ".image-categorizer"
JOURNAL = "moves.jsonl"

# One line of the journal (each kind holds some of these: Journal says which).
JournalEntry = TypedDict("JournalEntry", {"run": str, "identity": str, "from": str, "to": str, "hash": str,
                                          "made": str, "undone": str, "tagged": str, "added": list[str],
                                          "before": str | None, "after": str}, total=False)


@dataclass(frozen=True)
class JournalMove:
    identity: str  # file_identity(): the same file, unchanged
    came_from: str  # "All/trip/a.jpg"
    to: str  # "Cat/a.jpg"


@dataclass(frozen=True)
class JournalTags:
    """Labels a run added to a photo's XMP sidecar (cli/sidecars.py), where the photo stayed."""

    identity: str  # the photo's file_identity()
    photo: str  # "All/trip/a.jpg"
    added: list[str]
    before: bytes | None  # the sidecar as it was (None: the run created it)
    after: str  # sha256 of the sidecar as the run wrote it: unchanged since, `before` is put back as it was


@dataclass(frozen=True)
class Run:
    run: str
    moves: list[JournalMove]
    made: list[str]  # the class folders (and date folders in them) this run created, parents first
    tags: list[JournalTags] = field(default_factory=list)


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

    def record_tags(self, identity: str, photo: str, added: Sequence[str], before: bytes | None, after: bytes) -> None:
        self._append({"run": self.run, "identity": identity, "tagged": photo, "added": list(added),
                      "before": None if before is None else base64.b64encode(before).decode(),
                      "after": hashlib.sha256(after).hexdigest()})

    def tagged(self) -> set[str]:
        """The identities of the photos tagged in place by runs not undone (a sort leaves them)."""
        entries = self._entries()
        undone = {e["undone"] for e in entries if "undone" in e}
        return {e["identity"] for e in entries if "tagged" in e and e.get("run") not in undone}

    def made(self, folder: str) -> None:
        self._append({"run": self.run, "made": folder})

    def record_undone(self, run: str) -> None:
        self._append({"undone": run})

    def placed(self) -> dict[str, str]:
        """Each moved file's identity -> the top folder the tool last put it in (undone runs aside)."""
        return {e["identity"]: top_folder(e["to"]) for e in self._standing_moves()}

    def photos_by_name(self) -> dict[str, tuple[str, str, str]]:
        """Each path a photo was moved from, without its extension (photo_files.pair_key) -> the
        identity, path it came from and path it went to of the photo the tool last moved from there
        (undone runs aside)."""
        return {pair_key(e["from"]): (e["identity"], e["from"], e["to"]) for e in self._standing_moves()
                if kind_of(e["from"]) in ("photo", "raw")}

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
        """The newest run that moved or tagged a photo and is not undone yet."""
        entries = self._entries()
        undone = {e["undone"] for e in entries if "undone" in e}
        runs = [e["run"] for e in entries if "run" in e and (("to" in e and "from" in e) or "tagged" in e)]
        for run in reversed(list(dict.fromkeys(runs))):
            if run not in undone:
                mine = [e for e in entries if e.get("run") == run]
                return Run(run, [JournalMove(e["identity"], e["from"], e["to"]) for e in mine if "to" in e],
                           [e["made"] for e in mine if "made" in e],
                           [JournalTags(e["identity"], e["tagged"], e["added"],
                                        None if e.get("before") is None else base64.b64decode(e.get("before") or ""),
                                        e["after"]) for e in mine if "tagged" in e])
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
