"""Who may call what: the service key on the API routes, Dropbox's signature on the webhook."""
from __future__ import annotations

import hashlib
import hmac


def bearer_ok(authorization: str | None, service_key: str) -> bool:
    """`Authorization: Bearer <key>`, compared in constant time."""
    if not service_key or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), service_key.encode())


def sign(body: bytes, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, signature: str | None, app_secret: str) -> bool:
    """Dropbox's X-Dropbox-Signature: HMAC-SHA256 of the raw body with the app secret, hex."""
    if not app_secret or not signature:
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), signature.strip().lower().encode())
