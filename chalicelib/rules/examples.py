"""A class's own photos as its examples, and the user's corrections as counter-examples.

Every photo the user put in a class folder (rather than this service) is an example of that class;
a photo the user moved out of a class folder where the service had put it is a counter-example of
that class. Each is kept as the model's 1280-d features (the same ONNX call as the logits), unit
length. A new photo's similarity to a class is the mean cosine similarity of its TOP_K most
similar examples; its examples' score is that similarity mapped to 0-1 between SIMILAR's two ends,
times the class's share of a softmax (SHARPNESS) over every class with examples, so examples speak
for the class they are closest to and not for every class whose photos look a bit alike (a page is
a bit like a screenshot). The figures were chosen on the tune photo set: README, "Teach it by
example".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chalicelib.rules.configuration import MAX_EXAMPLES

TOP_K = 3
# Cosine similarity of the top-k examples: unrelated photos of one kind (two landscapes) sit below
# the low end; another shot of the same subject well above it.
SIMILAR = (0.55, 0.85)
# Softmax temperature over the classes' similarities: 0.02 apart is e times the share.
SHARPNESS = 0.02
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
    # numpy types its ufuncs' results on arrays of any dtype as Any: the annotations say what they are.
    scaled: np.ndarray = features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
    return scaled


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
    mean: np.ndarray = np.sort(features @ rows.T, axis=1)[:, -k:].mean(axis=1)
    return mean


def score(similar: np.ndarray) -> np.ndarray:
    """0-1: how similar, between SIMILAR's two ends (what a counter-example takes off a class)."""
    low, high = SIMILAR
    return np.clip((similar - low) / (high - low), 0.0, 1.0)


def scores(similar: np.ndarray) -> np.ndarray:
    """(n, classes) similarities to each class's examples -> 0-1 scores, comparable with the
    names' scores and the threshold: how similar, times the class's share of the softmax."""
    share = np.exp((similar - similar.max(axis=1, keepdims=True)) / SHARPNESS)
    weighted: np.ndarray = score(similar) * share / share.sum(axis=1, keepdims=True)
    return weighted
