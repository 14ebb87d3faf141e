"""image-categorizer: routes and handlers only; the logic lives in chalicelib/."""
from __future__ import annotations

import json
import logging

from botocore.exceptions import BotoCoreError, ClientError
from chalice import (BadRequestError, Chalice, ChaliceViewError, ConflictError, NotFoundError, Response,
                     UnauthorizedError)

from chalicelib import configuration, status, webhook
from chalicelib.auth import bearer_ok
from chalicelib.class_config import ConfigError
from chalicelib.dropbox_store import StoreError
from chalicelib.inbox import Busy
from chalicelib.messages import BadMessage, SortRequest
from chalicelib.services import services
from chalicelib.sorter import Message

app = Chalice(app_name="image-categorizer")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)
logging.getLogger("dropbox").setLevel(logging.WARNING)  # one INFO line per API call otherwise

# One SQS batch is one ONNX call and one Dropbox move_batch: 10 photos keep a batch well inside the
# 90 s timeout even with 12 MP downloads. Two batches at a time at most: Dropbox serialises writes
# per account, so more parallel movers would mostly earn too_many_write_operations retries.
SQS_BATCH_SIZE = 10
SQS_MAX_CONCURRENCY = 2


class Unavailable(ChaliceViewError):
    STATUS_CODE = 503


class RetryBatch(RuntimeError):
    """Raised so Lambda returns the batch's unfinished messages to SQS for another try."""


def _authorize() -> None:
    key = services().service_key
    if not key:
        raise UnauthorizedError("the service has no SERVICE_KEY configured")
    if not bearer_ok(app.current_request.headers.get("authorization"), key):
        raise UnauthorizedError("missing or wrong 'Authorization: Bearer <SERVICE_KEY>'")


def _json_body() -> object:
    try:
        return json.loads(app.current_request.raw_body or b"null")
    except (ValueError, RecursionError) as e:
        raise BadRequestError(f"the body is not valid JSON: {type(e).__name__}") from None


@app.route("/webhook", methods=["GET"])
def webhook_challenge() -> Response:
    challenge = (app.current_request.query_params or {}).get("challenge", "")
    return Response(challenge, headers={"Content-Type": "text/plain", "X-Content-Type-Options": "nosniff"})


@app.route("/webhook", methods=["POST"], content_types=["application/json", "application/octet-stream"])
def webhook_notification() -> Response:
    request = app.current_request
    try:
        listing = webhook.handle(request.raw_body, request.headers.get("x-dropbox-signature"), services())
    except webhook.Rejected as e:
        return Response({"Code": "Rejected", "Message": str(e)}, status_code=e.status)
    except StoreError as e:
        # Dropbox retries a notification that failed: nothing is lost while we cannot read the changes.
        raise Unavailable(f"cannot read the changes from Dropbox now: {e}") from None
    except (BotoCoreError, ClientError) as e:
        raise Unavailable(f"cannot queue the changes now ({type(e).__name__}); Dropbox will notify again") from None
    return Response({"queued": listing.queued, "skipped": listing.skipped})


@app.route("/configure", methods=["POST"])
def configure_post() -> dict:
    _authorize()
    try:
        return configuration.configure(_json_body(), services())
    except ConfigError as e:
        raise BadRequestError(str(e)) from None


@app.route("/configure", methods=["GET"])
def configure_get() -> dict:
    _authorize()
    current = configuration.current(services())
    if current is None:
        raise NotFoundError("no classes configured yet: POST /configure {\"classes\": [...]}")
    return current


@app.route("/sort", methods=["POST"])
def sort_all() -> Response:
    _authorize()
    s = services()
    if s.state.get_config() is None:
        raise ConflictError("configure the classes first: POST /configure {\"classes\": [...]}")
    try:
        job = s.inbox.sort_all(s.account_id())
    except Busy as e:
        raise ConflictError(str(e)) from None
    except StoreError as e:
        raise Unavailable(f"could not list the Dropbox inbox: {e}") from None
    return Response({"job_id": job.job_id, "total": job.total, "skipped": job.skipped}, status_code=202)


@app.route("/status", methods=["GET"])
def get_status() -> dict:
    _authorize()
    return status.status(services())


@app.route("/jobs/{job_id}", methods=["GET"])
def get_job(job_id: str) -> dict:
    _authorize()
    found = status.job(services(), job_id)
    if found is None:
        raise NotFoundError(f"no job {job_id!r}")
    return found


@app.on_sqs_message(queue="image-categorizer-sort", batch_size=SQS_BATCH_SIZE,
                    maximum_concurrency=SQS_MAX_CONCURRENCY)
def classify(event) -> None:
    messages = []
    for record in event:
        try:
            request = SortRequest.from_json(record.body)
        except BadMessage:
            request = None
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", "1"))
        messages.append(Message(request, record.receipt_handle, receives))
    s = services()
    result = s.sorter.handle(messages)
    if result.retry:
        # Only the unfinished messages may come back: acknowledge the rest ourselves.
        s.queue.delete(result.done)
        raise RetryBatch(f"{len(result.retry)} of {len(messages)} files will be retried")
