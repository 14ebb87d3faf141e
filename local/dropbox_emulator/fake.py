"""FakeDropbox: the emulator's parts put together behind the one object tests and the stack use."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .faults import Counters, Faults
from .routes import DEFAULT_ACCOUNT_ID, Api
from .server import Server
from .tree import Tree


class _Forward:
    """An attribute of FakeDropbox that is the attribute `name` of one of its parts."""

    def __init__(self, part: str, name: str | None = None):
        self.part, self.name = part, name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        return self if obj is None else getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj: object, value: Any) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class FakeDropbox:
    # The files, as the user sees and changes them.
    root = _Forward("tree")
    put = _Forward("tree")
    read = _Forward("tree")
    files = _Forward("tree")
    exists = _Forward("tree")
    id_of = _Forward("tree")
    path_of = _Forward("tree")
    is_folder = _Forward("tree")
    tags_of = _Forward("tree")
    user_move = _Forward("tree")
    user_delete = _Forward("tree")
    scan = _Forward("tree")
    reset_cursors = _Forward("tree")
    _resolve = _Forward("tree", "resolve")
    # The account and its credentials; how the API pages and how soon it sees files on disk.
    app_key = _Forward("api")
    app_secret = _Forward("api")
    refresh_token = _Forward("api")
    account_id = _Forward("api")
    token_lifetime = _Forward("api")
    _tokens = _Forward("api", "tokens")
    page_size = _Forward("api")
    batch_seconds = _Forward("api")
    auto_scan = _Forward("api")
    tags_enabled = _Forward("api")  # False: the account refuses tags
    # Faults.
    fail = _Forward("faults")
    fault_rate = _Forward("faults")
    expire_tokens = _Forward("faults")
    latency = _Forward("faults")
    retry_after = _Forward("faults")
    slow_seconds = _Forward("faults")
    # What was asked and sent.
    calls = _Forward("counters")
    injected = _Forward("counters")
    served = _Forward("counters")
    sent_bytes = _Forward("counters")
    crashes = _Forward("counters")
    # Where it listens, and the CA certificate to trust.
    host = _Forward("server")
    port = _Forward("server")
    address = _Forward("server")
    ca_path = _Forward("server")

    def __init__(self, root: Path, *, app_key: str = "test-key", app_secret: str = "test-secret",
                 refresh_token: str = "test-refresh", account_id: str = DEFAULT_ACCOUNT_ID,
                 host: str = "127.0.0.1", port: int = 0, ids_file: Path | None = None):
        """`ids_file`: where the files' ids are kept for a later FakeDropbox on the same `root`
        (the local stack's sandbox); without one they last as long as this object."""
        if len(account_id) != 40:
            raise ValueError("account_id must be 40 characters, like Dropbox's (the SDK checks)")
        # One lock for all the parts: requests on the server's threads and the test's own calls
        # change the same state, and a route sees the tree, tokens and counters at one moment.
        self._lock = threading.RLock()
        self.counters = Counters()
        self.tree = Tree(root, self._lock, ids_file)
        self.api = Api(self.tree, self.counters, self._lock, app_key=app_key, app_secret=app_secret,
                       refresh_token=refresh_token, account_id=account_id)
        self.faults = Faults(self._lock, self.counters, self.api.tokens)
        self.server = Server(self.api, self.faults, self.counters, self._lock, host=host, port=port)

    def start(self) -> FakeDropbox:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.tree.save()  # what changed since the last scan

    def __enter__(self) -> FakeDropbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty tree, change log, counters and faults; issued tokens stay valid."""
        with self._lock:
            self.tree.reset()
            self.api.reset()
            self.faults.reset()
            self.counters.clear()
