"""End-to-end tests of the web page: a real `lookalike serve`, Debian's headless Chromium,
driven by Playwright. Screenshots go to each test's tmp dir; one test refreshes the README's
screenshots in docs/img/ when asked (`LOOKALIKE_REDRAW_SCREENSHOTS=1 make test`)."""

from __future__ import annotations

import base64
import contextlib
import os
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from tests.server.conftest import RunningServer, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium: apt-get install chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[test]'")
expect = sync_api.expect

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
GALLERY_IMAGES = 21  # 22 files, one a byte copy of another (see lookalike.demo)
FIRST_ROWS = "#results > li:nth-child(-n+8) img"  # thumbnails load lazily: those in view
TIMEOUT_MS = 30_000  # the first upload into a fresh store loads the CNN

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: sync_api.Browser, viewport: dict[str, int] = DESKTOP) -> sync_api.Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.uncaught_errors = []
    page.on("pageerror", lambda error: page.uncaught_errors.append(str(error)))
    return page


@pytest.fixture()
def page(browser: sync_api.Browser) -> Iterator[sync_api.Page]:
    page = open_page(browser)
    yield page
    page.context.close()
    assert not page.uncaught_errors, f"uncaught errors in the page: {page.uncaught_errors}"


@contextlib.contextmanager
def serving(db: Path, *args: str) -> Iterator[RunningServer]:
    server = start_server(db, *args)
    try:
        yield server
    finally:
        stop_server(server)


def search(page: sync_api.Page, query: Path) -> sync_api.Locator:
    """Search with a file through the file picker; the first result card once it shows."""
    page.locator("#search-file").set_input_files(query)
    expect(page.locator("#query-name")).to_have_text(query.name)
    expect(page.locator("#result-count")).to_contain_text("Showing")
    return page.locator("#results .card").first


def send_file_event(page: sync_api.Page, target: str, event: str, path: Path, mime: str) -> None:
    """A paste (on `document`) or a drop (on a selector) carrying one file, as a browser makes them."""
    page.evaluate(
        """([target, type, name, mime, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const node = target === 'document' ? document : document.querySelector(target);
            node.dispatchEvent(type === 'paste'
                ? new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true })
                : new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        [target, event, path.name, mime, base64.b64encode(path.read_bytes()).decode()],
    )


def wait_for_images(page: sync_api.Page, selector: str) -> None:
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s)].every((img) => img.complete && img.naturalWidth > 0)",
        arg=selector)


def no_horizontal_scroll(page: sync_api.Page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]


def test_search_by_image(page: sync_api.Page, gallery_server: RunningServer, gallery: Path, queries: Path,
                         tmp_path: Path) -> None:
    page.goto(gallery_server.url)
    expect(page.locator("#status")).to_contain_text(f"{GALLERY_IMAGES} images")
    expect(page.locator("#results-empty")).to_be_visible()

    first = search(page, queries / "chelsea-rot90.jpg")
    expect(first.locator(".name")).to_contain_text("chelsea")
    expect(first.locator(".label")).to_have_text("chelsea")
    expect(first.locator(".badge")).to_have_text("near-duplicate")
    expect(first.locator(".badge")).to_have_class("badge tier-near-duplicate")
    results = page.locator("#results > li")
    total = results.count()
    assert total > 5
    expect(page.locator("#result-count")).to_have_text(f"Showing {total} of {total} matches.")
    wait_for_images(page, FIRST_ROWS)
    page.screenshot(path=tmp_path / "search.png")

    # The threshold slider filters the shown results live, with the count.
    page.locator("#threshold").fill("0.9")
    expect(page.locator("#threshold-value")).to_have_text("0.90")
    expect(page.locator("#results > li:visible")).to_have_count(1)
    expect(page.locator("#result-count")).to_contain_text(f"Showing 1 of {total} matches scoring 0.90")
    page.locator("#threshold").fill("0")
    expect(page.locator("#results > li:visible")).to_have_count(total)

    # Keyboard: Enter opens the viewer with the full image and its metadata, Esc closes it.
    first.focus()
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-title")).to_contain_text("chelsea")
    expect(page.locator("#viewer-match")).to_contain_text("near-duplicate")
    meta = page.locator("#viewer-meta")
    for text in ("chelsea", "451 × 300 px", "PNG", "KB", "Added"):
        expect(meta).to_contain_text(text)
    expect(page.locator("#viewer-evidence")).to_contain_text("Neural embedding")
    expect(page.locator("#viewer-evidence")).to_contain_text("Perceptual hash")
    page.wait_for_function("document.querySelector('#viewer-img').naturalWidth === 451")
    page.screenshot(path=tmp_path / "viewer.png")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(first).to_be_focused()
    page.keyboard.press(" ")
    expect(viewer).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # Paste from the clipboard, and drop on the drop zone.
    send_file_event(page, "document", "paste", queries / "coffee-crop80.jpg", "image/jpeg")
    expect(page.locator("#query-name")).to_have_text("coffee-crop80.jpg")
    expect(first.locator(".label")).to_have_text("coffee")
    expect(first.locator(".badge")).to_have_text("near-duplicate")
    send_file_event(page, "#search-drop", "drop", queries / "rocket-mirror.jpg", "image/jpeg")
    expect(page.locator("#query-name")).to_have_text("rocket-mirror.jpg")
    expect(first.locator(".label")).to_have_text("rocket")

    # "Find similar" in the viewer searches with a stored image: itself first, exact.
    name = first.locator(".name").inner_text()
    first.click()
    page.locator("#viewer-search").click()
    expect(viewer).to_be_hidden()
    expect(page.locator("#query-name")).to_have_text(name)
    expect(first.locator(".name")).to_have_text(name)
    expect(first.locator(".badge")).to_have_text("exact")

    # A damaged file: a clear message, and no stale results under it.
    broken = tmp_path / "broken.png"
    broken.write_bytes((gallery / "astronaut.png").read_bytes()[:200_000])
    page.locator("#search-file").set_input_files(broken)
    expect(page.locator("#notice-text")).to_contain_text("The server could not read that image")
    expect(page.locator("#notice-text")).to_contain_text("truncated")
    expect(page.locator("#results > li")).to_have_count(0)


def test_upload_batch_then_search(page: sync_api.Page, gallery: Path, tmp_path: Path) -> None:
    # Two files per request at most: the page halves a batch the server refuses as too big.
    with serving(tmp_path / "shop.db", "--max-files", "2", "--max-upload-mb", "1") as server:
        page.goto(f"{server.url}/#upload")
        expect(page.locator("#status")).to_contain_text("0 images")
        batch = [gallery / name for name in ("astronaut.png", "coffee.png", "rocket.png")]
        page.locator("#upload-files").set_input_files(batch)
        expect(page.locator("#upload-chosen li")).to_have_count(3)
        page.locator("#upload-label").fill("spring sale")
        page.evaluate("""() => {
            window.progressSeen = [];
            new MutationObserver(() => window.progressSeen.push(document.querySelector('#upload-progress').value))
                .observe(document.querySelector('#upload-progress'), { attributes: true });
        }""")
        page.get_by_role("button", name="Upload 3 files").click()
        expect(page.locator("#upload-status")).to_have_text("Done: 3 added.")
        expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
        seen = page.evaluate("window.progressSeen")
        assert any(0 < value < 100 for value in seen), seen
        uploaded = page.locator("#upload-results li.uploaded")
        expect(uploaded).to_have_count(3)
        for name, size in (("astronaut.png", "512 × 512"), ("coffee.png", "600 × 400"), ("rocket.png", "640 × 427")):
            expect(uploaded.filter(has_text=name)).to_contain_text(size)
        expect(uploaded.first).to_contain_text("spring sale")
        expect(page.locator("#status")).to_contain_text("3 images")
        wait_for_images(page, "#upload-results img")
        page.screenshot(path=tmp_path / "uploaded.png")

        page.get_by_role("link", name="Search").click()
        first = search(page, gallery / "coffee.png")
        expect(first.locator(".badge")).to_have_text("exact")
        expect(first.locator(".label")).to_have_text("spring sale")
        expect(page.locator("#results > li")).to_have_count(3)

        # Refused files: each listed with a reason, and a clear message on top.
        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture")
        big = tmp_path / "big.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 800, 3), dtype=np.uint8)).save(big)
        assert big.stat().st_size > 1024 * 1024
        broken = tmp_path / "broken.png"
        broken.write_bytes((gallery / "astronaut.png").read_bytes()[:200_000])
        page.get_by_role("link", name="Upload").click()
        page.locator("#upload-files").set_input_files([notes, big, broken])
        page.get_by_role("button", name="Upload 3 files").click()
        expect(page.locator("#upload-status")).to_have_text("Done: 0 added, 3 refused.")
        refused = page.locator("#upload-results li.refused")
        expect(refused).to_have_count(3)
        expect(refused.filter(has_text="notes.txt")).to_contain_text("Not a supported image")
        expect(refused.filter(has_text="big.png")).to_contain_text("Too large")
        expect(refused.filter(has_text="broken.png")).to_contain_text("Damaged or unreadable")
        expect(page.locator("#notice")).to_contain_text("No file was added.")
        expect(page.locator("#notice")).to_contain_text("not an image lookalike can read")

        page.locator("#upload-files").set_input_files(notes)
        page.get_by_role("button", name="Upload 1 file").click()
        expect(page.locator("#notice-text")).to_have_text(
            "That file is not an image lookalike can read (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF or camera RAW).")
        page.screenshot(path=tmp_path / "refused.png")
        expect(page.locator("#status")).to_contain_text("3 images")

        # Removing an image from the viewer asks first, then the collection shrinks.
        page.get_by_role("link", name="Search").click()
        first.click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Remove…").click()
        expect(page.locator("#notice-text")).to_contain_text("Removed")
        expect(page.locator("#viewer")).to_be_hidden()
        expect(page.locator("#status")).to_contain_text("2 images")
        expect(page.locator("#results > li")).to_have_count(2)


def test_duplicates_view(page: sync_api.Page, gallery_server: RunningServer, tmp_path: Path) -> None:
    page.goto(f"{gallery_server.url}/#duplicates")
    groups = page.locator("#dup-groups > li")
    expect(groups).to_have_count(4)
    expect(page.locator("#dup-summary")).to_contain_text("4 groups")
    expect(page.locator("#dup-pager")).to_be_hidden()
    wait_for_images(page, "#dup-groups img")
    found = {}
    for group in groups.all():
        names = sorted(group.locator(".name").all_inner_texts())
        found[names[0].split("-")[0].split(".")[0]] = (names, group.inner_text())
    assert sorted(found) == ["astronaut", "chelsea", "coffee", "rocket"]
    assert found["astronaut"][0] == ["astronaut-caption.jpg", "astronaut.png"]
    assert found["coffee"][0] == ["coffee-grayscale.jpg", "coffee.png"]
    assert found["rocket"][0] == ["rocket-jpeg15.jpg", "rocket.png"]
    for key, size in (("astronaut", "512 × 512"), ("chelsea", "451 × 300"), ("coffee", "600 × 400"),
                      ("rocket", "640 × 427")):
        assert size in found[key][1]
    for key in ("astronaut", "coffee", "rocket"):
        assert "2 images" in found[key][1] and "weakest link" in found[key][1]
    assert "1 image · 2 files" in found["chelsea"][1] and "2 identical files" in found["chelsea"][1]

    # The copies of a group sit side by side; the biggest one is marked.
    astronaut = groups.filter(has_text="astronaut-caption.jpg")
    boxes = [card.bounding_box() for card in astronaut.locator(".card").all()]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1 and boxes[0]["x"] != boxes[1]["x"]
    expect(astronaut.locator(".badge.best")).to_have_count(1)
    expect(astronaut.locator("li", has=page.locator(".badge.best"))).to_contain_text("astronaut.png")
    expect(astronaut).to_contain_text("415 KB")
    page.screenshot(path=tmp_path / "duplicates.png", full_page=True)

    groups.filter(has_text="2 identical files").locator(".card").click()
    expect(page.locator("#viewer-meta")).to_contain_text("Identical files")
    expect(page.locator("#viewer-evidence-box")).to_be_hidden()
    page.keyboard.press("Escape")

    # More groups than a page: a pager. (Answers are faked from the first page: 30 groups.)
    asked = []

    def thirty_groups(route: sync_api.Route) -> None:
        offset = int(parse_qs(urlsplit(route.request.url).query)["offset"][0])
        asked.append(offset)
        answer = route.fetch(url=f"{gallery_server.url}/v1/duplicates?offset=0&limit=12").json()
        route.fulfill(json={**answer, "total": 30, "offset": offset})

    page.route("**/v1/duplicates?*", thirty_groups)
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#dup-range")).to_have_text("Groups 1–4 of 30")
    expect(page.locator("#dup-prev")).to_be_disabled()
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#dup-range")).to_have_text("Groups 13–16 of 30")
    expect(page.locator("#dup-groups > li h2").first).to_have_text("Group 13")
    page.get_by_role("button", name="← Previous").click()
    expect(page.locator("#dup-range")).to_have_text("Groups 1–4 of 30")
    assert asked == [0, 12, 0]


def test_phone_width(browser: sync_api.Browser, gallery_server: RunningServer, queries: Path,
                     tmp_path: Path) -> None:
    page = open_page(browser, PHONE)
    page.goto(gallery_server.url)
    search(page, queries / "astronaut-rot90.jpg")
    wait_for_images(page, "#results > li:nth-child(-n+2) img")
    columns = page.evaluate("getComputedStyle(document.querySelector('#results')).gridTemplateColumns")
    assert len(columns.split()) in (1, 2), columns
    assert no_horizontal_scroll(page)
    page.screenshot(path=tmp_path / "phone-search.png")

    page.locator("#results .card").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    page.wait_for_function("document.querySelector('#viewer-img').naturalWidth === 512")
    viewer = page.locator("#viewer").bounding_box()
    assert viewer["x"] >= 0 and viewer["x"] + viewer["width"] <= PHONE["width"]
    page.screenshot(path=tmp_path / "phone-viewer.png")
    page.keyboard.press("Escape")

    for view in ("duplicates", "upload"):
        page.get_by_role("link", name=view.capitalize()).click()
        expect(page.locator(f"section[data-view={view}]")).to_be_visible()
        if view == "duplicates":
            expect(page.locator("#dup-groups > li")).to_have_count(4)
        assert no_horizontal_scroll(page), view
        page.screenshot(path=tmp_path / f"phone-{view}.png", full_page=True)
    page.locator("#key-summary").click()
    expect(page.locator("#key-input")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.context.close()
    assert not page.uncaught_errors


def test_api_key(page: sync_api.Page, gallery: Path, queries: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "locked.db", "--api-key", "s3cret") as server:
        page.goto(server.url)
        notice = page.locator("#notice")
        expect(notice).to_contain_text("Enter its API key")
        expect(page.locator("#key-input")).to_be_focused()
        page.screenshot(path=tmp_path / "asks-for-key.png")

        page.locator("#key-input").fill("wrong")
        page.keyboard.press("Enter")
        expect(notice).to_contain_text("not accepted")

        page.locator("#key-input").fill("s3cret")
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#notice-text")).to_have_text("API key saved.")
        expect(page.locator("#key-summary")).to_have_text("API key ✓")
        expect(page.locator("#key-input")).to_be_hidden()

        page.get_by_role("link", name="Upload").click()
        page.locator("#upload-files").set_input_files(gallery / "chelsea.png")
        page.get_by_role("button", name="Upload 1 file").click()
        expect(page.locator("#upload-status")).to_have_text("Done: 1 added.")

        page.get_by_role("link", name="Search").click()
        first = search(page, queries / "chelsea-rot90.jpg")
        expect(first.locator(".badge")).to_have_text("near-duplicate")
        wait_for_images(page, "#results img")  # <img> cannot send the key: the page fetches them
        first.click()
        page.wait_for_function("document.querySelector('#viewer-img').naturalWidth === 451")
        page.keyboard.press("Escape")

        # The key is remembered by this browser, and forgetting it locks the page again.
        page.reload()
        expect(page.locator("#key-summary")).to_have_text("API key ✓")
        page.get_by_role("link", name="Duplicates").click()
        expect(page.locator("#dup-summary")).to_contain_text("No duplicates")
        expect(notice).to_be_hidden()
        page.locator("#key-summary").click()
        page.get_by_role("button", name="Forget").click()
        expect(notice).to_contain_text("Enter its API key")


def test_readme_screenshots(
    browser: sync_api.Browser, gallery_server: RunningServer, queries: Path, tmp_path: Path
) -> None:
    """The README's page-search.png and page-duplicates.png: drawn into docs/img/ when
    LOOKALIKE_REDRAW_SCREENSHOTS=1 (so that a test run leaves the work tree alone), else
    into a temporary folder."""
    folder = DOCS_IMG if os.environ.get("LOOKALIKE_REDRAW_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page = open_page(browser, DESKTOP)
    page.goto(gallery_server.url)
    search(page, queries / "astronaut-rot90.jpg")
    wait_for_images(page, FIRST_ROWS)
    page.screenshot(path=folder / "page-search.png")
    page.get_by_role("link", name="Duplicates").click()
    expect(page.locator("#dup-groups > li")).to_have_count(4)
    wait_for_images(page, "#dup-groups img")
    page.screenshot(path=folder / "page-duplicates.png", full_page=True)
    page.context.close()
    assert not page.uncaught_errors
    assert (folder / "page-search.png").stat().st_size > 10_000


def test_keypoint_matches_are_drawn(page: sync_api.Page, gallery: Path, tmp_path: Path) -> None:
    """With `serve --rerank keypoints`, a 30% crop is found as a near-duplicate and the viewer
    shows the query and the stored image joined by lines between verified keypoints, the
    region they cover boxed; a second photograph of a box is the same object."""
    from lookalike import Collection
    from lookalike.demo import sample_image
    from lookalike.edits import crop

    folder = tmp_path / "photos"
    folder.mkdir()
    for path in gallery.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    box = Path("/usr/share/doc/opencv-doc/examples/data/box.png")
    if box.is_file():
        (folder / box.name).write_bytes(box.read_bytes())
    with Collection(tmp_path / "keypoints.db") as collection:
        collection.index([folder], label_from="prefix", keypoints=True)
    query = tmp_path / "chelsea-30pct.jpg"
    crop(0.3**0.5, (0.2, 0.7))(sample_image("chelsea")).save(query, quality=92)
    with serving(tmp_path / "keypoints.db", "--rerank", "keypoints") as server:
        page.goto(server.url)
        first = search(page, query)
        expect(first.locator(".label")).to_have_text("chelsea")
        expect(first.locator(".badge")).to_have_text("near-duplicate")
        first.click()
        expect(page.locator("#viewer-explanation")).to_contain_text("verified keypoints")
        expect(page.locator("#viewer-explanation")).to_contain_text("crop of the stored image")
        drawing = page.locator("#viewer-matches")
        expect(drawing).to_be_visible()
        assert drawing.locator("line.match-line").count() >= 20
        expect(drawing.locator("rect.stored-region")).to_have_count(1)
        expect(drawing.locator("image")).to_have_count(2)
        # every line ends inside the stored image's half, in its boxed region
        inside = page.evaluate("""() => {
            const svg = document.querySelector('#viewer-matches');
            const region = svg.querySelector('rect.stored-region').getBBox();
            return [...svg.querySelectorAll('line.match-line')].every((line) => {
                const x = line.x2.baseVal.value, y = line.y2.baseVal.value;
                return x >= region.x - 1 && x <= region.x + region.width + 1
                    && y >= region.y - 1 && y <= region.y + region.height + 1;
            });
        }""")
        assert inside
        expect(page.locator("#viewer-evidence")).not_to_contain_text("keypoint")
        expect(page.locator("#viewer-match")).not_to_contain_text("null")
        expect(page.locator("#viewer-matches[data-loaded]")).to_have_count(1)  # the stored image drawn
        page.screenshot(path=tmp_path / "keypoints.png")
        page.keyboard.press("Escape")
        if box.is_file():
            first = search(page, box.parent / "box_in_scene.png")
            expect(first.locator(".name")).to_have_text("box.png")
            expect(first.locator(".badge")).to_have_class("badge tier-same-object")
            first.click()
            expect(page.locator("#viewer-explanation")).to_contain_text("another viewpoint")
            assert page.locator("#viewer-matches line.match-line").count() >= 15


def test_api_docs_render_offline(page: sync_api.Page, tmp_path: Path) -> None:
    """/docs draws every operation of the OpenAPI document FastAPI writes (3.1: Swagger UI 4
    drew "Unable to render this definition"), from files the server itself serves: a request
    to any other host is recorded and refused, as it would fail on a machine without internet."""
    requested: list[str] = []
    foreign: list[str] = []

    def only_this_machine(route: sync_api.Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.on("request", lambda request: requested.append(request.url))
    page.context.route("**/*", only_this_machine)
    with serving(tmp_path / "docs.db") as server:
        page.goto(f"{server.url}/docs")
        expect(page.locator(".opblock-summary-path[data-path='/v1/search']")).to_be_visible()
        for path in ("/v1/images", "/v1/compare", "/v1/duplicates", "/v1/neighbors", "/healthz"):
            expect(page.locator(f".opblock-summary-path[data-path='{path}']").first).to_be_visible()
        expect(page.locator("#swagger-ui")).not_to_contain_text("Unable to render")
        page.locator(".opblock-summary-path[data-path='/v1/search']").click()
        expect(page.locator(".opblock-post.is-open")).to_contain_text("multipart/form-data")
        page.screenshot(path=tmp_path / "docs.png", full_page=True)
    assert not foreign, f"/docs asked for files off this machine: {foreign}"
    assert any(url.endswith("/openapi.json") for url in requested), requested
