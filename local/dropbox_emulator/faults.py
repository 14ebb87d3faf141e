"""What the emulator does wrong on purpose, and the counters tests read to see how a client coped.

A fault is scripted (`fail`: the next calls of a route) or drawn at a rate (`fault_rate`); either
way it is counted in `Counters.injected`.
"""
from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Iterable

from .replies import Reply, conflict, expired, tagged

FAULT_KINDS = frozenset({"429", "500", "503", "too_many_write_operations", "expired_token", "reset",
                         "slow"})
# Faults that make no sense on a route, so rate-based injection leaves them out there: the token
# endpoint does not answer "expired_access_token" (that is the API's answer to a stale token).
_NOT_ON_ROUTE = {"oauth2/token": frozenset({"expired_token"})}


class Counters:
    """What the emulator was asked and what it sent; reset() empties them."""

    def __init__(self) -> None:
        self.calls: collections.Counter = collections.Counter()  # route -> calls
        # Every fault served, scripted or rate-based: (route, kind) -> count.
        self.injected: collections.Counter = collections.Counter()
        # Downloads and thumbnails asked for, per file id; and the bytes of content that actually
        # left the server for each (a client that drops the connection early stops the count).
        self.served: collections.Counter = collections.Counter()
        self.sent_bytes: collections.Counter = collections.Counter()
        self.crashes: list[str] = []  # tracebacks of requests the emulator itself failed on (its bugs)
        self._serving = threading.local()

    def clear(self) -> None:
        self.calls.clear()
        self.injected.clear()
        self.served.clear()
        self.sent_bytes.clear()
        self.crashes.clear()

    def start_request(self) -> None:
        """This thread's next reply carries no file's content, until serve() says otherwise."""
        self._serving.node = None

    def serve(self, node_id: str) -> None:
        """This thread's reply carries the content of `node_id` (a download or thumbnail)."""
        self.served[node_id] += 1
        self._serving.node = node_id

    def serving(self) -> str | None:
        return self._serving.node


class Faults:
    def __init__(self, lock: threading.RLock, counters: Counters, tokens: dict[str, float]):
        self._lock, self._counters = lock, counters
        self._tokens = tokens  # the API's issued access tokens, which token faults revoke
        self._scripted: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._rate: tuple[float, tuple[str, ...], random.Random, frozenset[str] | None] | None = None
        self.reset()

    def reset(self) -> None:
        """No faults, no latency."""
        self._scripted.clear()
        self._rate = None
        self.latency = 0.0
        self.retry_after = 0     # seconds in the Retry-After of an injected 429
        self.slow_seconds = 3.0  # how long a "slow" call stalls

    def fail(self, route: str, kind: str, times: int = 1) -> None:
        """Script `kind` for the next `times` calls of `route` ("files/download", "oauth2/token")."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._scripted[route.strip("/")].extend([kind] * times)

    def fault_rate(self, rate: float, kinds: Iterable[str] = ("429", "500", "503",
                                                              "too_many_write_operations",
                                                              "expired_token", "reset"),
                   seed: int = 0, routes: Iterable[str] | None = None) -> None:
        """Inject a fault into a fraction `rate` of calls, on every route (or only `routes`), kind
        drawn uniformly from `kinds`, from a generator seeded with `seed`. Scripted faults (`fail`)
        come first; a call that has one draws nothing. `fault_rate(0)` turns it off.

        The draws are reproducible; which call gets which draw is not when calls run concurrently.
        """
        kinds = tuple(kinds)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
        unknown = set(kinds) - FAULT_KINDS
        if unknown or not kinds:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; use some of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._rate = None if rate == 0 else (
                rate, kinds, random.Random(seed), None if routes is None else frozenset(
                    r.strip("/") for r in routes))

    def expire_tokens(self) -> None:
        """Every issued access token stops working (the SDK then refreshes)."""
        with self._lock:
            self._tokens.clear()

    def take(self, route: str) -> str | None:
        """Count a call of `route` and pick its fault (None for none), after stalling for the
        latency and for a "slow" fault."""
        with self._lock:
            self._counters.calls[route] += 1
            queue = self._scripted.get(route)
            fault = queue.popleft() if queue else self._draw(route)
            if fault is not None:
                self._counters.injected[route, fault] += 1
        if self.latency:
            time.sleep(self.latency)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        return fault

    def reply(self, route: str, kind: str, authorization: str) -> Reply:
        """Dropbox's answer for an error fault (any kind but "slow" and "reset", which the server
        acts out)."""
        if kind == "429":
            return self._too_many("too_many_requests")
        if kind in ("500", "503"):
            return Reply(int(kind), "Internal Server Error" if kind == "500" else "Service Unavailable")
        if kind == "expired_token":
            with self._lock:
                self._tokens.pop(authorization.removeprefix("Bearer "), None)
            return expired()
        # too_many_write_operations: a write route says it in its own error union.
        if route in ("files/move_v2", "files/copy_v2"):
            return conflict(tagged("to", "too_many_write_operations"))
        if route == "files/create_folder_v2":
            return conflict(tagged("path", "too_many_write_operations"))
        if route == "files/upload":
            return conflict({".tag": "path", "reason": {".tag": "too_many_write_operations"},
                             "upload_session_id": ""})
        # Elsewhere Dropbox says it with a 429 whose reason names it.
        return self._too_many("too_many_write_operations")

    def _too_many(self, reason: str) -> Reply:
        error = {"reason": {".tag": reason}, "retry_after": self.retry_after}
        return Reply(429, {"error_summary": f"{reason}/...", "error": error},
                     {"Retry-After": str(self.retry_after)})

    def _draw(self, route: str) -> str | None:
        """A rate-based fault for this call, or None (called with the lock held)."""
        if self._rate is None:
            return None
        rate, kinds, rng, routes = self._rate
        if routes is not None and route not in routes:
            return None
        if rng.random() >= rate:
            return None
        kind = rng.choice(kinds)
        return None if kind in _NOT_ON_ROUTE.get(route, ()) else kind
