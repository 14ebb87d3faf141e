"""The classify handler's work: for a batch of queued files, fetch, classify, move, record.

SQS delivers at least once, so every step is safe to repeat: a file that is no longer in the
inbox is done with (the outcome record is keyed by the request, so it is counted once), and
moves use autorename so nothing is ever overwritten.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from . import images
from .class_config import SortConfig
from .classifier import Decision
from .dropbox_store import FileInfo, StoreError, StoreNotFound, TooLarge, TransientStoreError
from .inbox import INBOX
from .messages import SortRequest
from .state_store import Outcome

log = logging.getLogger(__name__)

THREADS = 10  # one per message of an SQS batch
CONFIG_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class Message:
    """One SQS record: the request (None when the body is not ours) and how often it was received."""
    request: SortRequest | None
    receipt_handle: str
    receive_count: int


@dataclass
class BatchResult:
    done: list[str] = field(default_factory=list)    # receipt handles to acknowledge
    retry: list[str] = field(default_factory=list)   # receipt handles to leave for redelivery
    settled: list[tuple[Message, Outcome]] = field(default_factory=list)  # to record, then acknowledge
    given_up: list[Outcome] = field(default_factory=list)  # to record as failed; SQS dead-letters them


@dataclass(frozen=True)
class _Move:
    message: Message
    info: FileInfo
    decision: Decision
    folder: str


class ConfigCache:
    """The stored configuration, re-read at most every `ttl` seconds per container."""

    def __init__(self, state, ttl: float = CONFIG_TTL_SECONDS):
        self._state, self._ttl = state, ttl
        self._value: SortConfig | None = None
        self._read_at = float("-inf")

    def get(self) -> SortConfig | None:
        if time.monotonic() - self._read_at > self._ttl:
            self._value, self._read_at = self._state.get_config(), time.monotonic()
        return self._value


class Sorter:
    def __init__(self, store, state, classifier: Callable[[], object], config: ConfigCache, *,
                 source: str = "download", max_receives: int = 5, inbox: str = INBOX):
        if source not in ("thumbnail", "download"):
            raise ValueError(f"source must be 'thumbnail' or 'download', not {source!r}")
        self.store, self.state, self.config = store, state, config
        self._classifier = classifier  # a factory: the model loads on the first batch, not before
        self.source, self.max_receives = source, max_receives
        self.inbox = inbox.lower().rstrip("/") + "/"
        self._folders: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="sort")

    def handle(self, messages: Sequence[Message]) -> BatchResult:
        result = BatchResult()
        config = self.config.get()
        ours = []
        for message in messages:
            if message.request is None:
                log.error("dropping a message that names no Dropbox file")
                result.done.append(message.receipt_handle)
            elif config is None:
                self._retry(result, message, "no classes are configured yet (POST /configure)")
            else:
                ours.append(message)
        if ours:
            self._sort(result, ours, config)
        self._record_settled(result)
        return result

    def _sort(self, result: BatchResult, ours: list[Message], config: SortConfig) -> None:
        # Dropbox round trips dominate a batch, so each file's run in parallel.
        todo: list[tuple[Message, FileInfo, bytes | StoreError]] = []
        self._each(result, [(m, partial(self._prepare, m, config, todo)) for m in ours])
        photos = [data for _, _, data in todo if isinstance(data, bytes)]
        decisions = iter(self._classifier().classify_batch(photos, config.classes, config.threshold)
                         if photos else [])
        decided = [next(decisions) if isinstance(data, bytes) else data for _, _, data in todo]
        moves: list[_Move] = []
        self._each(result, [(message, partial(self._settle, message, info, decision, config, moves))
                            for (message, info, _), decision in zip(todo, decided)])
        if moves:
            self._move_all(result, moves, config)

    def _each(self, result: BatchResult, steps: list[tuple[Message, Callable[[], Outcome | None]]]) -> None:
        list(self._pool.map(lambda step: self._attempt(result, *step), steps))

    def _attempt(self, result: BatchResult, message: Message, step: Callable[[], Outcome | None]) -> None:
        """Run one file's step; transient trouble means the message comes back later."""
        try:
            outcome = step()
        except TransientStoreError as e:
            self._retry(result, message, str(e))
            return
        except StoreError as e:
            outcome = Outcome(message.request, "failed", reason=f"Dropbox refused: {e}")
        except Exception as e:  # a bug must not drop the file: retry, then the dead-letter queue
            log.exception("unexpected error sorting %s", message.request.path)
            self._retry(result, message, f"internal error: {type(e).__name__}")
            return
        if outcome is not None:
            result.settled.append((message, outcome))

    def _retry(self, result: BatchResult, message: Message, reason: str) -> None:
        log.warning("will retry %s (receive %d of %d): %s", message.request.path, message.receive_count,
                    self.max_receives, reason)
        if message.receive_count >= self.max_receives:
            # Last try: say why before SQS hands the message to the dead-letter queue.
            result.given_up.append(Outcome(message.request, "failed", reason=f"gave up after "
                                           f"{message.receive_count} attempts: {reason}"))
        result.retry.append(message.receipt_handle)

    def _prepare(self, message: Message, config: SortConfig,
                 todo: list[tuple[Message, FileInfo, bytes | StoreError]]) -> Outcome | None:
        """Where the file is now; still in the inbox, its bytes join `todo` (None)."""
        request = message.request
        if self.source == "download":
            # The download says where the file is now: one round trip, not two.
            try:
                info, data = self.store.download_file(request.file_id, max_bytes=images.MAX_BYTES)
            except StoreNotFound:
                return self._elsewhere(request, None, config)
            except TooLarge as e:
                return Outcome(request, "skipped", reason=f"too_large: {e}")
        else:
            info, data = self.store.get_file(request.file_id), None
        if info is None or not info.path_lower.startswith(self.inbox):
            return self._elsewhere(request, info, config)
        if info.size > images.MAX_BYTES:
            return Outcome(request, "skipped", reason=f"too_large: {info.size} bytes is over the "
                                                      f"{images.MAX_BYTES // 2**20} MiB limit")
        todo.append((message, info, data if data is not None else self._thumbnail(info)))
        return None

    def _elsewhere(self, request: SortRequest, info: FileInfo | None, config: SortConfig | None) -> Outcome:
        """A file no longer in the inbox: sorted by an earlier delivery of this message (perhaps one
        cut off before it recorded), or moved or deleted by the user."""
        if info is None:
            return Outcome(request, "gone", reason="deleted before it was sorted")
        folder = "/" + info.path_display.strip("/").split("/", 1)[0]
        if config is not None:
            if folder.lower() == config.folder_for(None).lower():
                return Outcome(request, "unsorted", to_path=info.path_display)
            for label in config.classes:
                if folder.lower() == config.folder_for(label).lower():
                    return Outcome(request, "sorted", to_path=info.path_display, label=label)
        return Outcome(request, "gone", to_path=info.path_display, reason="moved out of the inbox by someone else")

    def _thumbnail(self, info: FileInfo) -> bytes | StoreError:
        """Dropbox's 256 px JPEG thumbnail, or the original where Dropbox makes none; or why not."""
        try:
            try:
                return self.store.thumbnail(info.id)
            except (StoreNotFound, TransientStoreError):
                raise
            except StoreError:
                return self.store.download(info.id, max_bytes=images.MAX_BYTES)
        except StoreError as e:
            return e

    def _settle(self, message: Message, info: FileInfo, decision, config: SortConfig,
                moves: list["_Move"]) -> Outcome | None:
        """`decision` is the classifier's Decision, or why there is none (ImageError, StoreError).
        A photo to move joins `moves` (None); anything else is settled here."""
        request = message.request
        if isinstance(decision, StoreNotFound):
            return self._elsewhere(request, self.store.get_file(request.file_id), config)
        if isinstance(decision, StoreError):
            raise decision
        if isinstance(decision, images.ImageError):
            return Outcome(request, "skipped", reason=f"{decision.reason}: {decision}")
        moves.append(_Move(message, info, decision, config.folder_for(decision.label)))
        return None

    def _move_all(self, result: BatchResult, moves: list["_Move"], config: SortConfig) -> None:
        """One Dropbox write for the whole batch: folders first, then every move at once."""
        try:
            for folder in dict.fromkeys(m.folder for m in moves):
                if folder.lower() not in self._folders:
                    self.store.ensure_folder(folder)
                    self._folders.add(folder.lower())
            moved = self.store.move_batch([(m.info.path_display, f"{m.folder}/{m.info.name}") for m in moves])
        except StoreError as error:
            moved = [error] * len(moves)
        self._each(result, [(move.message, partial(self._moved, move, outcome, config))
                            for move, outcome in zip(moves, moved)])

    def _moved(self, move: "_Move", moved: FileInfo | StoreError, config: SortConfig) -> Outcome:
        request = move.message.request
        if isinstance(moved, StoreNotFound):
            return self._elsewhere(request, self.store.get_file(request.file_id), config)
        if isinstance(moved, StoreError):
            raise moved
        label = move.decision.label
        return Outcome(request, "unsorted" if label is None else "sorted",
                       to_path=moved.path_display, label=label, score=move.decision.score)

    def _record_settled(self, result: BatchResult) -> None:
        """Record the batch's outcomes in one DynamoDB transaction, then acknowledge them.

        Messages given up on are recorded as failed but not acknowledged: SQS moves them to the
        dead-letter queue."""
        settled, result.settled = result.settled, []
        given_up, result.given_up = result.given_up, []
        if not settled and not given_up:
            return
        outcomes = [outcome for _, outcome in settled] + given_up
        try:
            firsts = self.state.record_many(outcomes)
        except Exception as e:  # the files are where they are; a redelivery finds them there and records
            log.exception("recording %d outcomes failed", len(outcomes))
            for message, _ in settled:
                self._retry(result, message, f"could not record the outcome: {type(e).__name__}")
            return
        for outcome, first in zip(outcomes, firsts):
            _log(outcome, first)
        result.done += [message.receipt_handle for message, _ in settled]


def _log(outcome: Outcome, first: bool) -> None:
    log.info("%s %s -> %s%s", outcome.kind, outcome.request.path, outcome.to_path or "(left in place)",
             "" if first else " (recorded before)")
