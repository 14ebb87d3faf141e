"""What every AWS client of the service shares: bounded calls, and one way to wait before trying again."""
from __future__ import annotations

import random
import time
from typing import Any

import boto3
from botocore.config import Config


def client(service: str, read_timeout: float = 10) -> Any:
    """A boto3 client whose every call is bounded: short timeouts, a few retries (throttling included).
    Any: the stubs type a client by the literal service name, which the callers annotate."""
    make: Any = boto3.client
    return make(service, config=Config(connect_timeout=5, read_timeout=read_timeout,
                                       retries={"max_attempts": 4, "mode": "standard"}))


def pause(attempt: int) -> None:
    """The jittered, growing wait before another try of what AWS left undone."""
    time.sleep(random.uniform(0.02, 0.05) * 2 ** attempt)
