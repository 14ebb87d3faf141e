"""Recall and precision of the everyday words on real photos, per class, on two sets of photos:
the one the thresholds were chosen on (tune) and one they were not (report).

Usage: python -m bench.everyday_words [--sets build/photo-sets]   (`make bench-words`)

The photos are fetched from package registries by bench/photo_sets.py (every source is named in
its table) and labelled by hand there; the classes are the six of the everyday-words issue, by
name only. A photo counts as correct when it lands in its labelled class, or in Unsorted when it
fits none of them.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import photo_sets  # noqa: E402
from chalicelib.vision.classifier import Classifier  # noqa: E402

CLASSES = ["person", "animal", "building", "landscape", "screenshot", "document"]
BATCH = 16


def evaluate(classifier: Classifier, photos: list[photo_sets.Photo]) -> list[tuple[photo_sets.Photo, str | None]]:
    """Each photo with the class it was given (None: Unsorted)."""
    given = []
    for start in range(0, len(photos), BATCH):
        batch = photos[start:start + BATCH]
        for photo, decision in zip(batch, classifier.classify_batch([p.path.read_bytes() for p in batch], CLASSES)):
            given.append((photo, getattr(decision, "label", None)))
    return given


def table(title: str, given: list[tuple[photo_sets.Photo, str | None]]) -> str:
    truth = Counter(p.kind for p, _ in given)
    chosen = Counter(label for _, label in given)
    hits = Counter(p.kind for p, label in given if p.kind == label)
    lines = [f"{title}: {sum(hits.values())} of {len(given)} correct "
             f"({100 * sum(hits.values()) / max(1, len(given)):.0f} %)",
             f"{'class':<12}{'photos':>7}{'recall':>8}{'precision':>11}"]
    for kind in [*CLASSES, None]:
        recall = hits[kind] / truth[kind] if truth[kind] else float("nan")
        precision = hits[kind] / chosen[kind] if chosen[kind] else float("nan")
        lines.append(f"{kind or 'none':<12}{truth[kind]:>7}{recall:>8.0%}{precision:>11.0%}")
    wrong = [f"  {p.path.name}: {p.kind or 'none'} -> {label or 'none'}" for p, label in given if p.kind != label]
    return "\n".join(lines + (["wrong:", *wrong] if wrong else []))


def run(sets: Path = photo_sets.DEFAULT_DIR) -> str:
    classifier = Classifier.load()
    by_set = photo_sets.load(sets)
    return "\n\n".join(table(f"{name} set, {len({p.source for p in photos})} sources", evaluate(classifier, photos))
                       for name, photos in by_set.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=photo_sets.DEFAULT_DIR)
    print(run(parser.parse_args().sets))


if __name__ == "__main__":
    main()
