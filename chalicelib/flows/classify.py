"""The classify Lambda's edge: an SQS batch in, each message routed by the kind of its request
(sort a photo, learn from a photo, sync an inbox), and which messages SQS may forget.

`ClassifyHandler` is built once by the wiring and holds its collaborators; `handle` takes only the
batch. SQS delivers at least once, so a message is acknowledged only once its outcome is recorded;
one whose photo must wait comes back, and on its last receive it is recorded as failed with the
reason before SQS moves it to the dead-letter queue.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from chalicelib.rules.configuration import SortConfig
from chalicelib.rules.messages import BadMessage, LearnRequest, SortRequest, SyncRequest, parse
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.ports import ConfigState, Ledger, Originals, PhotoClassifier, PhotoStore, Recorder
from chalicelib.rules.sorting import WAITING_FOR_PHOTO, sort_batch

if TYPE_CHECKING:
    from chalicelib.rules.examples import Examples

log = logging.getLogger(__name__)

# How long a file that goes with a photo (a Live Photo's video) waits for that photo to be sorted:
# a backfill's queue can hold the photo longer than the file's receives last, so on its last one
# the file is queued anew; after this long it stays in the inbox beside the photo, said why.
MAX_WAIT_SECONDS = 6 * 3600

Request = SortRequest | SyncRequest | LearnRequest
# The stored classes, as one batch reads them (once, and only if one of its requests needs them).
Stored = Callable[[], SortConfig | None]
R_co = TypeVar("R_co", bound=Request | None, covariant=True)


class DeliveryState(Recorder, Ledger, Protocol):
    """What sorting reads and writes: each photo's ledger, and how each request ended."""


@dataclass(frozen=True)
class Message(Generic[R_co]):
    """One SQS record: its request (None when the body is not ours) and how often it was received.
    Its type names its kind of request: `ClassifyHandler`'s sort route takes `Message[SortRequest]`."""

    request: R_co
    receipt_handle: str
    receive_count: int

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> Message[Request | None]:
        """A record of the SQS event Lambda hands the classify function."""
        try:
            request: Request | None = parse(record["body"])
        except BadMessage:
            request = None
        count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        return Message(request, record["receiptHandle"], count)


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


@dataclass(frozen=True, kw_only=True)
class ClassifyHandler:
    """The classify function's handler: built once per container by the wiring, it holds what the
    three kinds of request need; `handle` takes only the batch."""

    photos: PhotoStore[SortRequest]              # reads the photos and moves them
    model: Callable[[], PhotoClassifier]         # the model, loaded by the first batch that needs it
    recorder: DeliveryState                      # each photo's ledger; how each request ended
    stored_config: Stored                        # the stored classes, read now
    job_config: Callable[[str], SortConfig | None]  # a dry run's classes: its job's
    examples: Callable[[SortConfig], Examples]   # the classes' own photos
    originals: Originals[SortRequest]            # the photos sorted before, by their bytes
    max_receives: int                            # the receive after which SQS dead-letters a message
    learn_photos: Callable[[list[LearnRequest], SortConfig | None], list[bool]]  # per photo: done?
    sync_inbox: Callable[[str, str], object]     # list an account's inbox (account, inbox) and queue what is new
    account_id: Callable[[], str]                # our Dropbox account
    requeue: Callable[[Sequence[SortRequest]], None]  # queue requests anew (a file still waiting for its photo)
    clock: Callable[[], float] = time.time

    def handle(self, messages: Sequence[Message[Request | None]]) -> Acks:
        """Route each message to the handler of its kind of request; say which SQS may forget and
        which must come back. A message that is not ours is dropped: it names no file we can use."""
        dropped = [m.receipt_handle for m in messages if m.request is None]
        if dropped:
            log.error("dropping %d message(s) that name no Dropbox file", len(dropped))
        # The stored classes as this batch starts, read (their version) once and only if a request needs them.
        stored = functools.cache(self.stored_config)
        # Each route gets the messages of its kind only (hence Message[Any] here: the key says which).
        routes: dict[type[Request], Callable[[list[Message[Any]]], Acks]] = {
            SortRequest: functools.partial(self._sort, stored=stored),
            LearnRequest: functools.partial(self._learn, stored=stored),
            SyncRequest: self._sync,
        }
        by_kind: dict[type[Request], list[Message[Any]]] = {}
        for message in messages:
            if message.request is not None:
                by_kind.setdefault(type(message.request), []).append(message)
        acks = Acks(dropped, [])
        for kind, route in routes.items():
            if kind in by_kind:
                acks += route(by_kind[kind])
        return acks

    def _sort(self, messages: list[Message[SortRequest]], stored: Stored) -> Acks:
        """Sort the photos and record how each ended; one that must wait comes back, until its last
        receive."""
        ours, undone = self._not_undone(messages)
        outcomes = self._sort_by_config([m.request for m in ours], stored)
        finished = [(m, o) for m, o in zip(ours, outcomes) if o.finished]
        waiting = [(m, o) for m, o in zip(ours, outcomes) if not o.finished]
        for message, outcome in waiting:
            log.warning("will retry %s (receive %d of %d): %s", outcome.file, message.receive_count,
                        self.max_receives, outcome.why)
        last = [(m, o) for m, o in waiting if m.receive_count >= self.max_receives]
        # A file still waiting for its photo waits on (queued anew) one receive before its last, so
        # that its last stays spare should the record of its move fail then; up to MAX_WAIT_SECONDS,
        # after which it stays in the inbox beside the photo, recorded: SQS may forget it.
        waits = [(m, o) for m, o in waiting
                 if o.reason == WAITING_FOR_PHOTO and m.receive_count >= max(1, self.max_receives - 1)]
        now = self.clock()
        waited_out = {m.receipt_handle for m, _ in waits if now - (m.request.waiting_since or now) >= MAX_WAIT_SECONDS}
        requeued = self._wait_longer([m for m, _ in waits if m.receipt_handle not in waited_out], now)
        # Last try: say why before SQS hands the message to the dead-letter queue.
        given_up = [(m.request, _stays_beside(o)) for m, o in waits if m.receipt_handle in waited_out] + [
            (m.request, _gave_up(m, o)) for m, o in last if m.receipt_handle not in requeued | waited_out]
        records = [(m.request, o) for m, o in finished] + given_up
        try:
            firsts = self.recorder.record_many(records) if records else []
        except Exception:  # the files are where they are; a redelivery finds them there and records them
            log.exception("recording %d outcomes failed; the batch comes back", len(records))
            return Acks(done=undone + sorted(requeued), retry=[m.receipt_handle for m in ours
                                                               if m.receipt_handle not in requeued])
        for (_, outcome), first in zip(records, firsts):
            _log(outcome, first)
        return Acks(done=undone + [m.receipt_handle for m, _ in finished] + sorted(requeued | waited_out),
                    retry=[m.receipt_handle for m, _ in waiting if m.receipt_handle not in requeued | waited_out])

    def _wait_longer(self, again: list[Message[SortRequest]], now: float) -> set[str]:
        """Queue anew the files still waiting for their photo, noting since when they wait: the
        receipt handles SQS may then forget (none when SQS refused)."""
        if not again:
            return set()
        try:
            self.requeue([replace(m.request, waiting_since=m.request.waiting_since or now) for m in again])
        except Exception:  # noqa: BLE001: SQS refused: they take the dead-letter path, said why
            log.exception("could not queue %d file(s) anew to wait for their photo", len(again))
            return set()
        for m in again:
            log.info("%s waits on for its photo (queued anew): %s", m.request.path, m.request.goes_with)
        return {m.receipt_handle for m in again}

    def _not_undone(self, messages: list[Message[SortRequest]]) -> tuple[list[Message[SortRequest]], list[str]]:
        """The messages to sort, and the receipt handles of those whose photo an undo put back in
        the inbox since they were queued (a redelivery, or a second queueing): it stays there,
        counted nowhere, until the user asks again with POST /sort. A dry run moves nothing: it is
        sorted."""
        real = [m.request.file_id for m in messages if not m.request.dry_run]
        entries = self.recorder.ledger(real) if real else {}
        undone = {f for f, entry in entries.items() if entry.undone}
        keep: list[Message[SortRequest]] = []
        left: list[str] = []
        for m in messages:
            if not m.request.dry_run and m.request.file_id in undone:
                log.info("left %s in the inbox: an undo put it back (POST /sort sorts it again)", m.request.path)
                left.append(m.receipt_handle)
            else:
                keep.append(m)
        return keep, left

    def _sort_by_config(self, requests: list[SortRequest], stored: Stored) -> list[Outcome]:
        """One outcome per request, in order. The sorts together, and each dry run with the others
        of its job: one sort_batch per configuration."""
        groups: dict[str | None, list[SortRequest]] = {}
        for request in requests:
            groups.setdefault(_config_key(request), []).append(request)
        # Each group's outcomes come in the group's order, which is the batch's order.
        outcomes = {key: iter(self._sort_group(key, group, stored)) for key, group in groups.items()}
        return [next(outcomes[_config_key(request)]) for request in requests]

    def _sort_group(self, job_id: str | None, requests: list[SortRequest], stored: Stored) -> list[Outcome]:
        """Requests sorted with one configuration: all dry runs of the job `job_id`, or (None)
        none a dry run, sorted with the stored classes."""
        try:
            classes = stored() if job_id is None else self.job_config(job_id)
            if classes is None:
                return [Outcome(r.path, "retry", reason="not_configured",
                                detail="no classes are configured yet (POST /configure)") for r in requests]
            return sort_batch(requests, self.photos, self.model(), classes, examples=self.examples(classes),
                              originals=self.originals, dry_run=requests[0].dry_run)
        except Exception as e:  # a bug must not drop the files: retry, then the dead-letter queue
            log.exception("sorting a batch of %d failed", len(requests))
            return [Outcome(r.path, "retry", reason="internal_error", detail=type(e).__name__) for r in requests]

    def _learn(self, messages: list[Message[LearnRequest]], stored: Stored) -> Acks:
        """Learn from photos the user put in class folders: one whose learning must wait (the
        service's own sort of it in flight) comes back, until its last receive."""
        try:
            done = self.learn_photos([m.request for m in messages], stored())
        except Exception:  # Dropbox or AWS unreachable, or a bug: they come back
            log.exception("learning %d photo(s) failed; they come back", len(messages))
            done = [False] * len(messages)
        finished: list[str] = []
        retry: list[str] = []
        for m, ok in zip(messages, done):
            last = m.receive_count >= self.max_receives
            if not ok and last:
                log.warning("gave up learning from %s after %d attempts", m.request.path, m.receive_count)
            (finished if ok or last else retry).append(m.receipt_handle)
        return Acks(finished, retry)

    def _sync(self, messages: list[Message[SyncRequest]]) -> Acks:
        """The syncs the webhook handed over (out of time, or the lease held by another): sync the
        account's inbox now; one that fails comes back."""
        done: list[str] = []
        retry: list[str] = []
        for m in messages:
            try:
                if m.request.account == self.account_id():
                    self.sync_inbox(m.request.account, (self.stored_config() or SortConfig(())).inbox)
                done.append(m.receipt_handle)
            except Exception:  # Dropbox or AWS unreachable: SQS brings the message back
                log.exception("sync of %s failed; it comes back", m.request.account)
                retry.append(m.receipt_handle)
        return Acks(done, retry)


def _config_key(request: SortRequest) -> str | None:
    """Which configuration a request is sorted with: a dry run's job's (its job id), or the stored one (None)."""
    return request.job_id if request.dry_run else None


def _gave_up(message: Message[SortRequest], outcome: Outcome) -> Outcome:
    """A request that must still wait on its last receive: failed, said why, before SQS hands it to
    the dead-letter queue."""
    return Outcome(outcome.file, "failed", reason="gave_up",
                   detail=f"gave up after {message.receive_count} attempts: {outcome.why}")


def _stays_beside(outcome: Outcome) -> Outcome:
    """A file that waited MAX_WAIT_SECONDS for its photo: it stays in the inbox beside it."""
    return Outcome(outcome.file, "skipped", reason="with_photo",
                   detail=f"{outcome.detail}; it waited {MAX_WAIT_SECONDS // 3600} h and stays beside it "
                          "(POST /sort sorts both)")


def _log(outcome: Outcome, first: bool) -> None:
    """One line per photo: where it went, the class and score that sent it there, or why it stayed."""
    by = f" by {outcome.by}" if outcome.by else ""
    decided = f" ({outcome.label or 'no class'} {outcome.score:.2f}{by})" if outcome.score is not None else ""
    why = f": {outcome.why}" if outcome.why else ""
    log.info("%s %s -> %s%s%s%s", outcome.kind, outcome.file, outcome.to_path or "(left in place)", decided, why,
             "" if first else " (recorded before)")
