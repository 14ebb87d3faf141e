"""model/scenes.json: the scene head, a logistic regression per scene on the bundled model's 1280-d
features, trained on the tune split of the labelled scene photos (bench/photo_sets/scenes.py).

ImageNet-1k has few scenes: a landscape, a sunset or a forest is not one of its classes, and its
names alone miss most of them. The features the network computes anyway separate them better; the
head costs one (n, 1280) x (1280, k) product per batch. Each scene is one-vs-rest (scikit-learn,
balanced classes, C below) on every tune photo seen seven ways (itself, flipped, five crops): few
photos, more views. It decides at probability OPERATING; the runtime shifts each scene's score so
that this point falls on the model's default threshold, as every class's score does.

The tune split alone is used here (its sources are named in the model card); bench/scenes.py
reports on the other split. Run by model/build.py, or alone: python -m model.build_scenes
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

FILE = "scenes.json"
C = 0.1
# The balanced head's own midpoint. A threshold chosen on the tune split by source-grouped folds
# swung from 0.2 to 0.85 between scenes with 3 to 13 photos: noise, not a choice.
OPERATING = 0.5
CROPS = [(0, 0, .7, .7), (.3, 0, 1, .7), (0, .3, .7, 1), (.3, .3, 1, 1), (.15, .15, .85, .85)]
NATURE = ("landscape", "sunset", "forest", "mountain", "beach")
# What each scene of the head stands for, from the set's labels. "landscape" is what a user sorting
# holiday photos means: any natural outdoor scene (the set labels the specific ones apart), and sky,
# snow or trees when no city or night shot is in it.
SCENES = {
    "landscape": lambda labels: bool(labels & set(NATURE))
    or (bool(labels & {"sky", "snow", "tree"}) and not labels & {"city", "night"}),
    "sunset": lambda labels: "sunset" in labels,
    "sky": lambda labels: bool(labels & {"sky", "sunset"}),
    "forest": lambda labels: "forest" in labels,
    "tree": lambda labels: bool(labels & {"tree", "forest"}),
    "flower": lambda labels: "flower" in labels,
    "mountain": lambda labels: "mountain" in labels,
    "beach": lambda labels: "beach" in labels,
    "snow": lambda labels: "snow" in labels,
    "city": lambda labels: "city" in labels,
    "night": lambda labels: "night" in labels,
}


def views(picture: Image.Image) -> list[bytes]:
    """The photo, flipped, and cropped five ways, each as a JPEG."""
    w, h = picture.size
    shown = [picture, picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    shown += [picture.crop((int(a * w), int(b * h), int(c * w), int(d * h))) for a, b, c, d in CROPS]
    encoded = []
    for view in shown:
        out = io.BytesIO()
        view.save(out, "JPEG", quality=90)
        encoded.append(out.getvalue())
    return encoded


def rows(sets: Path, split: str) -> list[dict[str, str]]:
    return [r for r in csv.DictReader((sets / "scenes.csv").open(encoding="utf-8")) if r["split"] == split]


def truth(row: dict[str, str]) -> list[bool]:
    """Whether the photo of a scenes.csv row shows each scene of the head."""
    labels = set(row["labels"].split())
    return [rule(labels) for rule in SCENES.values()]


def features(photos: list[bytes]) -> np.ndarray:
    from chalicelib.vision.classifier import Classifier

    classifier = Classifier.load()
    found = [f for i in range(0, len(photos), 16) for f in classifier.features_batch(photos[i:i + 16])]
    if any(not isinstance(f, np.ndarray) for f in found):
        raise SystemExit("a scene photo could not be read")
    return np.stack(found)  # type: ignore[arg-type]


def build(model_dir: Path, sets: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    tune = rows(sets, "tune")
    x = features([v for r in tune for v in views(Image.open(sets / r["path"]).convert("RGB"))])
    y = np.array([truth(r) for r in tune for _ in range(2 + len(CROPS))])
    weights, biases = [], []
    for k in range(len(SCENES)):
        # Unit features times 10: roughly unit variance per weight, so C means the same for every scene.
        head = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(x * 10, y[:, k])
        weights.append([round(float(w) * 10, 6) for w in head.coef_[0]])
        biases.append(round(float(head.intercept_[0]), 6))
    path = model_dir / FILE
    path.write_text(json.dumps({
        "about": "Scene head (model/build_scenes.py): score = sigmoid(weights . features + bias), on the model's "
                 "unit features; a scene is there from probability `operating`.",
        "scenes": list(SCENES), "operating": OPERATING, "bias": biases, "weights": weights,
        "trained_on": sorted({r["source"] for r in tune}), "tune_photos": len(tune),
    }, separators=(",", ":")) + "\n")
    return path


if __name__ == "__main__":
    from bench.photo_sets import DEFAULT_DIR

    print(build(Path(__file__).resolve().parent, DEFAULT_DIR))
