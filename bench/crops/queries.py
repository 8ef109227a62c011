"""The crops benchmark's gallery and queries, written under a scratch folder from the
prepared data (`bench.data`): crops anywhere, pastes, other views, every named edit."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from lookalike.edits import EDITS, crop

from ..data.packages import OPENCV_DATA

STEREO = [(f"left{n:02d}.jpg", f"right{n:02d}.jpg") for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14)]
EDIT_PHOTOS = 6
PASTE_HOSTS = ("opencv-home", "mate-Storm", "plasma-Path")  # else the last photo of each family


@dataclass(frozen=True)
class Query:
    group: str
    path: Path
    answer: str  # the gallery file's name


def area_crop(image: Image.Image, area: float, seed: str) -> Image.Image:
    rng = random.Random(seed)
    return crop(area ** 0.5, (rng.random(), rng.random()))(image)


def paste_hosts(sources: list[Path]) -> list[Path]:
    """The photos kept out of the gallery to paste cuts into: PASTE_HOSTS where the data
    holds them, else the last photo of each source family (the wallpaper packages' sets
    differ between Debian releases)."""
    named = [s for s in sources if s.stem in PASTE_HOSTS]
    if named:
        return named
    last_of_family = {s.stem.split("-", 1)[0]: s for s in sources}
    hosts = sorted(last_of_family.values())[:3]
    if not hosts:
        raise SystemExit("bench.crops: no photos under the data folder's sources/ to paste into")
    return hosts


def build(data: Path, work: Path, quick: bool, distractors: int) -> tuple[Path, list[Query]]:
    gallery, queries = work / "gallery", work / "queries"
    gallery.mkdir(parents=True, exist_ok=True)
    queries.mkdir(parents=True, exist_ok=True)
    sources = sorted((data / "sources").glob("*.jpg"))
    hosts = paste_hosts(sources)
    sources = [s for s in sources if s not in hosts]
    if quick:
        sources = sources[::4]
    found: list[Query] = []
    for source in sources:
        shutil.copyfile(source, gallery / source.name)
        image = Image.open(source).convert("RGB")
        for group, area in (("crop50-any", 0.5), ("crop30-any", 0.3)):
            path = queries / f"{source.stem}-{group}.jpg"
            area_crop(image, area, f"{source.name}/{group}").save(path, quality=90)
            found.append(Query(group, path, source.name))
        host = Image.open(hosts[len(found) % len(hosts)]).convert("RGB") if hosts else None
        if host is not None:
            cut = area_crop(image, 0.3, f"{source.name}/paste")
            side = 0.5 * min(host.size) / max(cut.size)
            cut = cut.resize((max(1, round(cut.width * side)), max(1, round(cut.height * side))))
            rng = random.Random(f"{source.name}/paste-place")
            host.paste(cut, (round(rng.random() * (host.width - cut.width)), round(rng.random() * (host.height - cut.height))))
            path = queries / f"{source.stem}-paste30.jpg"
            host.save(path, quality=90)
            found.append(Query("paste30", path, source.name))
    for source in sources[:: max(1, len(sources) // EDIT_PHOTOS)][:EDIT_PHOTOS]:
        image = Image.open(source).convert("RGB")
        for name, edit in EDITS.items():
            path = queries / f"{source.stem}-edit-{name}.jpg"
            edit(image).convert("RGB").save(path, quality=90)
            found.append(Query("edits", path, source.name))
    pairs = sorted((data / "pairs").glob("*-a.*"))
    for first in pairs:
        second = next((data / "pairs").glob(first.name.replace("-a.", "-b.").rsplit(".", 1)[0] + ".*"), None)
        if second is not None:
            shutil.copyfile(first, gallery / first.name)
            found.append(Query("viewpoint", second, first.name))
    for left, right in ([] if quick else STEREO):
        if (OPENCV_DATA / left).is_file() and (OPENCV_DATA / right).is_file():
            shutil.copyfile(OPENCV_DATA / left, gallery / f"stereo-{left}")
            found.append(Query("stereo-chessboard", OPENCV_DATA / right, f"stereo-{left}"))
    for path in sorted((data / "distractors").rglob("*.png"))[:distractors]:
        shutil.copyfile(path, gallery / f"distractor-{path.name}")
    return gallery, found
