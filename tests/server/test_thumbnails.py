"""Thumbnails kept beside the store: made once from the image's file, then served without
decoding it again, and deleted with the image. A real `lookalike serve` over a real store."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from PIL import Image

from lookalike import Collection, Settings
from lookalike.layout import Layout
from lookalike.thumbnails import Thumbnails
from tests.conftest import HASH_FEATURES
from tests.server.conftest import start_server, stop_server


def photo_store(tmp_path: Path, gallery: Path) -> tuple[Path, Path]:
    """(store, the one photo indexed in it: a copy of coffee.png, 600 x 400)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "coffee.png"
    shutil.copyfile(gallery / "coffee.png", photo)
    db = tmp_path / "thumbs.db"
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        collection.index([folder])
    return db, photo


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def test_a_thumbnail_is_made_once_then_served_without_the_original(tmp_path: Path, gallery: Path) -> None:
    db, photo = photo_store(tmp_path, gallery)
    kept = Layout(db).thumbnails
    server = start_server(db)
    try:
        with server.client() as http:
            (image,) = http.get("/v1/images").json()["images"]
            url = image["thumbnail_url"]
            first = http.get(url, params={"size": 320})
            assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
            assert jpeg_size(first.content) == (320, 213)
            assert "max-age" in first.headers["cache-control"] and first.headers["etag"]
            assert jpeg_size(http.get(url).content) == (256, 171)  # the default size, kept too
            assert sorted(path.name.rsplit("-", 1)[1] for path in kept.rglob("*.jpg")) == ["256.jpg", "320.jpg"]

            # The original is never decoded again: garbage in its place, then no file at all.
            photo.write_bytes(b"not an image any more")
            again = http.get(url, params={"size": 320})
            assert again.status_code == 200 and again.content == first.content
            assert jpeg_size(http.get(url, params={"size": 100}).content) == (100, 67)  # from the kept 256
            photo.unlink()
            assert http.get(url, params={"size": 320}).content == first.content
            assert http.get(url, params={"size": 320}, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
            assert http.get(url, params={"size": 480}).status_code == 410  # never kept: it needs the file

            # Removing the image: its thumbnails answer 404 and their files are gone.
            assert http.delete(f"/v1/images/{image['id']}").status_code == 204
            assert http.get(url, params={"size": 320}).status_code == 404
            assert list(kept.rglob("*.jpg")) == []
    finally:
        stop_server(server)


def test_removing_an_image_from_the_command_line_or_python_deletes_its_thumbnails(
    tmp_path: Path, gallery: Path
) -> None:
    db, photo = photo_store(tmp_path, gallery)
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        (record,) = collection.page()
        thumbnails = Thumbnails(Layout(db).thumbnails, collection.settings)
        assert jpeg_size(thumbnails.jpeg(record, 96)) == (96, 64)
        assert len(list(Layout(db).thumbnails.rglob("*.jpg"))) == 1
        collection.remove([str(photo)])
    assert list(Layout(db).thumbnails.rglob("*.jpg")) == []
