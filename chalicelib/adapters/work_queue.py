"""The SQS queue of the classify function: one message per image to sort or to learn from."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from chalicelib.adapters import aws
from chalicelib.rules.messages import LearnRequest, SortRequest, SyncRequest

if TYPE_CHECKING:  # the boto3 stubs: a test dependency, not in the Lambda
    from mypy_boto3_sqs import SQSClient

READ_TIMEOUT = 25  # seconds: a receive may wait 20 s for messages
SEND_ATTEMPTS = 4
# SQS calls in flight at once when queueing many messages: a page of 250 photos is 25 calls, which
# one after the other spend most of a listing's time waiting on SQS.
SEND_THREADS = 8
DEFAULT_MAX_RECEIVES = 5


class QueueError(RuntimeError):
    """Some messages could not be queued even after bounded retries; nothing was acknowledged."""


class WorkQueue:
    def __init__(self, queue_name: str, sqs: SQSClient | None = None):
        self.queue_name = queue_name
        self._sqs = sqs or aws.client("sqs", read_timeout=READ_TIMEOUT)
        self._url: str | None = None
        self._pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="send")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "WorkQueue":
        return cls(env.get("SORT_QUEUE", "image-categorizer-sort"))

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        return self._url

    def create(self, max_receives: int = DEFAULT_MAX_RECEIVES, visibility_timeout: int = 120) -> str:
        """The queue and its dead-letter queue, for the local stack and tests (deploys use the template)."""
        dlq_url = self._sqs.create_queue(QueueName=f"{self.queue_name}-dlq")["QueueUrl"]
        dlq_arn = self._sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        redrive = f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{max_receives}"}}'
        self._url = self._sqs.create_queue(QueueName=self.queue_name, Attributes={
            "RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]
        return self._url

    def send(self, requests: Sequence[SortRequest | LearnRequest]) -> None:
        """Queue every request (10 per SQS call, several calls at once); entries SQS refuses are
        resent a bounded number of times. Raises (QueueError, or a call's error) when any call
        failed: the caller keeps its cursor and lists them again (a message queued twice is harmless)."""
        url = self.url
        chunks = [requests[start:start + 10] for start in range(0, len(requests), 10)]
        list(self._pool.map(lambda chunk: self._send_batch(url, chunk), chunks))

    def _send_batch(self, url: str, chunk: Sequence[SortRequest | LearnRequest]) -> None:
        entries = {str(i): r.to_json() for i, r in enumerate(chunk)}
        for attempt in range(SEND_ATTEMPTS):
            response = self._sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": i, "MessageBody": body} for i, body in entries.items()])
            entries = {f["Id"]: entries[f["Id"]] for f in response.get("Failed", [])}
            if not entries:
                return
            aws.pause(attempt)
        raise QueueError(f"SQS refused {len(entries)} message(s) after {SEND_ATTEMPTS} attempts")

    def send_sync(self, account: str, delay_seconds: int = 0) -> None:
        """Ask the classify function to sync the account's inbox, after `delay_seconds` (at most 900)."""
        self._sqs.send_message(QueueUrl=self.url, MessageBody=SyncRequest(account).to_json(),
                               DelaySeconds=max(0, min(900, delay_seconds)))

    def delete(self, receipt_handles: Sequence[str]) -> None:
        """Acknowledge messages handled in a batch whose other messages must be retried."""
        for start in range(0, len(receipt_handles), 10):
            self._sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipt_handles[start:start + 10])])

    def depth(self) -> dict[str, int]:
        """Messages waiting, being handled, and given up on (in the dead-letter queue)."""
        waiting: Final = "ApproximateNumberOfMessages"
        in_flight: Final = "ApproximateNumberOfMessagesNotVisible"
        main = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[waiting, in_flight])["Attributes"]
        dlq_url = self._sqs.get_queue_url(QueueName=f"{self.queue_name}-dlq")["QueueUrl"]
        dlq = self._sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=[waiting, in_flight])["Attributes"]
        return {"waiting": int(main[waiting]), "in_flight": int(main[in_flight]),
                "dead_letter": int(dlq[waiting]) + int(dlq[in_flight])}
