"""Dropbox's error replies. Raised from anywhere below a route (the tree, a fault, the route itself);
the server turns them into the HTTP answer."""
from __future__ import annotations


class Reply(Exception):
    """Raised inside a route to answer with something other than the result."""

    def __init__(self, status: int, body: bytes | dict | str, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def tagged(*tags: str) -> dict:
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


def conflict(error: dict) -> Reply:
    """The 409 a route answers with its own error union."""
    return Reply(409, {"error_summary": _summary(error), "error": error})


def bad_request(route: str, message: str) -> Reply:
    return Reply(400, f'Error in call to API function "{route}": {message}')


def expired() -> Reply:
    return Reply(401, {"error_summary": "expired_access_token/...",
                       "error": {".tag": "expired_access_token"}})
