"""Decide which of the user's classes a photo belongs to, with the bundled ONNX models (the image
classifier, and the face detector when a class is about people).

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

from . import faces, images
from .bundled_model import MODEL_DIR, load_vocabulary, model_card
from .face_rules import Face, FaceRule
from .photo_files import ImageError
from .ports import Decision
from .vocabulary import Resolution

Rules = tuple[FaceRule | None, ...]


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
        self._faces_card = card["faces"]
        self._model_dir = model_dir

    def _face_detector(self) -> "faces.FaceDetector":
        """Loaded the first time a configured class needs faces."""
        return faces.load(self._model_dir / self._faces_card["file"], self._faces_card["threshold"])

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
    def _membership(self, classes: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, Rules]:
        resolved = self.resolve(classes)
        matrix = np.zeros((len(resolved), len(self.vocabulary.labels)), dtype=np.float64)
        for row, resolution in enumerate(resolved):
            matrix[row, list(resolution.indices)] = 1.0
        sizes = np.array([len(r.indices) for r in resolved])
        return classes, matrix, sizes, tuple(r.faces for r in resolved)

    def probabilities(self, tensors: np.ndarray) -> np.ndarray:
        """(n, 3, 224, 224) model inputs -> (n, 1000) softmax probabilities, in one ONNX call."""
        logits = self._session.run(["logits"], {"image": tensors})[0].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probabilities: np.ndarray, classes: Sequence[str], threshold: float | None = None,
               found: Sequence[tuple[Face, ...]] | None = None) -> list[Decision]:
        """A class's score is the sum of its ImageNet classes' probabilities or, for a class about
        people, the best face's score when the faces found fit its rule, whichever is higher."""
        names, matrix, sizes, rules = self._membership(tuple(classes))
        threshold = self.default_threshold if threshold is None else threshold
        decisions = []
        for n, scores in enumerate(probabilities @ matrix.T):
            if found is not None:
                scores = [max(score, rule.score(found[n])) if rule else score for score, rule in zip(scores, rules)]
            # Highest score first; on a tie the class covering fewer ImageNet classes wins.
            order = sorted(range(len(names)), key=lambda i: (-scores[i], sizes[i]))
            ranking = tuple((names[i], float(scores[i])) for i in order)
            best, score = ranking[0]
            decisions.append(Decision(best if score >= threshold else None, score, ranking))
        return decisions

    def classify(self, image_bytes: bytes, classes: Sequence[str],
                 threshold: float | None = None) -> Decision:
        """Raises ImageError for a file that is not a usable photo."""
        result = self.classify_batch([image_bytes], classes, threshold)[0]
        if isinstance(result, ImageError):
            raise result
        return result

    def classify_batch(self, photos: Sequence[bytes], classes: Sequence[str],
                       threshold: float | None = None) -> list[Decision | ImageError]:
        """One result per photo, in order: a Decision, or the ImageError that photo raised. The
        face detector runs only when a class needs it, beside the decoding of each photo."""
        rules = self._membership(tuple(classes))[3]  # an unknown class fails before any decoding
        detector = self._face_detector() if any(rules) else None
        prepared = list(self._decoders.map(lambda data: _prepare(data, detector), photos))
        ready = [p for p in prepared if not isinstance(p, ImageError)]
        if not ready:
            return prepared  # type: ignore[return-value]
        found = [in_photo for _, in_photo in ready] if detector is not None else None
        decisions = iter(self.decide(self.probabilities(np.stack([t for t, _ in ready])), classes, threshold, found))
        return [p if isinstance(p, ImageError) else next(decisions) for p in prepared]


def _prepare(data: bytes, detector: "faces.FaceDetector | None") -> tuple[np.ndarray, tuple[Face, ...]] | ImageError:
    """The model's input tensor and, when a detector is given, the faces in the photo."""
    try:
        tensor = images.preprocess(data)
        found = detector.detect(images.load_rgb(data, faces.DETECT_SIDE)) if detector is not None else ()
    except ImageError as error:
        return error
    return tensor, found
