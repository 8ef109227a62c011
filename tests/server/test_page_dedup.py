"""The duplicates view's actions, driven in Debian's Chromium (as tests/server/test_page.py):
the proposed keeper and its reason, keeping another copy with one click, "not duplicates"
and "keep all", a dry run before applying to one group or to all, and undo; on a real
`lookalike serve` over a copy of the demo gallery, with the desktop trash in the test's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lookalike import Collection, Settings
from tests.conftest import HASH_FEATURES
from tests.server.test_page import CHROMIUM, browser, expect, page, serving, sync_api, wait_for_images  # noqa: F401

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")


def test_review_and_apply_duplicates_in_the_page(page: sync_api.Page, gallery: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "photos"
    shutil.copytree(gallery, photos)
    db = tmp_path / "page.db"
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        collection.index([photos])
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the server's trash
    trashed = tmp_path / "xdg" / "Trash" / "files"
    with serving(db) as server:
        page.goto(f"{server.url}/#duplicates")
        groups = page.locator("#dup-groups > li")
        expect(groups).to_have_count(4)
        wait_for_images(page, "#dup-groups img")

        # the proposed keeper, with why; one click keeps the other copy instead
        astronaut = groups.filter(has_text="astronaut-caption.jpg")
        expect(astronaut.locator("li", has=page.locator(".badge.best"))).to_contain_text("astronaut.png")
        expect(astronaut.locator(".keep-reason")).to_contain_text("the original")
        expect(astronaut.locator(".keep-reason")).to_contain_text("astronaut-caption.jpg is a captioned copy")
        caption_card = astronaut.locator(".group-images > li", has_text="astronaut-caption.jpg")
        caption_card.get_by_role("button", name="Keep this").click()
        expect(astronaut.locator("li", has=page.locator(".badge.best"))).to_contain_text("astronaut-caption.jpg")
        expect(astronaut.locator(".keep-reason")).to_have_text("Keep: chosen by hand")
        astronaut.locator(".group-images > li", has_text="astronaut.png").get_by_role("button", name="Keep this").click()
        expect(astronaut.locator("li", has=page.locator(".badge.best"))).to_contain_text("astronaut.png")

        # never asked twice: not duplicates, keep all
        groups.filter(has_text="rocket-jpeg15.jpg").get_by_role("button", name="Not duplicates").click()
        expect(groups).to_have_count(3)
        groups.filter(has_text="coffee-grayscale.jpg").get_by_role("button", name="Keep all").click()
        expect(groups).to_have_count(2)
        with server.client() as http:
            assert [m["kind"] for m in http.get("/v1/dedup/marks").json()["marks"]] == ["distinct", "keep"]

        # delete: the dry run warns that it cannot be undone; cancel
        page.locator("#dedup-action").select_option("delete")
        astronaut.get_by_role("button", name="Apply to this group…").click()
        expect(page.locator("#dedup-confirm")).to_be_visible()
        expect(page.locator("#dedup-warning")).to_be_visible()
        page.locator("#dedup-cancel").click()
        expect(page.locator("#dedup-confirm")).to_be_hidden()
        assert (photos / "astronaut-caption.jpg").exists()

        # trash one group, after its dry run
        page.locator("#dedup-action").select_option("trash")
        astronaut.get_by_role("button", name="Apply to this group…").click()
        expect(page.locator("#dedup-summary")).to_contain_text("1 file(s) in 1 group(s) would be: move to the trash")
        expect(page.locator("#dedup-list")).to_contain_text("Keep astronaut.png")
        expect(page.locator("#dedup-warning")).to_be_hidden()
        page.locator("#dedup-apply").click()
        expect(page.locator("#notice-text")).to_contain_text("trash: 1 file done")
        expect(groups).to_have_count(1)
        assert not (photos / "astronaut-caption.jpg").exists() and (trashed / "astronaut-caption.jpg").exists()

        # then all that is left
        page.get_by_role("button", name="Apply to all groups…").click()
        expect(page.locator("#dedup-summary")).to_contain_text("1 file(s) in 1 group(s)")
        page.locator("#dedup-apply").click()
        expect(page.locator("#dup-summary")).to_contain_text("No duplicates")
        copies = [(photos / name).exists() for name in ("chelsea.png", "chelsea-copy.png")]
        assert sorted(copies) == [False, True]

        # undo, run by run
        page.get_by_role("button", name="Undo last").click()
        expect(page.locator("#notice-text")).to_contain_text("Undone: 1 file put back")
        expect(groups).to_have_count(1)
        page.get_by_role("button", name="Undo last").click()
        expect(groups).to_have_count(2)
        assert (photos / "astronaut-caption.jpg").read_bytes() == (gallery / "astronaut-caption.jpg").read_bytes()
        assert not list(trashed.iterdir())
        page.screenshot(path=tmp_path / "dedup.png", full_page=True)
