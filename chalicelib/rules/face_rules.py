"""What a class about people asks of the faces in a photo ("selfie": one or two, the largest big
enough). Light on purpose: /configure describes these rules without loading numpy or the model."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Face:
    score: float
    area: float  # share of the photo's area, 0-1


@dataclass(frozen=True)
class FaceRule:
    """What a class about people asks of the faces found: how many, and how large the largest."""

    min: int = 1
    max: int | None = None
    min_area: float = 0.0

    def score(self, faces: tuple[Face, ...]) -> float:
        """The best face's score when the faces fit the rule, else 0."""
        if len(faces) < self.min or (self.max is not None and len(faces) > self.max) or not faces:
            return 0.0
        if max(f.area for f in faces) < self.min_area:
            return 0.0
        return max(f.score for f in faces)

    def describe(self) -> str:
        count = f"{self.min} to {self.max} faces" if self.max is not None else f"{self.min} face(s) or more"
        size = f", the largest at least {self.min_area:.0%} of the photo" if self.min_area else ""
        return f"the face detector finds {count}{size}"
