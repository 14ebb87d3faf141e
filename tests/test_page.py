"""The service's page in a real headless browser (Debian's chromium and chromium-driver, driven by
selenium) against the local stack (`python -m local.stack`, as `make run` starts it): a user
enters the key, changes the classes, drops photos into sandbox/All and watches the decisions."""
from __future__ import annotations

import http.server
import threading
import urllib.request

import pytest
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from local import rendered, sample_photos
from tests.test_local_stack import SERVICE_KEY, started_stack

WAIT = 30
HOSTILE = "<img src=x onerror=alert(1)>.jpg"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("page-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    driver = rendered.webdriver()
    yield driver
    driver.quit()


def wait_for(browser, condition, what: str):
    # The page draws its tables anew every 2 s: an element read as it is replaced is read again.
    return WebDriverWait(browser, WAIT, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, message=what)


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def sign_in(browser, stack) -> None:
    """Open the page with the key, asked anew: the tab forgets it."""
    browser.get(stack.url)
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    wait_for(browser, expected_conditions.visibility_of_element_located((By.ID, "key")), "the key field")
    browser.find_element(By.ID, "key").send_keys(SERVICE_KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    wait_for(browser, expected_conditions.visibility_of_element_located((By.ID, "main")), "the page after the key")


def configure(browser, classes: str) -> None:
    field = browser.find_element(By.ID, "classes-input")
    field.clear()
    field.send_keys(classes)
    browser.find_element(By.CSS_SELECTOR, "#configure-form button").click()


def test_the_page_asks_for_the_key_then_shows_the_configured_classes(stack, browser):
    sign_in(browser, stack)
    wait_for(browser, lambda b: "cat" in text_of(b, "classes") and "/Flower" in text_of(b, "classes"),
             "the classes table")
    assert SERVICE_KEY not in browser.page_source and SERVICE_KEY not in browser.current_url


def test_a_refused_configuration_shows_its_message_next_to_the_field(stack, browser):
    sign_in(browser, stack)
    configure(browser, "cat, qwzxv")
    wait_for(browser, lambda b: "qwzxv" in text_of(b, "configure-error"), "the refusal next to the field")


def test_new_classes_and_photos_dropped_into_all_appear_in_recent_decisions(stack, browser):
    sign_in(browser, stack)
    configure(browser, "cat, food")
    wait_for(browser, lambda b: "/Food" in text_of(b, "classes") and "/Flower" not in text_of(b, "classes"),
             "the new classes")
    (stack.sandbox / "All" / "page-chelsea.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (stack.sandbox / "All" / "page-coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
    wait_for(browser, lambda b: "page-chelsea.jpg" in text_of(b, "decisions")
             and "page-coffee.jpg" in text_of(b, "decisions"), "both photos in recent decisions")
    rows = {r.find_elements(By.TAG_NAME, "td")[1].text: r.find_elements(By.TAG_NAME, "td")[2].text
            for r in browser.find_elements(By.CSS_SELECTOR, "#decisions tbody tr")}
    assert rows["page-chelsea.jpg"] == "/Cat/page-chelsea.jpg" and rows["page-coffee.jpg"] == "/Food/page-coffee.jpg"


def test_a_class_given_its_own_threshold_in_the_field_shows_it_in_the_table_and_holds_back_a_photo_below_it(
        stack, browser):
    sign_in(browser, stack)
    configure(browser, "cat, food:0.99")  # coffee scores ~0.98 as food
    wait_for(browser, lambda b: "0.99 (its own)" in text_of(b, "classes"), "the class's own threshold in the table")

    def thresholds(b) -> list[str]:
        rows = b.find_elements(By.CSS_SELECTOR, "#classes tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows]

    wait_for(browser, lambda b: [t.split(" ", 1)[-1] for t in thresholds(b)] == ["(the default)", "(its own)"]
             and thresholds(b)[1] == "0.99 (its own)", "each class's threshold in its row")
    wait_for(browser, lambda b: b.find_element(By.ID, "classes-input").get_attribute("value") == "cat, food:0.99",
             "the field as it was typed")
    (stack.sandbox / "All" / "page-strict-coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
    wait_for(browser, lambda b: "/Unsorted/page-strict-coffee.jpg" in text_of(b, "decisions"), "the coffee unsorted")
    configure(browser, "cat, food:high")
    wait_for(browser, lambda b: "the \"threshold\" of class 'food' must be a number between 0 and 1, not \"high\""
             in text_of(b, "configure-error"), "the refusal naming the class's threshold")
    configure(browser, "cat, food")  # as the next tests expect it
    wait_for(browser, lambda b: "(its own)" not in text_of(b, "classes"), "the classes without thresholds of their own")


def test_a_hostile_file_name_is_shown_as_text_and_runs_nothing(stack, browser):
    sign_in(browser, stack)
    (stack.sandbox / "All" / HOSTILE).write_bytes(sample_photos.jpeg("chelsea"))
    wait_for(browser, lambda b: HOSTILE in text_of(b, "decisions"), "the hostile name in recent decisions")
    # The only images are the thumbnails, the name their alt text: it never became an element.
    images = browser.find_elements(By.CSS_SELECTOR, "#decisions img")
    assert all(i.get_attribute("class") == "thumb" for i in images)
    assert HOSTILE in [i.get_attribute("alt") for i in images]
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def test_the_undo_button_of_a_job_puts_its_photo_back_in_all_and_the_job_then_says_undone_without_a_button(
        stack, browser):
    sign_in(browser, stack)
    (stack.sandbox / "All" / "page-undo.jpg").write_bytes(sample_photos.jpeg("coffee"))
    wait_for(browser, lambda b: "page-undo.jpg" in text_of(b, "decisions"), "the photo sorted")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#jobs tbody button"), "the jobs with undo buttons")
    browser.find_element(By.CSS_SELECTOR, "#jobs tbody tr:first-child button").click()
    wait_for(browser, lambda b: "Put back 1 photo(s) in All" in text_of(b, "undo-line"), "the undo's answer")
    assert (stack.sandbox / "All" / "page-undo.jpg").read_bytes() == sample_photos.jpeg("coffee")
    # The jobs are shown again once the undo answered: the job says when it was undone, with no button.
    def undone_without_a_button(b) -> bool:
        try:  # the page shows the jobs anew every 2 s: a row read as it is replaced is read again
            row = b.find_element(By.CSS_SELECTOR, "#jobs tbody tr:first-child")
            return "undone 20" in row.text and row.find_elements(By.TAG_NAME, "button") == []
        except StaleElementReferenceException:
            return False

    wait_for(browser, undone_without_a_button, "the job shown as undone, without an Undo button")
    # Recent decisions agree with Dropbox: the photo's decision says it was undone.
    wait_for(browser, lambda b: "/Food/page-undo.jpg (undone: back in All)" in text_of(b, "decisions"),
             "the decision marked undone")
    # The totals agree with themselves after the undo: the finished photos are the sum of their kinds.
    wait_for(browser, lambda b: "photos finished:" in text_of(b, "totals-line"), "the totals")
    finished, kinds = text_of(browser, "totals-line").split(";")[0].split(" photos finished: ")
    assert int(finished) == sum(int(kind.split()[0]) for kind in kinds.split(", "))


def test_the_preview_button_shows_where_each_photo_in_all_would_go_moves_nothing_and_closes_once_stale(
        stack, browser):
    sign_in(browser, stack)
    (stack.sandbox / "All" / "page-preview.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    wait_for(browser, lambda b: "page-preview.jpg" in text_of(b, "decisions"), "the photo sorted")
    browser.find_element(By.CSS_SELECTOR, "#jobs tbody tr:first-child button").click()  # undo: back in All
    wait_for(browser, lambda b: "Put back 1 photo(s) in All" in text_of(b, "undo-line"), "the undo's answer")
    configure_field = browser.find_element(By.ID, "classes-input")
    configure_field.clear()
    configure_field.send_keys("food, animal")  # previewed, not saved
    browser.find_element(By.ID, "preview").click()
    wait_for(browser, lambda b: "nothing was moved" in text_of(b, "preview-line"), "the finished preview")
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
            for r in browser.find_elements(By.CSS_SELECTOR, "#previewed tbody tr")}
    assert rows["/All/page-preview.jpg"] == "/Animal/page-preview.jpg"
    assert (stack.sandbox / "All" / "page-preview.jpg").read_bytes() == sample_photos.jpeg("chelsea")
    assert "/Animal" not in text_of(browser, "classes")  # the service's classes are unchanged
    wait_for(browser, lambda b: "Preview (moves nothing)" in text_of(b, "jobs"), "the preview among the jobs")
    preview_row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
                       if "Preview" in r.text)
    assert preview_row.find_elements(By.TAG_NAME, "button") == []  # nothing to undo
    assert "Preview made 20" in text_of(browser, "preview-line")  # it says which preview it is
    # A sort moves the photos: the preview no longer says where they would go, and closes.
    browser.find_element(By.ID, "sort").click()
    wait_for(browser, lambda b: not b.find_element(By.ID, "preview-result").is_displayed(), "the stale preview closed")


def test_the_page_allows_only_its_own_scripts_and_holds_no_secret(stack):
    request = urllib.request.Request(stack.url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "img-src blob:;" in policy
    assert SERVICE_KEY not in html and "<script src=\"page.js\"" in html


@pytest.fixture
def other_site(stack):
    """Another site (another origin: another port), whose page shows the service's page in a frame,
    as a clickjacking site would to lure the user into clicking its buttons."""
    framing = (f'<!doctype html><title>elsewhere</title><iframe id="framed" width="800" height="600" '
               f'src="{stack.url}" onload="document.title = \'framed\'"></iframe>').encode()

    class Framing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(framing)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_another_site_cannot_show_the_page_in_a_frame(stack, browser, other_site):
    browser.get(other_site)
    wait_for(browser, lambda b: b.title == "framed", "the frame to finish loading")
    browser.switch_to.frame(browser.find_element(By.ID, "framed"))
    try:
        assert browser.find_elements(By.ID, "key-form") == []  # the browser refused to show it
    finally:
        browser.switch_to.default_content()


# --- photos: thumbnails, the review queue, corrections -------------------------------------------------

def loaded_thumbnails(browser, css: str) -> list[str]:
    """The alt texts (file names) of the thumbnails under `css` that the browser has drawn from blob: URLs."""
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].filter("
        "i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:')).map(i => i.alt)", css)


def click_in_card(browser, name: str, button: str) -> None:
    """Click a button of the review card of the photo `name` (the queue is drawn anew now and then)."""
    def clicked(b) -> bool:
        try:
            card = next(c for c in b.find_elements(By.CSS_SELECTOR, "#review .card")
                        if c.find_element(By.CSS_SELECTOR, ".name").text == name)
            next(x for x in card.find_elements(By.TAG_NAME, "button") if x.text == button).click()
            return True
        except (StopIteration, StaleElementReferenceException):
            return False

    wait_for(browser, clicked, f"the {button!r} button of {name} in the review queue")


def review_cards(browser) -> dict[str, str]:
    try:
        return {c.find_element(By.CSS_SELECTOR, ".name").text: c.find_element(By.CSS_SELECTOR, ".why").text
                for c in browser.find_elements(By.CSS_SELECTOR, "#review .card")}
    except StaleElementReferenceException:
        return {}


def test_thumbnails_load_for_recent_decisions_and_the_photos_left_unsorted(stack, browser):
    sign_in(browser, stack)
    wait_for(browser, lambda b: len(loaded_thumbnails(b, "#decisions img.thumb")) >= 3, "thumbnails of decisions")
    wait_for(browser, lambda b: "before-hubble.jpg" in loaded_thumbnails(b, "#review img.thumb"),
             "the thumbnail of a photo left unsorted in the review queue")
    assert review_cards(browser)["before-hubble.jpg"] == "left unsorted"


def test_not_this_class_sends_the_photo_to_unsorted_and_undo_puts_it_back(stack, browser):
    sign_in(browser, stack)
    configure(browser, "cat, rocket, vehicle")
    wait_for(browser, lambda b: "/Rocket" in text_of(b, "classes"), "the new classes")
    mirrored = sample_photos.variants("rocket")[2]
    (stack.sandbox / "All" / "page-mirrored.jpg").write_bytes(mirrored)
    wait_for(browser, lambda b: review_cards(b).get("page-mirrored.jpg") == "sorted into Vehicle by a small margin",
             "the mirrored rocket in the review queue")
    click_in_card(browser, "page-mirrored.jpg", "Not Vehicle")
    unsorted = stack.sandbox / "Unsorted" / "page-mirrored.jpg"
    wait_for(browser, lambda b: unsorted.exists() and unsorted.read_bytes() == mirrored, "the photo in Unsorted")
    wait_for(browser, lambda b: review_cards(b).get("page-mirrored.jpg") == "left unsorted",
             "the photo in the queue as unsorted")
    browser.find_element(By.ID, "correct-undo").click()
    back = stack.sandbox / "Vehicle" / "page-mirrored.jpg"
    wait_for(browser, lambda b: back.exists() and back.read_bytes() == mirrored, "the photo back in Vehicle")
    assert not unsorted.exists()


def test_a_click_in_the_review_queue_moves_the_photo_shows_it_in_its_class_and_the_next_like_it_goes_there(
        stack, browser):
    sign_in(browser, stack)
    rocket = sample_photos.jpeg("rocket")
    (stack.sandbox / "All" / "page-rocket.jpg").write_bytes(rocket)
    # A close call in Vehicle (or unsorted, while the correction the last test undid is still forgotten).
    wait_for(browser, lambda b: review_cards(b).get("page-rocket.jpg") in (
        "sorted into Vehicle by a small margin", "left unsorted"), "the rocket in the review queue")
    click_in_card(browser, "page-rocket.jpg", "Rocket")
    moved = stack.sandbox / "Rocket" / "page-rocket.jpg"
    wait_for(browser, lambda b: moved.exists() and moved.read_bytes() == rocket, "the photo moved to Rocket")
    assert "to /Rocket/page-rocket.jpg" in text_of(browser, "correct-line")
    wait_for(browser, lambda b: "page-rocket.jpg" not in review_cards(b), "the photo out of the review queue")
    wait_for(browser, lambda b: any(s.text.startswith("Rocket") and "page-rocket.jpg" in s.text
                                    for s in b.find_elements(By.CSS_SELECTOR, "#newest .strip")),
             "the photo shown in its new class")
    # The correction was learned: another shot of the rocket now goes to Rocket.
    again = sample_photos.variants("rocket")[3]
    (stack.sandbox / "All" / "page-rocket-again.jpg").write_bytes(again)
    landed = stack.sandbox / "Rocket" / "page-rocket-again.jpg"
    wait_for(browser, lambda b: landed.exists() and landed.read_bytes() == again, "the next rocket in Rocket")


def test_the_page_logs_no_error_and_asks_nothing_of_another_origin(stack, browser):
    browser.get_log("browser")  # what the other tests logged (a refused configuration's 400) is read and gone
    sign_in(browser, stack)
    wait_for(browser, lambda b: loaded_thumbnails(b, "#review img.thumb"), "the review queue's thumbnails")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    asked = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert asked and all(url.startswith(stack.url) for url in asked)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_the_width_of_a_phone_and_of_a_laptop_without_scrolling_sideways(stack, browser, width):
    browser.set_window_size(width, 900)
    try:
        sign_in(browser, stack)
        wait_for(browser, lambda b: loaded_thumbnails(b, "#review img.thumb"), "the review queue's thumbnails")
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        viewport = browser.execute_script("return document.documentElement.clientWidth")
        assert wide <= viewport
    finally:
        browser.set_window_size(1280, 1400)
