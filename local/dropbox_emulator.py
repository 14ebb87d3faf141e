"""A fake Dropbox API server that the real `dropbox` SDK talks to, over HTTPS on 127.0.0.1.

The tree lives in a folder on disk (display case kept), with an in-memory index that gives each
entry what Dropbox gives it: a stable `id:` that survives moves, a rev that changes with the
content, the Dropbox content hash, and case-insensitive lookup. Every change is appended to a
log with a sequence number, which is what list_folder cursors point into.

Responses are built from the SDK's own Stone types and validators, so whatever the SDK accepts
here it would accept from Dropbox; request arguments are decoded with the same validators.

The SDK reads DROPBOX_API_HOST / DROPBOX_API_CONTENT_HOST once, at import: point both at
`fake.address` before `import dropbox` (tests/conftest.py and local/stack.py do).
"""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import io
import json
import os
import random
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import trustme
from dropbox import common, files, users, users_common
from dropbox import stone_serializers as ss
from dropbox import stone_validators as bv

BLOCK_SIZE = 4 * 1024 * 1024
# Dropbox account ids are exactly 40 characters; the SDK's validator refuses anything else.
DEFAULT_ACCOUNT_ID = "dbid:AAtest".ljust(40, "0")
# What Dropbox makes thumbnails of, and the size above which it gives up.
THUMBNAIL_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tiff", ".tif", ".gif", ".webp", ".ppm",
                                  ".bmp", ".heic", ".heif"})
THUMBNAIL_MAX_BYTES = 20 * 1024 * 1024
FAULT_KINDS = frozenset({"429", "500", "503", "too_many_write_operations", "expired_token", "reset",
                         "slow"})
# Faults that make no sense on a route, so rate-based injection leaves them out there: the token
# endpoint does not answer "expired_access_token" (that is the API's answer to a stale token).
_NOT_ON_ROUTE = {"oauth2/token": frozenset({"expired_token"})}


def content_hash(data: bytes) -> str:
    """Dropbox's content_hash: SHA-256 of the concatenated SHA-256s of each 4 MiB block."""
    blocks = b"".join(hashlib.sha256(data[i:i + BLOCK_SIZE]).digest()
                      for i in range(0, len(data), BLOCK_SIZE))
    return hashlib.sha256(blocks).hexdigest()


def signed_notification(account_ids: list[str], app_secret: str) -> tuple[bytes, str]:
    """A Dropbox webhook body and its X-Dropbox-Signature (hex HMAC-SHA256 with the app secret)."""
    body = json.dumps({"list_folder": {"accounts": list(account_ids)}, "delta": {"users": []}}).encode()
    return body, hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _now() -> datetime:
    # Stone timestamps are naive UTC with whole seconds, like Dropbox's.
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _tagged(*tags: str) -> dict:
    """("path", "conflict", "file") -> {".tag": "path", "path": {".tag": "conflict", ...}}."""
    inner: dict | None = None
    for tag in reversed(tags):
        inner = {".tag": tag} if inner is None else {".tag": tag, tag: inner}
    return inner or {}


def _summary(error: object) -> str:
    tags = []
    while isinstance(error, dict) and ".tag" in error:
        tags.append(error[".tag"])
        error = error.get(error[".tag"], error.get("reason"))
    return "/".join(tags) + "/..."


def _thumbnail_scale(mode: str, size: tuple[int, int], box: tuple[int, int]) -> float:
    """Dropbox's ThumbnailMode: strict fits within the box; bestfit within the box or its
    transpose; fitone_bestfit completely covers the box or its transpose; original keeps the size."""
    (w, h), (bw, bh) = size, box
    if mode == "strict":
        return min(bw / w, bh / h)
    if mode == "bestfit":
        return max(min(bw / w, bh / h), min(bh / w, bw / h))
    if mode == "fitone_bestfit":
        return min(max(bw / w, bh / h), max(bh / w, bw / h))
    return 1.0


@dataclass
class _Node:
    id: str
    path: str  # display path
    folder: bool
    rev: str = ""
    size: int = 0
    hash: str | None = None
    modified: datetime | None = None
    stamp: tuple[int, int] | None = None  # (mtime_ns, size) on disk when indexed, for scan()

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


class _Reply(Exception):
    """Raised inside a route to answer with something other than the result."""

    def __init__(self, status: int, body: bytes | dict | str, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _conflict(error: dict) -> _Reply:
    return _Reply(409, {"error_summary": _summary(error), "error": error})


def _bad_request(route: str, message: str) -> _Reply:
    return _Reply(400, f'Error in call to API function "{route}": {message}')


# route -> (SDK route object, method name)
_ROUTES = {
    "users/get_current_account": (users.get_current_account, "_get_current_account"),
    "files/list_folder": (files.list_folder, "_list_folder"),
    "files/list_folder/continue": (files.list_folder_continue, "_list_folder_continue"),
    "files/list_folder/get_latest_cursor": (files.list_folder_get_latest_cursor, "_get_latest_cursor"),
    "files/get_metadata": (files.get_metadata, "_get_metadata"),
    "files/download": (files.download, "_download"),
    "files/get_thumbnail_v2": (files.get_thumbnail_v2, "_get_thumbnail_v2"),
    "files/create_folder_v2": (files.create_folder_v2, "_create_folder_v2"),
    "files/move_v2": (files.move_v2, "_move_v2"),
    "files/move_batch_v2": (files.move_batch_v2, "_move_batch_v2"),
    "files/move_batch/check_v2": (files.move_batch_check_v2, "_move_batch_check_v2"),
    "files/upload": (files.upload, "_upload"),
}


class FakeDropbox:
    def __init__(self, root: Path, *, app_key: str = "test-key", app_secret: str = "test-secret",
                 refresh_token: str = "test-refresh", account_id: str = DEFAULT_ACCOUNT_ID,
                 host: str = "127.0.0.1", port: int = 0):
        if len(account_id) != 40:
            raise ValueError("account_id must be 40 characters, like Dropbox's (the SDK checks)")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.app_key, self.app_secret, self.refresh_token = app_key, app_secret, refresh_token
        self.account_id = account_id
        self.host, self.port = host, port
        self.calls: collections.Counter = collections.Counter()
        # Every fault served, scripted or rate-based: (route, kind) -> count.
        self.injected: collections.Counter = collections.Counter()
        # Downloads and thumbnails asked for, per file id; and the bytes of content that actually
        # left the server for each (a client that drops the connection early stops the count).
        self.served: collections.Counter = collections.Counter()
        self.sent_bytes: collections.Counter = collections.Counter()
        self._serving = threading.local()
        self.crashes: list[str] = []  # tracebacks of requests the fake itself failed on (its bugs)
        self.latency = 0.0
        self.page_size = 2000       # Dropbox's own cap on entries per list_folder page
        self.retry_after = 0        # seconds in the Retry-After of a scripted 429
        self.slow_seconds = 3.0     # how long a scripted "slow" call stalls
        self.token_lifetime = 14400  # expires_in of issued access tokens, seconds
        # Seconds a file on disk must rest before listings show it (None: only scan() indexes).
        self.auto_scan: float | None = None
        self._lock = threading.RLock()
        self._nodes: dict[str, _Node] = {}  # path_lower -> node
        self._log: list[tuple[int, str, str]] = []  # (seq, path_lower, path_display)
        self._seq = 0
        self._epoch = 0  # bumped by reset(): older cursors get list_folder/continue "reset"
        self._faults: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._rate: tuple[float, tuple[str, ...], random.Random, frozenset[str] | None] | None = None
        self._tokens: dict[str, float] = {}  # access token -> monotonic expiry
        self._jobs: dict[str, dict] = {}
        self._ca = trustme.CA()
        ca_file = tempfile.NamedTemporaryFile("wb", suffix=".pem", prefix="fake-dropbox-ca-", delete=False)
        with ca_file:
            ca_file.write(self._ca.cert_pem.bytes())
        self.ca_path = ca_file.name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "FakeDropbox":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(self.host, "localhost").configure_cert(context)
        self._server = _Server((self.host, self.port), _Handler, self, context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-dropbox",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        Path(self.ca_path).unlink(missing_ok=True)

    def __enter__(self) -> "FakeDropbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty tree, change log, counters and faults; issued tokens stay valid."""
        with self._lock:
            for child in self.root.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            self._nodes.clear()
            self._log.clear()
            self._jobs.clear()
            self._faults.clear()
            self._rate = None
            self.calls.clear()
            self.injected.clear()
            self.served.clear()
            self.sent_bytes.clear()
            self.crashes.clear()
            self._epoch += 1
            self.latency, self.page_size, self.retry_after, self.slow_seconds = 0.0, 2000, 0, 3.0

    # --- test and user API -----------------------------------------------------------------------

    def fail(self, route: str, kind: str, times: int = 1) -> None:
        """Script `kind` for the next `times` calls of `route` ("files/download", "oauth2/token")."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults[route.strip("/")].extend([kind] * times)

    def fault_rate(self, rate: float, kinds=("429", "500", "503", "too_many_write_operations",
                                             "expired_token", "reset"),
                   seed: int = 0, routes=None) -> None:
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

    def _draw_fault(self, route: str) -> str | None:
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

    def expire_tokens(self) -> None:
        """Every issued access token stops working (the SDK then refreshes)."""
        with self._lock:
            self._tokens.clear()

    def put(self, path: str, data: bytes) -> str:
        """Add or replace a file as the user would; returns its id."""
        with self._lock:
            return self._write(self._check_path(path), data).id

    def read(self, path: str) -> bytes:
        with self._lock:
            node = self._nodes.get(path.lower())
            if node is None or node.folder:
                raise FileNotFoundError(path)
            return self._disk(node.path).read_bytes()

    def files(self, under: str = "/") -> dict[str, bytes]:
        with self._lock:
            return {n.path: self._disk(n.path).read_bytes()
                    for n in self._under(under.rstrip("/").lower(), recursive=True) if not n.folder}

    def exists(self, path: str) -> bool:
        with self._lock:
            return path.rstrip("/").lower() in self._nodes

    def user_move(self, src: str, dst: str) -> None:
        with self._lock:
            node = self._nodes.get(src.rstrip("/").lower())
            if node is None:
                raise FileNotFoundError(src)
            if dst.rstrip("/").lower() in self._nodes:
                raise FileExistsError(dst)
            self._move(node, self._display(self._check_path(dst)))

    def user_delete(self, path: str) -> None:
        with self._lock:
            node = self._nodes.get(path.rstrip("/").lower())
            if node is None:
                raise FileNotFoundError(path)
            doomed = [node, *self._under(node.path.lower(), recursive=True)]
            disk = self._disk(node.path)
            shutil.rmtree(disk) if node.folder else disk.unlink()
            for n in doomed:
                del self._nodes[n.path.lower()]
                self._touch(n.path)

    def scan(self, settle: float = 0.0) -> list[str]:
        """Index what was put on (or removed from) disk directly; returns added or changed files.

        A file modified less than `settle` seconds ago is still being written: it is left for a
        later scan, as Dropbox only shows a file once its upload is complete."""
        changed: list[str] = []
        now = time.time()
        with self._lock:
            seen: set[str] = set()
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames.sort()
                rel = Path(dirpath).relative_to(self.root).as_posix()
                parent = "" if rel == "." else "/" + rel
                for name in dirnames:
                    path = f"{parent}/{name}"
                    seen.add(path.lower())
                    if path.lower() not in self._nodes:
                        self._nodes[path.lower()] = _Node(self._new_id(), path, folder=True)
                        self._touch(path)
                for name in sorted(filenames):
                    path = f"{parent}/{name}"
                    try:
                        st = (self.root / path.lstrip("/")).stat()
                    except FileNotFoundError:
                        continue  # moved away while we walked
                    seen.add(path.lower())
                    node = self._nodes.get(path.lower())
                    if now - st.st_mtime < settle:
                        continue
                    if node is None or node.stamp != (st.st_mtime_ns, st.st_size):
                        data = (self.root / path.lstrip("/")).read_bytes()
                        self._index_file(path, data, node, datetime.fromtimestamp(
                            int(st.st_mtime), timezone.utc).replace(tzinfo=None))
                        changed.append(path)
            for lower in [k for k in self._nodes if k not in seen]:
                self._touch(self._nodes.pop(lower).path)
        return changed

    # --- the tree --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "id:" + secrets.token_urlsafe(16)[:22]

    def _check_path(self, path: str) -> str:
        if not path.startswith("/") or path.rstrip("/") == "" or "//" in path:
            raise ValueError(f"not a Dropbox path: {path!r}")
        return path.rstrip("/")

    def _disk(self, display: str) -> Path:
        # Paths come from API callers: "." and ".." are not names, and nothing resolves outside root.
        if any(part in (".", "..") for part in display.split("/")):
            raise _conflict(_tagged("path", "malformed_path"))
        return self.root / display.lstrip("/")

    def _display(self, path: str) -> str:
        """`path` with each existing ancestor spelled the way Dropbox already spells it."""
        parts = path.strip("/").split("/")
        out = []
        for i, part in enumerate(parts):
            node = self._nodes.get(("/" + "/".join(parts[:i + 1])).lower())
            out.append(node.name if node is not None and i < len(parts) - 1 else part)
        return "/" + "/".join(out)

    def _touch(self, display: str) -> None:
        self._seq += 1
        self._log.append((self._seq, display.lower(), display))

    def _under(self, lower: str, recursive: bool) -> list[_Node]:
        prefix = lower.rstrip("/") + "/"
        return sorted((n for k, n in self._nodes.items()
                       if k.startswith(prefix) and (recursive or "/" not in k[len(prefix):])),
                      key=lambda n: n.path.lower())

    def _resolve(self, path: str) -> _Node | None:
        if path.startswith("id:"):
            return next((n for n in self._nodes.values() if n.id == path), None)
        return self._nodes.get(path.rstrip("/").lower())

    def _make_parents(self, display: str, *where: str) -> None:
        """Create missing ancestor folders; a file in the way is a `file_ancestor` conflict."""
        parts = display.strip("/").split("/")[:-1]
        for i in range(len(parts)):
            path = "/" + "/".join(parts[:i + 1])
            node = self._nodes.get(path.lower())
            if node is None:
                self._disk(path).mkdir(exist_ok=True)
                self._nodes[path.lower()] = _Node(self._new_id(), path, folder=True)
                self._touch(path)
            elif not node.folder:
                raise _conflict(_tagged(*where, "conflict", "file_ancestor"))

    def _write(self, path: str, data: bytes, *where: str) -> _Node:
        display = self._display(path)
        existing = self._nodes.get(display.lower())
        if existing is not None and existing.folder:
            raise _conflict(_tagged(*where, "conflict", "folder"))
        self._make_parents(display, *where)
        if existing is not None:
            display = existing.path
        self._disk(display).write_bytes(data)
        return self._index_file(display, data, existing, _now())

    def _index_file(self, display: str, data: bytes, existing: _Node | None,
                    modified: datetime) -> _Node:
        st = self._disk(display).stat()
        node = existing or _Node(self._new_id(), display, folder=False)
        node.rev, node.size, node.hash = secrets.token_hex(8), len(data), content_hash(data)
        node.modified, node.stamp = modified, (st.st_mtime_ns, st.st_size)
        self._nodes[display.lower()] = node
        self._touch(display)
        return node

    def _move(self, node: _Node, to: str) -> _Node:
        old = node.path
        moving = [node, *self._under(old.lower(), recursive=True)]
        self._make_parents(to, "to")
        os.rename(self._disk(old), self._disk(to))
        for n in moving:
            del self._nodes[n.path.lower()]
            self._touch(n.path)
        for n in moving:
            n.path = to + n.path[len(old):]
            self._nodes[n.path.lower()] = n
            self._touch(n.path)
        return node

    def _autorename(self, display: str) -> str:
        """Dropbox's "photo.jpg" -> "photo (1).jpg" -> "photo (2).jpg"."""
        p = PurePosixPath(display)
        stem, ext = (p.stem, p.suffix) if p.stem else (p.name, "")
        n = 1
        while (candidate := str(p.with_name(f"{stem} ({n}){ext}"))).lower() in self._nodes:
            n += 1
        return candidate

    def _meta(self, node: _Node) -> files.Metadata:
        if node.folder:
            return files.FolderMetadata(name=node.name, id=node.id, path_lower=node.path.lower(),
                                        path_display=node.path)
        return files.FileMetadata(
            name=node.name, id=node.id, client_modified=node.modified, server_modified=node.modified,
            rev=node.rev, size=node.size, path_lower=node.path.lower(), path_display=node.path,
            content_hash=node.hash, is_downloadable=True)

    # --- HTTP ------------------------------------------------------------------------------------

    def _handle(self, h: "_Handler") -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        route = h.path.split("?", 1)[0].strip("/")
        route = route[2:] if route.startswith("2/") else route
        self._serving.node = None
        with self._lock:
            self.calls[route] += 1
            queue = self._faults.get(route)
            fault = queue.popleft() if queue else self._draw_fault(route)
            if fault is not None:
                self.injected[route, fault] += 1
        if self.latency:
            time.sleep(self.latency)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        try:
            if fault not in (None, "slow", "reset"):
                self._fault(route, fault, h.headers.get("Authorization", ""))
            status, headers, payload = self._dispatch(route, h.headers, body)
        except _Reply as reply:
            status, headers, payload = reply.status, dict(reply.headers), reply.body
        except Exception:  # a bug in the fake: say so loudly rather than hang the client
            status, headers, payload = 500, {}, "fake dropbox crashed:\n" + traceback.format_exc()
            with self._lock:
                self.crashes.append(f"{route}: {traceback.format_exc()}")
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        h.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            h.send_header(name, value)
        h.end_headers()
        if fault == "reset":
            # Headers promise the whole body; half of it arrives, then the connection drops.
            h.wfile.write(payload[:len(payload) // 2])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        node, sent = self._serving.node, 0
        try:
            for start in range(0, len(payload), 1 << 20):
                h.wfile.write(payload[start:start + (1 << 20)])
                sent += len(payload[start:start + (1 << 20)])
        finally:
            if node is not None:
                with self._lock:
                    self.sent_bytes[node] += sent

    def _fault(self, route: str, kind: str, authorization: str) -> None:
        if kind == "429":
            error = {"reason": {".tag": "too_many_requests"}, "retry_after": self.retry_after}
            raise _Reply(429, {"error_summary": "too_many_requests/...", "error": error},
                         {"Retry-After": str(self.retry_after)})
        if kind in ("500", "503"):
            raise _Reply(int(kind), "Internal Server Error" if kind == "500" else "Service Unavailable")
        if kind == "expired_token":
            with self._lock:
                self._tokens.pop(authorization.removeprefix("Bearer "), None)
            raise self._expired()
        if kind == "too_many_write_operations":
            if route in ("files/move_v2", "files/copy_v2"):
                raise _conflict(_tagged("to", "too_many_write_operations"))
            if route == "files/create_folder_v2":
                raise _conflict(_tagged("path", "too_many_write_operations"))
            if route == "files/upload":
                error = {".tag": "path", "reason": {".tag": "too_many_write_operations"},
                         "upload_session_id": ""}
                raise _conflict(error)
            # Elsewhere Dropbox says it with a 429 whose reason names it.
            error = {"reason": {".tag": "too_many_write_operations"}, "retry_after": self.retry_after}
            raise _Reply(429, {"error_summary": "too_many_write_operations/...", "error": error},
                         {"Retry-After": str(self.retry_after)})

    def _expired(self) -> _Reply:
        return _Reply(401, {"error_summary": "expired_access_token/...",
                            "error": {".tag": "expired_access_token"}})

    def _dispatch(self, route: str, headers, body: bytes) -> tuple[int, dict, bytes | dict | str]:
        if route == "oauth2/token":
            return self._token(body)
        if route not in _ROUTES:
            return 404, {}, f"Unknown API function: {route!r}"
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            if self._tokens.get(token, 0) <= time.monotonic():
                raise self._expired()
        sdk_route, method = _ROUTES[route]
        if self.auto_scan is not None and route.startswith("files/list_folder"):
            self.scan(settle=self.auto_scan)  # the folder on disk is the truth, as for a user's Dropbox
        style = sdk_route.attrs.get("style") or "rpc"
        raw = headers.get("Dropbox-API-Arg") if style in ("download", "upload") else body.decode()
        try:
            arg = ss.json_compat_obj_decode(sdk_route.arg_type, json.loads(raw or "null"), strict=False)
        except (ValueError, bv.ValidationError) as e:
            raise _bad_request(route, f"request body: {e}")
        with self._lock:
            if style == "upload":
                result = getattr(self, method)(route, arg, body)
            else:
                result = getattr(self, method)(route, arg)
        content = None
        if style == "download":
            result, content = result
        encoded = result if isinstance(result, dict) else ss.json_compat_obj_encode(
            sdk_route.result_type, result)
        if style == "download":
            return 200, {"Content-Type": "application/octet-stream",
                         "Dropbox-API-Result": json.dumps(encoded)}, content
        return 200, {"Content-Type": "application/json"}, encoded

    def _token(self, body: bytes) -> tuple[int, dict, dict]:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return 400, {}, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.app_key or form.get("client_secret") != self.app_secret:
            return 400, {}, {"error": "invalid_client", "error_description": "Invalid client_id or client_secret"}
        if form.get("refresh_token") != self.refresh_token:
            return 400, {}, {"error": "invalid_grant", "error_description": "refresh token is invalid or revoked"}
        token = "sl.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}

    # --- routes (called with the lock held) ------------------------------------------------------

    def _get_current_account(self, route, arg):
        return users.FullAccount(
            account_id=self.account_id,
            name=users.Name(given_name="Test", surname="User", familiar_name="Test",
                            display_name="Test User", abbreviated_name="TU"),
            email="test@example.com", email_verified=True, disabled=False, country="US",
            locale="en", referral_link="https://db.tt/fake", is_paired=False,
            account_type=users_common.AccountType.basic,
            root_info=common.UserRootInfo(root_namespace_id="1", home_namespace_id="1"))

    def _cursor(self, **fields) -> str:
        return base64.urlsafe_b64encode(json.dumps({"e": self._epoch, **fields}).encode()).decode()

    def _folder_arg(self, route: str, path: str) -> str:
        """The lower-case folder a listing is about ("" for the root)."""
        if path == "/":
            raise _bad_request(route, 'path: Specify the root folder as an empty string rather than as "/".')
        if path == "":
            return ""
        node = self._resolve(path)
        if node is None:
            raise _conflict(_tagged("path", "not_found"))
        if not node.folder:
            raise _conflict(_tagged("path", "not_folder"))
        return node.path.lower()

    def _listing(self, folder: str, recursive: bool) -> list[_Node]:
        own = [self._nodes[folder]] if folder and recursive else []
        return own + self._under(folder, recursive)

    def _list_folder(self, route, arg):
        folder = self._folder_arg(route, arg.path)
        limit = min(arg.limit or self.page_size, self.page_size)
        state = {"p": folder, "r": arg.recursive, "l": limit, "s": self._seq}
        return self._page(state, 0)

    def _page(self, state: dict, offset: int) -> files.ListFolderResult:
        entries = self._listing(state["p"], state["r"])
        page = entries[offset:offset + state["l"]]
        has_more = offset + state["l"] < len(entries)
        cursor = self._cursor(**state, o=offset + state["l"]) if has_more else self._cursor(**state)
        return files.ListFolderResult(entries=[self._meta(n) for n in page], cursor=cursor,
                                      has_more=has_more)

    def _list_folder_continue(self, route, arg):
        try:
            state = json.loads(base64.urlsafe_b64decode(arg.cursor.encode()))
        except ValueError:
            raise _bad_request(route, "cursor: invalid cursor")
        if state.pop("e") != self._epoch:
            raise _conflict(_tagged("reset"))
        if "o" in state:
            return self._page(state, state.pop("o"))
        # Changes since the cursor, one entry per path in its latest state, oldest change first.
        prefix = state["p"] + "/"
        latest: dict[str, tuple[int, str]] = {}
        for seq, lower, display in self._log:
            if seq > state["s"] and lower.startswith(prefix) and (
                    state["r"] or "/" not in lower[len(prefix):]):
                latest.pop(lower, None)
                latest[lower] = (seq, display)
        changed = sorted(latest.items(), key=lambda item: item[1][0])
        page, has_more = changed[:state["l"]], len(changed) > state["l"]
        entries = []
        for lower, (_, display) in page:
            node = self._nodes.get(lower)
            entries.append(self._meta(node) if node is not None else files.DeletedMetadata(
                name=PurePosixPath(display).name, path_lower=lower, path_display=display))
        state["s"] = page[-1][1][0] if has_more else self._seq
        return files.ListFolderResult(entries=entries, cursor=self._cursor(**state), has_more=has_more)

    def _get_latest_cursor(self, route, arg):
        folder = self._folder_arg(route, arg.path)
        limit = min(arg.limit or self.page_size, self.page_size)
        return files.ListFolderGetLatestCursorResult(
            cursor=self._cursor(p=folder, r=arg.recursive, l=limit, s=self._seq))

    def _get_metadata(self, route, arg):
        node = self._resolve(arg.path)
        if node is None:
            raise _conflict(_tagged("path", "not_found"))
        return self._meta(node)

    def _file_for_read(self, path: str, *where: str) -> _Node:
        node = self._resolve(path)
        if node is None:
            raise _conflict(_tagged(*where, "not_found"))
        if node.folder:
            raise _conflict(_tagged(*where, "not_file"))
        return node

    def _download(self, route, arg):
        node = self._file_for_read(arg.path, "path")
        self.served[node.id] += 1
        self._serving.node = node.id
        return self._meta(node), self._disk(node.path).read_bytes()

    def _get_thumbnail_v2(self, route, arg):
        from PIL import Image, ImageOps

        if not arg.resource.is_path():
            raise _conflict(_tagged("not_found"))
        node = self._file_for_read(arg.resource.get_path(), "path")
        if PurePosixPath(node.name).suffix.lower() not in THUMBNAIL_EXTENSIONS:
            raise _conflict(_tagged("unsupported_extension"))
        if node.size > THUMBNAIL_MAX_BYTES:
            raise _conflict(_tagged("unsupported_image"))
        self.served[node.id] += 1
        self._serving.node = node.id
        if PurePosixPath(node.name).suffix.lower() in (".heic", ".heif"):
            try:
                import pillow_heif
                pillow_heif.register_heif_opener()
            except ImportError:
                pass
        try:
            with Image.open(io.BytesIO(self._disk(node.path).read_bytes())) as image:
                image = ImageOps.exif_transpose(image)
                box = tuple(map(int, re.fullmatch(r"w(\d+)h(\d+)", arg.size._tag).groups()))
                scale = _thumbnail_scale(arg.mode._tag, image.size, box)
                if scale < 1:  # Dropbox only scales down
                    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                    image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
                fmt = arg.format._tag
                if fmt == "jpeg" and image.mode != "RGB":
                    image = image.convert("RGB")
                out = io.BytesIO()
                image.save(out, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt])
        except (OSError, ValueError, Image.DecompressionBombError):
            raise _conflict(_tagged("unsupported_image"))
        return files.PreviewResult(file_metadata=self._meta(node)), out.getvalue()

    def _create_folder_v2(self, route, arg):
        display = self._display(arg.path.rstrip("/"))
        existing = self._nodes.get(display.lower())
        if existing is not None:
            if not arg.autorename:
                raise _conflict(_tagged("path", "conflict", "folder" if existing.folder else "file"))
            display = self._autorename(display)
        self._make_parents(display, "path")
        self._disk(display).mkdir()
        node = self._nodes[display.lower()] = _Node(self._new_id(), display, folder=True)
        self._touch(display)
        return files.CreateFolderResult(metadata=self._meta(node))

    def _relocate(self, from_path: str, to_path: str, autorename: bool) -> _Node:
        node = self._resolve(from_path)
        if node is None:
            raise _conflict(_tagged("from_lookup", "not_found"))
        to = self._display(to_path.rstrip("/"))
        if to.lower() == node.path.lower():
            raise _conflict(_tagged("duplicated_or_nested_paths"))
        if to.lower().startswith(node.path.lower() + "/"):
            raise _conflict(_tagged("cant_move_folder_into_itself"))
        existing = self._nodes.get(to.lower())
        if existing is not None:
            if not autorename:
                raise _conflict(_tagged("to", "conflict", "folder" if existing.folder else "file"))
            to = self._autorename(to)
        return self._move(node, to)

    def _move_v2(self, route, arg):
        return files.RelocationResult(metadata=self._meta(
            self._relocate(arg.from_path, arg.to_path, arg.autorename)))

    def _move_batch_v2(self, route, arg):
        entries = []
        for entry in arg.entries:
            try:
                node = self._relocate(entry.from_path, entry.to_path, arg.autorename)
                entries.append({".tag": "success", "success": ss.json_compat_obj_encode(
                    files.Metadata_validator, self._meta(node))})
            except _Reply as reply:
                entries.append({".tag": "failure", "failure": {
                    ".tag": "relocation_error", "relocation_error": reply.body["error"]}})
        job = "dbjid:" + secrets.token_urlsafe(16)
        self._jobs[job] = {".tag": "complete", "entries": entries}
        return {".tag": "async_job_id", "async_job_id": job}

    def _move_batch_check_v2(self, route, arg):
        if arg.async_job_id not in self._jobs:
            raise _conflict(_tagged("invalid_async_job_id"))
        return self._jobs[arg.async_job_id]

    def _upload(self, route, arg, data: bytes):
        if arg.content_hash is not None and arg.content_hash != content_hash(data):
            raise _conflict(_tagged("content_hash_mismatch"))
        path = self._display(arg.path)
        existing = self._nodes.get(path.lower())
        mode = arg.mode._tag
        if existing is not None:
            same = not existing.folder and existing.hash == content_hash(data)
            replace = not existing.folder and (
                mode == "overwrite" or (mode == "update" and arg.mode.get_update() == existing.rev))
            if same and mode != "overwrite":
                return self._meta(existing)  # Dropbox: identical content is not a conflict
            if not replace:
                if not arg.autorename:
                    raise _conflict({".tag": "path", "upload_session_id": "", "reason": _tagged(
                        "conflict", "folder" if existing.folder else "file")})
                path = self._autorename(path)
        try:
            node = self._write(path, data, "path")
        except _Reply as reply:  # WriteError from the tree -> UploadWriteFailed shape
            raise _conflict({".tag": "path", "upload_session_id": "",
                             "reason": reply.body["error"]["path"]})
        if arg.client_modified is not None:
            node.modified = arg.client_modified
        return self._meta(node)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: FakeDropbox, context: ssl.SSLContext):
        self.fake, self.context = fake, context
        super().__init__(address, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Handshake in the connection's own thread (Handler.setup), not in the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # clients that hang up (timeouts, resets) are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API; every reply has a Content-Length
    # Headers and body go out as separate writes; with Nagle on, the body of every small reply
    # waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = 60
    server: _Server

    def setup(self):
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def do_POST(self):
        self.server.fake._handle(self)

    def log_message(self, format, *args):
        pass
