"""How far a scene head on the bundled model's features gets with the scene photos we have: per
scene class, photos found and false alarms on the report split, for today's way (the class's
ImageNet classes, by name, default threshold) and for a logistic head trained on the tune split.

Usage: python -m bench.scenes [--sets build/photo-sets]   (the set: python -m bench.photo_sets.scenes)

The head is one-vs-rest logistic regression (scikit-learn, standardised features, balanced
classes) on the 1280-d unit features of the tune photos, each also cropped four ways, centred and
flipped; it decides at 0.5. A measurement for issue 28 (scenes by name), not a shipped model.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.photo_sets import DEFAULT_DIR  # noqa: E402
from chalicelib.rules.vocabulary import UnknownClassError  # noqa: E402
from chalicelib.vision import images  # noqa: E402
from chalicelib.vision.classifier import Classifier  # noqa: E402

SCENES = ["landscape", "sunset", "sky", "forest", "tree", "mountain", "beach", "snow", "flower", "city", "night"]
CROPS = [(0, 0, .7, .7), (.3, 0, 1, .7), (0, .3, .7, 1), (.3, .3, 1, 1), (.15, .15, .85, .85)]


def views(picture: Image.Image) -> list[bytes]:
    """The photo, flipped, and cropped five ways: more training views of few photos."""
    w, h = picture.size
    shown = [picture, picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    shown += [picture.crop((int(a * w), int(b * h), int(c * w), int(d * h))) for a, b, c, d in CROPS]
    encoded = []
    for view in shown:
        out = io.BytesIO()
        view.save(out, "JPEG", quality=90)
        encoded.append(out.getvalue())
    return encoded


def features(classifier: Classifier, photos: list[bytes]) -> np.ndarray:
    return np.concatenate([classifier.features_batch(photos[i:i + 16]) for i in range(0, len(photos), 16)])


def by_name(classifier: Classifier, photos: list[bytes]) -> dict[str, np.ndarray]:
    """Per scene word the model accepts today, whether each photo goes to it (alone with the others)."""
    accepted = []
    for scene in SCENES:
        try:
            classifier.resolve([scene])
            accepted.append(scene)
        except UnknownClassError:
            pass
    decided = [d for i in range(0, len(photos), 16) for d in classifier.classify_batch(photos[i:i + 16], accepted)]
    return {scene: np.array([getattr(d, "label", None) == scene for d in decided]) for scene in accepted}


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=DEFAULT_DIR)
    sets = parser.parse_args().sets
    rows = list(csv.DictReader((sets / "scenes.csv").open(encoding="utf-8")))
    classifier = Classifier.load()
    tune = [r for r in rows if r["split"] == "tune"]
    report = [r for r in rows if r["split"] == "report"]
    train_x = features(classifier, [v for r in tune for v in views(Image.open(sets / r["path"]).convert("RGB"))])
    train_y = np.array([[s in r["labels"].split() for s in SCENES] for r in tune for _ in range(2 + len(CROPS))])
    report_photos = [(sets / r["path"]).read_bytes() for r in report]
    report_x = features(classifier, report_photos)
    report_y = np.array([[s in r["labels"].split() for s in SCENES] for r in report])
    scale = StandardScaler().fit(train_x)
    named = by_name(classifier, report_photos)
    print(f"{len(tune)} tune photos ({len(train_x)} views), {len(report)} report photos")
    print(f"{'scene':10s} {'in report':>9s} {'by name: found / false':>24s} {'head: found / false':>21s}")
    totals = np.zeros(4, dtype=int)
    for k, scene in enumerate(SCENES):
        truth = report_y[:, k]
        head = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000).fit(
            scale.transform(train_x), train_y[:, k]).predict_proba(scale.transform(report_x))[:, 1] >= 0.5
        found, false = int((head & truth).sum()), int((head & ~truth).sum())
        if scene in named:
            n_found, n_false = int((named[scene] & truth).sum()), int((named[scene] & ~truth).sum())
            name_cell = f"{n_found} / {n_false}"
            totals[:2] += (n_found, n_false)
        else:
            name_cell = "refused"
        totals[2:] += (found, false)
        print(f"{scene:10s} {int(truth.sum()):9d} {name_cell:>24s} {f'{found} / {false}':>21s}")
    print(f"{'all':10s} {int(report_y.sum()):9d} {f'{totals[0]} / {totals[1]}':>24s} {f'{totals[2]} / {totals[3]}':>21s}")


if __name__ == "__main__":
    main()
