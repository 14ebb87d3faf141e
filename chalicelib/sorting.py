"""The one sorting core: read a batch of photos, decide each one's class, move it.

The classify Lambda (through dropbox_photos.DropboxPhotos) and `main.py --folder` (through
cli/folder_photos.FolderPhotos) both sort with `sort_batch`; only the PhotoStore differs.
Every step is safe to repeat: a photo found in a class folder was moved there by an earlier try
of the same request and is reported as sorted, and a move never overwrites.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .outcomes import Outcome
from .photo_files import ImageError
from .ports import Decision, Move, Photo, PhotoClassifier, PhotoStore, R
from .sort_config import SortConfig, top_folder

if TYPE_CHECKING:
    from .examples import Examples


def sort_batch(refs: Sequence[R], store: PhotoStore[R], classifier: PhotoClassifier, config: SortConfig,
               *, examples: Examples | None = None, dry_run: bool = False) -> list[Outcome]:
    """One Outcome per ref, in order: one read, one classify call and one move for the batch.
    `examples`: the classes' own photos, by class. A dry run decides and moves nothing."""
    found = store.read(refs)
    photos = [(i, item) for i, item in enumerate(found) if isinstance(item, Photo)]
    ended: dict[int, Outcome] = {i: settled(item, config) for i, item in enumerate(found)
                                 if isinstance(item, Outcome)}
    decisions = classifier.classify_batch([p.data for _, p in photos], config.classes, config.threshold,
                                          examples) if photos else []
    decided: list[tuple[int, Photo[R], Decision]] = []
    for (i, photo), decision in zip(photos, decisions):
        if isinstance(decision, ImageError):
            ended[i] = Outcome(photo.file, "skipped", reason=decision.reason, detail=str(decision))
        else:
            decided.append((i, photo, decision))
    if dry_run:
        ended |= {i: _decided(photo.file, decision, config, None) for i, photo, decision in decided}
    elif decided:
        moved = store.move([Move(photo, config.folder_for(decision.label)) for _, photo, decision in decided])
        for (i, photo, decision), result in zip(decided, moved):
            ended[i] = settled(result, config) if isinstance(result, Outcome) \
                else _decided(photo.file, decision, config, result)
    return [ended[i] for i in range(len(found))]


def settled(outcome: Outcome, config: SortConfig) -> Outcome:
    """A store's "gone" for a file it found elsewhere: in a folder this configuration sorts into,
    an earlier try of the same request moved it there (and was cut off before it said so)."""
    if outcome.kind != "gone" or outcome.to_path is None:
        return outcome
    folder = top_folder(outcome.to_path)
    labels = config.labels_by_folder()
    if folder.casefold() not in labels:
        return outcome
    label = labels[folder.casefold()]
    return Outcome(outcome.file, "unsorted" if label is None else "sorted", folder=config.folder_for(label),
                   to_path=outcome.to_path, label=label)


def _decided(file: str, decision: Decision, config: SortConfig, to_path: str | None) -> Outcome:
    others = decision.ranking[1:] if decision.label is not None else decision.ranking
    return Outcome(file, "unsorted" if decision.label is None else "sorted",
                   folder=config.folder_for(decision.label), to_path=to_path, label=decision.label,
                   score=decision.score, by=decision.by, runner_up=others[0] if others else None)
