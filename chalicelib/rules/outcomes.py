"""What happened to a photo, said one way for the service, /status, the command line and --json."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.rules.configuration import folder_name
from chalicelib.rules.photo_files import ImageError

Kind = Literal["sorted", "tagged", "unsorted", "skipped", "failed", "gone", "retry"]
# What a finished photo counts as: "tagged" stays where it is with a tag per class ("action": "tag"),
# "skipped" stays in the inbox because it is no usable photo,
# "failed" stays because it could not be read or moved, "gone" was moved or deleted by someone
# else before it was sorted. "retry" is not finished: the service tries again later.
FINAL_KINDS: tuple[Kind, ...] = ("sorted", "tagged", "unsorted", "skipped", "failed", "gone")
DECIDED: tuple[Kind, ...] = ("sorted", "tagged", "unsorted")  # a class decided where the photo is
TOP_CLASSES = 3  # the classes a decided photo keeps with their scores


@dataclass(frozen=True)
class Outcome:
    """One photo's end. `file` is where it was found ("/All/a.jpg"; "All/a.jpg" for --folder);
    `to_path` where it is now when it moved; `folder` the folder its class decided ("Cat"), also
    in a dry run; `by` what decided the class ("name", "examples", "name and examples");
    `runner_up` the best class it did not go to, with its score (for a photo left unsorted, the
    closest class); `reason` a short code ("corrupt", "too_large") with `detail` in words;
    `by_another` for a photo another request of the service had sorted already; `top` its best
    classes with their scores, best first (at most TOP_CLASSES), as the review queue shows them;
    `date_folder` the folder inside `folder` that "by_date" files it in ("2024"), also in a dry run;
    for a "tagged" photo (or one a dry run would tag), `tags` the classes it is tagged with, best
    first, and `added` the tag texts this sort added (those it had already are the user's)."""

    file: str
    kind: Kind
    folder: str | None = None
    to_path: str | None = None
    label: str | None = None
    score: float | None = None
    reason: str | None = None
    detail: str | None = None
    by: str | None = None
    runner_up: tuple[str, float] | None = None
    # Sorted by another request of the service (the same photo queued twice): this one moved nothing.
    by_another: bool = False
    top: tuple[tuple[str, float], ...] = ()
    tags: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    date_folder: str | None = None

    @property
    def destination(self) -> str | None:
        """The folder it goes to: "Cat", or "Cat/2024" by date."""
        return f"{self.folder}/{self.date_folder}" if self.folder and self.date_folder else self.folder

    @classmethod
    def skipped(cls, file: str, error: ImageError) -> "Outcome":
        """A file left where it is, being no photo to sort: `error` says why (its `reason`: "hidden",
        "too_large", "corrupt"...)."""
        return cls(file, "skipped", reason=error.reason, detail=str(error))

    @property
    def finished(self) -> bool:
        return self.kind != "retry"

    @property
    def why(self) -> str | None:
        """The reason and its words on one line: "corrupt: the image data is broken"."""
        if self.reason and self.detail:
            return f"{self.reason}: {self.detail}"
        return self.reason or self.detail


@dataclass
class Counts:
    """Finished photos by kind; `sorted` maps class folder -> photos, `tagged` class ("Cat", as its
    folder would be named) -> photos tagged with it (a photo with two tags counts in both, once in
    `tagged_photos`). The shape of /jobs/{id}."""

    sorted: dict[str, int] = field(default_factory=dict)
    unsorted: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = 0
    tagged: dict[str, int] = field(default_factory=dict)
    tagged_photos: int = 0

    @property
    def finished(self) -> int:
        return sum(self.sorted.values()) + self.tagged_photos + self.unsorted + self.skipped + self.failed + self.gone

    def add(self, outcome: Outcome) -> None:
        if outcome.kind == "sorted":
            folder = outcome.folder or "?"
            self.sorted[folder] = self.sorted.get(folder, 0) + 1
        elif outcome.kind == "tagged":
            self.tagged_photos += 1
            for label in outcome.tags:
                name = folder_name(label)
                self.tagged[name] = self.tagged.get(name, 0) + 1
        elif outcome.kind != "retry":
            setattr(self, outcome.kind, getattr(self, outcome.kind) + 1)

    def to_dict(self) -> dict[str, int | dict[str, int]]:
        # Tagged photos ("action": "tag") are said once there are some: the counts of a moving sort stay as they were.
        tagged: dict[str, int | dict[str, int]] = {
            "tagged": dict(sorted(self.tagged.items())), "tagged_photos": self.tagged_photos} if self.tagged_photos else {}
        return {"sorted": dict(sorted(self.sorted.items())), "unsorted": self.unsorted,
                "skipped": self.skipped, "failed": self.failed, "gone": self.gone, **tagged}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Counts":
        """From its to_dict form as JSON brings it back (GET /jobs/{id}): each count made an int."""
        return cls({str(k): int(v) for k, v in data["sorted"].items()}, int(data["unsorted"]),
                   int(data["skipped"]), int(data["failed"]), int(data.get("gone", 0)),
                   {str(k): int(v) for k, v in data.get("tagged", {}).items()}, int(data.get("tagged_photos", 0)))
