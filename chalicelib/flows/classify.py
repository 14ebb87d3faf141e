"""The classify Lambda's edge: an SQS batch in, the sorting core, the outcomes recorded, and which
messages SQS may forget.

SQS delivers at least once, so a message is acknowledged only once its outcome is recorded; one
whose photo must wait comes back, and on its last receive it is recorded as failed with the reason
before SQS moves it to the dead-letter queue.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chalicelib.rules.configuration import SortConfig
from chalicelib.rules.messages import LearnRequest, SortRequest, SyncRequest
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.ports import ConfigState, Ledger, Originals, PhotoClassifier, PhotoStore, Recorder
from chalicelib.rules.sorting import sort_batch

if TYPE_CHECKING:
    from chalicelib.rules.examples import Examples

log = logging.getLogger(__name__)


class DeliveryState(Recorder, Ledger, Protocol):
    """What delivery reads and writes: each photo's ledger, and how each request ended."""


@dataclass(frozen=True)
class Message:
    """One SQS record: the request (None when the body is not ours) and how often it was received."""

    request: SortRequest | SyncRequest | LearnRequest | None
    receipt_handle: str
    receive_count: int


@dataclass(frozen=True)
class Acks:
    done: list[str]   # receipt handles SQS may delete
    retry: list[str]  # receipt handles to leave for redelivery

    def __add__(self, other: "Acks") -> "Acks":
        return Acks(self.done + other.done, self.retry + other.retry)


class ConfigCache:
    """The stored configuration, as current as the last `get`: each call (one per batch) reads the
    configuration's version, one small consistent read, and reads and parses the classes again only
    when a POST /configure changed it, in whichever container that was made."""

    def __init__(self, state: ConfigState):
        self._state = state
        self._kept: tuple[int, SortConfig | None] | None = None  # (version, configuration)

    def get(self) -> SortConfig | None:
        version = self._state.config_version()
        kept = self._kept
        if kept is None or kept[0] != version:
            # Read after the version, the configuration is at least that new; if a change landed in
            # between, the next call sees a newer version and reads it once more.
            kept = self._kept = (version, self._state.get_config())
        return kept[1]


def deliver(messages: Sequence[Message], config: Callable[[SortRequest], SortConfig | None],
            store: PhotoStore[SortRequest], classifier: Callable[[], PhotoClassifier], recorder: DeliveryState,
            max_receives: int, examples: Callable[[SortConfig], Examples], originals: Originals[SortRequest]) -> Acks:
    """Sort the batch's photos and record how each ended. `config` gives the classes a request
    is sorted with (the stored ones; a dry run's, its job's); `classifier` loads the model on the
    first batch that needs it; `examples` gives the classes' examples."""
    dropped = [m.receipt_handle for m in messages if m.request is None]
    if dropped:
        log.error("dropping %d message(s) that name no Dropbox file", len(dropped))
    ours, undone = _not_undone([(m, m.request) for m in messages if isinstance(m.request, SortRequest)], recorder)
    requests = [request for _, request in ours]
    # The sorts together, and each dry run with the others of its job: one sort_batch per group.
    groups: dict[str | None, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.job_id if request.dry_run else None, []).append(i)
    ended: dict[int, Outcome] = {}
    for members in groups.values():
        ended |= zip(members, _sort([requests[i] for i in members], config, store, classifier, examples, originals))
    outcomes = [ended[i] for i in range(len(requests))]
    finished = [(m, r, o) for (m, r), o in zip(ours, outcomes) if o.finished]
    waiting = [(m, r, o) for (m, r), o in zip(ours, outcomes) if not o.finished]
    for message, _, outcome in waiting:
        log.warning("will retry %s (receive %d of %d): %s", outcome.file, message.receive_count, max_receives,
                    outcome.why)
    # Last try: say why before SQS hands the message to the dead-letter queue.
    given_up = [(r, Outcome(o.file, "failed", reason="gave_up",
                            detail=f"gave up after {m.receive_count} attempts: {o.why}"))
                for m, r, o in waiting if m.receive_count >= max_receives]
    records = [(r, o) for _, r, o in finished] + given_up
    try:
        firsts = recorder.record_many(records) if records else []
    except Exception:  # the files are where they are; a redelivery finds them there and records them
        log.exception("recording %d outcomes failed; the batch comes back", len(records))
        return Acks(done=dropped + undone, retry=[m.receipt_handle for m, _ in ours])
    for (_, outcome), first in zip(records, firsts):
        _log(outcome, first)
    return Acks(done=dropped + undone + [m.receipt_handle for m, _, _ in finished],
                retry=[m.receipt_handle for m, _, _ in waiting])


def _not_undone(sorts: list[tuple[Message, SortRequest]], ledger: Ledger
                ) -> tuple[list[tuple[Message, SortRequest]], list[str]]:
    """The messages to sort (each with its request), and the receipt handles of those whose photo
    an undo put back in the inbox since they were queued (a redelivery, or a second queueing): it
    stays there, counted nowhere, until the user asks again with POST /sort. A dry run moves
    nothing: it is sorted."""
    real = [request.file_id for _, request in sorts if not request.dry_run]
    entries = ledger.ledger(real) if real else {}
    undone = {f for f, entry in entries.items() if entry.undone}
    keep: list[tuple[Message, SortRequest]] = []
    left: list[str] = []
    for m, request in sorts:
        if not request.dry_run and request.file_id in undone:
            log.info("left %s in the inbox: an undo put it back (POST /sort sorts it again)", request.path)
            left.append(m.receipt_handle)
        else:
            keep.append((m, request))
    return keep, left


def follow_up(syncs: Sequence[tuple[SyncRequest, str]], sync: Callable[[str], object],
              our_account: Callable[[], str]) -> Acks:
    """The syncs the webhook handed over (out of time, or the lease held by another), with their
    receipt handles: sync the account's inbox now; one that fails comes back."""
    done: list[str] = []
    retry: list[str] = []
    for request, receipt_handle in syncs:
        try:
            if request.account == our_account():
                sync(request.account)
            done.append(receipt_handle)
        except Exception:  # Dropbox or AWS unreachable: SQS brings the message back
            log.exception("sync of %s failed; it comes back", request.account)
            retry.append(receipt_handle)
    return Acks(done, retry)


def learned(messages: Sequence[tuple[LearnRequest, str, int]], learn: Callable[[list[LearnRequest]], list[bool]],
            max_receives: int) -> Acks:
    """Photos to learn from, with their receipt handles and receive counts: one whose learning must
    wait (the service's own sort of it in flight) comes back, until its last receive."""
    if not messages:
        return Acks([], [])
    try:
        done = learn([request for request, _, _ in messages])
    except Exception:  # Dropbox or AWS unreachable, or a bug: they come back
        log.exception("learning %d photo(s) failed; they come back", len(messages))
        done = [False] * len(messages)
    finished: list[str] = []
    retry: list[str] = []
    for (request, receipt_handle, count), ok in zip(messages, done):
        if not ok and count >= max_receives:
            log.warning("gave up learning from %s after %d attempts", request.path, count)
        (finished if ok or count >= max_receives else retry).append(receipt_handle)
    return Acks(finished, retry)


def _sort(requests: list[SortRequest], config: Callable[[SortRequest], SortConfig | None],
          store: PhotoStore[SortRequest], classifier: Callable[[], PhotoClassifier],
          examples: Callable[[SortConfig], Examples], originals: Originals[SortRequest]) -> list[Outcome]:
    """Requests sorted with one configuration (all dry runs of one job, or none a dry run)."""
    try:
        classes = config(requests[0])
        if classes is None:
            return [Outcome(r.path, "retry", reason="not_configured",
                            detail="no classes are configured yet (POST /configure)") for r in requests]
        return sort_batch(requests, store, classifier(), classes, examples=examples(classes), originals=originals,
                          dry_run=requests[0].dry_run)
    except Exception as e:  # a bug must not drop the files: retry, then the dead-letter queue
        log.exception("sorting a batch of %d failed", len(requests))
        return [Outcome(r.path, "retry", reason="internal_error", detail=type(e).__name__) for r in requests]


def _log(outcome: Outcome, first: bool) -> None:
    """One line per photo: where it went, the class and score that sent it there, or why it stayed."""
    by = f" by {outcome.by}" if outcome.by else ""
    decided = f" ({outcome.label or 'no class'} {outcome.score:.2f}{by})" if outcome.score is not None else ""
    why = f": {outcome.why}" if outcome.why else ""
    log.info("%s %s -> %s%s%s%s", outcome.kind, outcome.file, outcome.to_path or "(left in place)", decided, why,
             "" if first else " (recorded before)")
