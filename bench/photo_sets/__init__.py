"""Labelled photos, screenshots and document pages built by `python -m bench.photo_sets.make`.

This module is the reading side: `load()` reads DIR/labels.csv and splits the rows into the photos the
thresholds were tuned on and the photos reported on. Standard library only.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "build" / "photo-sets"

# labels.csv category -> kind; "none" (nothing of interest in the photo) maps to None.
_KINDS = {"people": "person", "animal": "animal", "building": "building", "landscape": "landscape",
          "screenshot": "screenshot", "document": "document", "none": None}

# Sources whose photos the thresholds were chosen on; everything else is the report set.
TUNE_SOURCES = ("lxqt-themes", "palapeli", "scikit-image", "scikit-learn", "matplotlib", "ownhtml", "xvfb", "nodejs",
                "libxslt", "r-doc-pdf", "valgrind")


@dataclass(frozen=True)
class Photo:
    path: Path
    kind: str | None  # "person", "animal", "building", "landscape", "screenshot", "document"; None: none of those
    source: str  # the labels.csv source column


def load(directory: Path = DEFAULT_DIR) -> dict[str, list[Photo]]:
    """{"tune": [...], "report": [...]}: a photo is in tune when any TUNE_SOURCES entry is a substring of its source.

    Raises SystemExit with a message naming `python -m bench.photo_sets.make` when DIR/labels.csv is missing.
    """
    directory = Path(directory)
    labels = directory / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"{labels} is missing: build it with `python -m bench.photo_sets.make --out {directory}` "
                         "(from the repository root)")
    sets: dict[str, list[Photo]] = {"tune": [], "report": []}
    with labels.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            photo = Photo(directory / row["path"], _KINDS[row["category"]], row["source"])
            tune = any(s in photo.source for s in TUNE_SOURCES)
            sets["tune" if tune else "report"].append(photo)
    return sets
