"""`lookalike train ...`: learn from your own images, and measure what it changed.

    lookalike train siamese DIR [--label-from prefix|folder] [--loss infonce|triplet|contrastive] --out FILE
    lookalike train autoencoder DIR --out FILE
    lookalike --db shop.db train texture

siamese and autoencoder need the optional extra (pip install 'lookalike[train]'); this
module imports no torch, so the rest of the command line never pays for it, and without
the extra they fail with that one line. texture needs no extra.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import LookalikeError
from ..rerank.texture import DEFAULT_MIN_SCORE, DEFAULT_WEIGHT
from ..settings import DEFAULT_DB
from .report import comparison_rows, text_table

LOSS_CHOICES = ("infonce", "triplet", "contrastive")


def _log(enabled: bool) -> Callable[[str], None]:
    started = time.perf_counter()

    def log(message: str) -> None:
        if enabled:
            click.echo(f"[{time.perf_counter() - started:6.1f}s] {message}", err=True)

    return log


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


@click.group()
def train() -> None:
    """Learn from your own images: a siamese head on the pretrained embedding, an
    autoencoder, or the texture re-ranker. Each reports before/after on held-out images.

    \b
    lookalike train siamese photos/ --out photos.lookalike
    lookalike --db new.db index photos/ --model photos.lookalike
    """


_FOLDER = click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
_LABEL_FROM = click.option("--label-from", type=click.Choice(["prefix", "folder"]),
                           help="Images sharing a label are the same (default: each image is only its own "
                           "edited copies).")
_SHARE = click.FloatRange(0, 1, min_open=True, max_open=True)
_HOLDOUT = click.option("--holdout", default=0.2, show_default=True, type=_SHARE,
                        help="Share of the images kept out of training to measure on.")
_SPLIT_BY = click.option("--split-by", type=click.Choice(["label", "image"]),
                         help="Hold out whole labels (new items never seen in training) or a share of each "
                         "label's images. Default: label with --label-from, else image.")
_MAX_IMAGES = click.option("--max-images", default=2000, show_default=True, type=click.IntRange(4),
                           help="Read at most this many images, spread evenly over the folder.")
_SEED = click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same split, same model.")
_EPOCHS_HELP = "Passes over the training images."
_QUIET = click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@train.command()
@_FOLDER
@_LABEL_FROM
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("siamese.lookalike"),
              show_default=True, help="The model file to write.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1), help=_EPOCHS_HELP)
@click.option("--loss", type=click.Choice(LOSS_CHOICES), default="infonce", show_default=True,
              help="infonce: pick the positive among the batch; triplet: positive closer than negative by a "
              "margin; contrastive: pull positives, push negatives beyond a margin.")
@click.option("--views", default=4, show_default=True, type=click.IntRange(1),
              help="Augmented views per training image (any rotation, crop, flip, colour, JPEG, blur).")
@click.option("--stay", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Weight of the pull toward the pretrained embedding, which keeps a head trained on few "
              "images from forgetting what the backbone knew; lower it for large training sets.")
@_HOLDOUT
@_SPLIT_BY
@_MAX_IMAGES
@_SEED
@_QUIET
@_JSON
def siamese(folder: Path, label_from: str | None, out: Path, epochs: int, loss: str, views: int, stay: float,
            holdout: float, split_by: str | None, max_images: int, seed: int, quiet: bool, as_json: bool) -> None:
    """Train a siamese head on the pretrained embedding from the images in FOLDER.

    Without labels, an image's augmented views are its positives (learns invariance to
    edits, rotation by any angle included); with --label-from, images sharing a label are
    positives and the nearest images of other labels are hard negatives.

    \b
    lookalike train siamese photos/ --out photos.lookalike
    lookalike train siamese products/ --label-from folder --loss triplet --epochs 40
    """
    from .siamese import SiameseOptions, train_siamese

    options = SiameseOptions(loss=loss, epochs=epochs, views=views, stay=stay, seed=seed)
    _train_and_report(folder, label_from, holdout, split_by, max_images, seed, quiet, as_json,
                      lambda training, held, log: train_siamese(training, held, out, options, log))


@train.command()
@_FOLDER
@_LABEL_FROM
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("autoencoder.lookalike"),
              show_default=True, help="The model file to write.")
@click.option("--epochs", default=15, show_default=True, type=click.IntRange(1), help=_EPOCHS_HELP)
@click.option("--side", default=64, show_default=True, type=click.IntRange(16, 256),
              help="Images are squashed to SIDE x SIDE pixels (a multiple of 8).")
@click.option("--dim", default=64, show_default=True, type=click.IntRange(2, 4096),
              help="Width of the bottleneck code (the feature has twice as many floats).")
@click.option("--views", default=2, show_default=True, type=click.IntRange(0),
              help="Augmented views per training image, as extra training data.")
@_HOLDOUT
@_SPLIT_BY
@_MAX_IMAGES
@_SEED
@_QUIET
@_JSON
def autoencoder(folder: Path, label_from: str | None, out: Path, epochs: int, side: int, dim: int, views: int,
                holdout: float, split_by: str | None, max_images: int, seed: int, quiet: bool, as_json: bool) -> None:
    """Train a convolutional autoencoder on the images in FOLDER; its bottleneck code
    becomes an embedding feature. Labels (--label-from) are only used to measure it.

    \b
    lookalike train autoencoder photos/ --out photos-ae.lookalike --side 64
    """
    if side % 8:
        raise click.BadParameter("must be a multiple of 8", param_hint="--side")
    from .autoencoder import AutoencoderOptions, train_autoencoder

    options = AutoencoderOptions(side=side, dim=dim, epochs=epochs, views=views, seed=seed)
    _train_and_report(folder, label_from, holdout, split_by, max_images, seed, quiet, as_json,
                      lambda training, held, log: train_autoencoder(training, held, out, options, log))


def _train_and_report(folder: Path, label_from: str | None, holdout: float, split_by: str | None, max_images: int,
                      seed: int, quiet: bool, as_json: bool, run: Callable[..., Any]) -> None:
    from .data import holdout_split, load_folder

    log = _log(not quiet)
    images = load_folder(folder, label_from, max_images, log)
    for path, reason in images.skipped:
        click.echo(f"skipping {path}: {reason}", err=True)
    by = split_by or ("label" if label_from else "image")
    training, held = holdout_split(images.labels, holdout, seed, by)
    log(f"{len(training)} images to train on, {len(held)} held out (split by {by}, seed {seed})")
    result = run(images.subset(training), images.subset(held), log)
    if as_json:
        _emit_json({**result.to_dict(), "train_images": len(training), "heldout_images": len(held), "split_by": by})
        return
    header, rows = comparison_rows({"pretrained (effnet_lite0)": result.before, result.kind: result.after})
    click.echo(f"held out: {len(held)} images"
               + ("" if label_from else f" and {result.config['trained']['heldout_images'] - len(held)} edited copies")
               + f" (split by {by}, seed {seed})")
    click.echo(text_table(header, rows))
    config = result.config
    click.echo(f"\nwrote {result.path}: feature {result.feature}, {config['dim']}-d, near {config['near']:.3f}, "
               f"far {config['far']:.3f}, invariance {config['invariance']}")
    click.echo(f"use it: lookalike --db NEW.db index {folder} --model {result.path}")
    for note in result.notes:
        click.echo(f"note: {note}")


@train.command("copy-descriptor")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--idx", "idx_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An idx3 file of greyscale images (Fashion-MNIST's format) to train on too; repeatable.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("copy-descriptor.npz"),
              show_default=True, help="The weights file to write (float16, with the run's card data).")
@click.option("--steps", default=2400, show_default=True, type=click.IntRange(1), help="Training steps.")
@click.option("--batch", default=64, show_default=True, type=click.IntRange(4), help="Pictures per step (two views each).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the run's checkpoint lives (default: the cache directory); an interrupted run resumes it.")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1),
              help="CPU threads for the network (1 trains faster when other work shares the cores).")
@click.option("--sibling-share", default=0.0, show_default=True, type=click.FloatRange(0, 0.5),
              help="Share of each batch drawn as pairs of windows from the two halves of one photo "
                   "(hard negatives: alike, never copies).")
@_SEED
@_QUIET
def copy_descriptor(folders: tuple[Path, ...], idx_files: tuple[Path, ...], out: Path, steps: int, batch: int,
                    checkpoint: Path | None, threads: int, sibling_share: float, seed: int, quiet: bool) -> None:
    """Train a copy descriptor (EfficientNet-Lite0's last blocks, GeM, projection) on the
    pictures under FOLDERS (folders or single files): edited copies must find their picture among look-alikes.
    Resumable: run the same command again after a stop.

    \b
    lookalike train copy-descriptor ~/Pictures --out my-copy.npz --steps 2400
    """
    from ..settings import Settings
    from .copy.run import RunConfig, run_training

    config = RunConfig(steps=steps, batch=batch, seed=seed, threads=threads, sibling_share=sibling_share)
    checkpoint = checkpoint or Settings().cache_root() / "train" / "copy-descriptor.ckpt"
    card = run_training(folders, idx_files, out, config, checkpoint, _log(not quiet))
    click.echo(json.dumps(card["heldout"], indent=2))
    click.echo(f"wrote {out}")


@train.command()
@click.option("--holdout", default=0.25, show_default=True, type=_SHARE,
              help="Share of each label's images held out to measure the stage on.")
@click.option("--min-score", default=DEFAULT_MIN_SCORE, show_default=True, type=click.FloatRange(0, 1),
              help="Candidates scoring at least this (exact matches aside) are re-scored; the default is "
              "where unrelated images typically score.")
@click.option("--weight", default=DEFAULT_WEIGHT, show_default=True, type=click.FloatRange(0, 1),
              help="How strongly P(same texture) moves a candidate within [min-score, 1].")
@_SEED
@click.option("--dry-run", is_flag=True, help="Measure only; keep the stored classifier as it is.")
@_JSON
@click.pass_context
def texture(ctx: click.Context, holdout: float, min_score: float, weight: float, seed: int,
            dry_run: bool, as_json: bool) -> None:
    """Fit the texture re-ranker on this collection's labels (its stored LBP vectors) and
    store it with the collection; then `lookalike search --rerank texture` uses it.

    \b
    lookalike --db teas.db index teas/ --label-from folder
    lookalike --db teas.db train texture
    lookalike --db teas.db search heap.jpg --rerank texture
    """
    from ..api import Collection
    from .texture import TextureOptions, train_texture

    db = (ctx.obj or {}).get("db", Path(DEFAULT_DB))
    if not Path(db).exists():
        raise LookalikeError(f"{db}: no such store; index a labelled folder first (lookalike --db {db} index DIR "
                             "--label-from folder)")
    options = TextureOptions(holdout=holdout, min_score=min_score, weight=weight, seed=seed, save=not dry_run)
    with Collection(db) as collection:
        result = train_texture(collection.store, options)
    if as_json:
        _emit_json({**result.to_dict(), "stored": not dry_run})
        return
    header, rows = comparison_rows({"first stage": result.before, "+ texture": result.after})
    click.echo(f"held out: {result.heldout} of {result.images} labelled images; they query the rest "
               f"(classifier accuracy {result.accuracy:.3f})")
    click.echo(text_table(header, rows))
    where = "not stored (--dry-run)" if dry_run else f"stored in {db}"
    click.echo(f"\nclassifier over {len(result.classifier.classes)} labels fitted on all {result.images} images, "
               f"{where}; use it: lookalike --db {db} search IMAGE --rerank texture")
