"""A class's own photos as its examples, and the user's corrections as counter-examples.

Every photo the user put in a class folder (rather than this service) is an example of that class;
a photo the user moved out of a class folder where the service had put it is a counter-example of
that class. Each is kept as the model's 1280-d features (the same ONNX call as the logits), unit
length, and a new photo scores against a class by the mean cosine similarity of its TOP_K most
similar examples, mapped to 0-1 between SIMILAR's two ends so it combines with the name's score
and the threshold; a photo unlike every example of a class keeps only part of the class's name
score (the figures were chosen on the tune photo set: README, "Teach it by example").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
# Per class, the most recent examples count (memory and time stay bounded).
MAX_EXAMPLES = 200
TOP_K = 3
# Cosine similarity of the top-k examples: unrelated photos of one kind (two landscapes) sit near
# the low end; another shot of the same subject near the high end.
SIMILAR = (0.45, 0.8)
# Below UNLIKE a photo is unlike the class's examples: its name's score counts only in part.
UNLIKE, UNLIKE_KEEPS = 0.35, 0.5
DTYPE = np.float16


@dataclass(frozen=True)
class ClassExamples:
    """Unit feature rows: the class's examples and its counter-examples."""

    positives: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def stored(positives: list[bytes], negatives: list[bytes]) -> ClassExamples:
    """A class's examples from their stored form (`encode`), oldest first."""
    return ClassExamples(stack([decode(b) for b in positives]), stack([decode(b) for b in negatives]))


Examples = Mapping[str, ClassExamples]  # by class name as configured


def unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)


def encode(features: np.ndarray) -> bytes:
    """One photo's features as stored: float16, unit length."""
    return unit(features).astype(DTYPE).tobytes()


def decode(stored: bytes) -> np.ndarray:
    return np.frombuffer(stored, dtype=DTYPE).astype(np.float32)


def stack(rows: list[np.ndarray]) -> np.ndarray:
    """Rows (newest last) as one matrix, at most MAX_EXAMPLES of the newest."""
    rows = rows[-MAX_EXAMPLES:]
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def similarity(features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(n,) mean cosine similarity of unit `features` (n, d) to their TOP_K closest `rows` (k, d)."""
    if not len(rows):
        return np.zeros(len(features))
    k = min(TOP_K, rows.shape[0])
    return np.sort(features @ rows.T, axis=1)[:, -k:].mean(axis=1)


def score(similar: np.ndarray) -> np.ndarray:
    """0-1: how strongly a similarity says "this class", for the threshold and the name's score."""
    low, high = SIMILAR
    return np.clip((similar - low) / (high - low), 0.0, 1.0)


def support(similar: np.ndarray) -> np.ndarray:
    """The share of its name's score a class keeps for a photo unlike all of its examples: all of
    it from SIMILAR's low end, down to UNLIKE_KEEPS at UNLIKE (the moon is no "animal" when the
    animal folder holds cats and dogs)."""
    return np.clip((similar - UNLIKE) / (SIMILAR[0] - UNLIKE), UNLIKE_KEEPS, 1.0)
