"""Screenshots and document pages made here by real programs: headless Chromium takes the
screenshots and prints the pages to PDF, poppler's pdftoppm renders the PDF as a scanner would.

Shared by the tests, the benchmarks and the model build; `webdriver()` opens the browser the page's
tests drive. Needs the Debian packages `chromium`, `chromium-driver` and `poppler-utils` (`make
system-packages`).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

CHROMIUM = "chromium"
TIMEOUT = 60  # seconds for one program run

SETTINGS_DIALOG = """<!doctype html><html><head><style>
body { font: 14px sans-serif; margin: 0; background: #ececec; }
header { background: #3b6ea5; color: white; padding: 10px 16px; font-weight: bold; }
main { display: flex; }
nav { width: 200px; background: #f7f7f7; border-right: 1px solid #ccc; padding: 8px; }
nav div { padding: 6px; } nav .on { background: #d0e2f5; }
form { padding: 16px; } label { display: block; margin: 12px 0 4px; }
input, select { width: 320px; padding: 4px; } button { margin: 16px 8px 0 0; padding: 6px 16px; }
</style></head><body><header>Photo Sorter - Settings</header><main><nav>
<div class="on">General</div><div>Accounts</div><div>Folders</div><div>Notifications</div><div>Privacy</div>
<div>Advanced</div></nav><form>
<label>Display name</label><input value="Ada Lovelace">
<label>Inbox folder</label><input value="/All">
<label>Unsorted folder</label><input value="/Unsorted">
<label>Language</label><select><option>English (United Kingdom)</option></select>
<label>Check for new photos</label><select><option>Every 5 minutes</option></select>
<label><input type="checkbox" checked style="width:auto"> Send me a summary every week</label>
<div><button>Cancel</button><button>Save changes</button></div></form></main></body></html>"""

LETTER = """<!doctype html><html><head><style>
body { font: 11pt serif; margin: 2cm; } h1 { font-size: 16pt; } td { padding: 2px 12px 2px 0; }
</style></head><body>
<p>Northwind Photo Lab<br>12 Harbour Street<br>Bristol BS1 4QA</p>
<p>27 November 2026</p><h1>Invoice 2026-1187</h1>
<p>Dear Ms Lovelace,</p>
<p>Thank you for your order. Please find below the prints we made from the photographs you sent
us last week, together with the cost of each item and the total amount due. Payment is due within
thirty days of the date of this invoice.</p>
<table><tr><td>Prints 10 x 15 cm, glossy</td><td>48</td><td>14.40</td></tr>
<tr><td>Enlargement 30 x 40 cm</td><td>2</td><td>23.00</td></tr>
<tr><td>Photo book, 40 pages</td><td>1</td><td>29.95</td></tr>
<tr><td>Scanning of slides</td><td>120</td><td>36.00</td></tr>
<tr><td>Postage and packing</td><td>1</td><td>4.50</td></tr>
<tr><td><b>Total</b></td><td></td><td><b>107.85</b></td></tr></table>
<p>If you have any questions about this invoice, please write to us at the address above or call
our customer service team on weekdays between nine and five. We look forward to printing your
next set of photographs.</p><p>Yours sincerely,</p><p>J. Smith<br>Accounts</p></body></html>"""


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not installed: run `make system-packages`")
    return path


def webdriver(width: int = 1280, height: int = 1400) -> "selenium.webdriver.Chrome":  # noqa: F821
    """Headless Chromium driven by selenium through Debian's chromium-driver: nothing downloads a
    browser or a driver. The caller quits it."""
    from selenium import webdriver as selenium
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = _require(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for tests to read
    return selenium.Chrome(service=Service(_require("chromedriver")), options=options)


def _chromium(html: str, *arguments: str, out: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run([_require(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp}/profile", *arguments, page.as_uri()],
                       check=True, capture_output=True, timeout=TIMEOUT, cwd=tmp)
        return (Path(tmp) / out).read_bytes()


@cache
def screenshot(width: int = 1280, height: int = 800, html: str = SETTINGS_DIALOG) -> bytes:
    """A PNG screenshot of a settings window, as Chromium draws it at this window size."""
    return _chromium(html, f"--window-size={width},{height}", "--screenshot=shot.png", out="shot.png")


@cache
def document_page(dpi: int = 100, html: str = LETTER) -> bytes:
    """The first page of a letter printed to PDF by Chromium, rendered as PNG by pdftoppm."""
    pdf = _chromium(html, "--no-pdf-header-footer", "--print-to-pdf=page.pdf", out="page.pdf")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "page.pdf").write_bytes(pdf)
        subprocess.run([_require("pdftoppm"), "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile",
                        "page.pdf", "page"], check=True, capture_output=True, timeout=TIMEOUT, cwd=tmp)
        return (Path(tmp) / "page.png").read_bytes()
