"""The SQS messages: one asks for one file to be sorted, one for an account's inbox to be synced
again (a sync that ran out of time or found another holding the lease hands over), and one for a
photo in a class folder to be learned as an example."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


class BadMessage(ValueError):
    """A queue message that is not ours; dropping it loses no file (it names none we can use)."""


@dataclass(frozen=True)
class SortRequest:
    """`file_id` (Dropbox `id:...`) is what counts: it survives renames and moves.
    `path` and `rev` are what the file was when queued, for logs and the status page. A `dry_run`
    request decides with its (preview) job's classes and moves nothing. `goes_with` is the file id
    of the photo listed beside it that it goes with (a Live Photo's video, a RAW beside its JPEG);
    `waiting_since` when it was first queued anew to wait for that photo (seconds since the epoch)."""

    file_id: str
    path: str
    rev: str
    job_id: str | None = None
    dry_run: bool = False
    goes_with: str | None = None
    waiting_since: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items()
                           if k not in ("dry_run", "goes_with", "waiting_since") or v})

    @classmethod
    def from_json(cls, body: str) -> "SortRequest":
        try:
            data = json.loads(body)
            goes_with, since = data.get("goes_with"), data.get("waiting_since")
            request = cls(str(data["file_id"]), str(data["path"]), str(data.get("rev", "")), data.get("job_id"),
                          data.get("dry_run", False) is True, str(goes_with) if goes_with is not None else None,
                          float(since) if since is not None else None)
        except (ValueError, TypeError, KeyError) as e:
            raise BadMessage(f"not a sort request: {e}") from None
        if request.dry_run and not request.job_id:
            raise BadMessage("a dry run without its job")
        if not request.file_id.startswith("id:"):
            raise BadMessage(f"not a Dropbox file id: {request.file_id!r}")
        return request


def request_key(request: SortRequest) -> str:
    """The same queued request (redelivered, or handled twice) always maps to the same key."""
    raw = "\0".join((request.file_id, request.rev, request.path.lower(), request.job_id or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SyncRequest:
    account: str

    def to_json(self) -> str:
        return json.dumps({"sync": self.account})


@dataclass(frozen=True)
class LearnRequest:
    """A photo found in a class folder (`path` when seen), put there by the user: an example of
    the class of the folder it is in when learned."""

    file_id: str
    path: str

    def to_json(self) -> str:
        return json.dumps({"learn": {"file_id": self.file_id, "path": self.path}})

    def as_sort_request(self) -> SortRequest:
        """The same file as the photo stores read it."""
        return SortRequest(self.file_id, self.path, "")


def parse(body: str) -> SortRequest | SyncRequest | LearnRequest:
    """A message body as one of ours; BadMessage for anything else."""
    try:
        data = json.loads(body)
    except ValueError as e:
        raise BadMessage(f"not JSON: {e}") from None
    if isinstance(data, dict) and set(data) == {"sync"} and isinstance(data["sync"], str):
        return SyncRequest(data["sync"])
    if isinstance(data, dict) and set(data) == {"learn"}:
        learn = data["learn"]
        if not (isinstance(learn, dict) and isinstance(learn.get("file_id"), str)
                and learn["file_id"].startswith("id:") and isinstance(learn.get("path"), str)):
            raise BadMessage("not a learn request")
        return LearnRequest(learn["file_id"], learn["path"])
    return SortRequest.from_json(body)
