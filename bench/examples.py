"""Classes by example: how much a few examples per class help, and what scoring them costs.

Usage: python -m bench.examples [--sets build/photo-sets] [--seeds 3]   (`make bench-examples`)

1. On each photo set (bench/photo_sets), with the six classes of the everyday-words issue: k
   photos of each class (k = 0, 1, 2, 4, 8) are its examples, as if put in its folder by hand, and
   the other photos are sorted; correct as in bench/everyday_words.py. Examples are drawn at
   random (several seeds, averaged); a class with fewer than k + 1 photos lends what it has.
2. Examples alone: with 4 examples per class (same draws), the other photos of the six classes
   given the class whose examples are most similar (examples.similarity), against the names on
   the same photos.
3. The cost of scoring examples: 50 classes x 200 examples against a batch of 16, beside the time
   of classifying that batch (decode, every detector the classes need, inference).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import photo_sets  # noqa: E402
from bench.everyday_words import CLASSES  # noqa: E402
from chalicelib.rules import examples  # noqa: E402
from chalicelib.vision.classifier import Classifier  # noqa: E402
from local import sample_photos  # noqa: E402

SHOTS = (0, 1, 2, 4, 8)
BATCH = 16


def accuracy(classifier: Classifier, photos: list[photo_sets.Photo], shots: int, seed: int,
             features: dict[Path, np.ndarray], data: dict[Path, bytes]) -> tuple[int, int]:
    """(correct, sorted) with `shots` examples per class taken out of `photos`."""
    taken = draw(photos, shots, seed)
    shots_taken = {kind: examples.ClassExamples(examples.stack([features[p.path] for p in chosen]),
                                                np.zeros((0, 0), np.float32))
                   for kind, chosen in taken.items() if chosen}
    used = {p.path for chosen in taken.values() for p in chosen}
    rest = [p for p in photos if p.path not in used]
    correct = 0
    for start in range(0, len(rest), BATCH):
        batch = rest[start:start + BATCH]
        for photo, decision in zip(batch, classifier.classify_batch([data[p.path] for p in batch], CLASSES,
                                                                    examples=shots_taken)):
            correct += getattr(decision, "label", None) == photo.kind
    return correct, len(rest)


def draw(photos: list[photo_sets.Photo], shots: int, seed: int) -> dict[str, list[photo_sets.Photo]]:
    """`shots` random photos of each class (at most all but one of its photos), by seed."""
    rng = np.random.default_rng(seed)
    taken: dict[str, list[photo_sets.Photo]] = {}
    for kind in CLASSES:
        mine = [p for p in photos if p.kind == kind]
        chosen = rng.choice(len(mine), size=min(shots, max(0, len(mine) - 1)), replace=False) if mine else []
        taken[kind] = [mine[i] for i in chosen]
    return taken


def examples_alone(classifier: Classifier, photos: list[photo_sets.Photo], seeds: int,
                   features: dict[Path, np.ndarray], data: dict[Path, bytes], shots: int = 4) -> tuple[int, int, int]:
    """(right by examples alone, right by the names, photos) over the seeds: the photos of the six
    classes not drawn as examples, each given the class whose examples are most similar."""
    mine = [p for p in photos if p.kind in CLASSES]
    by_name = {}
    for start in range(0, len(mine), BATCH):
        batch = mine[start:start + BATCH]
        for photo, decision in zip(batch, classifier.classify_batch([data[p.path] for p in batch], CLASSES)):
            by_name[photo.path] = getattr(decision, "label", None)
    right = named = total = 0
    for seed in range(seeds):
        taken = draw(mine, shots, seed)
        used = {p.path for chosen in taken.values() for p in chosen}
        rest = [p for p in mine if p.path not in used]
        rows = np.stack([features[p.path] for p in rest])
        similar = np.stack([examples.similarity(rows, examples.stack([features[p.path] for p in taken[kind]]))
                            for kind in CLASSES], axis=1)
        right += sum(CLASSES[i] == p.kind for i, p in zip(similar.argmax(axis=1), rest))
        named += sum(by_name[p.path] == p.kind for p in rest)
        total += len(rest)
    return right, named, total


def shots_table(classifier: Classifier, sets: dict[str, list[photo_sets.Photo]], seeds: int) -> str:
    lines = [f"{'set':<8}" + "".join(f"{f'{k} example(s)' if k else 'names only':>15}" for k in SHOTS)]
    alone = []
    for name, photos in sets.items():
        data = {p.path: p.path.read_bytes() for p in photos}
        vectors = classifier.features_batch(list(data.values()))
        features = {path: v for path, v in zip(data, vectors) if not isinstance(v, Exception)}
        photos = [p for p in photos if p.path in features]
        cells = []
        for shots in SHOTS:
            runs = [accuracy(classifier, photos, shots, seed, features, data)
                    for seed in range(seeds if shots else 1)]
            cells.append(f"{100 * sum(c for c, _ in runs) / sum(n for _, n in runs):14.0f}%")
        lines.append(f"{name:<8}" + "".join(cells))
        right, named, total = examples_alone(classifier, photos, seeds, features, data)
        alone.append(f"{name}: 4 examples per class alone {100 * right / total:.0f} %, the names "
                     f"{100 * named / total:.0f} %, on the same {total} photos of the six classes")
    return "\n".join(lines + alone)


def cost(classifier: Classifier, classes: int = 50, per_class: int = 200, repeat: int = 20) -> str:
    """Example scoring for `classes` x `per_class` examples on a batch of 16, against classifying it."""
    rng = np.random.default_rng(0)
    names = [f"class{i}" for i in range(classes)]
    taught = {n: examples.ClassExamples(examples.unit(rng.random((per_class, 1280), np.float32)),
                                        np.zeros((0, 0), np.float32)) for n in names}
    features = examples.unit(rng.random((BATCH, 1280), np.float32))
    start = time.perf_counter()
    for _ in range(repeat):  # what Classifier.decide does with them
        examples.scores(np.stack([examples.similarity(features, taught[n].positives) for n in names], axis=1))
    scoring = (time.perf_counter() - start) / repeat
    photos = [sample_photos.jpeg("chelsea")] * BATCH
    classifier.classify_batch(photos, ["cat", "people"])
    start = time.perf_counter()
    for _ in range(3):
        classifier.classify_batch(photos, ["cat", "people"])
    batch = (time.perf_counter() - start) / 3
    return (f"scoring {classes} classes x {per_class} examples for a batch of {BATCH}: "
            f"{1000 * scoring:.1f} ms; "
            f"classifying the batch (small JPEGs, faces on): {1000 * batch:.0f} ms; "
            f"ratio {100 * scoring / batch:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=photo_sets.DEFAULT_DIR)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    classifier = Classifier.load()
    print(shots_table(classifier, photo_sets.load(args.sets), args.seeds))
    print(cost(classifier))


if __name__ == "__main__":
    main()
