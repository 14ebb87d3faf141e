"""The Dropbox API v2 routes the emulator answers, and the OAuth token endpoint.

Responses are built from the SDK's own Stone types and validators, so whatever the SDK accepts
here it would accept from Dropbox; request arguments are decoded with the same validators.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import math
import re
import secrets
import threading
import time
import urllib.parse
from pathlib import PurePosixPath

from dropbox import common, files, users, users_common
from dropbox import stone_serializers as ss
from dropbox import stone_validators as bv

from .faults import Counters
from .replies import Reply, bad_request, conflict, expired, tagged
from .tree import Node, Tree, content_hash

# Dropbox account ids are exactly 40 characters; the SDK's validator refuses anything else.
DEFAULT_ACCOUNT_ID = "dbid:AAtest".ljust(40, "0")
# What Dropbox makes thumbnails of, and the size above which it gives up.
THUMBNAIL_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tiff", ".tif", ".gif", ".webp", ".ppm",
                                  ".bmp", ".heic", ".heif"})
THUMBNAIL_MAX_BYTES = 20 * 1024 * 1024
THUMBNAIL_BATCH_LIMIT = 25  # Dropbox's cap on entries per get_thumbnail_batch
PAGE_SIZE = 2000  # Dropbox's own cap on entries per list_folder page
MAX_TAGS = 20  # Dropbox: "No more than 20 tags can be added to a given item"
# Routes that write to the namespace: while a move batch is in flight, Dropbox refuses them with
# 429 too_many_write_operations (one batch write at a time per account).
WRITE_ROUTES = frozenset({"files/create_folder_v2", "files/move_v2", "files/move_batch_v2", "files/upload"})

# route -> (SDK route object, method name)
_ROUTES = {
    "users/get_current_account": (users.get_current_account, "_get_current_account"),
    "files/list_folder": (files.list_folder, "_list_folder"),
    "files/list_folder/continue": (files.list_folder_continue, "_list_folder_continue"),
    "files/list_folder/get_latest_cursor": (files.list_folder_get_latest_cursor, "_get_latest_cursor"),
    "files/get_metadata": (files.get_metadata, "_get_metadata"),
    "files/download": (files.download, "_download"),
    "files/get_thumbnail_v2": (files.get_thumbnail_v2, "_get_thumbnail_v2"),
    "files/get_thumbnail_batch": (files.get_thumbnail_batch, "_get_thumbnail_batch"),
    "files/create_folder_v2": (files.create_folder_v2, "_create_folder_v2"),
    "files/move_v2": (files.move_v2, "_move_v2"),
    "files/move_batch_v2": (files.move_batch_v2, "_move_batch_v2"),
    "files/move_batch/check_v2": (files.move_batch_check_v2, "_move_batch_check_v2"),
    "files/upload": (files.upload, "_upload"),
    "files/tags/add": (files.tags_add, "_tags_add"),
    "files/tags/get": (files.tags_get, "_tags_get"),
    "files/tags/remove": (files.tags_remove, "_tags_remove"),
}


def signed_notification(account_ids: list[str], app_secret: str) -> tuple[bytes, str]:
    """A Dropbox webhook body and its X-Dropbox-Signature (hex HMAC-SHA256 with the app secret)."""
    body = json.dumps({"list_folder": {"accounts": list(account_ids)}, "delta": {"users": []}}).encode()
    return body, hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


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


def _meta(node: Node) -> files.Metadata:
    if node.folder:
        return files.FolderMetadata(name=node.name, id=node.id, path_lower=node.path.lower(),
                                    path_display=node.path)
    return files.FileMetadata(
        name=node.name, id=node.id, client_modified=node.modified, server_modified=node.modified,
        rev=node.rev, size=node.size, path_lower=node.path.lower(), path_display=node.path,
        content_hash=node.hash, is_downloadable=True)


class Api:
    def __init__(self, tree: Tree, counters: Counters, lock: threading.RLock, *, app_key: str,
                 app_secret: str, refresh_token: str, account_id: str):
        self.tree, self._counters, self._lock = tree, counters, lock
        self.app_key, self.app_secret, self.refresh_token = app_key, app_secret, refresh_token
        self.account_id = account_id
        self.token_lifetime = 14400  # expires_in of issued access tokens, seconds
        self.tokens: dict[str, float] = {}  # access token -> monotonic expiry
        # Seconds a file on disk must rest before listings show it (None: only scan() indexes).
        self.auto_scan: float | None = None
        self._jobs: dict[str, dict] = {}
        self.page_size = PAGE_SIZE
        # False: an account that refuses tags (a team space without them, say): every files/tags/*
        # call answers 409 with a tag the SDK does not know, which it reads as its catch-all "other"
        # (the unions name no refusal of their own).
        self.tags_enabled = True
        # How long a move batch stays in progress (its check says in_progress, other writes get
        # too_many_write_operations); 0: done at once.
        self.batch_seconds = 0.0
        self._batch_until = 0.0  # time.monotonic() when the batch in flight is done

    def reset(self) -> None:
        """Forget batch jobs, the page size and batch time, accept tags again; issued tokens stay valid."""
        self._jobs.clear()
        self.page_size = PAGE_SIZE
        self.tags_enabled = True
        self.batch_seconds = 0.0
        self._batch_until = 0.0

    def dispatch(self, route: str, headers, body: bytes) -> tuple[int, dict, bytes | dict | str]:
        """(status, headers, payload) for a call; raises Reply for an error."""
        if route == "oauth2/token":
            return self._token(body)
        if route not in _ROUTES:
            return 404, {}, f"Unknown API function: {route!r}"
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            if self.tokens.get(token, 0) <= time.monotonic():
                raise expired()
        sdk_route, method = _ROUTES[route]
        if self.auto_scan is not None and route.startswith("files/list_folder"):
            self.tree.scan(settle=self.auto_scan)  # the folder on disk is the truth, as for a user's Dropbox
        style = sdk_route.attrs.get("style") or "rpc"
        raw = headers.get("Dropbox-API-Arg") if style in ("download", "upload") else body.decode()
        try:
            arg = ss.json_compat_obj_decode(sdk_route.arg_type, json.loads(raw or "null"), strict=False)
        except (ValueError, bv.ValidationError) as e:
            raise bad_request(route, f"request body: {e}")
        with self._lock:
            if route in WRITE_ROUTES:
                self._one_batch_at_a_time()
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
        if encoded is None:  # a route without a result (files/tags/add): Dropbox's body is JSON null
            return 200, {"Content-Type": "application/json"}, b"null"
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
            self.tokens[token] = time.monotonic() + self.token_lifetime
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}

    def _one_batch_at_a_time(self) -> None:
        """Dropbox's answer to a write while a move batch is in flight (called with the lock held):
        429 too_many_write_operations, Retry-After in whole seconds as Dropbox sends it."""
        left = self._batch_until - time.monotonic()
        if left > 0:
            wait = max(1, math.ceil(left))
            raise Reply(429, {"error_summary": "too_many_write_operations/...",
                              "error": {"reason": {".tag": "too_many_write_operations"}, "retry_after": wait}},
                        {"Retry-After": str(wait)})

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

    def _folder_arg(self, route: str, path: str) -> str:
        """The lower-case folder a listing is about ("" for the root)."""
        if path == "/":
            raise bad_request(route, 'path: Specify the root folder as an empty string rather than as "/".')
        if path == "":
            return ""
        node = self.tree.resolve(path)
        if node is None:
            raise conflict(tagged("path", "not_found"))
        if not node.folder:
            raise conflict(tagged("path", "not_folder"))
        return node.path.lower()

    def _list_folder(self, route, arg):
        folder = self._folder_arg(route, arg.path)
        limit = min(arg.limit or self.page_size, self.page_size)
        state = {"p": folder, "r": arg.recursive, "l": limit, "s": self.tree.seq}
        return self._page(state, "")

    def _page(self, state: dict, after: str) -> files.ListFolderResult:
        """The next page of a listing, from the entry after path `after` (lower case): a file
        moved away or added meanwhile shifts no other onto a page already read (and the listing's
        last cursor, from when it began, reports those changes)."""
        entries = [n for n in self.tree.listing(state["p"], state["r"]) if n.path.lower() > after]
        page = entries[:state["l"]]
        has_more = len(entries) > state["l"]
        cursor = self.tree.cursor(**state, a=page[-1].path.lower()) if has_more else self.tree.cursor(**state)
        return files.ListFolderResult(entries=[_meta(n) for n in page], cursor=cursor,
                                      has_more=has_more)

    def _list_folder_continue(self, route, arg):
        try:
            state = self.tree.read_cursor(arg.cursor)
        except ValueError:
            raise bad_request(route, "cursor: invalid cursor")
        if state is None:
            raise conflict(tagged("reset"))
        if "a" in state:
            return self._page(state, state.pop("a"))
        changed = self.tree.changes(state["p"], state["r"], state["s"])
        page, has_more = changed[:state["l"]], len(changed) > state["l"]
        entries = []
        for _, lower, display in page:
            node = self.tree.nodes.get(lower)
            entries.append(_meta(node) if node is not None else files.DeletedMetadata(
                name=PurePosixPath(display).name, path_lower=lower, path_display=display))
        state["s"] = page[-1][0] if has_more else self.tree.seq
        return files.ListFolderResult(entries=entries, cursor=self.tree.cursor(**state),
                                      has_more=has_more)

    def _get_latest_cursor(self, route, arg):
        folder = self._folder_arg(route, arg.path)
        limit = min(arg.limit or self.page_size, self.page_size)
        return files.ListFolderGetLatestCursorResult(
            cursor=self.tree.cursor(p=folder, r=arg.recursive, l=limit, s=self.tree.seq))

    def _get_metadata(self, route, arg):
        node = self.tree.resolve(arg.path)
        if node is None:
            raise conflict(tagged("path", "not_found"))
        return _meta(node)

    def _file_for_read(self, path: str, *where: str) -> Node:
        node = self.tree.resolve(path)
        if node is None:
            raise conflict(tagged(*where, "not_found"))
        if node.folder:
            raise conflict(tagged(*where, "not_file"))
        return node

    def _download(self, route, arg):
        node = self._file_for_read(arg.path, "path")
        self._counters.serve(node.id)
        return _meta(node), self.tree.content(node)

    def _get_thumbnail_v2(self, route, arg):
        if not arg.resource.is_path():
            raise conflict(tagged("not_found"))
        node, image = self._thumbnail(arg.resource.get_path(), arg.format._tag, arg.size._tag, arg.mode._tag,
                                      "path")
        return files.PreviewResult(file_metadata=_meta(node)), image

    def _get_thumbnail_batch(self, route, arg):
        """Up to 25 thumbnails in one JSON answer, base64; a file without one fails alone."""
        if len(arg.entries) > THUMBNAIL_BATCH_LIMIT:
            raise conflict(tagged("too_many_files"))
        entries = []
        for entry in arg.entries:
            try:
                node, image = self._thumbnail(entry.path, entry.format._tag, entry.size._tag, entry.mode._tag,
                                              "path")
            except Reply as e:
                failure = ss.json_compat_obj_decode(files.ThumbnailError_validator, e.body["error"], strict=False)
                entries.append(files.GetThumbnailBatchResultEntry.failure(failure))
                continue
            entries.append(files.GetThumbnailBatchResultEntry.success(files.GetThumbnailBatchResultData(
                metadata=_meta(node), thumbnail=base64.b64encode(image).decode())))
        return files.GetThumbnailBatchResult(entries=entries)

    def _thumbnail(self, path: str, fmt: str, size: str, mode: str, *where: str) -> tuple[Node, bytes]:
        """A file's thumbnail as Dropbox makes it: scaled down only, EXIF rotation applied."""
        from PIL import Image, ImageOps

        node = self._file_for_read(path, *where)
        if PurePosixPath(node.name).suffix.lower() not in THUMBNAIL_EXTENSIONS:
            raise conflict(tagged("unsupported_extension"))
        if node.size > THUMBNAIL_MAX_BYTES:
            raise conflict(tagged("unsupported_image"))
        self._counters.serve(node.id)
        if PurePosixPath(node.name).suffix.lower() in (".heic", ".heif"):
            try:
                import pillow_heif
                pillow_heif.register_heif_opener()
            except ImportError:
                pass
        try:
            with Image.open(io.BytesIO(self.tree.content(node))) as image:
                image = ImageOps.exif_transpose(image)
                box = tuple(map(int, re.fullmatch(r"w(\d+)h(\d+)", size).groups()))
                scale = _thumbnail_scale(mode, image.size, box)
                if scale < 1:  # Dropbox only scales down
                    scaled = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                    image = image.resize(scaled, Image.Resampling.LANCZOS, reducing_gap=3.0)
                if fmt == "jpeg" and image.mode != "RGB":
                    image = image.convert("RGB")
                out = io.BytesIO()
                image.save(out, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt])
        except (OSError, ValueError, Image.DecompressionBombError):
            raise conflict(tagged("unsupported_image"))
        return node, out.getvalue()

    def _create_folder_v2(self, route, arg):
        display = self.tree.display(arg.path.rstrip("/"))
        existing = self.tree.nodes.get(display.lower())
        if existing is not None:
            if not arg.autorename:
                raise conflict(tagged("path", "conflict", "folder" if existing.folder else "file"))
            display = self.tree.autorename(display)
        self.tree.make_parents(display, "path")
        return files.CreateFolderResult(metadata=_meta(self.tree.add_folder(display)))

    def _relocate(self, from_path: str, to_path: str, autorename: bool) -> Node:
        node = self.tree.resolve(from_path)
        if node is None:
            raise conflict(tagged("from_lookup", "not_found"))
        to = self.tree.display(to_path.rstrip("/"))
        if to.lower() == node.path.lower():
            raise conflict(tagged("duplicated_or_nested_paths"))
        if to.lower().startswith(node.path.lower() + "/"):
            raise conflict(tagged("cant_move_folder_into_itself"))
        existing = self.tree.nodes.get(to.lower())
        if existing is not None:
            if not autorename:
                raise conflict(tagged("to", "conflict", "folder" if existing.folder else "file"))
            to = self.tree.autorename(to)
        return self.tree.move(node, to)

    def _move_v2(self, route, arg):
        return files.RelocationResult(metadata=_meta(
            self._relocate(arg.from_path, arg.to_path, arg.autorename)))

    def _move_batch_v2(self, route, arg):
        entries = []
        for entry in arg.entries:
            try:
                node = self._relocate(entry.from_path, entry.to_path, arg.autorename)
                entries.append({".tag": "success", "success": ss.json_compat_obj_encode(
                    files.Metadata_validator, _meta(node))})
            except Reply as reply:
                entries.append({".tag": "failure", "failure": {
                    ".tag": "relocation_error", "relocation_error": reply.body["error"]}})
        job = "dbjid:" + secrets.token_urlsafe(16)
        self._batch_until = time.monotonic() + self.batch_seconds
        self._jobs[job] = {"until": self._batch_until, "result": {".tag": "complete", "entries": entries}}
        return {".tag": "async_job_id", "async_job_id": job}

    def _move_batch_check_v2(self, route, arg):
        if arg.async_job_id not in self._jobs:
            raise conflict(tagged("invalid_async_job_id"))
        job = self._jobs[arg.async_job_id]
        if time.monotonic() < job["until"]:
            return {".tag": "in_progress"}
        return job["result"]

    def _upload(self, route, arg, data: bytes):
        if arg.content_hash is not None and arg.content_hash != content_hash(data):
            raise conflict(tagged("content_hash_mismatch"))
        path = self.tree.display(arg.path)
        existing = self.tree.nodes.get(path.lower())
        mode = arg.mode._tag
        if existing is not None:
            same = not existing.folder and existing.hash == content_hash(data)
            replace = not existing.folder and (
                mode == "overwrite" or (mode == "update" and arg.mode.get_update() == existing.rev))
            if same and mode != "overwrite":
                return _meta(existing)  # Dropbox: identical content is not a conflict
            if not replace:
                if not arg.autorename:
                    raise conflict({".tag": "path", "upload_session_id": "", "reason": tagged(
                        "conflict", "folder" if existing.folder else "file")})
                path = self.tree.autorename(path)
        try:
            node = self.tree.write(path, data, "path")
        except Reply as reply:  # WriteError from the tree -> UploadWriteFailed shape
            raise conflict({".tag": "path", "upload_session_id": "",
                            "reason": reply.body["error"]["path"]})
        if arg.client_modified is not None:
            node.modified = arg.client_modified
        return _meta(node)

    # --- tags: the SDK's validators already checked tag_text ([\\w]+, 1 to 32 characters) and paths

    def _tagged_node(self, path: str) -> Node:
        """The entry a tags call is about, by path (the routes take no id): LookupError not_found."""
        if not self.tags_enabled:
            raise conflict(tagged("feature_not_enabled"))
        node = self.tree.resolve(path)
        if node is None:
            raise conflict(tagged("path", "not_found"))
        return node

    def _tags_add(self, route, arg):
        node = self._tagged_node(arg.path)
        text = arg.tag_text.lower()  # Dropbox keeps tags in lower case
        if text not in node.tags:  # a tag the item has already is no error, and no second tag
            if len(node.tags) >= MAX_TAGS:
                raise conflict(tagged("too_many_tags"))
            node.tags.append(text)
        return None

    def _tags_get(self, route, arg):
        nodes = [self._tagged_node(path) for path in arg.paths]
        return files.GetTagsResult(paths_to_tags=[
            files.PathToTags(path=path, tags=[files.Tag.user_generated_tag(files.UserGeneratedTag(text))
                                              for text in node.tags])
            for path, node in zip(arg.paths, nodes)])

    def _tags_remove(self, route, arg):
        node = self._tagged_node(arg.path)
        text = arg.tag_text.lower()
        if text not in node.tags:
            raise conflict(tagged("tag_not_present"))
        node.tags.remove(text)
        return None
