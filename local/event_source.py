"""What Lambda's SQS event source mapping does, for the local stack and the tests.

Receive a batch, hand it to the handler as a real SQS event, delete it when the handler returns;
when the handler raises, leave the messages to come back (SQS's redrive policy moves a message to
the dead-letter queue after maxReceiveCount receives, exactly as in AWS).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class SqsEventSource:
    def __init__(self, sqs, queue_url: str, handler: Callable[[dict], object], *, batch_size: int = 10,
                 retry_delay: int = 1):
        self._sqs, self.queue_url, self._handler = sqs, queue_url, handler
        self.batch_size = batch_size
        # Lambda waits out the visibility timeout before a retry; locally a second is enough.
        self.retry_delay = retry_delay
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.batches = self.failures = 0

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Deliver at most one batch; the number of messages delivered."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size, WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        try:
            self._handler(self._event(messages))
        except Exception as e:
            self.failures += 1
            log.warning("handler failed on a batch of %d (%s); messages left for redelivery", len(messages), e)
            self._sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay}
                for i, m in enumerate(messages)])
        else:
            try:
                self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            except Exception as e:  # as in Lambda: an unacknowledged message is simply delivered again
                self.failures += 1
                log.warning("deleting a batch of %d failed (%s); it will be delivered again", len(messages), e)
        return len(messages)

    def drain(self, timeout: float, idle_polls: int = 2) -> None:
        """Deliver until the queue has stayed empty for `idle_polls` one-second polls (or `timeout`)."""
        deadline, idle = time.monotonic() + timeout, 0
        while idle < idle_polls:
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue not drained within {timeout} s")
            idle = 0 if self.poll_once(wait_seconds=1) else idle + 1

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:  # the queue itself failing: say so, and keep polling (bounded by stop)
                log.exception("polling the queue failed")
                stop.wait(1)

    def _event(self, messages: list[dict]) -> dict:
        region = self._arn.split(":")[3]
        return {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(), "eventSource": "aws:sqs",
            "eventSourceARN": self._arn, "awsRegion": region} for m in messages]}
