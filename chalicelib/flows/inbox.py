"""Turn what is in (or new in) the Dropbox inbox (`/All`, or the configured "inbox") into queued sort requests.

Both the webhook (new files since the stored cursor) and POST /sort (everything there) come here.
Per account, one sync at a time holds a lease; a notification that arrives meanwhile leaves a
pending mark and the holder syncs again, so no change is queued twice or lost. The cursor is kept
per inbox folder: once "inbox" names another folder, the first sync lists that one whole.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.adapters.dropbox_store import CursorReset, NotAFolder, StoreNotFound
from chalicelib.flows.paging import PAGE_LIMIT, Budgeted
from chalicelib.rules.configuration import INBOX, SortConfig, parse_sort
from chalicelib.rules.messages import SortRequest
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.photo_files import companions, kind_of, not_sortable, pair_key
from chalicelib.rules.ports import ChangeFeed, ConfigState, FileInfo, LedgerEntry, Page, Queue, SyncState
from chalicelib.rules.vocabulary import Resolution

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
# Dropbox wants the webhook answered within 10 s: its inbox pages and class-folder pages stop
# before this, counted from the request's start; a sync the classify function does has as long.
SYNC_BUDGET_SECONDS = 6.0
LEASE_WAIT_SECONDS = 8.0


class Busy(RuntimeError):
    """Another sort of this account is being queued."""


class NotConfigured(RuntimeError):
    """No classes yet: nothing can be sorted."""


class NoInbox(RuntimeError):
    """There is no inbox folder to sort."""


@dataclass(frozen=True)
class Listing:
    queued: int = 0
    skipped: int = 0
    to_learn: int = 0  # photos in class folders queued to be learned as examples
    handed_over: bool = False  # a sync request is queued to go on (out of time, or another sync running)

    def __add__(self, other: "Listing") -> "Listing":
        return Listing(self.queued + other.queued, self.skipped + other.skipped, self.to_learn + other.to_learn,
                       self.handed_over or other.handed_over)


@dataclass(frozen=True)
class Job:
    job_id: str
    total: int
    skipped: int
    dry_run: bool = False


def cursor_key(account: str, inbox: str) -> str:
    """The inbox cursor's key: the account's for the default inbox (as stored before the inbox could
    be another folder), one per folder for any other."""
    return account if inbox == INBOX else f"{account}#inbox:/{inbox.casefold()}"


class Inbox:
    """The inbox of each call is the configured one ("All", "Photos/Inbox"), as its caller read it."""

    def __init__(self, changes: ChangeFeed, state: SyncState, queue: Queue,
                 clock: Callable[[], float] = time.monotonic):
        self.changes, self.state, self.queue, self.clock = changes, state, queue, clock

    def sync(self, account: str, inbox: str, deadline: float | None = None) -> Listing:
        """Queue the images new in `inbox` since the stored cursor (everything, the first time), a
        page at a time until `deadline` (time.monotonic(); default SYNC_BUDGET_SECONDS from now); out
        of time, the classify function is asked to go on from the cursor stored."""
        owner = self.state.acquire_lease(account, LEASE_SECONDS)
        if owner is None:
            # The holder syncs again for this change; should it die first, a sync after its lease
            # runs out does it instead.
            log.info("sync of %s already running; it will pick up this change", account)
            self.queue.send_sync(account, delay_seconds=LEASE_SECONDS + 1)
            return Listing(handed_over=True)
        if deadline is None:
            deadline = self.clock() + SYNC_BUDGET_SECONDS
        with self._lease(account, owner):
            listing, done = self._pass(account, inbox, deadline, first_page_free=True)
            if not done:
                return self._hand_over(account, listing)
            return self._until_settled(account, owner, listing, deadline, inbox)

    def sort_all(self, account: str, inbox: str) -> Job:
        """Queue every image in the inbox as one job, and continue later syncs from here."""
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        while (owner := self.state.acquire_lease(account, LEASE_SECONDS)) is None:
            if time.monotonic() > deadline:
                raise Busy("another sort of this Dropbox is being queued; try again in a minute")
            time.sleep(0.25)
        deadline = self.clock() + SYNC_BUDGET_SECONDS
        with self._lease(account, owner):
            _, version = self.state.get_cursor(cursor_key(account, inbox))
            files, cursor = self._asked_inbox(inbox)
            photos, others = self._split(files)
            self.state.clear_undone([f.id for f in photos])  # the user asks: undone photos too
            photos = self._not_sorted_in_place(photos)
            job = Job(self.state.create_job(total=len(photos), skipped=len(others)), len(photos), len(others))
            self._queue(photos, others, job.job_id)
            self._save_cursor(cursor_key(account, inbox), cursor, version)
            self._until_settled(account, owner, Listing(), deadline, inbox)
        return job

    def preview(self, config: SortConfig) -> Job:
        """Queue every image in the inbox of `config` as a dry run with it: decided, never moved. It
        leaves the cursor, the counts and undone photos alone, so it needs no lease."""
        files, _ = self._asked_inbox(config.inbox)
        photos, others = self._split(files)
        job = Job(self.state.create_job(len(photos), len(others), preview=config), len(photos), len(others), True)
        self.state.note_left(job.job_id, [(f.id, outcome) for f, outcome in others])
        self.queue.send(self._requests(photos, job.job_id, dry_run=True))
        return job

    def _until_settled(self, account: str, owner: str, listing: Listing, deadline: float, inbox: str) -> Listing:
        """More passes while notifications came in meanwhile (letting go fails, and clears their
        mark). Out of time, the classify function is asked to go on from the stored cursor."""
        while not self.state.release_lease(account, owner):
            more, done = self._pass(account, inbox, deadline)
            listing += more
            if not done:
                return self._hand_over(account, listing)
        return listing

    def _hand_over(self, account: str, listing: Listing) -> Listing:
        log.info("sync of %s out of time; the classify function continues it", account)
        self.queue.send_sync(account)
        return listing + Listing(handed_over=True)

    @contextlib.contextmanager
    def _lease(self, account: str, owner: str) -> Iterator[None]:
        """Let go of the lease on the way out, whatever happened (a no-op once released)."""
        try:
            yield
        finally:
            self.state.release_lease(account, owner, force=True)

    def _pass(self, account: str, inbox: str, deadline: float, first_page_free: bool = False
              ) -> tuple[Listing, bool]:
        """Queue what the listing of `inbox` from the stored cursor holds, a page at a time while
        there is time; whether it got to the end."""
        key = cursor_key(account, inbox)
        cursor, version = self.state.get_cursor(key)
        pages = Budgeted(self._pages(account, inbox, cursor), deadline, first_page_free=first_page_free,
                         clock=self.clock)
        listing = Listing()
        job_id: str | None = None  # one job for the pass: a backfill of many pages is one job to follow or undo
        for page in pages:
            photos, others = self._split(page.files)
            # Photos put back by an undo stay in the inbox until the user asks (POST /sort).
            entries = self.state.ledger([f.id for f in photos]) if photos else {}
            photos = [f for f in photos if not (f.id in entries and entries[f.id].undone)]
            photos = self._not_sorted_in_place(photos, entries)
            # Every sort is a job, so that it can be undone; queued before the cursor moves on: a
            # failure here leaves the changes for the next try.
            if job_id is None and photos:
                job_id = self.state.create_job(len(photos), len(others), source="webhook")
            elif job_id is not None:
                self.state.grow_job(job_id, str(version), len(photos), len(others))
            listing += self._queue(photos, others, job_id=job_id)
            if not self._save_cursor(key, page.cursor, version):
                return listing, True  # another sync has the cursor now
            version += 1
        return listing, not pages.out_of_time

    def _not_sorted_in_place(self, photos: list[FileInfo], entries: Mapping[str, LedgerEntry] | None = None
                             ) -> list[FileInfo]:
        """Photos the service decided where they are ("action": "tag": tagged, or left untagged) stay
        decided, as a moved photo is out of the inbox: a sort leaves them until an undo."""
        if entries is None:
            entries = self.state.ledger([f.id for f in photos]) if photos else {}
        return [f for f in photos if not _in_place(entries.get(f.id))]

    def _pages(self, account: str, inbox: str, cursor: str | None) -> Iterator[Page]:
        """The changes since `cursor`, or (without one, or one Dropbox reset) the whole inbox; no
        page while there is no inbox folder (the first notification after it is made lists it)."""
        if cursor is not None:
            try:
                yield from self.changes.change_pages(cursor)
                return
            except (CursorReset, StoreNotFound):
                # Routine: Dropbox expires cursors now and then (the stand-in at each restart); the
                # ledger keeps photos already sorted from being sorted again.
                log.info("Listing the inbox of %s from the start: Dropbox no longer takes the stored cursor "
                         "(it renews cursors now and then, or the inbox was recreated); nothing is sorted twice",
                         account)
        try:
            yield from self.changes.folder_pages(f"/{inbox}", PAGE_LIMIT)
        except (StoreNotFound, NotAFolder):
            log.warning("Dropbox has no folder /%s; nothing to sort until it is made", inbox)

    def _asked_inbox(self, inbox: str) -> tuple[list[FileInfo], str]:
        """Everything in the inbox for a sort the user asked for: NoInbox (a 409) without one."""
        try:
            return self.changes.list_folder(f"/{inbox}")
        except (StoreNotFound, NotAFolder):
            raise NoInbox(f"Dropbox has no folder /{inbox}: create it and put photos in it") from None

    def _save_cursor(self, key: str, cursor: str, version: int) -> bool:
        if not self.state.put_cursor(key, cursor, version):
            log.warning("cursor %s moved under a lease that expired; changes may be queued twice", key)
            return False
        return True

    @staticmethod
    def _split(files: Sequence[FileInfo]) -> tuple[list[FileInfo], list[tuple[FileInfo, Outcome]]]:
        """The photos to sort (with the videos, RAW files and sidecars that may go with one), and the
        other files with the outcome that leaves them in place."""
        photos, others = [], []
        for f in files:
            error = not_sortable(f.path_display)
            if error is None:
                photos.append(f)
            else:
                others.append((f, Outcome.skipped(f.path_display, error)))
        return photos, others

    def _requests(self, files: Sequence[FileInfo], job_id: str | None, dry_run: bool = False) -> list[SortRequest]:
        """One request per file; a file that goes with a photo (a Live Photo's video, a RAW beside
        its JPEG) names that photo, and follows it wherever it is sorted: one listed beside it,
        else the one placed earlier from the same path without extension (it was uploaded later)."""
        by_path = {f.path_lower: f for f in files}
        leads = {path: by_path[lead].id for path, lead in companions(list(by_path)).items()}
        later = [f for f in files if f.path_lower not in leads and kind_of(f.path_lower) in ("raw", "video", "sidecar")]
        earlier = self.state.photos_named([pair_key(f.path_lower) for f in later]) if later else {}
        for f in later:
            if earlier.get(pair_key(f.path_lower)) not in (None, f.id):
                leads[f.path_lower] = earlier[pair_key(f.path_lower)]
        return [SortRequest(f.id, f.path_display, f.rev, job_id, dry_run, leads.get(f.path_lower)) for f in files]

    def _queue(self, photos: Sequence[FileInfo], others: Sequence[tuple[FileInfo, Outcome]],
               job_id: str | None) -> Listing:
        # Non-photos are left where they are, and said why (once, whichever listing saw them first).
        self.state.record_many([(SortRequest(f.id, f.path_display, f.rev), outcome) for f, outcome in others])
        if job_id:
            self.state.note_left(job_id, [(f.id, outcome) for f, outcome in others])
        self.queue.send(self._requests(photos, job_id))
        self.state.add_queued(len(photos))
        return Listing(len(photos), len(others))


def _in_place(entry: LedgerEntry | None) -> bool:
    return (entry is not None and not entry.undone and entry.to is None
            and (entry.counter == "unsorted" or (entry.counter or "").startswith("tagged:")))


def start_sort(body: object, state: ConfigState, inbox: Inbox, account: str,
               resolver: Callable[[], Callable[[str], Resolution]]) -> Job:
    """POST /sort: everything in the inbox, once classes are configured; a dry run with the stored
    classes, or with those the body proposes (`resolver()` resolves them)."""
    dry_run, proposed = parse_sort(body, resolver)
    config = proposed or state.get_config()
    if config is None:
        raise NotConfigured('configure the classes first: POST /configure {"classes": [...]} '
                            '(or preview some: POST /sort {"dry_run": true, "classes": [...]})')
    return inbox.preview(config) if dry_run else inbox.sort_all(account, config.inbox)
