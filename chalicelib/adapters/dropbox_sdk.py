"""The dropbox SDK, imported without loading the API namespaces this app never calls.

Importing the SDK imports every namespace of the API (dropbox/base.py); team_log alone is 4 MB of
generated code, a quarter of a second of a cold start even from bytecode, and neither the webhook
nor the classify function calls any of NEVER_CALLED. Those go into sys.modules first as modules that
load themselves on their first attribute access, so one that is used after all still works: it only
loads later. Import the SDK through this module (chalicelib.adapters.dropbox_store does).
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

# Not here, although never called either: file_requests, paper (with sharing and seen_state) and
# riviera, which default arguments in dropbox/base.py read at import.
NEVER_CALLED = ("team_log", "team", "contacts", "openid", "check", "account", "secondary_emails")


class _OnFirstUse(types.ModuleType):
    """A module whose code runs when one of its attributes is first read. Its __spec__, __name__
    and __file__ are plain attributes, so the import system finding it in sys.modules does not
    load it."""

    def __getattr__(self, name: str) -> object:
        if name == "__path__":  # asked of packages only; this is a plain module
            raise AttributeError(name)
        spec = self.__spec__
        if spec is None or spec.loader is None:  # never: _defer made it from a file's spec
            raise AttributeError(name)
        plain: types.ModuleType = self
        plain.__class__ = types.ModuleType  # a plain module from now on, whatever it is typed as
        spec.loader.exec_module(self)
        return getattr(self, name)


def _defer(package: str, names: tuple[str, ...]) -> None:
    spec = importlib.util.find_spec(package)  # a top-level package: found, not imported
    if spec is None or spec.origin is None or package in sys.modules:
        return
    root = Path(spec.origin).parent
    for name in names:
        full = f"{package}.{name}"
        source = root / f"{name}.py"
        if full in sys.modules or not source.is_file():
            continue
        module_spec = importlib.util.spec_from_file_location(full, source)
        if module_spec is None:  # never for a .py file
            continue
        module = importlib.util.module_from_spec(module_spec)
        module.__class__ = _OnFirstUse
        sys.modules[full] = module


_defer("dropbox", NEVER_CALLED)

import dropbox  # noqa: E402  (after the deferral)
from dropbox import files  # noqa: E402
from dropbox.auth import AuthError as AuthErrorUnion  # noqa: E402
from dropbox.exceptions import ApiError, AuthError, HttpError, InternalServerError, RateLimitError  # noqa: E402
from dropbox.stone_base import Struct, Union  # noqa: E402

for _name in NEVER_CALLED:  # as an import would have bound them
    if f"dropbox.{_name}" in sys.modules:
        setattr(dropbox, _name, sys.modules[f"dropbox.{_name}"])

__all__ = ["dropbox", "files", "AuthErrorUnion", "ApiError", "AuthError", "HttpError", "InternalServerError",
           "RateLimitError", "Struct", "Union"]
