"""Learn the photos the user put in class folders, and hand the examples to the sorting: the
classify function's half of learning by example (chalicelib/flows/class_folders.py queues the work).

A photo in a class folder is the user's unless the ledger says the service put it in that folder
(by its file id: a photo the user renamed there is still the service's). While the service is
moving the photo, the request comes back later. A photo the service had put in one class folder
and the user moved to another is an example of the new class and a counter-example of the old one.
That rule is chalicelib/rules/learning.py, shared with `main.py --folder`; this module gathers its
facts (where the photo is, where the ledger says the service put it) and stores what it teaches.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from chalicelib.flows.class_folders import put_in
from chalicelib.rules import examples
from chalicelib.rules.configuration import SortConfig, top_folder
from chalicelib.rules.learning import Lesson, lessons
from chalicelib.rules.messages import LearnRequest, SortRequest
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.ports import Example, ExampleState, LedgerEntry, Photo, PhotoFeatures

log = logging.getLogger(__name__)

Read = Callable[[Sequence[SortRequest]], list[Photo[SortRequest] | Outcome]]


def learn(requests: Sequence[LearnRequest], read: Read, features: Callable[[], PhotoFeatures],
          state: ExampleState, config: SortConfig | None) -> list[bool]:
    """Per request: True when done (learned, or nothing to learn), False to try again later.
    `read` reads photos wherever they are; `features` loads the model on first call."""
    entries = state.ledger([r.file_id for r in requests])
    placed = [entries.get(r.file_id, LedgerEntry()) for r in requests]
    # Not done while the service is moving the photo (its outcome not yet recorded).
    done = [not entry.moving for entry in placed]
    wanted = [i for i, entry in enumerate(placed) if not entry.moving]
    found = read([requests[i].as_sort_request() for i in wanted])
    # Every class folder's examples are kept, configured or not: a later /configure may name it.
    config = config or SortConfig(())
    teaching: list[tuple[Photo[SortRequest], tuple[Lesson, ...]]] = []
    for i, item in zip(wanted, found):
        if not isinstance(item, Photo):
            done[i] = item.finished  # gone or unreadable: nothing to learn; busy: later
            continue
        taught = lessons(top_folder(item.path), put_in(placed[i]), config.is_class_folder, config.inbox)
        if taught:  # not back in the inbox, nor where the service put it (renamed there or not)
            teaching.append((item, taught))
    if not teaching:
        return done
    stored = []
    for (photo, taught), vector in zip(teaching, features().features_batch([p.data for p, _ in teaching])):
        if isinstance(vector, Exception):
            log.info("not learned from %s: %s", photo.path, vector)
            continue
        data = examples.encode(vector)
        stored += [Example(lesson.folder, lesson.role, photo.ref.file_id, photo.path, data) for lesson in taught]
    state.put_examples(stored)
    for example in stored:
        log.info("learned %s as %s of %s", example.path, example.role, example.folder)
    return done


class ExampleCache:
    """The configured classes' examples, read again only when they changed (one small read per
    batch says so), in whichever container the change was made."""

    def __init__(self, state: ExampleState):
        self._state = state
        self._value: examples.Examples = {}
        self._key: tuple[tuple[str, ...], int] | None = None

    def get(self, config: SortConfig) -> examples.Examples:
        key = (config.classes, self._state.examples_version())
        if key != self._key:
            stored = self._state.examples([config.folder_for(c) for c in config.classes])
            self._value = {}
            for label in config.classes:
                positives, negatives = stored.get(config.folder_for(label).casefold(), ([], []))
                if positives or negatives:
                    self._value[label] = examples.stored(positives, negatives)
            self._key = key
        return self._value
