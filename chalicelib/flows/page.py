"""The web page of GET /: one HTML file, its script and its style sheet, served by the app itself
from chalicelib/page/ (no build step, nothing from elsewhere). The Content-Security-Policy lets the
page load and call only this service, and run only its own script: a file name or an error message
can never become markup or code."""
from __future__ import annotations

from functools import cache
from pathlib import Path

FOLDER = Path(__file__).with_name("page")
TYPES = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
         "page.css": "text/css; charset=utf-8"}
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src blob:; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def wants_page(accept: str | None) -> bool:
    """A browser asking for the page (rather than a program asking what the API is)."""
    return "text/html" in (accept or "")


@cache
def asset(name: str) -> tuple[str, dict[str, str | list[str]]]:
    """A file of the page and the headers to serve it with (as a chalice Response takes them)."""
    return (FOLDER / name).read_text(encoding="utf-8"), {
        "Content-Type": TYPES[name], "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
