"""HTTP calls the command line makes to the running service: configure, start a sort, poll the job.

Every failure becomes a ServiceError whose message is one line fit for the user; a class the
service refuses becomes a ConfigError, as it would locally.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from chalicelib.rules.configuration import ConfigError
from local.defaults import LOCAL_STACK_URL, is_local

# (connect, read) seconds: a sort is started asynchronously, so no call should take long.
TIMEOUT = (5.0, 30.0)
POLL_INTERVAL = 0.5
# Following a job gives up when nothing has finished for this long (is the queue worker running?).
STALL_SECONDS = 600.0

# A JSON object as the service answered it: any JSON in its fields, which are checked (_field) or
# read with a default where they are used.
Answer = dict[str, Any]
type Json = None | bool | int | float | str | Sequence[Json] | Mapping[str, Json]
# A request's JSON body.
Body = Mapping[str, Json]
T = TypeVar("T")


class ServiceError(Exception):
    """The service could not be reached or refused a request; str() is one line for the user.

    `status` is the HTTP status of a refusal and `detail` the service's own Message.
    """

    def __init__(self, message: str, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


class ServiceClient:
    def __init__(self, base_url: str = LOCAL_STACK_URL, key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._session = requests.Session()
        if key:
            self._session.headers["Authorization"] = f"Bearer {key}"

    def configure(self, body: Body) -> Answer:
        """POST /configure with `body` ({"classes": [...], "threshold": ..., ...})."""
        return self._refusing_classes("POST", "/configure", body)

    def start_sort(self, preview: Body | None = None) -> tuple[str, int]:
        """POST /sort; with `preview` (the fields of /configure), a dry run with those classes that
        changes nothing. Returns (job_id, total)."""
        job = self._refusing_classes("POST", "/sort", None if preview is None else {"dry_run": True, **preview})
        return _field(job, "job_id", str, "POST /sort"), _field(job, "total", int, "POST /sort")

    def undo(self, job_id: str) -> Answer:
        """POST /undo: the job's photos put back in /All; the answer names those left alone."""
        answer = self._call("POST", "/undo", {"job_id": job_id})
        _field(answer, "moved_back", int, "POST /undo")
        _field(answer, "left", list, "POST /undo")
        return answer

    def job(self, job_id: str) -> Answer:
        job = self._call("GET", f"/jobs/{quote(job_id, safe='')}")
        for name, kind in (("total", int), ("done", int), ("sorted", dict), ("unsorted", int),
                           ("skipped", int), ("failed", int), ("finished", bool)):
            _field(job, name, kind, "GET /jobs")
        return job

    def follow(self, job_id: str, interval: float = POLL_INTERVAL, stall: float = STALL_SECONDS) -> Iterator[Answer]:
        """The job's status every `interval` seconds, ending with the finished one; ServiceError when
        nothing has moved for `stall` seconds (the job goes on in the service: /status tells)."""
        done, moved_at = -1, time.monotonic()
        while True:
            job = self.job(job_id)
            yield job
            if job["finished"]:
                return
            if job["done"] != done:
                done, moved_at = job["done"], time.monotonic()
            elif time.monotonic() - moved_at > stall:
                raise ServiceError(f"job {job_id}: no progress for {stall:.0f} s at {done} of {job['total']}; "
                                   "it continues in the service (GET /status)")
            time.sleep(interval)

    def _refusing_classes(self, method: str, path: str, body: Body | None) -> Answer:
        """A call whose 400 is about the classes: a ConfigError, as it would be locally."""
        try:
            return self._call(method, path, body)
        except ServiceError as e:
            if e.status == 400:
                raise ConfigError(e.detail) from None
            raise

    def _call(self, method: str, path: str, body: Body | None = None) -> Answer:
        what = f"{method} {path}"
        try:
            response = self._session.request(method, self.base_url + path, json=body, timeout=TIMEOUT)
        except requests.Timeout:
            raise ServiceError(f"{what}: the service at {self.base_url} did not answer in time") from None
        except requests.RequestException as e:
            start = "start it with `make run`" if is_local(self.base_url) else "check CATEGORIZER_URL"
            raise ServiceError(f"cannot reach the service at {self.base_url}: {_reason(e)}. Is it running? "
                               f"{start.capitalize()}, or sort a folder on this computer with --folder DIR") from None
        if response.status_code >= 400:
            raise self._refused(what, response)
        try:
            answer = response.json()
        except ValueError:
            raise ServiceError(f"{what}: the service answered {response.status_code} without JSON") from None
        if not isinstance(answer, dict):
            raise ServiceError(f"{what}: expected a JSON object, got {type(answer).__name__}")
        return answer

    def _refused(self, what: str, response: requests.Response) -> ServiceError:
        try:
            answer = response.json()
            detail = _one_line(str(answer["Message"]))
            message = f"{answer['Code']}: {detail}"
        except (ValueError, TypeError, KeyError):
            detail = message = _one_line(response.text)[:200] or response.reason
        hint = ""
        if response.status_code in (401, 403):
            hint = " (check SERVICE_KEY)" if self._key else " (SERVICE_KEY is not set)"
        return ServiceError(f"{what} failed with {response.status_code}: {message}{hint}",
                            response.status_code, detail)


def _field(answer: Answer, name: str, kind: type[T], what: str) -> T:
    value = answer.get(name)
    # bool is an int in Python; a count that is true/false is still not a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ServiceError(f"{what}: unexpected answer, {name!r} is missing or not a {kind.__name__}")
    return value


def _reason(error: requests.RequestException) -> str:
    """The OS reason ("Connection refused") buried in requests' nested error text."""
    text = _one_line(str(error))
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    return found.group(1).strip() if found else text or type(error).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
