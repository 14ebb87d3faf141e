"""The app's only door to Dropbox: the official SDK behind a small interface with typed errors.

Retries live here, not in the SDK (which is built with 0 retries of its own): one bounded loop
for every transient failure (429, 5xx, too_many_write_operations, network, timeout), so the
number of attempts is at most `max_retries + 1`. A 429 is retried after the Retry-After Dropbox
asks for, never sooner; the waits of one call never add up past `wait_budget`, so a long
Retry-After gives up at once (TransientStoreError: SQS brings the message back later) instead of
outlasting a Lambda.
Token refresh stays with the SDK: it refreshes before expiry and once more on a 401.

Dropbox is case-insensitive: compare `path_lower`, show `path_display`.
"""
from __future__ import annotations

import base64
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timezone
from typing import TypeVar

import requests

from chalicelib.adapters.dropbox_sdk import (
    ApiError,
    AuthError,
    AuthErrorUnion,
    HttpError,
    InternalServerError,
    RateLimitError,
    Struct,
    Union,
    dropbox,
    files,
)
from chalicelib.rules.ports import FileInfo, Page

log = logging.getLogger(__name__)
T = TypeVar("T")

WAIT_BUDGET = 10.0  # seconds one call may spend waiting between its tries; Dropbox may ask for minutes
BACKOFF_CAP = 8.0
# Error tags that mean "not now" rather than "never". `too_many_files` is not here: every SDK error
# that has it means the operation touches too many files, which no retry will change.
_TRANSIENT_TAGS = frozenset({"too_many_write_operations", "internal_error"})
_DOWNLOAD_CHUNK = 64 * 1024
MAX_CONNECTIONS = 16
MOVE_BATCH_LIMIT = 1000  # Dropbox's cap on entries per move_batch_v2
THUMBNAIL_BATCH_LIMIT = 25  # Dropbox's cap on entries per get_thumbnail_batch
MOVE_BATCH_WAIT = 30.0  # seconds to wait for an async batch, well inside the Lambda timeout


class StoreError(Exception):
    """A permanent failure; the message is for people and never holds a secret."""


class StoreNotFound(StoreError):
    """The path or id does not exist (any more)."""


class TransientStoreError(StoreError):
    """Dropbox was busy or unreachable through every retry; try again later."""


class TooLarge(StoreError):
    """The file is bigger than the caller is willing to read."""


class NotAFolder(StoreError):
    """The path is a file where a folder was expected."""


class TagsRefused(StoreError):
    """The account takes no tags (files/tags/* answer "other": tags not enabled for it, as in
    some team spaces): sort by moving instead."""


class CursorReset(StoreError):
    """Dropbox no longer knows the list_changes cursor: list the folder again for a new one."""


def _info(md: files.FileMetadata) -> FileInfo:
    return FileInfo(id=md.id, name=md.name, path_display=md.path_display, path_lower=md.path_lower,
                    rev=md.rev, size=md.size, content_hash=md.content_hash,
                    modified=md.server_modified.replace(tzinfo=timezone.utc).timestamp() if md.server_modified else None,
                    client_modified=md.client_modified.replace(tzinfo=timezone.utc).timestamp()
                    if md.client_modified else None)


def _tags(error: object) -> list[str]:
    """The tag path of a Stone error: RelocationError(from_lookup(not_found)) -> [from_lookup, not_found]."""
    tags = []
    while error is not None:
        if isinstance(error, Union):
            tags.append(error._tag)
            error = error._value
        elif isinstance(error, Struct):  # e.g. UploadWriteFailed, whose `reason` is the WriteError
            error = getattr(error, "reason", None)
        else:
            break
    return tags


def _merge(changed: dict[str, FileInfo], deleted: list[str], entries: Sequence[FileInfo | str]) -> None:
    """Add changes, in order (a file, or a deleted path), to those so far: each file once, in its
    latest state (order follows the latest change); a file seen earlier and deleted since is no
    change to act on."""
    for entry in entries:
        if isinstance(entry, FileInfo):
            changed.pop(entry.id, None)
            changed[entry.id] = entry
            continue
        deleted.append(entry)
        for key in [k for k, f in changed.items() if f.path_lower == entry or f.path_lower.startswith(entry + "/")]:
            del changed[key]


def _entries(result: files.ListFolderResult) -> list[FileInfo | str]:
    """A listing page's files and deleted paths (lower case), in order; folders left out."""
    return [_info(e) if isinstance(e, files.FileMetadata) else e.path_lower for e in result.entries
            if isinstance(e, (files.FileMetadata, files.DeletedMetadata))]


def _root(path: str) -> str:
    # The API spells the root "", and refuses "/".
    return "" if path in ("", "/") else path


class DropboxStore:
    backoff_base = 0.5  # seconds before the first retry; doubles each time (tests shrink it)

    def __init__(self, app_key: str, app_secret: str, refresh_token: str, *, ca_certs: str | None = None,
                 timeout: float = 30.0, max_retries: int = 3, wait_budget: float = WAIT_BUDGET) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if wait_budget < 0:
            raise ValueError("wait_budget must be >= 0")
        self.max_retries, self.wait_budget = max_retries, wait_budget
        self._secrets = tuple(s for s in (app_secret, refresh_token) if s)
        # One pooled connection per thread that calls at once (a batch of photos in parallel),
        # so no TLS connection is opened and dropped per call.
        session = dropbox.create_session(max_connections=MAX_CONNECTIONS, ca_certs=ca_certs)
        if ca_certs:
            # requests lets REQUESTS_CA_BUNDLE override session.verify, which would silently drop
            # the CA we were handed (the local fake's). An explicit CA must win. Without one, the
            # environment keeps its say (proxies, corporate CA bundles).
            session.trust_env = False
        self._dbx = dropbox.Dropbox(
            oauth2_refresh_token=refresh_token, app_key=app_key, app_secret=app_secret,
            timeout=timeout, max_retries_on_error=0, max_retries_on_rate_limit=0,
            session=session, user_agent="image-categorizer")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "DropboxStore":
        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise StoreError(f"{name} is not set")
            return value

        def seconds(name: str, default: float) -> float:
            if not env.get(name, "").strip():
                return default
            try:
                value = float(env[name])
            except ValueError:
                raise StoreError(f"{name} must be a number of seconds") from None
            if not 0 <= value < float("inf"):
                raise StoreError(f"{name} must be a number of seconds")
            return value

        return cls(need("DROPBOX_APP_KEY"), need("DROPBOX_APP_SECRET"), need("DROPBOX_REFRESH_TOKEN"),
                   ca_certs=env.get("DROPBOX_CA_CERTS") or None, timeout=seconds("DROPBOX_TIMEOUT", 30.0),
                   wait_budget=seconds("DROPBOX_WAIT_BUDGET", WAIT_BUDGET))

    # --- reads -----------------------------------------------------------------------------------

    def account_id(self) -> str:
        account: str = self._call("get_current_account", self._dbx.users_get_current_account).account_id
        return account

    def list_folder(self, path: str) -> tuple[list[FileInfo], str]:
        """Every file under `path`, recursively, and a cursor for list_changes."""
        found: list[FileInfo] = []
        cursor = ""
        for page in self.folder_pages(path):
            found += page.files
            cursor = page.cursor
        return found, cursor

    def list_changes(self, cursor: str) -> tuple[list[FileInfo], str]:
        """Files added or changed since `cursor`, each once, in its latest state."""
        files_now, _, cursor = self.changes(cursor)
        return files_now, cursor

    def changes(self, cursor: str) -> tuple[list[FileInfo], list[str], str]:
        """Since `cursor`: the files added or changed, each once in its latest state; the paths
        deleted (lower case; a deleted folder's path stands for everything in it); a new cursor."""
        changed: dict[str, FileInfo] = {}
        deleted: list[str] = []
        while True:
            current = cursor
            result = self._call("list_changes", lambda: self._dbx.files_list_folder_continue(current))
            _merge(changed, deleted, _entries(result))
            cursor = result.cursor
            if not result.has_more:
                return list(changed.values()), deleted, cursor

    def folder_pages(self, path: str, limit: int | None = None) -> Iterator[Page]:
        """Every file under `path`, recursively, a page (about `limit` entries) at a time, each page
        with the cursor that continues after it; the last one's is for list_changes."""
        result = self._call(f"list_folder {path}",
                            lambda: self._dbx.files_list_folder(_root(path), recursive=True, limit=limit))
        while True:
            yield Page([_info(e) for e in result.entries if isinstance(e, files.FileMetadata)], [],
                       result.cursor, result.has_more)
            if not result.has_more:
                return
            cursor = result.cursor
            result = self._call(f"list_folder {path}", lambda: self._dbx.files_list_folder_continue(cursor))

    def change_pages(self, cursor: str) -> Iterator[Page]:
        """What `changes` says, a page at a time (a file changed on two pages is on both), each
        page with the cursor that continues after it. Pages are read as they are asked for, so
        one in memory at a time."""
        while True:
            current = cursor
            result = self._call("list_changes", lambda: self._dbx.files_list_folder_continue(current))
            changed: dict[str, FileInfo] = {}
            deleted: list[str] = []
            _merge(changed, deleted, _entries(result))
            cursor = result.cursor
            yield Page(list(changed.values()), deleted, cursor, result.has_more)
            if not result.has_more:
                return

    def get_file(self, file_id: str) -> FileInfo | None:
        try:
            md = self._call("get_metadata", lambda: self._dbx.files_get_metadata(file_id))
        except StoreNotFound:
            return None
        return _info(md) if isinstance(md, files.FileMetadata) else None

    def download(self, path_or_id: str, max_bytes: int) -> bytes:
        return self.download_file(path_or_id, max_bytes)[1]

    def download_file(self, path_or_id: str, max_bytes: int) -> tuple[FileInfo, bytes]:
        """The file's metadata as it is now (where it is, its size) and its content, in one call.
        TooLarge, before the body is read, when it is over `max_bytes`."""
        def fetch() -> tuple[FileInfo, bytes]:
            md, response = self._dbx.files_download(path_or_id)
            with contextlib.closing(response):
                if md.size > max_bytes:  # refused before reading: closing drops the connection
                    raise TooLarge(f"{md.path_display} is {md.size} bytes, over the {max_bytes} limit")
                chunks, total = [], 0
                for chunk in response.iter_content(_DOWNLOAD_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise TooLarge(f"{md.path_display} is over the {max_bytes} byte limit")
                    chunks.append(chunk)
                return _info(md), b"".join(chunks)

        return self._call(f"download {path_or_id}", fetch)

    def thumbnail(self, path_or_id: str, size: str = "w256h256") -> bytes:
        if size not in files.ThumbnailSize._tagmap:
            raise ValueError(f"unknown thumbnail size {size!r}")

        def fetch() -> bytes:
            _, response = self._dbx.files_get_thumbnail_v2(
                files.PathOrLink.path(path_or_id), format=files.ThumbnailFormat.jpeg,
                size=getattr(files.ThumbnailSize, size), mode=files.ThumbnailMode.fitone_bestfit)
            with contextlib.closing(response):
                content: bytes = response.content
                return content

        return self._call(f"thumbnail {path_or_id}", fetch)

    def thumbnails(self, paths_or_ids: Sequence[str], size: str = "w256h256"
                   ) -> list[tuple[FileInfo, bytes] | StoreError]:
        """Dropbox's own JPEG thumbnails (files/get_thumbnail_batch, THUMBNAIL_BATCH_LIMIT per call),
        one result per file in order: the file as it is now and its thumbnail, or why there is none
        (StoreNotFound when it is gone; StoreError for a file Dropbox makes no thumbnail of)."""
        if size not in files.ThumbnailSize._tagmap:
            raise ValueError(f"unknown thumbnail size {size!r}")
        results: list[tuple[FileInfo, bytes] | StoreError] = []
        for start in range(0, len(paths_or_ids), THUMBNAIL_BATCH_LIMIT):
            chunk = paths_or_ids[start:start + THUMBNAIL_BATCH_LIMIT]
            entries = [files.ThumbnailArg(p, format=files.ThumbnailFormat.jpeg, size=getattr(files.ThumbnailSize, size),
                                          mode=files.ThumbnailMode.fitone_bestfit) for p in chunk]
            answer = self._call(f"thumbnails of {len(chunk)}", lambda: self._dbx.files_get_thumbnail_batch(entries))
            results += [self._thumbnail(entry, p) for entry, p in zip(answer.entries, chunk)]
        return results

    def _thumbnail(self, entry: files.GetThumbnailBatchResultEntry, path_or_id: str
                   ) -> tuple[FileInfo, bytes] | StoreError:
        if entry.is_success():
            data = entry.get_success()
            return _info(data.metadata), base64.b64decode(data.thumbnail)
        tags = _tags(entry.get_failure()) if entry.is_failure() else ["other"]
        summary = "/".join(tags) or "error"
        if "not_found" in tags:
            return self._error(StoreNotFound, f"Dropbox thumbnail {path_or_id}: not found ({summary})")
        return self._error(StoreError, f"Dropbox thumbnail {path_or_id}: none ({summary})")

    # --- writes ----------------------------------------------------------------------------------

    def ensure_folder(self, path: str) -> None:
        def create() -> None:
            try:
                self._dbx.files_create_folder_v2(path)
            except ApiError as e:
                # "Already there" is the goal reached, also when a retried create did land.
                tags = _tags(e.error)[-3:]
                # A file at the path, or (a date folder's) at a folder above it.
                if tags in (["path", "conflict", "file"], ["path", "conflict", "file_ancestor"]):
                    raise self._error(NotAFolder, f"Dropbox create_folder {path}: a file is in the way") from e
                if tags != ["path", "conflict", "folder"]:
                    raise

        self._call(f"create_folder {path}", create)

    def move(self, from_path: str, to_path: str) -> FileInfo:
        """Move a file; a name clash at `to_path` gets Dropbox's " (1)" suffix, never an overwrite."""
        result = self._call(f"move {from_path} -> {to_path}", lambda: self._dbx.files_move_v2(
            from_path, to_path, autorename=True, allow_ownership_transfer=False))
        if not isinstance(result.metadata, files.FileMetadata):
            raise StoreError(f"moved {from_path}, which is a folder, not a file")
        return _info(result.metadata)

    def move_batch(self, moves: Sequence[tuple[str, str]]) -> list[FileInfo | StoreError]:
        """Move many files in one write operation (files/move_batch_v2, autorename), one result per
        move in order: the moved file, or the error of that move (StoreNotFound when it is gone).

        Dropbox serialises writes per namespace, so one batch instead of one move per photo is what
        keeps a burst of photos clear of too_many_write_operations.
        """
        if len(moves) > MOVE_BATCH_LIMIT:
            raise ValueError(f"at most {MOVE_BATCH_LIMIT} moves per batch")
        entries = [files.RelocationPath(from_path, to_path) for from_path, to_path in moves]
        launch = self._call(f"move_batch of {len(moves)}", lambda: self._dbx.files_move_batch_v2(
            entries, autorename=True, allow_ownership_transfer=False))
        if launch.is_complete():
            result = launch.get_complete()
        else:
            job = launch.get_async_job_id()
            deadline, pause = time.monotonic() + MOVE_BATCH_WAIT, 0.1
            while True:
                status = self._call("move_batch check", lambda: self._dbx.files_move_batch_check_v2(job))
                if status.is_complete():
                    result = status.get_complete()
                    break
                if time.monotonic() > deadline:
                    # The moves may still land; the next delivery finds the files moved and records them.
                    raise TransientStoreError(f"Dropbox move_batch of {len(moves)}: not done after "
                                              f"{MOVE_BATCH_WAIT:.0f} s")
                time.sleep(pause)
                pause = min(1.0, pause * 2)
        return [self._entry(entry, from_path) for entry, (from_path, _) in zip(result.entries, moves)]

    def _entry(self, entry: files.RelocationBatchResultEntry, from_path: str) -> FileInfo | StoreError:
        if entry.is_success():
            md = entry.get_success()
            if isinstance(md, files.FileMetadata):
                return _info(md)
            return StoreError(f"moved {from_path}, which is a folder, not a file")
        failure = entry.get_failure() if entry.is_failure() else None
        tags = _tags(failure)
        summary = "/".join(tags) or "error"
        if "not_found" in tags:
            return self._error(StoreNotFound, f"Dropbox move {from_path}: not found ({summary})")
        if _TRANSIENT_TAGS.intersection(tags):
            return self._error(TransientStoreError, f"Dropbox move {from_path}: {summary}")
        return self._error(StoreError, f"Dropbox move {from_path} failed: {summary}")

    # --- tags (by path: Dropbox's tag routes take no file id) -------------------------------------

    def tags(self, paths: Sequence[str]) -> list[set[str]]:
        """The tags of each of these files (files/tags/get, lower case), in order; StoreNotFound
        when one is gone, TagsRefused when the account takes no tags."""
        if not paths:
            return []
        answer = self._tags_call(f"tags get of {len(paths)}", lambda: self._dbx.files_tags_get(list(paths)))
        return [{tag.get_user_generated_tag().tag_text for tag in entry.tags if tag.is_user_generated_tag()}
                for entry in answer.paths_to_tags]

    def add_tag(self, path: str, tag_text: str) -> None:
        """Tag a file (files/tags/add); a tag it has already is no error."""
        self._tags_call(f"tag {path} {tag_text}", lambda: self._dbx.files_tags_add(path, tag_text))

    def remove_tag(self, path: str, tag_text: str) -> bool:
        """Take a tag off a file (files/tags/remove): False when it did not have it."""
        try:
            self._tags_call(f"untag {path} {tag_text}", lambda: self._dbx.files_tags_remove(path, tag_text))
        except StoreError as e:
            if "tag_not_present" in str(e):
                return False
            raise
        return True

    def _tags_call(self, what: str, fn: Callable[[], T]) -> T:
        """`_call`, with the tags routes' catch-all "other" said as what it means: no tags here."""
        try:
            return self._call(what, fn)
        except StoreError as e:
            cause = e.__cause__
            if isinstance(cause, ApiError) and _tags(cause.error) == ["other"]:
                raise self._error(TagsRefused, f"Dropbox {what}: this Dropbox account does not take tags "
                                               '(files/tags answered "other"); use "action": "move"') from e
            raise

    # --- the one retry loop ----------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        waited = 0.0
        for attempt in range(self.max_retries + 1):
            delay = min(BACKOFF_CAP, self.backoff_base * 2 ** attempt) * random.uniform(0.5, 1.0)
            asked = False  # whether Dropbox named the wait (Retry-After): then no shorter one will do
            try:
                return fn()
            except ApiError as e:
                tags = _tags(e.error)
                summary = "/".join(tags) or "error"
                if "not_found" in tags:
                    raise self._error(StoreNotFound, f"Dropbox {what}: not found ({summary})") from e
                if "not_folder" in tags:
                    raise self._error(NotAFolder, f"Dropbox {what}: not a folder ({summary})") from e
                if isinstance(e.error, files.ListFolderContinueError) and e.error.is_reset():
                    raise self._error(CursorReset, f"Dropbox {what}: cursor expired, list again") from e
                if not _TRANSIENT_TAGS.intersection(tags):
                    raise self._error(StoreError, f"Dropbox {what} failed: {summary}") from e
                cause, why = e, summary
            except RateLimitError as e:
                reason = "/".join(_tags(e.error)) or "too_many_requests"
                if e.backoff is not None:
                    delay, asked = float(e.backoff), True
                cause, why = e, f"rate limited ({reason})"
            except InternalServerError as e:
                cause, why = e, f"HTTP {e.status_code}"
            except AuthError as e:
                # Expired again after the SDK's refresh (another thread's token, or a short-lived
                # one): refresh once more on the next attempt. Anything else is revoked or wrong.
                if not (isinstance(e.error, AuthErrorUnion) and e.error.is_expired_access_token()):
                    reason = "/".join(_tags(e.error)) or "refused"
                    raise self._error(StoreError, f"Dropbox {what}: credentials rejected ({reason}); "
                                                  "reconnect the app") from e
                cause, why = e, "access token expired"
            except HttpError as e:
                raise self._error(StoreError, f"Dropbox {what} failed: HTTP {e.status_code}") from e
            except requests.exceptions.SSLError as e:
                if "CERTIFICATE_VERIFY_FAILED" in str(e):  # configuration, not weather
                    raise self._error(StoreError, f"Dropbox {what}: TLS certificate not trusted") from e
                cause, why = e, "TLS error"
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as e:
                cause, why = e, type(e).__name__
            if attempt == self.max_retries:
                raise self._error(TransientStoreError, f"Dropbox {what}: still failing after "
                                                       f"{attempt + 1} attempts ({why})") from cause
            left = self.wait_budget - waited
            if asked and delay > left:
                raise self._error(TransientStoreError, f"Dropbox {what}: {why}; asked to wait {delay:g} s, "
                                                       f"more than the {left:.1f} s left to wait") from cause
            delay = min(delay, left)
            log.warning("Dropbox %s: %s; retry %d/%d in %.2f s", what, why, attempt + 1,
                        self.max_retries, delay)
            time.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")

    def _error(self, cls: type[StoreError], message: str) -> StoreError:
        # Paths come from users and errors from Dropbox; neither should echo a secret, but be sure.
        token = getattr(self._dbx, "_oauth2_access_token", None)
        for secret in (*self._secrets, token):
            if secret:
                message = message.replace(secret, "***")
        return cls(message)
