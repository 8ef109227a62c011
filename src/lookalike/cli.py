"""The `lookalike` command: parse, call the Python API, print. Tables for people, --json for scripts.

Exit codes: 0 success; 1 error; 2 usage error; 3 `index`/`add` finished but skipped files.
`compare` follows cmp(1): 0 same, 1 different, 2 trouble; and 3 for the same object
photographed again (not the same picture, but the same thing).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

from .api import Collection, compare, evaluate_folder
from .decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, load_image, pillow_allowing
from .errors import LimitAdvice, LookalikeError
from .evaluate import EvaluationReport
from .plots import draw_examples, draw_precision_recall
from .features.registry import all_specs
from .records import IndexReport, Match
from .curate import ACTIONS, DEFAULT_RULES, UNDOABLE, DedupPlan, RunReport
from .features.regions import REGION_COUNTS, region_features
from .settings import DEFAULT_DB, DEFAULT_FEATURES, Settings

EXIT_PARTIAL = 3
MAX_MEGAPIXELS_ENV = "LOOKALIKE_MAX_MEGAPIXELS"


def _open(ctx: click.Context, model: Path | None = None, regions: int = 0, *, existing: bool = False) -> Collection:
    """The collection at --db/--store; `existing`: a command that only reads (or changes
    what is stored) refuses to create an empty store where none is."""
    if existing and _no_store(ctx):
        raise click.ClickException(f"no store at {_shown(ctx.obj['db'])}: index some images first "
                                   "(lookalike index FOLDER), or name the store with --db")
    features = DEFAULT_FEATURES + region_features(regions)
    try:
        return Collection(ctx.obj["db"], _settings(ctx, model=model, features=features))
    except LookalikeError as exc:
        raise click.ClickException(_shown(exc)) from None


def _settings(ctx: click.Context, **fields: Any) -> Settings:
    """Settings for the store at --db/--store with the command line's limits (and the way
    to raise them that its refusals name), plus `fields`."""
    return Settings(db=ctx.obj["db"], store=ctx.obj["store"], max_pixels=ctx.obj["max_pixels"],
                    limit_advice=_limit_advice(), **fields)


def _limit_advice() -> LimitAdvice:
    """What a command-line user refused an image for its size can do."""
    return LimitAdvice(
        pixels=f"raise --max-megapixels (or {MAX_MEGAPIXELS_ENV}) if you trust this file",
        bytes=f"files over {DEFAULT_MAX_BYTES // 2**20} MB are refused unread, a guard against decompression bombs",
    )


def _no_store(ctx: click.Context) -> bool:
    """The embedded store's catalog does not exist (a Milvus store is asked when opened)."""
    return not ctx.obj["store"] and not Path(ctx.obj["db"]).exists()


def _shown(value: Any) -> str:
    """`value` as one line of text: control characters escaped, so a file named
    "a\nskipping b.jpg: ..." cannot forge a line of a report."""
    text = str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[_shown(c) for c in header]] + [[_shown(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if number == 0:
            click.echo("  ".join("-" * width for width in widths))


class _Group(click.Group):
    """Turns library errors into one clean line and exit code 1 (compare: 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LookalikeError as exc:
            click.echo(f"Error: {_shown(exc)}", err=True)
            ctx.exit(2 if ctx.invoked_subcommand == "compare" else 1)


@click.group(cls=_Group)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    envvar="LOOKALIKE_DB",
    show_default=True,
    help="The collection's SQLite file (indexes are kept beside it).",
)
@click.option(
    "--store",
    envvar="LOOKALIKE_STORE",
    help="Keep the collection elsewhere: milvus-lite:PATH.db or milvus://HOST:PORT/COLLECTION "
    "(default: the embedded store at --db).",
)
@click.option(
    "--max-megapixels",
    default=DEFAULT_MAX_PIXELS // 1_000_000,
    envvar=MAX_MEGAPIXELS_ENV,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help=f"Refuse images with more pixels than this, a guard against decompression bombs ({MAX_MEGAPIXELS_ENV} "
    "also sets it; `serve` has its own --max-megapixels).",
)
@click.version_option(package_name="lookalike")
@click.pass_context
def main(ctx: click.Context, db: Path, store: str | None, max_megapixels: int) -> None:
    """Search your own image collections by image.

    \b
    lookalike index ~/Pictures --label-from folder
    lookalike search query.jpg -k 5
    lookalike duplicates
    """
    max_pixels = max_megapixels * 1_000_000
    ctx.obj = {"db": db, "store": store, "max_pixels": max_pixels}
    ctx.with_resource(pillow_allowing(max_pixels))  # this process is ours: our limit is the one in force


@main.command()
@click.argument("roots", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--label-from", type=click.Choice(["prefix", "folder"]), help="Label images by file-name prefix (a-01.jpg -> a) or parent folder.")
@click.option("--prune", is_flag=True, help="Forget indexed files below ROOTS that no longer exist.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A model file from `lookalike train`: a new store adds its learned feature.")
@click.option("--shard", callback=lambda ctx, param, value: _parse_shard(value),
              help="I/N: index only the I-th of N shares of the files (N processes, one store).")
@click.option("--keypoints", is_flag=True, help="Also describe new images' keypoints now (about 75 KB each in the "
              "cache), so `search --rerank keypoints` never decodes a stored image.")
@click.option("--regions", type=click.Choice([str(n) for n in REGION_COUNTS]), default="0", show_default=True,
              help="A new store also embeds this many windows of each image (4 corners, centre) so crops of any "
              "part find it; each costs one more CNN pass per image.")
@click.option("--cluster", metavar="ADDRESS", help="Decode and embed on a Dask cluster's workers, each writing to "
              "the Milvus store (--store milvus://...): tcp://SCHEDULER:8786, or local:N for N worker processes "
              "here. Failed tasks are retried; a re-run does only what is missing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def index(ctx: click.Context, roots: tuple[Path, ...], label_from: str | None, prune: bool, model: Path | None,
          shard: tuple[int, int] | None, keypoints: bool, regions: str, cluster: str | None, as_json: bool) -> None:
    """Index every image below ROOTS (folders or files); re-runs skip unchanged files.

    \b
    lookalike index photos/ more-photos/ --label-from folder --prune
    lookalike --store milvus://milvus:19530/shop index /mnt/photos --cluster tcp://scheduler:8786
    """
    if cluster:
        _index_on_cluster(ctx, roots, label_from, prune, model, int(regions), cluster, shard, keypoints, as_json)
        return
    with _open(ctx, model, int(regions)) as collection:
        total = collection.files_below(roots, shard)
        with click.progressbar(length=total, label="indexing", file=sys.stderr, hidden=as_json) as bar:
            report = collection.index(roots, label_from=label_from, prune=prune, shard=shard, on_progress=bar.update,
                                      keypoints=keypoints or None)
    _print_report(ctx, report, as_json)


def _index_on_cluster(ctx: click.Context, roots: tuple[Path, ...], label_from: str | None, prune: bool,
                      model: Path | None, regions: int, address: str, shard: tuple[int, int] | None, keypoints: bool,
                      as_json: bool) -> None:
    if shard or keypoints:
        raise click.UsageError("--cluster splits the files itself and describes no keypoints: "
                               "leave out --shard and --keypoints")
    from .cluster import ClusterJob, index_on_cluster, require_shared_store
    from .indexing import prune_missing

    require_shared_store(ctx.obj["store"])  # before `_open` makes a store the job could not use
    with _open(ctx, model, regions) as collection:  # makes the store and its features before the workers start
        total = collection.files_below(roots)
        settings = collection.settings
    with click.progressbar(length=total, label=f"indexing on {address}", file=sys.stderr, hidden=as_json) as bar:
        report = index_on_cluster(settings, roots, ClusterJob(address), label_from=label_from, on_progress=bar.update)
    if prune:
        with _open(ctx, model, regions) as collection:
            report.removed = prune_missing(collection.store, [Path(root).expanduser() for root in roots])
    _print_report(ctx, report, as_json)


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    number, _, count = value.partition("/")
    if not (number.isdigit() and count.isdigit() and 0 <= int(number) < int(count)):
        raise click.BadParameter("use I/N with 0 <= I < N, e.g. 0/4")
    return int(number), int(count)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", help="Label for the added images.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def add(ctx: click.Context, files: tuple[Path, ...], label: str | None, as_json: bool) -> None:
    """Add single image files to the collection.

    \b
    lookalike add new-product.jpg --label shoes
    """
    with _open(ctx) as collection:
        report = collection.add(files, label=label)
    _print_report(ctx, report, as_json)


@main.command(name="remove")
@click.argument("keys", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def remove_command(ctx: click.Context, keys: tuple[str, ...], as_json: bool) -> None:
    """Remove images by id or by path (nothing is removed if one is unknown). A key of
    digits is an id: write a file named 42 as ./42.

    \b
    lookalike remove 42 photos/old.jpg
    """
    with _open(ctx, existing=True) as collection:
        removed = collection.remove([int(key) if key.isdigit() else key for key in keys])
    if as_json:
        _emit_json({"removed_ids": removed})
    else:
        click.echo(f"removed {len(removed)} image(s)" + (f": {', '.join(map(str, removed))}" if removed else ""))


@main.command(name="search")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, 10_000), help="How many results.")
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--rerank", multiple=True, help="Second-stage re-ranker to run on the candidates (repeatable; "
              "replaces the default, contest), e.g. keypoints: verify crops, pastes and other views of the same "
              "object (it settles contested copies too).")
@click.option("--explain", is_flag=True, help="Say why each result matched: features, and with --rerank keypoints "
              "the verified keypoints and the region of the stored image they cover.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search_command(ctx: click.Context, image: Path, k: int, min_score: float, rerank: tuple[str, ...],
                   explain: bool, as_json: bool) -> None:
    """The stored images most like IMAGE, best first, each labelled exact,
    near-duplicate, same-object or similar.

    \b
    lookalike search query.jpg -k 5 --min-score 0.5
    lookalike search crop.jpg --rerank keypoints --explain
    """
    with _open(ctx, existing=True) as collection:
        matches = collection.search(image, k=k, min_score=min_score, rerank=rerank or None)
    if as_json:
        _emit_json([m.to_dict() for m in matches])
        return
    rows = [(i, f"{m.score:.3f}", m.tier, m.orientation, m.image.id, m.image.label or "", m.image.place)
            for i, m in enumerate(matches, start=1)]
    _table(rows, ("rank", "score", "tier", "query turned", "id", "label", "path"))
    if explain:
        for rank, match in enumerate(matches, start=1):
            click.echo(f"\n{rank}. {_shown(match.image.place)}")
            for line in explanation_lines(match):
                click.echo(f"   {line}")


def explanation_lines(match: Match) -> list[str]:
    """Why a match matched, in words: the strongest features, then keypoint evidence."""
    features = {name: value for name, value in match.evidence.items() if not name.startswith("keypoint_")}
    strongest = sorted(features.items(), key=lambda item: -item[1])[:4]
    lines = ["features: " + ", ".join(f"{name} {value:.3f}" for name, value in strongest)]
    region = (match.explanation or {}).get("region")
    if region:
        lines.append(f"region: {region['reason']}")
    found = (match.explanation or {}).get("keypoints")
    if found:
        lines.append(f"keypoints: {found['reason']}")
        region = (found.get("region") or {}).get("candidate")
        if region and found.get("kind"):
            width, height = found["size"]["candidate"]
            left, top, right, bottom = region
            lines.append(f"region of the stored image: x {left:.0f}-{right:.0f}, y {top:.0f}-{bottom:.0f} "
                         f"of {width}x{height} ({found['coverage']['candidate']:.0%} of its area)")
        lines.append(f"verified keypoints: {found['inliers']} of {found['matches']} matched "
                     f"({found['method']}, {found['keypoints']['query']}/{found['keypoints']['candidate']} found)")
    return lines


@main.command(name="compare")
@click.argument("first", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("second", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A model file from `lookalike train`: add its learned feature (and P(same) if calibrated).")
@click.option("--no-keypoints", is_flag=True, help="Global features only: skip keypoint verification.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def compare_command(ctx: click.Context, first: Path, second: Path, model: Path | None, no_keypoints: bool,
                    as_json: bool) -> None:
    """Score two images; exit 0 if they are the same picture (a copy, edit or crop), 3 if
    they show the same object photographed again, 1 if different.

    \b
    lookalike compare original.jpg edited.jpg
    lookalike compare cake-front.jpg cake-side.jpg
    """
    result = compare(first, second, _settings(ctx, model=model), keypoints=not no_keypoints)
    if as_json:
        _emit_json(result.to_dict())
    else:
        words = {"same": "same picture", "same-object": "same object", "different": "different"}[result.verdict]
        click.echo(f"{words} ({result.tier}): score {result.score:.3f}, threshold {result.threshold:.2f}, "
                   f"first image {result.orientation}")
        if result.probability is not None:
            click.echo(f"  P(same)        {result.probability:.3f}")
        for name, value in result.evidence.items():
            click.echo(f"  {name:<14} {value:.3f}")
        found = (result.explanation or {}).get("keypoints")
        if found:
            click.echo(f"  keypoints      {found['reason']}")
    ctx.exit(EXIT_CODES[result.verdict])


EXIT_CODES = {"same": 0, "different": 1, "same-object": 3}


@main.command()
@click.option("--min-score", type=click.FloatRange(0, 1), help="Link threshold (default: the near-duplicate threshold).")
@click.option("--keep", "keep", metavar="RULES", help=f"Keeper rules, in order, comma-separated (default: {DEFAULT_RULES}; "
              "see docs/dedup.md).")
@click.option("--prefer", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Keep the copy in this folder (repeatable: the first named first; rule 'prefer').")
@click.option("--action", type=click.Choice(ACTIONS), help="What to do with the other copies: move-to (with --to DIR), "
              "trash (the desktop trash), hardlink or symlink (to the keeper), delete (cannot be undone).")
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), help="The folder for --action move-to.")
@click.option("--apply", "apply_", is_flag=True, help="Act. Without it, a dry run: only show what would be done.")
@click.option("--json", "as_json", is_flag=True, help="The groups with their keeper and reason as JSON (with --apply: "
              "what was done).")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per file: group, role, path, size, action, reason.")
@click.pass_context
def duplicates(ctx: click.Context, min_score: float | None, keep: str | None, prefer: tuple[Path, ...],
               action: str | None, target: Path | None, apply_: bool, as_json: bool, as_csv: bool) -> None:
    """Groups of near-duplicate images, largest first, each with the copy to keep and why.
    With --action, a dry run of what it would do to the other copies; --apply acts, and
    `lookalike undo` puts it back.

    \b
    lookalike duplicates --json > groups.json
    lookalike duplicates --keep original,pixels,quality --prefer ~/Pictures/originals --action trash
    lookalike duplicates --action move-to --to ~/duplicates --apply
    """
    if apply_ and action is None:
        raise click.UsageError("--apply needs an --action")
    with _open(ctx, existing=True) as collection:
        plan = collection.plan_dedup(keep, prefer=prefer, action=action, target=target, min_score=min_score)
        report = collection.apply(plan) if apply_ else None
    if report is not None:
        _print_run(ctx, report, as_json)
    elif as_json:
        _emit_json([group.to_dict() for group in plan.groups])
    elif as_csv:
        click.echo(plan.csv_text(), nl=False)
    else:
        _print_plan(plan)


def _print_plan(plan: DedupPlan) -> None:
    if not plan.groups:
        click.echo("no duplicates")
    doing = {"move-to": "move", "trash": "trash", "hardlink": "hardlink", "symlink": "symlink", "delete": "DELETE"}
    for number, planned in enumerate(plan.groups, start=1):
        group = planned.group
        files = sum(len(image.paths) for image in group.images)
        click.echo(f"group {number}: {files} files, weakest link {group.weakest_link:.3f}; keep: {_shown(planned.reason)}")
        roles = {planned.keeper: "keep"} | {p: doing.get(plan.action or "", "-") for p in planned.act}
        roles |= {p: "kept" for p in planned.kept} | {p: "gone" for p in planned.missing}
        for image in group.images:
            for path in image.paths:
                click.echo(f"  {roles.get(path, '-'):<8} {image.id:>6}  {image.width}x{image.height}  "
                           f"{image.bytes:>10,} B  {_shown(path)}")
    if plan.action is not None and plan.groups:
        summary = plan.summary()
        click.echo(f"dry run: {summary['text']} ({summary['bytes']:,} B); nothing was done. Run again with --apply "
                   "to act" + ("; `lookalike undo` puts it back." if summary["undoable"] else
                               ". DELETE CANNOT BE UNDONE: the files are gone for good."))


def _print_run(ctx: click.Context, report: RunReport, as_json: bool) -> None:
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(f"{report.action}: {len(report.done)} file(s) done, {len(report.refused)} refused"
                   + (f" (an interrupted run settled first: {report.settled} file(s))" if report.settled else "")
                   + ("; undo with: lookalike undo" if report.action in UNDOABLE and report.done else ""))
        for path, why in report.refused:
            click.echo(f"refused {_shown(path)}: {_shown(why)}", err=True)
    if report.refused:
        ctx.exit(EXIT_PARTIAL)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def undo(ctx: click.Context, as_json: bool) -> None:
    """Undo the last `duplicates --apply`: moved and trashed files go back, links become the
    files they were (deletions cannot be undone); the collection follows.

    \b
    lookalike undo
    """
    with _open(ctx, existing=True) as collection:
        report = collection.undo()
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(f"undid run {report.run_id} ({report.action}): {len(report.restored)} file(s) restored, "
                   f"{len(report.failed)} not")
        for path, why in report.failed:
            click.echo(f"not restored {_shown(path)}: {_shown(why)}", err=True)
    if report.failed:
        ctx.exit(EXIT_PARTIAL)


@main.command()
@click.argument("kind", type=click.Choice(["distinct", "keep"]))
@click.argument("keys", nargs=-1, required=True)
@click.option("--note", help="Why, for the record.")
@click.pass_context
def mark(ctx: click.Context, kind: str, keys: tuple[str, ...], note: str | None) -> None:
    """Remember a verdict on images (ids or paths): `distinct`, not duplicates (never grouped
    together again); `keep`, keep them all (no action proposed on them again).

    \b
    lookalike mark distinct 12 15
    lookalike mark keep ~/Pictures/a.jpg ~/Pictures/a-print.jpg
    """
    parsed = [int(key) if key.isdigit() else key for key in keys]
    with _open(ctx, existing=True) as collection:
        mark_id = (collection.mark_distinct if kind == "distinct" else collection.mark_keep)(parsed, note)
    click.echo(f"mark {mark_id}: {kind} {' '.join(_shown(key) for key in keys)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Export every mark as JSON (for --import here or elsewhere).")
@click.option("--import", "source", type=click.File("r"), help="Add the marks of a JSON export (- for stdin).")
@click.option("--remove", "remove_id", type=int, metavar="ID", help="Forget one mark.")
@click.pass_context
def marks(ctx: click.Context, as_json: bool, source: Any, remove_id: int | None) -> None:
    """The "not duplicates" and "keep" marks; export, import or remove them.

    \b
    lookalike marks --json > marks.json
    lookalike --db other.db marks --import marks.json
    """
    with _open(ctx, existing=True) as collection:
        if source is not None:
            click.echo(f"imported {collection.import_marks(json.load(source))} mark(s)")
            return
        if remove_id is not None:
            if not collection.unmark(remove_id):
                raise click.ClickException(f"no mark {remove_id}")
            click.echo(f"removed mark {remove_id}")
            return
        if as_json:
            _emit_json(collection.export_marks())
            return
        _table([(m.id, m.kind, " ".join(m.members), m.note or "", m.created_at) for m in collection.marks()],
               ("id", "kind", "images (SHA-256)", "note", "created"))


@main.command()
@click.option("-k", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="JSON array, one entry per image (for a 'similar products' page).")
@click.pass_context
def neighbors(ctx: click.Context, k: int, as_json: bool) -> None:
    """Every image's k nearest neighbours with scores.

    \b
    lookalike neighbors -k 20 --json > similar-products.json
    """
    with _open(ctx, existing=True) as collection:
        items = collection.neighbors(k)
        if as_json:
            _stream_json_array(item.to_dict() for item in items)
            return
        for item in items:
            near = ", ".join(f"{n.image.id} ({n.score:.2f})" for n in item.neighbours)
            click.echo(f"{item.image.id:>6} {_shown(item.image.path)}: {near}")


def _stream_json_array(items: Iterable[Any]) -> None:
    """Writes one item at a time: memory stays flat for a million images."""
    click.echo("[", nl=False)
    for number, item in enumerate(items):
        click.echo(("," if number else "") + "\n  " + json.dumps(item, ensure_ascii=False), nl=False)
    click.echo("\n]")


@main.command(name="migrate")
@click.option("--from", "source", required=True, help="The store to copy: a .db file or a milvus URL.")
@click.option("--to", "target", required=True, help="Where to copy it: a .db file or a milvus URL.")
def migrate_command(source: str, target: str) -> None:
    """Copy a collection between stores (embedded <-> Milvus) without re-embedding.

    \b
    lookalike migrate --from shop.db --to milvus://milvus.internal:19530/shop
    """
    from .migrate import migrate
    from .store import open_store

    with open_store(_store_settings(source)) as origin:
        with open_store(_store_settings(target, features=origin.settings.features)) as destination:
            with click.progressbar(length=origin.counts()["images"], label="copying", file=sys.stderr) as bar:
                copied = migrate(origin, destination, on_progress=bar.update)
            click.echo(f"copied {copied} images to {destination.location} "
                       f"({destination.counts()['images']} there now)")


def _store_settings(location: str, features: tuple[str, ...] | None = None) -> Settings:
    settings = Settings(store=location) if location.startswith("milvus") else Settings(db=Path(location))
    return replace(settings, features=features) if features else settings


_LABEL_FROM = click.option("--label-from", type=click.Choice(["prefix", "folder"]), required=True,
                           help="Where the labels that define 'the same' come from.")
_SCRATCH = click.option("--scratch-db", type=click.Path(dir_okay=False, path_type=Path),
                        help="Keep the labelled folder's index here; re-runs skip unchanged files.")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_LABEL_FROM
@_SCRATCH
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("lookalike-evaluation"),
              show_default=True, help="Folder for evaluation.json, precision-recall.png and examples.png.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def evaluate(ctx: click.Context, folder: Path, label_from: str, scratch_db: Path | None, out: Path, as_json: bool) -> None:
    """Measure search and the same/different verdict on a labelled FOLDER: every image
    is a query against the rest; images with its label are the right answers.

    \b
    lookalike evaluate shop-photos/ --label-from folder --out eval/
    """
    if _no_store(ctx):  # a new store's features and thresholds; no store is created
        report = evaluate_folder(folder, label_from, _settings(ctx), scratch_db)
    else:
        with _open(ctx) as collection:
            report = collection.evaluate(folder, label_from, scratch_db)
    _write_evaluation(report, out)
    if as_json:
        _emit_json(report.to_dict())
        return
    data = report.to_dict()
    click.echo(f"{data['images']} images, {data['labels']} labels, {data['queries']} queries with a match")
    _table([("mAP", f"{data['map']:.4f}"), ("mAP@10", f"{data['map_at_10']:.4f}")]
           + [(f"precision@{k}", f"{v:.4f}") for k, v in data["precision_at"].items()]
           + [(f"recall@{k}", f"{v:.4f}") for k, v in data["recall_at"].items()], ("metric", "value"))
    best = data["best_f1"]
    rows = [("best F1", f"{best['threshold']:.3f}", f"{best['precision']:.4f}", f"{best['recall']:.4f}")]
    rows += [(name, f"{v['threshold']:.3f}", f"{v['precision']:.4f}", f"{v['recall']:.4f}")
             for name, v in data["thresholds"].items()]
    click.echo()
    _table(rows, ("verdict at", "threshold", "precision", "recall"))
    click.echo(f"\nwrote {out}/evaluation.json, precision-recall.png, examples.png")


def _write_evaluation(report: EvaluationReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report.to_dict(), indent=1))
    draw_precision_recall(report, out / "precision-recall.png")
    draw_examples(report, lambda record: load_image(record.path, min_side=128).image, out / "examples.png")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_LABEL_FROM
@_SCRATCH
@click.option("--target-precision", default=0.99, show_default=True, type=click.FloatRange(0, 1, min_open=True))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def calibrate(ctx: click.Context, folder: Path, label_from: str, scratch_db: Path | None,
              target_precision: float, as_json: bool) -> None:
    """Choose the near-duplicate and same/different thresholds that reach a target
    precision on a labelled FOLDER, and store them with the collection.

    \b
    lookalike --db shop.db calibrate labelled-pairs/ --label-from folder --target-precision 0.99
    """
    with _open(ctx) as collection:
        report = collection.evaluate(folder, label_from, scratch_db)
        chosen = collection.calibrate(report, target_precision)
    threshold = chosen["min_same_score"]
    precision, recall = report.at_threshold(threshold)
    if as_json:
        _emit_json({"thresholds": chosen, "precision": precision, "recall": recall})
    else:
        click.echo(f"threshold {threshold:.4f}: precision {precision:.4f}, recall {recall:.4f} "
                   f"on {report.images} labelled images; stored in {ctx.obj['db']}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """What is in the store."""
    with _open(ctx, existing=True) as collection:
        summary = collection.info()
    if as_json:
        _emit_json(summary.to_dict())
        return
    click.echo(f"store: {summary.db}")
    click.echo(f"images: {summary.images}  paths: {summary.paths}  labels: {summary.labels}")
    click.echo(f"size: catalog {summary.db_bytes:,} B, indexes {summary.index_bytes:,} B")
    click.echo("thresholds: " + ", ".join(f"{name} {value:.3f}" for name, value in summary.thresholds.items()))
    _table([(f["name"], f["version"], f["kind"], f["dim"], f["vectors"], f["index"]) for f in summary.features],
           ("feature", "version", "kind", "dim", "vectors", "index"))


@main.command()
@click.option("--json", "as_json", is_flag=True)
def features(as_json: bool) -> None:
    """The features lookalike can compute."""
    specs = all_specs()
    if as_json:
        _emit_json([{"name": s.name, "version": s.version, "kind": s.kind, "dim": s.dim,
                     "family": s.family, "description": s.description} for s in specs])
        return
    _table([(s.name, s.version, s.family, s.kind, s.dim, s.description) for s in specs],
           ("name", "version", "family", "kind", "dim", "description"))


def _print_report(ctx: click.Context, report: IndexReport, as_json: bool) -> None:
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(f"indexed {report.indexed}, unchanged {report.unchanged}, identical copies linked "
                   f"{report.linked}, removed {report.removed}, skipped {len(report.skipped)} "
                   f"in {report.seconds:.1f}s")
        for path, reason in report.skipped:
            click.echo(f"skipping {_shown(path)}: {_shown(reason)}", err=True)
    if report.skipped:
        ctx.exit(EXIT_PARTIAL)


from .server.cli import serve  # noqa: E402  (the service's command lives with the service)
from .train.cli import train  # noqa: E402  (training commands live in their own room)

main.add_command(serve)
main.add_command(train)

if __name__ == "__main__":
    main()
