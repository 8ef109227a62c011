"""Choosing the copy to keep (`lookalike.curate`): each keeper rule on real photos
(scikit-image samples) and their edited copies made by `lookalike.edits`, written as the
files people have: an original and its captioned, framed, cropped, turned, grey,
recompressed and shrunk copies."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from lookalike import Collection, Settings, edits
from lookalike.curate.facts import LOSSLESS_QUALITY, file_facts, jpeg_quality
from lookalike.curate.keeper import Candidate, Context, choose_keeper, parse_rules, resolve_folders
from lookalike.curate.provenance import Picture, edited_copies
from lookalike.decode import load_image
from lookalike.errors import UnknownKeepRule
from lookalike.records import ImageRecord
from tests.conftest import HASH_FEATURES

PHOTOS = {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee, "chelsea": skimage.data.chelsea}
EDITED = {  # every edit whose copy must never be kept over its original
    "caption": edits.caption(), "border": edits.border(), "crop80": edits.crop(0.8), "letterbox": edits.letterbox(),
    "screenshot": edits.screenshot(), "rot5": edits.rotate(5), "grayscale": edits.grayscale,
}


def save(image: Image.Image, path: Path, quality: int | None = None, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        image.save(path)
    else:
        image.save(path, "JPEG", quality=quality or 95, **options)
    return path


def candidates(paths: list[Path]) -> list[Candidate]:
    """Each file as the planner sees it: its facts and, from aligning the decoded copies,
    whether it is an edited copy of another."""
    records, pictures = {}, []
    for number, path in enumerate(paths):
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        decoded = load_image(path)
        records[path] = ImageRecord(number, sha, path.stat().st_size, decoded.width, decoded.height, decoded.format,
                                    None, "2026-01-01", paths=(str(path),))
        pictures.append(Picture(sha, path.name, decoded.image, (decoded.width, decoded.height)))
    found = edited_copies(pictures)
    return [Candidate(str(p), records[p], file_facts(p), tuple(found.get(records[p].sha256, ()))) for p in paths]


def keeper(paths: list[Path], rules: str | None = None, prefer: tuple[Path, ...] = ()) -> tuple[str, str]:
    choice = choose_keeper(candidates(paths), parse_rules(rules), Context(resolve_folders(prefer)))
    return Path(choice.keeper.path).name, choice.reason


@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_an_edited_copy_is_never_kept_over_its_original(tmp_path: Path, photo: str) -> None:
    """The original is a modest JPEG; each edited copy is a better one (quality 100, and
    the framed ones have more pixels), and still the original is kept, by every policy."""
    picture = Image.fromarray(PHOTOS[photo]())
    original = save(picture, tmp_path / f"{photo}.jpg", quality=80)
    for name, edit in EDITED.items():
        copy = save(edit(picture), tmp_path / f"{photo}-{name}.jpg", quality=100)
        for rules in (None, "pixels,quality", "quality"):
            kept, reason = keeper([copy, original], rules)
            assert kept == original.name, (name, rules, reason)
            assert reason.startswith("original:") and copy.name in reason, reason


def test_a_caption_named_in_the_reason(tmp_path: Path) -> None:
    picture = Image.fromarray(skimage.data.astronaut())
    paths = [save(edits.caption()(picture), tmp_path / "poster.jpg", quality=100), save(picture, tmp_path / "a.png")]
    kept, reason = keeper(paths)
    assert kept == "a.png" and "poster.jpg is a captioned copy" in reason


def test_pixels_quality_metadata_older_and_prefer(tmp_path: Path) -> None:
    picture = Image.fromarray(skimage.data.coffee())
    # more pixels: the same picture shrunk to a quarter loses
    small = save(edits.scale(0.25)(picture), tmp_path / "small.jpg")
    large = save(picture, tmp_path / "large-copy.jpg")
    assert keeper([small, large], "pixels") == ("large-copy.jpg", "pixels: more pixels (600x400)")
    # less compression: quality 95 over 15, and lossless over any JPEG
    rough = save(picture, tmp_path / "rough.jpg", quality=15)
    assert keeper([rough, large], "quality")[0] == "large-copy.jpg"
    lossless = save(picture, tmp_path / "z-lossless.png")
    kept, reason = keeper([save(picture, tmp_path / "q100.jpg", quality=100), lossless], "quality")
    assert kept == "z-lossless.png" and "lossless PNG" in reason
    # richer metadata: the file with its camera and date
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Nikon", "D750", "2019:05:04 12:00:00"
    plain = save(picture, tmp_path / "a-plain.jpg")
    camera = save(picture, tmp_path / "from-camera.jpg", exif=exif.tobytes())
    kept, reason = keeper([plain, camera], "metadata")
    assert kept == "from-camera.jpg" and "Nikon D750" in reason and "2019:05:04" in reason
    # older file: the same bytes, one written a year earlier
    shutil.copy2(plain, tmp_path / "zz-older.jpg")
    os.utime(tmp_path / "zz-older.jpg", (1_600_000_000, 1_600_000_000))
    assert keeper([plain, tmp_path / "zz-older.jpg"], "older")[0] == "zz-older.jpg"
    # preferred folder, named first; the default policy ends on the shortest path
    favourite = tmp_path / "originals" / "long-name-coffee.jpg"
    favourite.parent.mkdir()
    shutil.copy2(plain, favourite)
    assert keeper([plain, favourite], "prefer", prefer=(tmp_path / "originals",))[0] == favourite.name
    kept, reason = keeper([plain, favourite])
    assert kept == "a-plain.jpg" and reason == "identical files: the shortest path"
    with pytest.raises(UnknownKeepRule, match="biggest"):
        parse_rules("pixels,biggest")


def test_jpeg_quality_from_the_quantisation_tables(tmp_path: Path) -> None:
    picture = Image.fromarray(skimage.data.chelsea())
    for quality in (10, 15, 50, 75, 90, 95, 100):
        assert file_facts(save(picture, tmp_path / f"q{quality}.jpg", quality=quality)).quality == quality
    assert file_facts(save(picture, tmp_path / "p.png")).quality == LOSSLESS_QUALITY
    assert jpeg_quality([1] * 64) == 100


def test_the_gallery_keeps_its_originals(tmp_path: Path, gallery: Path) -> None:
    """End to end over a real store: the demo gallery's groups keep the original photos."""
    with Collection(settings=Settings(db=tmp_path / "k.db", features=HASH_FEATURES)) as photos:
        photos.index([gallery])
        plan = photos.plan_dedup(action="trash")
    kept = {Path(group.keeper).name: [Path(p).name for p in group.act] for group in plan.groups}
    chelsea = {"chelsea.png", "chelsea-copy.png"}  # byte copies: either one, the other acted on
    assert {name: act for name, act in kept.items() if name not in chelsea} == {
        "astronaut.png": ["astronaut-caption.jpg"], "coffee.png": ["coffee-grayscale.jpg"],
        "rocket.png": ["rocket-jpeg15.jpg"]}
    assert any(name in chelsea and len(act) == 1 and act[0] in chelsea - {name} for name, act in kept.items())
    assert plan.summary()["files"] == 4 and plan.summary()["undoable"]
    assert all(group.reason for group in plan.groups)
