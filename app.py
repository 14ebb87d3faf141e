"""image-categorizer: routes and handlers only; the logic lives in chalicelib/.

Every API route needs `Authorization: Bearer <SERVICE_KEY>` unless it says `key=False` (the
webhook, which Dropbox signs instead); every route answers an outage of Dropbox or AWS with 503.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from chalice import (
    BadRequestError,
    Chalice,
    ChaliceViewError,
    ConflictError,
    NotFoundError,
    Response,
    UnauthorizedError,
)
from chalice.app import Request, SQSEvent

from chalicelib import snapstart
from chalicelib.adapters.dropbox_store import StoreError
from chalicelib.adapters.secrets import SecretsError
from chalicelib.adapters.state import StateError
from chalicelib.adapters.work_queue import QueueError
from chalicelib.flows import answers, page, review, webhook
from chalicelib.flows.auth import bearer_ok
from chalicelib.flows.classify import Message
from chalicelib.flows.inbox import Busy, NoInbox, NotConfigured, start_sort
from chalicelib.flows.undo import AlreadyUndone, undo_job
from chalicelib.rules import configuration
from chalicelib.wiring import wiring

app = Chalice(app_name="image-categorizer")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)
logging.getLogger("dropbox").setLevel(logging.WARNING)  # one INFO line per API call otherwise
snapstart.register()  # the hooks Lambda runs around a SnapStart snapshot, where it is turned on

# One SQS batch is one ONNX call and one Dropbox move_batch: 10 photos keep a batch well inside the
# 90 s timeout even with 12 MP downloads. Two batches at a time at most: Dropbox serialises writes
# per account, so more parallel movers would mostly earn too_many_write_operations retries.
SQS_BATCH_SIZE = 10
SQS_MAX_CONCURRENCY = 2


class Unavailable(ChaliceViewError):
    STATUS_CODE = 503


class RetryBatch(RuntimeError):
    """Raised so Lambda returns the batch's unfinished messages to SQS for another try."""


P = ParamSpec("P")
T = TypeVar("T")


def route(path: str, methods: list[str], key: bool = True,
          **options: object) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """`app.route`, with the service key checked first (unless `key=False`) and the errors every
    route shares turned into answers that name the problem."""
    def register(view: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                if key:
                    _authorize()
                return view(*args, **kwargs)
            except (configuration.ConfigError, review.Refused) as e:
                raise BadRequestError(str(e)) from None
            except review.Unknown as e:
                raise NotFoundError(str(e)) from None
            except (NotConfigured, Busy, NoInbox, AlreadyUndone, review.Moved) as e:
                raise ConflictError(str(e)) from None
            except StoreError as e:
                raise Unavailable(f"cannot reach Dropbox now: {e}") from None
            except (QueueError, StateError, BotoCoreError, ClientError) as e:
                raise Unavailable(f"cannot reach AWS now ({type(e).__name__}); try again shortly") from None
            except SecretsError as e:
                raise Unavailable(f"the service's secrets cannot be used: {e}") from None
        # Chalice registers the view and hands it back as it is (its decorator is typed loosely).
        registered: Callable[P, T] = app.route(path, methods=methods, **options)(guarded)
        return registered
    return register


def _current_request() -> Request:
    """The request a route is answering (Chalice sets it before it calls the route's view)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request: only a route's view may ask for it")
    return request


def _raw_body(request: Request) -> bytes:
    """The body's bytes: Chalice types raw_body as str or bytes, and always makes it bytes."""
    body = request.raw_body
    return body.encode("utf-8") if isinstance(body, str) else body


def _authorize() -> None:
    service_key = wiring().service_key
    if not service_key:
        raise UnauthorizedError("the service has no SERVICE_KEY configured")
    if not bearer_ok(_current_request().headers.get("authorization"), service_key):
        raise UnauthorizedError("missing or wrong 'Authorization: Bearer <SERVICE_KEY>'")


def _json_body() -> object:
    try:
        return json.loads(_current_request().raw_body or b"null")
    except (ValueError, RecursionError) as e:
        raise BadRequestError(f"the body is not valid JSON: {type(e).__name__}") from None


@route("/", methods=["GET"], key=False)
def index() -> Response | dict[str, object]:
    """The page, for a browser; for a program, what the service answers (no secret in either)."""
    if page.wants_page(_current_request().headers.get("accept")):
        return Response(*page.asset("index.html"))
    return {"service": "image-categorizer", "routes": {
        "POST /configure": "set the classes", "GET /configure": "the classes and what each covers",
        "POST /sort": "sort what is in the inbox (a job); {\"dry_run\": true}: where each photo would go",
        "GET /jobs": "the recent jobs",
        "GET /jobs/{job_id}": "a job's progress", "POST /undo": "put a job's photos back in the inbox",
        "GET /status": "counts, queue, recent decisions and problems",
        "GET /review": "the photos to look at: unsorted, and sorted by a small margin, with thumbnails",
        "POST /correct": "move a photo to the class it shows, learned as your correction",
        "POST /thumbnails": "Dropbox's thumbnails of photos in the app's folders",
        "POST /webhook": "Dropbox's notifications"},
        "auth": "Authorization: Bearer <SERVICE_KEY> on every route but this one, the page's files and the webhook"}


@route("/page.js", methods=["GET"], key=False)
def page_script() -> Response:
    return Response(*page.asset("page.js"))


@route("/page.css", methods=["GET"], key=False)
def page_style() -> Response:
    return Response(*page.asset("page.css"))


@route("/webhook", methods=["GET"], key=False)
def webhook_challenge() -> Response:
    query = _current_request().query_params
    challenge = query.get("challenge", "") if query else ""
    return Response(challenge, headers={"Content-Type": "text/plain", "X-Content-Type-Options": "nosniff"})


@route("/webhook", methods=["POST"], key=False, content_types=["application/json", "application/octet-stream"])
def webhook_notification() -> Response:
    # A 503 makes Dropbox notify again: nothing is lost while the changes cannot be read or queued.
    request = _current_request()
    try:
        listing = wiring().webhook_handler.handle(_raw_body(request), request.headers.get("x-dropbox-signature"))
    except webhook.Rejected as e:
        return Response({"Code": "Rejected", "Message": str(e)}, status_code=e.status)
    return Response({"queued": listing.queued, "skipped": listing.skipped, "to_learn": listing.to_learn})


@route("/configure", methods=["POST"])
def configure_post() -> dict[str, object]:
    w = wiring()
    config = configuration.parse(_json_body())  # before any table read: a bad body is a 400 even while AWS fails
    taught = w.state.example_counts()
    return answers.configure(config, w.resolver(taught), w.state, w.default_threshold, taught, w.dropbox)


@route("/configure", methods=["GET"])
def configure_get() -> dict[str, object]:
    w = wiring()
    taught = w.state.example_counts()
    current = answers.current(w.state, w.resolver(taught), w.default_threshold, taught)
    if current is None:
        raise NotFoundError("no classes configured yet: POST /configure {\"classes\": [...]}")
    return current


@route("/sort", methods=["POST"])
def sort_all() -> Response:
    w = wiring()
    job = start_sort(_json_body(), w.state, w.inbox, w.account_id(), lambda: w.resolver(w.state.example_counts()))
    return Response({"job_id": job.job_id, "total": job.total, "skipped": job.skipped, "dry_run": job.dry_run},
                    status_code=202)


@route("/status", methods=["GET"])
def get_status() -> dict[str, object]:
    w = wiring()
    return answers.status(w.state, w.queue, w.state.example_counts())


@route("/jobs", methods=["GET"])
def get_jobs() -> list[dict[str, object]]:
    return answers.jobs(wiring().state)


@route("/undo", methods=["POST"])
def undo() -> dict[str, object]:
    body = _json_body()
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise BadRequestError('expected {"job_id": "..."}: the job to undo (GET /jobs lists them)')
    w = wiring()
    job = w.state.job(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    if job.preview is not None:
        raise ConflictError(f"job {job_id!r} is a dry run: it moved nothing to undo")
    return undo_job(job_id, w.state, w.dropbox)


@route("/review", methods=["GET"])
def get_review() -> dict[str, object]:
    w = wiring()
    return review.review(_configured(), w.state, w.dropbox)


@route("/correct", methods=["POST"])
def correct() -> dict[str, object]:
    w = wiring()
    return review.correct(_json_body(), _configured(), w.state, w.dropbox, w.queue)


@route("/thumbnails", methods=["POST"])
def thumbnails() -> dict[str, object]:
    return {"thumbnails": review.thumbnails(_json_body(), _configured(), wiring().dropbox)}


def _configured() -> configuration.SortConfig:
    config = wiring().state.get_config()
    if config is None:
        raise NotConfigured("no classes are configured yet: POST /configure {\"classes\": [...]}")
    return config


@route("/jobs/{job_id}", methods=["GET"])
def get_job(job_id: str) -> dict[str, object]:
    found = answers.job(wiring().state, job_id, with_files=True)
    if found is None:
        raise NotFoundError(f"no job {job_id!r}")
    return found


@app.on_sqs_message(queue="image-categorizer-sort", batch_size=SQS_BATCH_SIZE,
                    maximum_concurrency=SQS_MAX_CONCURRENCY)
def classify(event: SQSEvent) -> None:
    messages = [Message.from_record(record.to_dict()) for record in event]
    w = wiring()
    acks = w.classify_handler.handle(messages)
    if acks.retry:
        # Only the unfinished messages may come back: acknowledge the rest ourselves.
        w.queue.delete(acks.done)
        raise RetryBatch(f"{len(acks.retry)} of {len(messages)} files will be retried")
