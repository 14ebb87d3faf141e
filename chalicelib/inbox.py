"""Turn what is in (or new in) the Dropbox inbox `/All` into queued sort requests.

Both the webhook (new files since the stored cursor) and POST /sort (everything there) come here.
Per account, one sync at a time holds a lease; a notification that arrives meanwhile leaves a
pending mark and the holder syncs again, so no change is queued twice or lost.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .dropbox_store import CursorReset, FileInfo
from .images import is_image_name
from .messages import SortRequest
from .state_store import Outcome

log = logging.getLogger(__name__)

INBOX = "/All"
LEASE_SECONDS = 60
# Dropbox wants the webhook answered within 10 s; extra passes stop before that.
SYNC_BUDGET_SECONDS = 7.0
LEASE_WAIT_SECONDS = 8.0


class Busy(RuntimeError):
    """Another sync of this account holds the lease."""


@dataclass
class Listing:
    queued: int = 0
    skipped: int = 0

    def add(self, other: "Listing") -> None:
        self.queued += other.queued
        self.skipped += other.skipped


@dataclass(frozen=True)
class Job:
    job_id: str
    total: int
    skipped: int


class Inbox:
    def __init__(self, store, state, queue, folder: str = INBOX):
        self.store, self.state, self.queue, self.folder = store, state, queue, folder

    def sync(self, account: str) -> Listing:
        """Queue the images new since the stored cursor (everything, the first time)."""
        owner = self.state.acquire_lease(account, LEASE_SECONDS)
        if owner is None:
            log.info("sync of %s already running; it will pick up this change", account)
            return Listing()
        listing = Listing()
        self._hold(account, owner, listing, full=False)
        return listing

    def sort_all(self, account: str) -> Job:
        """Queue every image in the inbox as one job, and continue later syncs from here."""
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        while (owner := self.state.acquire_lease(account, LEASE_SECONDS)) is None:
            if time.monotonic() > deadline:
                raise Busy("another sort of this Dropbox is being queued; try again in a minute")
            time.sleep(0.25)
        listing = Listing()
        job = self._hold(account, owner, listing, full=True)
        assert job is not None
        return job

    def _hold(self, account: str, owner: str, listing: Listing, full: bool) -> Job | None:
        """Passes under the lease until nothing is pending (or the time budget is spent)."""
        job = None
        deadline = time.monotonic() + SYNC_BUDGET_SECONDS
        try:
            while True:
                cursor, version = self.state.get_cursor(account)
                if full or cursor is None:
                    files, new_cursor = self.store.list_folder(self.folder)
                else:
                    try:
                        files, new_cursor = self.store.list_changes(cursor)
                    except CursorReset:
                        log.warning("Dropbox reset the cursor of %s; listing the inbox again", account)
                        files, new_cursor = self.store.list_folder(self.folder)
                if full:
                    job = self._queue_job(files)
                    listing.queued, listing.skipped = job.total, job.skipped
                    full = False
                else:
                    listing.add(self._queue(files, None))
                if not self.state.put_cursor(account, new_cursor, version):
                    log.warning("cursor of %s moved under a lease that expired; changes may be queued twice",
                                account)
                if self.state.release_lease(account, owner):
                    owner = None
                    return job
                if time.monotonic() > deadline:
                    return job  # still pending: the next notification continues from the stored cursor
        finally:
            if owner is not None:
                self.state.release_lease(account, owner, force=True)

    def _queue_job(self, files: Sequence[FileInfo]) -> Job:
        images = sum(is_image_name(f.name) for f in files)
        job_id = self.state.create_job(total=images, skipped=len(files) - images)
        listing = self._queue(files, job_id)
        return Job(job_id, listing.queued, listing.skipped)

    def _queue(self, files: Sequence[FileInfo], job_id: str | None) -> Listing:
        requests = [SortRequest(f.id, f.path_display, f.rev, job_id) for f in files if is_image_name(f.name)]
        # Left where they are, and said why (once, whichever listing saw them first).
        others = [Outcome(SortRequest(f.id, f.path_display, f.rev), "skipped", reason="not an image file")
                  for f in files if not is_image_name(f.name)]
        self.state.record_many(others)
        self.queue.send(requests)
        self.state.add_queued(len(requests))
        return Listing(len(requests), len(others))
