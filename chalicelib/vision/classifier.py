"""Decide which of the user's classes a photo belongs to, with the bundled ONNX models: the image
classifier, the face detector when a class is about people, the text detector when a class is
about pages or screens, and the scene head on the classifier's features when a class is a scene.

Nothing here loads at import: `Classifier.load()` reads the model once per process, on first use.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from chalicelib.rules import examples
from chalicelib.rules.configuration import stands_by_examples
from chalicelib.rules.face_rules import Face
from chalicelib.rules.photo_files import ImageError
from chalicelib.rules.ports import Decision
from chalicelib.rules.text_rules import Text
from chalicelib.rules.vocabulary import Resolution
from chalicelib.vision import faces, images, scenes, text
from chalicelib.vision.bundled_model import MODEL_DIR, load_vocabulary, model_card


# One threshold for every class, one per class (in class order), or None: the model's default
# (also for a class whose own is None).
Threshold = float | Sequence[float | None] | None


@dataclass(frozen=True)
class Seen:
    """What the detectors found in one photo (only those a configured class needs ran)."""

    faces: tuple[Face, ...] = ()
    text: Text | None = None


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
        self._text_card = card["text"]
        self._scenes_file = model_dir / card["scenes"]["file"]
        self._model_dir = model_dir

    def _face_detector(self) -> "faces.FaceDetector":
        """Loaded the first time a configured class needs faces."""
        return faces.load(self._model_dir / self._faces_card["file"], self._faces_card["threshold"])

    def _text_detector(self) -> "text.TextDetector":
        """Loaded the first time a configured class needs text."""
        return text.load(self._model_dir / self._text_card["file"])

    @cached_property
    def _scene_head(self) -> scenes.SceneHead:
        """Loaded the first time a configured class is a scene."""
        return scenes.SceneHead(self._scenes_file, self.default_threshold)

    def preload(self) -> None:
        """Every bundled model loaded now, not at first need (before a SnapStart snapshot)."""
        self._face_detector()
        self._text_detector()
        self._scene_head

    @classmethod
    def load(cls) -> "Classifier":
        """The process-wide classifier, created on first call (thread-safe)."""
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded

    def resolve(self, classes: Sequence[str], by_examples: Collection[str] = ()) -> list[Resolution]:
        """What each class covers; raises UnknownClassError naming the first unknown class that
        is not in `by_examples` (the classes with enough examples to stand on their own)."""
        return [self.vocabulary.resolve(name, by_examples=name in by_examples) for name in classes]

    @lru_cache(maxsize=32)
    def _membership(self, classes: tuple[str, ...], by_examples: frozenset[str] = frozenset()
                    ) -> tuple[np.ndarray, np.ndarray, tuple[Resolution, ...]]:
        resolved = tuple(self.resolve(classes, by_examples))
        matrix = np.zeros((len(resolved), len(self.vocabulary.labels)), dtype=np.float64)
        for row, resolution in enumerate(resolved):
            matrix[row, list(resolution.indices)] = 1.0
        sizes = np.array([len(r.indices) for r in resolved])
        return matrix, sizes, resolved

    def probabilities(self, tensors: np.ndarray) -> np.ndarray:
        """(n, 3, 224, 224) model inputs -> (n, 1000) softmax probabilities, in one ONNX call."""
        return self._infer(tensors)[0]

    def _infer(self, tensors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (n, 1000) and unit features (n, 1280), in one ONNX call."""
        logits, features = self._session.run(["logits", "features"], {"image": tensors})
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True), examples.unit(features)

    def features_batch(self, photos: Sequence[bytes]) -> list[np.ndarray | ImageError]:
        """Each photo's unit features (what an example is kept as), or the ImageError it raised."""
        prepared = list(self._decoders.map(lambda data: _prepare(data, None, None), photos))
        ready = [p for p in prepared if not isinstance(p, ImageError)]
        if not ready:  # every photo is an ImageError
            return [p for p in prepared if isinstance(p, ImageError)]
        features = iter(self._infer(np.stack([t for t, _ in ready]))[1])
        return [p if isinstance(p, ImageError) else next(features) for p in prepared]

    def decide(self, probabilities: np.ndarray, classes: Sequence[str], threshold: Threshold = None,
               seen: Sequence[Seen] | None = None, features: np.ndarray | None = None,
               taught: examples.Examples | None = None) -> list[Decision]:
        """A class's score is the highest of: the sum of its ImageNet classes' probabilities; for a
        class about people, pages or screens, its face or text rule's score on what the detectors
        found; for a scene, the scene head's score on the photo's features; and, given its examples (`taught`), how close the photo is to them rather than to the other
        classes' examples. A photo closer to a class's counter-examples than to its examples loses
        that much of the class's score. The best class takes the photo if its score reaches that
        class's threshold; else the photo is unsorted."""
        names = tuple(classes)
        taught = taught or {}
        matrix, sizes, resolved = self._membership(names, _standing(names, taught))
        thresholds = self._thresholds(threshold, len(names))
        by_example = np.zeros((len(probabilities), len(names)))
        against = np.zeros_like(by_example)
        by_scene = np.zeros_like(by_example)
        if features is not None and any(r.scene for r in resolved):
            found = self._scene_head.scores(features)
            for i, r in enumerate(resolved):
                if r.scene:
                    by_scene[:, i] = found[:, self._scene_head.scenes.index(r.scene)]
        if features is not None:
            shown = [i for i, name in enumerate(names) if name in taught and len(taught[name].positives)]
            if shown:
                by_example[:, shown] = examples.scores(np.stack(
                    [examples.similarity(features, taught[names[i]].positives) for i in shown], axis=1))
            for i, name in enumerate(names):
                if name in taught and len(taught[name].negatives):
                    against[:, i] = examples.score(examples.similarity(features, taught[name].negatives))
        decisions = []
        for n, scores in enumerate(probabilities @ matrix.T):
            if seen is not None:
                scores = [max(score, r.faces.score(seen[n].faces) if r.faces else 0.0,
                              r.text.score(seen[n].text) if r.text else 0.0) for score, r in zip(scores, resolved)]
            by_name = np.maximum(np.asarray(scores, dtype=np.float64), by_scene[n])
            scores = np.maximum(by_name, by_example[n])
            scores = np.where(against[n] > by_example[n], scores * (1.0 - against[n]), scores)
            # Highest score first; on a tie the class covering fewer ImageNet classes wins.
            order = sorted(range(len(names)), key=lambda i: (-scores[i], sizes[i]))
            ranking = tuple((names[i], float(scores[i])) for i in order)
            best, score = ranking[0]
            top = order[0]
            label = best if score >= thresholds[top] else None
            decisions.append(Decision(label, score, ranking,
                                      _by(by_name[top], by_example[n][top], thresholds[top]) if label else None,
                                      tuple(names[i] for i in order if scores[i] >= thresholds[i])))
        return decisions

    def _thresholds(self, threshold: Threshold, count: int) -> list[float]:
        """Each class's threshold, the model's default where none is given."""
        given = [threshold] * count if threshold is None or isinstance(threshold, (int, float)) else list(threshold)
        if len(given) != count:
            raise ValueError(f"{len(given)} thresholds for {count} classes")
        return [self.default_threshold if t is None else float(t) for t in given]

    def classify(self, image_bytes: bytes, classes: Sequence[str], threshold: Threshold = None,
                 examples: examples.Examples | None = None) -> Decision:
        """Raises ImageError for a file that is not a usable photo."""
        result = self.classify_batch([image_bytes], classes, threshold, examples)[0]
        if isinstance(result, ImageError):
            raise result
        return result

    def classify_batch(self, photos: Sequence[bytes], classes: Sequence[str], threshold: Threshold = None,
                       examples: examples.Examples | None = None) -> list[Decision | ImageError]:
        """One result per photo, in order: a Decision, or the ImageError that photo raised. Each
        detector runs only when a class needs it, beside the decoding of each photo."""
        names = tuple(classes)
        # An unknown class (without enough examples) fails before any decoding.
        resolved = self._membership(names, _standing(names, examples or {}))[2]
        face_detector = self._face_detector() if any(r.faces for r in resolved) else None
        text_detector = self._text_detector() if any(r.text for r in resolved) else None
        prepared = list(self._decoders.map(lambda data: _prepare(data, face_detector, text_detector), photos))
        ready = [p for p in prepared if not isinstance(p, ImageError)]
        if not ready:  # every photo is an ImageError
            return [p for p in prepared if isinstance(p, ImageError)]
        probabilities, features = self._infer(np.stack([t for t, _ in ready]))
        decisions = iter(self.decide(probabilities, classes, threshold, [s for _, s in ready], features, examples))
        return [p if isinstance(p, ImageError) else next(decisions) for p in prepared]


def _standing(names: tuple[str, ...], taught: examples.Examples) -> frozenset[str]:
    """The classes with enough examples to be classes without a name the model knows."""
    return frozenset(n for n in names if n in taught and stands_by_examples(len(taught[n].positives)))


def _by(by_name: float, by_example: float, threshold: float) -> str:
    """What decided a class: its name, its examples, or both (each would have been enough)."""
    if by_name >= threshold and by_example >= threshold:
        return "name and examples"
    return "examples" if by_example > by_name else "name"


def _prepare(data: bytes, face_detector: "faces.FaceDetector | None",
             text_detector: "text.TextDetector | None") -> tuple[np.ndarray, Seen] | ImageError:
    """The model's input tensor, and what the given detectors find in the photo. Both detectors
    start from one small decode; the text detector decodes larger only what it will read."""
    try:
        tensor = images.preprocess(data)
        if not (face_detector or text_detector):
            return tensor, Seen()
        glance = images.load_rgb(data, faces.DETECT_SIDE)
        found = face_detector.detect(glance) if face_detector else ()
        lines = text_detector.read(glance, lambda: images.load_rgb(data, text.SCREEN_SIDE // 2),
                                   text.camera_named(images.open_image(data))) if text_detector else None
    except ImageError as error:
        return error
    return tensor, Seen(found, lines)
