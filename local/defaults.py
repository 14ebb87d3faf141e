"""Where `make run` serves the API and the key it uses unless SERVICE_KEY says otherwise: the
command line's defaults too. The key is well known and only ever local."""
from __future__ import annotations

LOCAL_STACK_URL = "http://127.0.0.1:8000"
LOCAL_STACK_KEY = "local-service-key"


def is_local(url: str) -> bool:
    """A URL of this machine (127.0.0.1, localhost, [::1]; any port, any trailing slash): the well-known
    local key may be sent there, never elsewhere."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
