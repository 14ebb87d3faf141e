"""Decide which of the user's classes a photo belongs to, with the bundled ONNX model.

Nothing here loads at import: `Classifier.load()` reads the model once per process, on first use.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import images
from .bundled_model import MODEL_DIR, load_vocabulary, model_card
from .photo_files import ImageError
from .ports import Decision
from .vocabulary import Resolution

class Classifier:
    _loaded: "Classifier | None" = None
    _lock = threading.Lock()

    def __init__(self, model_dir: Path = MODEL_DIR):
        import onnxruntime

        card = model_card(model_dir)
        self.default_threshold: float = card["default_threshold"]
        self.vocabulary = load_vocabulary(model_dir, card)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Idle inference threads would otherwise spin and steal the cores the decoders need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_dir / card["file"]), options, providers=["CPUExecutionProvider"])
        self._decoders = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                            thread_name_prefix="decode")

    @classmethod
    def load(cls) -> "Classifier":
        """The process-wide classifier, created on first call (thread-safe)."""
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded

    def resolve(self, classes: Sequence[str]) -> list[Resolution]:
        """What each class covers; raises UnknownClassError naming the first unknown class."""
        return [self.vocabulary.resolve(name) for name in classes]

    @lru_cache(maxsize=32)
    def _membership(self, classes: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        resolved = self.resolve(classes)
        matrix = np.zeros((len(resolved), len(self.vocabulary.labels)), dtype=np.float64)
        for row, resolution in enumerate(resolved):
            matrix[row, list(resolution.indices)] = 1.0
        sizes = np.array([len(r.indices) for r in resolved])
        return classes, matrix, sizes

    def probabilities(self, tensors: np.ndarray) -> np.ndarray:
        """(n, 3, 224, 224) model inputs -> (n, 1000) softmax probabilities, in one ONNX call."""
        logits = self._session.run(["logits"], {"image": tensors})[0].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probabilities: np.ndarray, classes: Sequence[str],
               threshold: float | None = None) -> list[Decision]:
        names, matrix, sizes = self._membership(tuple(classes))
        threshold = self.default_threshold if threshold is None else threshold
        decisions = []
        for scores in probabilities @ matrix.T:
            # Highest score first; on a tie the class covering fewer ImageNet classes wins.
            order = sorted(range(len(names)), key=lambda i: (-scores[i], sizes[i]))
            ranking = tuple((names[i], float(scores[i])) for i in order)
            best, score = ranking[0]
            decisions.append(Decision(best if score >= threshold else None, score, ranking))
        return decisions

    def classify(self, image_bytes: bytes, classes: Sequence[str],
                 threshold: float | None = None) -> Decision:
        """Raises ImageError for a file that is not a usable photo."""
        tensor = images.preprocess(image_bytes)
        return self.decide(self.probabilities(tensor[None]), classes, threshold)[0]

    def classify_batch(self, photos: Sequence[bytes], classes: Sequence[str],
                       threshold: float | None = None) -> list[Decision | ImageError]:
        """One result per photo, in order: a Decision, or the ImageError that photo raised."""
        self._membership(tuple(classes))  # an unknown class fails before any decoding
        results: list[Decision | ImageError | None] = []
        tensors = []
        for outcome in self._decoders.map(_preprocess_or_error, photos):
            if isinstance(outcome, ImageError):
                results.append(outcome)
            else:
                results.append(None)
                tensors.append(outcome)
        if tensors:
            decisions = iter(self.decide(self.probabilities(np.stack(tensors)), classes, threshold))
            results = [next(decisions) if r is None else r for r in results]
        return results  # type: ignore[return-value]


def _preprocess_or_error(data: bytes) -> np.ndarray | ImageError:
    try:
        return images.preprocess(data)
    except ImageError as error:
        return error
