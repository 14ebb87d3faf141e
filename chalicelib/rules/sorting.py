"""The one sorting core: read a batch of photos, decide each one's class, move it (or, with
"action": "tag", tag it where it is with every class above its threshold). A file that goes with
a photo (a Live Photo's video, a RAW beside its JPEG, an edit's sidecar) follows that photo into
its folder under its name; a video on its own goes to the videos folder, or stays.

The classify Lambda (through dropbox_photos.DropboxPhotos) and `main.py --folder` (through
cli/folder_photos.FolderPhotos) both sort with `sort_batch`; only the PhotoStore differs.
Every step is safe to repeat: a photo that the store says the service moved already is reported
as sorted, and a move never overwrites.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from chalicelib.rules.configuration import VIDEOS_FOLDER, SortConfig, top_folder
from chalicelib.rules.dates import date_folder
from chalicelib.rules.outcomes import TOP_CLASSES, Outcome
from chalicelib.rules.photo_files import ImageError, kind_of
from chalicelib.rules.ports import Decision, Lead, Move, Originals, Photo, PhotoClassifier, PhotoStore, R, Tagging
from chalicelib.rules.tags import tag_text

if TYPE_CHECKING:
    from chalicelib.rules.examples import Examples

# The reasons a store gives a photo found where the service put it: this request moved it (an
# earlier try, cut off before it said so), or another request of the service did (the same photo
# queued twice). Any other photo found away was moved by someone else.
MOVED_BY_US = "moved_by_us"
SORTED_ALREADY = "sorted_already"
PLACED = ("sorted", "unsorted")
# A file that goes with a photo not sorted yet: it comes back until that photo is (flows/classify.py).
WAITING_FOR_PHOTO = "waiting_for_photo"


def sort_batch(refs: Sequence[R], store: PhotoStore[R], classifier: PhotoClassifier, config: SortConfig,
               *, examples: Examples | None = None, originals: Originals[R] | None = None,
               dry_run: bool = False) -> list[Outcome]:
    """One Outcome per ref, in order: one read, one classify call and one move for the batch.
    `examples`: the classes' own photos, by class. `originals`: the photos sorted before, by their
    bytes; what the batch sorts joins them, and with "duplicates": "folder" an exact copy of one
    (or of an earlier photo of the batch) goes to the duplicates folder. With "by_date", a photo
    goes into the date folder of its class folder (rules/dates.py). A dry run moves nothing.
    Videos and the files that go with a photo are not classified: they are moved after the photos
    (`_along`), so one that goes with a photo of this batch follows it at once."""
    found = store.read(refs, config.inbox)
    ended: dict[int, Outcome] = {i: settled(item, config) for i, item in enumerate(found)
                                 if isinstance(item, Outcome)}
    read = [(i, item) for i, item in enumerate(found) if isinstance(item, Photo)]
    photos = [(i, photo) for i, photo in read if not photo.companion and kind_of(photo.path) in ("photo", "raw")]
    ended |= _sort_photos(photos, store, classifier, config, examples, originals, dry_run)
    # Then the files that go with a photo, once this batch's photos are where they go (would go, in a dry run).
    placed = {photo.ref: to for i, photo in photos if ended[i].kind in PLACED and (to := _where(ended[i], photo, dry_run))}
    along = [(i, photo) for i, photo in read if i not in ended]
    companions = [(i, photo) for i, photo in along if photo.companion]
    leads = dict(zip((i for i, _ in companions),
                     store.leads([photo.ref for _, photo in companions], config.inbox, placed))) if companions else {}
    # A RAW whose photo failed or is gone is sorted by its own preview.
    raws = [(i, photo) for i, photo in along if leads.get(i) is None and kind_of(photo.path) in ("photo", "raw")]
    ended |= _sort_photos(raws, store, classifier, config, examples, originals, dry_run)
    ended |= _along(store, config, [(i, photo, leads.get(i)) for i, photo in along if i not in ended], dry_run)
    return [ended[i] for i in range(len(found))]


def _sort_photos(photos: Sequence[tuple[int, Photo[R]]], store: PhotoStore[R], classifier: PhotoClassifier,
                 config: SortConfig, examples: Examples | None, originals: Originals[R] | None,
                 dry_run: bool) -> dict[int, Outcome]:
    """The classified photos' outcomes, by their index in the batch."""
    ended: dict[int, Outcome] = {}
    decisions = classifier.classify_batch([p.data for _, p in photos], config.classes, config.class_thresholds(),
                                          examples) if photos else []
    decided: list[tuple[int, Photo[R], Decision]] = []
    for (i, photo), decision in zip(photos, decisions):
        if isinstance(decision, ImageError):
            ended[i] = Outcome.skipped(photo.reported_as, decision)
        else:
            decided.append((i, photo, decision))
    if config.tags:  # tagged where they are: no move, so no copies to tell apart from what moved
        ended |= _tag(store, decided, dry_run, config.inbox)
        return ended
    copies: list[str | None] = [None] * len(decided)
    if originals is not None and decided and (config.duplicates_folder or not dry_run):
        earlier = _copy_of([photo for _, photo, _ in decided], originals, claim=not dry_run)
        if config.duplicates_folder:  # with "keep", the batch's photos were only remembered
            copies = earlier
    if dry_run:
        ended |= {i: _decided(photo.reported_as, decision, config, None, copy_of, _date_folder(config, photo, copy_of))
                  for (i, photo, decision), copy_of in zip(decided, copies)}
        return ended
    # A copy of an earlier photo of this batch waits for that photo's move: if it fails, the copy
    # is a copy of nothing sorted, and is decided again once the failed photo gave up its bytes.
    firsts = {photo.path for _, photo, _ in decided}
    later = [n for n, copy_of in enumerate(copies) if copy_of in firsts]
    ended |= _move(store, config, [d for n, d in enumerate(decided) if n not in later],
                   [c for n, c in enumerate(copies) if n not in later], originals)
    if later:
        again = [n for n in later if ended[_index_of(decided, copies[n])].kind not in PLACED]
        if again and originals is not None:
            for n, copy_of in zip(again, _copy_of([decided[n][1] for n in again], originals, claim=True)):
                copies[n] = copy_of
        ended |= _move(store, config, [decided[n] for n in later], [copies[n] for n in later], originals)
    return ended


def _along(store: PhotoStore[R], config: SortConfig, files: Sequence[tuple[int, Photo[R], Lead | None]],
           dry_run: bool) -> dict[int, Outcome]:
    """Files that are not classified, moved in one call: each that goes with a photo follows it
    (its Lead), a video on its own goes to the videos folder or stays, a sidecar on its own stays."""
    if not files:
        return {}
    ended: dict[int, Outcome] = {}
    moving: list[tuple[int, Move[R], Outcome]] = []
    for i, photo, lead in files:
        plan = _plan(photo, lead, config, dry_run)
        if isinstance(plan, Outcome):
            ended[i] = plan
        else:
            moving.append((i, *plan))
    if dry_run:
        return ended | {i: outcome for i, _, outcome in moving}
    results = store.move([move for _, move, _ in moving], config.inbox) if moving else []
    for (i, _, outcome), result in zip(moving, results):
        ended[i] = settled(result, config) if isinstance(result, Outcome) else replace(outcome, to_path=result)
    return ended


def _plan(photo: Photo[R], lead: Lead | None, config: SortConfig, dry_run: bool) -> Outcome | tuple[Move[R], Outcome]:
    """Where a file that is not classified goes (its move, and its outcome once moved), or the
    outcome that leaves it where it is for now."""
    file = photo.reported_as
    if lead is not None:
        if config.tags or lead.state == "stays":
            return Outcome(file, "skipped", reason="with_photo", detail=f"stays with {lead.path}, which is in the inbox")
        if lead.state == "waiting" or lead.folder is None:
            if dry_run:
                return Outcome(file, "skipped", reason="with_photo", detail=f"goes wherever {lead.path} goes")
            return Outcome(file, "retry", reason=WAITING_FOR_PHOTO,
                           detail=f"goes with {lead.path}, which is not sorted yet")
        top, _, date = lead.folder.partition("/")
        label = config.labels_by_folder().get(top.casefold())
        name = f"{lead.stem}{PurePosixPath(photo.path).suffix}" if lead.stem else None
        return Move(photo, lead.folder, name), Outcome(
            file, "unsorted" if top.casefold() == config.unsorted_folder.casefold() else "sorted", folder=top,
            label=label, reason="with_photo", detail=f"goes with {lead.path}", date_folder=date or None)
    if kind_of(photo.path) == "sidecar":
        return Outcome(file, "skipped", reason="sidecar",
                       detail="a sidecar (edits or metadata) with no photo of its name beside it")
    if config.videos_folder is None:
        return Outcome(file, "skipped", reason="video",
                       detail=f'videos stay in the inbox ("videos": "folder", or --videos folder, moves them to /{VIDEOS_FOLDER})')
    dated = date_folder(config.by_date, b"", photo.modified)
    return Move(photo, "/".join(filter(None, (config.videos_folder, dated)))), Outcome(
        file, "sorted", folder=config.videos_folder, reason="video", date_folder=dated)


def _where(outcome: Outcome, photo: Photo[R], dry_run: bool) -> str | None:
    """Where a photo went, or in a dry run where it would go."""
    if not dry_run:
        return outcome.to_path
    return f"/{outcome.destination}/{PurePosixPath(photo.path).name}" if outcome.destination else None


def _index_of(decided: Sequence[tuple[int, Photo[R], Decision]], path: str | None) -> int:
    return next(i for i, photo, _ in decided if photo.path == path)


def _move(store: PhotoStore[R], config: SortConfig, decided: Sequence[tuple[int, Photo[R], Decision]],
          copies: Sequence[str | None], originals: Originals[R] | None) -> dict[int, Outcome]:
    """Move decided photos into their class folders (copies into the duplicates folder), in one
    call; a photo that did not get there gives up the claim on its bytes."""
    if not decided:
        return {}
    dates = [_date_folder(config, photo, copy_of) for (_, photo, _), copy_of in zip(decided, copies)]
    # A copy is found only where there is a duplicates folder (sort_batch).
    moved = store.move([Move(photo, config.duplicates_folder if copy_of and config.duplicates_folder
                             else "/".join(filter(None, (config.folder_for(decision.label), date))))
                        for (_, photo, decision), copy_of, date in zip(decided, copies, dates)], config.inbox)
    ended = {i: settled(result, config) if isinstance(result, Outcome)
             else _decided(photo.reported_as, decision, config, result, copy_of, date)
             for (i, photo, decision), copy_of, result, date in zip(decided, copies, moved, dates)}
    not_placed = [photo for i, photo, _ in decided if ended[i].kind not in PLACED]
    if originals is not None and not_placed:
        originals.withdraw(not_placed)
    return ended


def _tag(store: PhotoStore[R], decided: Sequence[tuple[int, Photo[R], Decision]], dry_run: bool, inbox: str
         ) -> dict[int, Outcome]:
    """Tag each decided photo with its classes above their thresholds, in one call; one with none
    is unsorted, and stays as it is. A dry run says the tags it would add."""
    ended = {i: _unsorted_in_place(photo.reported_as, decision) for i, photo, decision in decided
             if not decision.labels}
    labelled = [(i, photo, decision) for i, photo, decision in decided if decision.labels]
    wanted = [tuple(tag_text(label) for label in decision.labels) for _, _, decision in labelled]
    if dry_run:
        return ended | {i: _tagged(photo.reported_as, decision, tags) for (i, photo, decision), tags
                        in zip(labelled, wanted)}
    results = store.tag([Tagging(photo, tags) for (_, photo, _), tags in zip(labelled, wanted)], inbox) if labelled else []
    for (i, photo, decision), result in zip(labelled, results):
        if not isinstance(result, Outcome):
            ended[i] = _tagged(photo.reported_as, decision, result)
        elif result.reason == SORTED_ALREADY:  # tagged by another request of the service: this one added nothing
            ended[i] = replace(_tagged(photo.reported_as, decision, ()), by_another=True)
        else:
            ended[i] = result
    return ended


def _tagged(file: str, decision: Decision, added: tuple[str, ...]) -> Outcome:
    """A photo tagged with its classes (`decision.labels`, best first); `added` the tag texts this
    sort added to it (for a dry run, those it would add)."""
    scores = dict(decision.ranking)
    first = decision.labels[0]
    others = [entry for entry in decision.ranking if entry[0] not in decision.labels]
    return Outcome(file, "tagged", label=first, score=scores[first], by=decision.by,
                   runner_up=others[0] if others else None, top=decision.ranking[:TOP_CLASSES],
                   tags=decision.labels, added=added)


def _unsorted_in_place(file: str, decision: Decision) -> Outcome:
    """A photo no class reaches its threshold on, when sorting tags: it stays as it is, untagged."""
    return Outcome(file, "unsorted", score=decision.score, runner_up=decision.ranking[0] if decision.ranking else None,
                   top=decision.ranking[:TOP_CLASSES])


def settled(outcome: Outcome, config: SortConfig) -> Outcome:
    """A store's "gone" for a file the service moved already (an earlier try cut off before it
    said so, or another request of the same photo): sorted into the folder it is in, if this
    configuration sorts into it."""
    if outcome.reason not in (MOVED_BY_US, SORTED_ALREADY) or outcome.to_path is None:
        return outcome
    by_another = outcome.reason == SORTED_ALREADY
    folder = top_folder(outcome.to_path)
    if config.videos_folder and folder.casefold() == config.videos_folder.casefold():
        return Outcome(outcome.file, "sorted", folder=config.videos_folder, to_path=outcome.to_path,
                       reason="video", by_another=by_another)
    if config.duplicates_folder and folder.casefold() == config.duplicates_folder.casefold():
        return Outcome(outcome.file, "sorted", folder=config.duplicates_folder, to_path=outcome.to_path,
                       reason="duplicate", by_another=by_another)
    labels = config.labels_by_folder()
    if folder.casefold() not in labels:
        return outcome
    label = labels[folder.casefold()]
    return Outcome(outcome.file, "unsorted" if label is None else "sorted", folder=config.folder_for(label),
                   to_path=outcome.to_path, label=label, by_another=by_another)


def _date_folder(config: SortConfig, photo: Photo[R], copy_of: str | None) -> str | None:
    """The date folder "by_date" files the photo in; none for a copy bound for the duplicates folder."""
    return None if copy_of and config.duplicates_folder else date_folder(config.by_date, photo.data, photo.modified)


def _copy_of(photos: Sequence[Photo[R]], originals: Originals[R], claim: bool) -> list[str | None]:
    """Per photo, where an earlier photo with the same bytes is: one sorted before, or the first
    of the batch with those bytes."""
    firsts: dict[str, int] = {}
    for i, photo in enumerate(photos):
        if photo.content_hash is not None:
            firsts.setdefault(photo.content_hash, i)
    earlier = dict(zip(firsts.values(), originals.earlier([photos[i] for i in firsts.values()], claim)))
    where: list[str | None] = []
    for i, photo in enumerate(photos):
        first = firsts.get(photo.content_hash) if photo.content_hash is not None else None
        if first is None:
            where.append(None)
        elif first == i:
            where.append(earlier[i])
        else:  # a later photo of the batch with those bytes: a copy of what the first is a copy of, or of it
            where.append(earlier[first] or photos[first].path)
    return where


def _decided(file: str, decision: Decision, config: SortConfig, to_path: str | None,
             copy_of: str | None = None, date: str | None = None) -> Outcome:
    """A decided photo's outcome: its class's folder (and its date folder there, `date`) or, for an
    exact copy of `copy_of`, the duplicates folder (its class still said)."""
    others = decision.ranking[1:] if decision.label is not None else decision.ranking
    return Outcome(file, "sorted" if copy_of or decision.label is not None else "unsorted",
                   folder=config.duplicates_folder if copy_of else config.folder_for(decision.label),
                   to_path=to_path, label=decision.label, score=decision.score, by=decision.by,
                   runner_up=others[0] if others else None, reason="duplicate" if copy_of else None,
                   detail=f"the same bytes as {copy_of}" if copy_of else None, top=decision.ranking[:TOP_CLASSES],
                   date_folder=date)
