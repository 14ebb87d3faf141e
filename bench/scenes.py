"""The scene head against the class names alone, per scene, on the labelled scene photos: photos
found and false alarms for the word's ImageNet classes today (by name), the head alone, and both
(a class's score is the higher of the two, as the classifier computes it). Each signal decides at
the model's default threshold; the head was trained on the tune split (model/build_scenes.py), so
the report split is the figure; tune is shown for what it is, the photos the head learned from.

Usage: python -m bench.scenes [--sets build/photo-sets]   (the set: python -m bench.photo_sets.scenes)

The verdict: a word is routed to the head (model/concepts.json "scene") where "both" has a higher F1
than "by name" on the report split ("route"), else left to its name ("name"); a word refused today
is accepted only where the head finds at least half of its report photos with at most one false
alarm per three found ("accept"), else it stays refused ("refuse"). Only the report split's verdict
counts; the tune split's is printed for comparison. The last column: recall and precision of
what the verdict keeps (the name alone, or name and head), "-" for a word refused.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.photo_sets import DEFAULT_DIR  # noqa: E402
from chalicelib.rules.vocabulary import UnknownClassError  # noqa: E402
from chalicelib.vision.classifier import Classifier  # noqa: E402
from model import build_scenes  # noqa: E402

# The word a user would type for each scene of the head.
WORDS = {"landscape": "landscape", "sunset": "sunset", "sky": "sky", "forest": "forest", "tree": "trees",
         "flower": "flowers", "mountain": "mountains", "beach": "beach", "snow": "snow", "city": "city",
         "night": "night"}


def well_decided(found: int, false: int, photos: int) -> bool:
    """The bar a refused word's head must clear on the report split to be accepted."""
    return photos > 0 and found * 2 >= photos and false * 3 <= found


def f1(found: int, false: int, photos: int) -> float:
    return 2 * found / (found + false + photos) if photos else 0.0


def verdict(photos: int, by_name: tuple[int, int] | None, both: tuple[int, int]) -> str:
    """What the report split says of a word: route it to the head, leave it to its name, accept it
    (refused today), or keep refusing it."""
    if by_name is None:
        return "accept" if well_decided(*both, photos) else "refuse"
    return "route" if f1(*both, photos) > f1(*by_name, photos) else "name"


Row = tuple[str, str, int, str, str, str, str, str]


def measure(classifier: Classifier, sets: Path, split: str) -> list[Row]:
    """Per scene: the word, its photos, "found / false" by name, by the head and by both, the
    verdict those give, and the recall and precision of what the verdict keeps."""
    rows = build_scenes.rows(sets, split)
    photos = [(sets / r["path"]).read_bytes() for r in rows]
    features = build_scenes.features(photos)
    probabilities = np.concatenate([classifier.probabilities(np.stack(
        [classifier_input(p) for p in photos[i:i + 16]])) for i in range(0, len(photos), 16)])
    truth = np.array([build_scenes.truth(r) for r in rows])
    head = classifier._scene_head
    scene_scores = head.scores(features)
    threshold = classifier.default_threshold
    out = []
    for k, scene in enumerate(build_scenes.SCENES):
        word = WORDS[scene]
        is_scene = truth[:, k]
        by_head = scene_scores[:, head.scenes.index(scene)] >= threshold
        photos_of = int(is_scene.sum())
        try:
            indices = list(classifier.resolve([word])[0].indices)
            by_name = probabilities[:, indices].sum(axis=1) >= threshold
            named: tuple[int, int] | None = counts(by_name, is_scene)
            both = counts(by_name | by_head, is_scene)
        except UnknownClassError:
            named, both = None, counts(by_head, is_scene)
        decided = verdict(photos_of, named, both)
        shipped = {"route": both, "accept": both, "name": named}.get(decided)
        out.append((scene, word, photos_of, "refused" if named is None else cell(named),
                    cell(counts(by_head, is_scene)), cell(both), decided, rates(shipped, photos_of)))
    return out


def classifier_input(photo: bytes) -> np.ndarray:
    from chalicelib.vision import images

    return images.preprocess(photo)


def counts(decided: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """Photos found, false alarms."""
    return int((decided & truth).sum()), int((decided & ~truth).sum())


def rates(found_false: tuple[int, int] | None, photos: int) -> str:
    if found_false is None:
        return "-"
    found, false = found_false
    precision = f"{found / (found + false):.0%}" if found + false else "-"
    return f"{found / photos:.0%} / {precision}" if photos else "-"


def cell(found_false: tuple[int, int]) -> str:
    return f"{found_false[0]} / {found_false[1]}"


def table(title: str, rows: list[Row]) -> str:
    lines = [title, f"{'scene':10s} {'word':10s} {'photos':>6s} {'by name':>9s} {'head':>9s} {'both':>9s}  "
                    f"{'verdict':8s} recall / precision"]
    lines += [f"{s:10s} {w:10s} {n:6d} {a:>9s} {h:>9s} {b:>9s}  {v:8s} {r}" for s, w, n, a, h, b, v, r in rows]
    return "\n".join(lines)


def run(sets: Path = DEFAULT_DIR) -> str:
    classifier = Classifier.load()
    return "\n\n".join(table(f"{split} split (found / false alarms)", measure(classifier, sets, split))
                       for split in ("report", "tune"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=DEFAULT_DIR)
    print(run(parser.parse_args().sets))


if __name__ == "__main__":
    main()
