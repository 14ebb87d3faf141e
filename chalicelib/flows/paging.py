"""A listing pass under a time budget: a page at a time (listed, queued and its cursor stored
before the next is read), so memory holds one page and a pass out of time stops at a page's end:
the stored cursor covers exactly the files queued, and whoever continues starts there."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from chalicelib.rules.ports import Page

# Entries per page of a fresh listing (Dropbox's own cap is 2000): a page is queued before the
# time is looked at again, so a page must be well inside the budget.
PAGE_LIMIT = 250


class Budgeted:
    """The pages of a listing while the next one is expected to be done by `deadline` (the
    slowest page so far says how long one takes); `out_of_time` once it stopped for that. With
    `first_page_free`, the first page is read whatever the time: each pass makes progress."""

    def __init__(self, pages: Iterator[Page], deadline: float, *, first_page_free: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self._pages, self._deadline, self._free, self._clock = pages, deadline, first_page_free, clock
        self.out_of_time = False

    def __iter__(self) -> Iterator[Page]:
        started = self._clock()
        slowest = 0.0
        if not self._free and started >= self._deadline:
            self.out_of_time = True
            return
        for page in self._pages:
            yield page  # the caller queues it and stores its cursor before asking for the next
            if not page.more:
                return
            now = self._clock()
            slowest, started = max(slowest, now - started), now
            if now + slowest > self._deadline:
                self.out_of_time = True
                return
