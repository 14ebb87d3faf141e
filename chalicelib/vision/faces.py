"""Faces in a photo, with the bundled CenterFace model (ONNX): what decides "people", "selfie",
"family" and the other words about people (model/concepts.json).

CenterFace predicts, on a grid of 4 x 4 pixel cells, how likely a face centre is there, the face's
size and the centre's offset in the cell; a face is a cell above a score, and overlapping boxes of
the same face are merged (non-maximum suppression). The input is RGB 0-255 with sides multiples
of 32. The model loads on first use, only when a configured class needs faces.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from chalicelib.rules.face_rules import Face
from chalicelib.vision.bundled_model import detector_session

# Longest side the detector sees: the smallest of 256-640 px at which every sample photo's face
# scores the same (model/README.md), and 26 ms a photo on one core instead of about 70 at 640.
# Small faces in wide group photos are the risk of going lower; no sample photo has them.
DETECT_SIDE = 320
CELL = 4
CANDIDATE_SCORE = 0.3   # cells considered at all; a face counts from the card's face threshold
NMS_OVERLAP = 0.3


class FaceDetector:
    def __init__(self, path: Path, threshold: float, threads: int = 1):
        self._session = detector_session(path, threads)
        self._input = self._session.get_inputs()[0].name
        self.threshold = threshold

    def detect(self, image: Image.Image) -> tuple[Face, ...]:
        """The faces scoring at least the threshold, in an upright RGB image."""
        scale = min(1.0, DETECT_SIDE / max(image.size))
        width, height = (max(32, round(side * scale / 32) * 32) for side in image.size)
        pixels = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
        heatmap, sizes, offsets, _ = self._session.run(None, {self._input: pixels.transpose(2, 0, 1)[None]})
        return tuple(Face(float(score), area / (width * height))
                     for score, area in _decode(heatmap[0, 0], sizes[0], offsets[0], self.threshold))


def _decode(heatmap: np.ndarray, sizes: np.ndarray, offsets: np.ndarray, threshold: float) -> list[tuple[float, float]]:
    """(score, area in input pixels) of each face after non-maximum suppression."""
    rows, cols = np.nonzero(heatmap > min(threshold, CANDIDATE_SCORE))
    if not len(rows):
        return []
    h, w = np.exp(sizes[0, rows, cols]) * CELL, np.exp(sizes[1, rows, cols]) * CELL
    cy, cx = (rows + offsets[0, rows, cols] + 0.5) * CELL, (cols + offsets[1, rows, cols] + 0.5) * CELL
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores = heatmap[rows, cols]
    faces = []
    order = list(np.argsort(-scores))
    while order:
        best = order.pop(0)
        if scores[best] < threshold:
            break
        faces.append((float(scores[best]), float(w[best] * h[best])))
        order = [i for i in order if _overlap(boxes[best], boxes[i]) < NMS_OVERLAP]
    return faces


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    iw, ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0])), max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


_lock = threading.Lock()
_loaded: dict[Path, FaceDetector] = {}


def load(path: Path, threshold: float) -> FaceDetector:
    """The process-wide detector for `path`, created on first call (thread-safe)."""
    with _lock:
        if path not in _loaded:
            _loaded[path] = FaceDetector(path, threshold)
        return _loaded[path]
