"""Get an offline refresh token for DROPBOX_REFRESH_TOKEN, with PKCE (no redirect URL, no secret).

    .venv/bin/python -m local.dropbox_auth [APP_KEY]      (default: $DROPBOX_APP_KEY)
"""
from __future__ import annotations

import os
import sys

from dropbox import DropboxOAuth2FlowNoRedirect

SCOPES = ["files.metadata.read", "files.content.read", "files.content.write"]


def main(argv: list[str]) -> int:
    app_key = argv[0] if argv else os.environ.get("DROPBOX_APP_KEY", "")
    if not app_key:
        print("error: give the app key as an argument or in DROPBOX_APP_KEY", file=sys.stderr)
        return 2
    flow = DropboxOAuth2FlowNoRedirect(app_key, use_pkce=True, token_access_type="offline", scope=SCOPES)
    print("1. Open this URL, sign in to the Dropbox account to sort, and allow access:")
    print("   " + flow.start())
    code = input("2. Paste the authorization code here: ").strip()
    if not code:
        print("error: no code given", file=sys.stderr)
        return 2
    try:
        result = flow.finish(code)
    except Exception as e:  # network or a refused code: one line, no traceback
        print(f"error: Dropbox did not accept the code: {e}", file=sys.stderr)
        return 1
    print(f"DROPBOX_REFRESH_TOKEN={result.refresh_token}")
    print(f"(account {result.account_id}, scopes: {result.scope})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
