"""Dropbox's change notifications: verify, then queue what changed in each account's inbox.

`WebhookHandler`, built once by the wiring, holds what a notification needs; its `handle` takes
only the request's body and signature. Dropbox wants an answer within 10 s, so nothing here
downloads or classifies, and the model is never loaded on this path.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.flows import inbox as inbox_flow
from chalicelib.flows.auth import signature_ok
from chalicelib.flows.inbox import Inbox, Listing
from chalicelib.rules.configuration import SortConfig
from chalicelib.rules.ports import ConfigState

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


def _process_start() -> float | None:
    """When this process started, on time.monotonic()'s clock (on Linux both count from boot)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None
    return min(ticks / os.sysconf("SC_CLK_TCK"), time.monotonic())


_first_request_started = _process_start()


def request_started() -> float:
    """When Dropbox's 10 s began for this request: now, or for the first request of a cold
    process, the process's start (its imports count too)."""
    global _first_request_started
    started, _first_request_started = _first_request_started or time.monotonic(), None
    return started


class Rejected(ValueError):
    """A notification we refuse; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def accounts(body: bytes) -> list[str]:
    """The account ids of a `{"list_folder": {"accounts": [...]}}` notification."""
    try:
        data = json.loads(body)
        ids = data["list_folder"]["accounts"]
    except (ValueError, TypeError, KeyError, RecursionError):
        raise Rejected(400, 'expected a Dropbox notification: {"list_folder": {"accounts": [...]}}') from None
    if not isinstance(ids, list) or not all(isinstance(a, str) for a in ids):
        raise Rejected(400, '"list_folder.accounts" must be a list of account ids')
    return ids


@dataclass(frozen=True, kw_only=True)
class WebhookHandler:
    """The webhook's handler: built once per container by the wiring, it holds what a notification
    needs; `handle` takes only the request's body and signature."""

    app_secret: str                               # what Dropbox signs its notifications with
    state: ConfigState                            # whether any classes are configured
    inbox: Inbox                                  # lists what is new in the inbox and queues it
    account_id: Callable[[], str]                 # our Dropbox account
    # Queues what the user put in class folders until a deadline (account, inbox, deadline): how many,
    # and whether all.
    follow_class_folders: Callable[[str, str, float], tuple[int, bool]]
    hand_over: Callable[[str], None]              # asks the classify function to sync the account

    def handle(self, body: bytes, signature: str | None) -> Listing:
        """Queue the new images of our account named in a signed notification, and what the user
        put in class folders to be learned (also before any /configure: an unknown name needs
        examples)."""
        started = request_started()
        if len(body) > MAX_BODY_BYTES:
            raise Rejected(413, f"notification larger than {MAX_BODY_BYTES} bytes")
        if not signature_ok(body, signature, self.app_secret):
            raise Rejected(403, "missing or wrong X-Dropbox-Signature")
        named = accounts(body)
        config = self.state.get_config()
        configured = config is not None
        # The folders are the configured inbox's (the default one before any /configure).
        inbox = (config or SortConfig(())).inbox
        if not configured:
            # Nothing is lost: the inbox cursor stays put, and the first sync after /configure lists all.
            log.info("notification before any /configure; nothing queued to sort yet")
        ours = self.account_id()
        listing = Listing()
        for account in set(named):
            if account != ours:
                log.warning("notification for account %s, which this service has no token for", account)
                continue
            listing += self.sync(account, inbox, started + inbox_flow.SYNC_BUDGET_SECONDS, configured)
        return listing

    def sync(self, account: str, inbox: str, deadline: float, configured: bool = True) -> Listing:
        """The inbox `inbox` (once classes are configured), then the class folders, a page at a time
        until `deadline` (time.monotonic()); what is left, one sync request hands to the classify
        function (which syncs the same way: a backfill goes on a budget at a time)."""
        listing = self.inbox.sync(account, inbox, deadline) if configured else Listing()
        to_learn, done = self.follow_class_folders(account, inbox, deadline)
        if not done and not listing.handed_over:
            log.info("class folders of %s out of time; the classify function continues", account)
            self.hand_over(account)
        return listing + Listing(to_learn=to_learn)
