"""What `lookalike train` buys on real data: before/after tables for docs/training.md.

    python -m bench.train [--quick] [--data bench-data] [--docs docs]

1. Fashion-MNIST, labels = the ten classes: train on images of the train split, measure
   on images of the test split. Pretrained EfficientNet-Lite0 embedding alone, then the
   siamese head trained with labels (each loss), then the autoencoder.
2. Near-duplicates of real photos, no labels: wallpapers and OpenCV samples; a share of
   the photos trains, the rest are measured with edited copies of them (lookalike.edits
   plus turns by random angles): "the same" = a copy of the same photo.
3. Look-alike textures: `lookalike train texture`'s held-out comparison, first stage (all
   default features) against first stage + texture re-ranker, in a store per data set.

Every number comes from lookalike's own evaluation code (`lookalike.evaluate`,
`lookalike.ranking_metrics`), the same split and seed every run. Not part of the unit tests;
about 15 minutes on two CPU cores (--quick: a smoke run on small subsets). Rewrites
the block between the benchmark markers of DOCS/training.md and keeps raw numbers and the
trained model files under DATA/results/training/.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable

from lookalike import Collection, Settings
from lookalike.train.autoencoder import AutoencoderOptions, train_autoencoder
from lookalike.train.data import ImageSet, from_images, holdout_split
from lookalike.train.heldout import build_heldout
from lookalike.train.losses import LOSSES
from lookalike.train.siamese import SiameseOptions, train_siamese, view_bank
from lookalike.train.texture import TextureOptions, train_texture

from ..arguments import benchmark_parser
from .. import data
from ..results import write_json
from . import datasets
from .report import page, write_docs
from .section import Section, model_label

SEED = 0
PRETRAINED = "pretrained effnet_lite0"


@dataclass(frozen=True)
class Plan:
    fashion_train: int
    fashion_test: int
    fashion_siamese: SiameseOptions
    fashion_autoencoder: AutoencoderOptions
    photo_holdout: float
    photo_copies: int
    photo_siamese: SiameseOptions
    photo_autoencoder: AutoencoderOptions


FULL = Plan(
    fashion_train=2000, fashion_test=2000,
    fashion_siamese=SiameseOptions(views=2, epochs=15),
    fashion_autoencoder=AutoencoderOptions(side=32, epochs=15, views=1),
    photo_holdout=0.35, photo_copies=8,
    photo_siamese=SiameseOptions(views=16, epochs=30),
    photo_autoencoder=AutoencoderOptions(side=64, epochs=30, views=8),
)
QUICK = Plan(
    fashion_train=200, fashion_test=200,
    fashion_siamese=SiameseOptions(views=1, epochs=3),
    fashion_autoencoder=AutoencoderOptions(side=32, epochs=2, views=0),
    photo_holdout=0.35, photo_copies=3,
    photo_siamese=SiameseOptions(views=3, epochs=3),
    photo_autoencoder=AutoencoderOptions(side=32, epochs=2, views=1),
)


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    return run(), time.perf_counter() - started


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def train_all(section: Section, train: ImageSet, heldout: ImageSet, siamese: SiameseOptions,
              autoencoder: AutoencoderOptions, copies: int, models: Path) -> None:
    """Pretrained, siamese with every loss, autoencoder: one column each."""
    held, seconds = timed(lambda: build_heldout(heldout, copies, SEED, log))
    bank, bank_seconds = timed(lambda: view_bank(train, siamese, log))
    section.seconds["backbone embeddings of the training views (shared by the siamese runs)"] = bank_seconds
    for loss in LOSSES:
        out, options = models / f"siamese-{loss}.lookalike", replace(siamese, loss=loss)
        result, seconds = timed(partial(train_siamese, train, held, out, options, log, bank=bank))
        section.columns.setdefault(PRETRAINED, result.before)
        section.columns[model_label(result)] = result.after
        section.seconds[model_label(result)] = seconds
        section.models.append(result)
    result, seconds = timed(partial(train_autoencoder, train, held, models / "autoencoder.lookalike", autoencoder, log))
    section.columns[model_label(result)] = result.after
    section.seconds["autoencoder"] = seconds
    section.models.append(result)


def fashion_section(plan: Plan, results: Path) -> Section:
    train = datasets.fashion("train", plan.fashion_train)
    test = datasets.fashion("test", plan.fashion_test)
    section = Section(
        "Fashion-MNIST (labelled: same class = the same)",
        f"Train on {len(train)} images of the train split ({len(train) // 10} per class), measure on {len(test)} "
        f"images of the test split: every test image queries the other test images. Siamese: "
        f"`--label-from`, {plan.fashion_siamese.views} augmented views per image, {plan.fashion_siamese.epochs} "
        f"epochs; autoencoder: {plan.fashion_autoencoder.side} x {plan.fashion_autoencoder.side} pixels, "
        f"{plan.fashion_autoencoder.epochs} epochs.",
    )
    train_all(section, train, test, plan.fashion_siamese, plan.fashion_autoencoder, 0, results / "fashion")
    return section


def photos_section(plan: Plan, results: Path) -> Section:
    names, images = datasets.photos()
    everything = from_images(images)
    train_rows, test_rows = holdout_split([None] * len(images), plan.photo_holdout, SEED, by="image")
    train, test = everything.subset(train_rows), everything.subset(test_rows)
    section = Section(
        "Near-duplicates of real photos (no labels: the same = an edited copy)",
        f"{len(images)} photos (Plasma and MATE wallpapers, OpenCV samples); {len(train)} train without labels "
        f"(positives: augmented views, {plan.photo_siamese.views} per photo, any rotation included), {len(test)} are "
        f"held out with {plan.photo_copies} edited copies each (named edits of `lookalike.edits` and turns by a "
        f"random angle); every held-out image queries the others. Held out: "
        + ", ".join(sorted(names[row] for row in test_rows)) + ".",
    )
    train_all(section, train, test, plan.photo_siamese, plan.photo_autoencoder, plan.photo_copies,
              results / "photos")
    return section


def texture_section(data_dir: Path, quick: bool) -> Section:
    section = Section(
        "Look-alike textures: the texture re-ranker",
        "Each set is indexed with the default features (hashes, colour, LBP, EfficientNet-Lite0) and "
        "`lookalike train texture` measures it: a quarter of each label's images is held out and queries the "
        "rest, ranked by the first stage alone and with `--rerank texture` (the classifier fitted on the rest "
        "only). Texture patches: nine textures from real photos, every third patch turned by 30-90 degrees; "
        "grey: the same patches, grey with equalised histograms; tea heaps: generated heaps of six teas "
        "that differ only in leaf size, thickness and density.",
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="lookalike-train-bench-") as scratch:
        for name, folder in datasets.texture_folders(data_dir, quick).items():
            with Collection(settings=Settings(db=Path(scratch) / f"{folder.name}.db")) as collection:
                collection.index([folder], label_from="folder")
                result = train_texture(collection.store, TextureOptions(seed=SEED, save=False))
            section.columns[f"{name}: first stage"] = result.before
            section.columns[f"{name}: + texture"] = result.after
            rows.append([name, str(result.images), str(len(result.classifier.classes)), str(result.heldout),
                         f"{result.accuracy:.3f}"])
    section.classifier_rows = rows
    return section


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.train", __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    data.ensure_packages()  # the Debian packages the images come from (installs them as root)
    results = args.data / "results" / "training"
    started = time.perf_counter()
    sections = [fashion_section(plan, results), photos_section(plan, results), texture_section(args.data, args.quick)]
    minutes = (time.perf_counter() - started) / 60
    write_json({s.title: s.to_dict() for s in sections}, results / "training.json")
    path = write_docs(args.docs, page(sections, minutes, args.quick))
    print(f"wrote {path}")
