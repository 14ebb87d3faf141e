"""The scene head (model/scenes.json, model/build_scenes.py): how much a photo looks like a
landscape, a sunset, ... from the features the bundled model computes anyway, at numpy cost."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


class SceneHead:
    def __init__(self, path: Path, default_threshold: float):
        head = json.loads(path.read_text(encoding="utf-8"))
        self.scenes: tuple[str, ...] = tuple(head["scenes"])
        self._weights = np.asarray(head["weights"], dtype=np.float64).T  # (1280, scenes)
        # Shifted so that the head's operating point scores the default threshold, as a class's
        # name does at its own: one threshold then means the same for every signal.
        shift = _logit(default_threshold) - _logit(head["operating"])
        self._bias = np.asarray(head["bias"], dtype=np.float64) + shift

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(n, 1280) unit features -> (n, scenes) scores in 0-1."""
        return 1.0 / (1.0 + np.exp(-(features @ self._weights + self._bias)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))
