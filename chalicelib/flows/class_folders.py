"""Follow the class folders for what the user puts in them: the webhook's half of learning by example.

Beside the inbox's cursor, each account has a cursor on the whole app folder. A photo that appears
directly in a top-level folder other than the inbox, or in a date folder of one ("/Cat/2024/a.jpg",
as "by_date" sorts), is queued to be learned (the classify function
has the model, and tells the service's own moves from the user's: chalicelib/flows/learning.py); a path
deleted takes its examples with it. A photo the service put in the folder it is in (the ledger says,
by file id; the rule is chalicelib/rules/learning.py) is not queued. Nothing here reads a photo or
loads numpy.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from chalicelib.adapters.dropbox_store import CursorReset, StoreNotFound
from chalicelib.flows.paging import PAGE_LIMIT, Budgeted
from chalicelib.rules import learning
from chalicelib.rules.configuration import in_inbox, is_date_folder, top_folder
from chalicelib.rules.messages import LearnRequest
from chalicelib.rules.photo_files import not_sortable
from chalicelib.rules.ports import ChangeFeed, ExampleSyncState, LedgerEntry, Page, Queue

log = logging.getLogger(__name__)


def cursor_key(account: str) -> str:
    return f"{account}#class-folders"


def in_class_folder(path: str, inbox: str) -> bool:
    """Directly in a top-level folder that does not hold the inbox `inbox` ("/Cat/a.jpg"), or in a
    date folder of one ("/Cat/2024/a.jpg"), as main.py --folder reads them."""
    parts = path.strip("/").split("/")
    return (len(parts) == 2 or len(parts) == 3 and is_date_folder(parts[1])) \
        and parts[0].casefold() != top_folder(inbox).casefold() and not parts[0].startswith(".")


def put_in(entry: LedgerEntry | None) -> str | None:
    """The top folder the service put a photo in (lower case), as the ledger says; None if it never
    did, or an undo took it back."""
    return top_folder(entry.to) if entry is not None and entry.to else None


def follow(account: str, changes: ChangeFeed, state: ExampleSyncState, queue: Queue, inbox: str, deadline: float,
           clock: Callable[[], float] = time.monotonic) -> tuple[int, bool]:
    """Queue the photos new in class folders since the stored cursor (all of them, the first time)
    and forget the examples whose paths were deleted, a page at a time until `deadline`
    (time.monotonic()); how many were queued, and whether it got to the end (else the cursor
    stored is where the next follow goes on). `inbox`: the configured one."""
    cursor, version = state.get_cursor(cursor_key(account))
    pages = Budgeted(_pages(account, changes, cursor), deadline, clock=clock)
    queued = 0
    for page in pages:
        queued += _follow_page(page, state, queue, inbox)
        if not state.put_cursor(cursor_key(account), page.cursor, version):
            log.info("class folders of %s were followed by another sync meanwhile", account)
            return queued, True
        version += 1
    return queued, not pages.out_of_time


def _pages(account: str, changes: ChangeFeed, cursor: str | None) -> Iterator[Page]:
    if cursor is not None:
        try:
            yield from changes.change_pages(cursor)
            return
        except (CursorReset, StoreNotFound):
            log.info("Listing the class folders of %s from the start: Dropbox no longer takes the stored "
                     "cursor; nothing is learned twice", account)
    yield from changes.folder_pages("", PAGE_LIMIT)


def _follow_page(page: Page, state: ExampleSyncState, queue: Queue, inbox: str) -> int:
    """Forget the examples deleted on this page and queue its photos new in class folders,
    before the cursor moves on: a failure here leaves the changes for the next try."""
    gone = [path for path in page.deleted if path.strip("/").casefold() != inbox.casefold()
            and not in_inbox(path, inbox)]
    if gone and (forgotten := state.forget_examples(gone)):
        log.info("forgot %d example(s) deleted or moved away", forgotten)
    # A RAW file is a photo here too: it is read (and learned) by its embedded preview.
    candidates = [f for f in page.files if in_class_folder(f.path_display, inbox)
                  and not_sortable(f.path_display, ("photo", "raw")) is None]
    # The service's own moves, already recorded, are passed over here (by file id: renamed in their
    # folder or not); any other is checked again when learned (a move whose record is on its way).
    ledger = state.ledger([f.id for f in candidates]) if candidates else {}
    requests = [LearnRequest(f.id, f.path_display) for f in candidates
                if not learning.put_there(top_folder(f.path_display), put_in(ledger.get(f.id)))]
    queue.send(requests)
    return len(requests)
