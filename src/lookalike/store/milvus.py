"""A Milvus backend: vectors and per-image metadata in Milvus collections, so several
`lookalike index` processes (or a cluster job, `lookalike.cluster`) can fill one collection
and several `serve` instances can read it.

- `milvus://HOST:PORT/COLLECTION` talks to a Milvus server or cluster (`?index=HNSW|IVF_SQ8|FLAT`
  picks the vector index; FLAT is exact). `milvus-lite:PATH.db` runs Milvus Lite in-process:
  since 3.x a pure-Python stand-in for Milvus (FAISS and Parquet underneath), handy to try the
  code path without a server, not the Milvus engine.
- One collection per feature, NAME_f_FEATURE (id, vector), because Milvus 2.3 holds one vector
  field per collection; beside them NAME_images (one row per image: metadata), NAME_paths (one
  row per file path), NAME_frames (a video frame's video and time), NAME_meta (features,
  calibration, layout) and NAME_retired (the ids of removed images). Binary hashes are BINARY_VECTOR rows compared by Hamming distance on a
  server (64 bits = 8 bytes); Milvus Lite has no binary vectors, so there they are +1/-1
  floats compared by inner product (for b bits, Hamming = (b - inner product) / 2, exactly).
- Image ids come from the content, so writers on different machines agree on ids without
  talking to each other, and re-inserting is an upsert. An id is never reused, and here
  that means no id ever names two lives of a picture, not just two pictures: a removed
  image's id is retired (NAME_retired). A picture's first life has `sha256_id(sha256)`, the
  first 63 bits of its SHA-256 (another picture gets it only by a 2^-63 collision); once
  removed, it comes back as `generation_id(sha256, n)` for the first n whose id is neither
  retired nor taken by other content. Every writer walks the same generations over the
  same retired ids, so sharded indexing stays idempotent: two shards adding the same
  picture agree on its id, and adding it again is an upsert. A removal retires the id
  before it deletes the row, so a crash between leaves a stored image whose id is already
  retired, which lookups still find (a stored row wins over its tombstone). Limit: a
  removal at the very moment another writer re-adds the same picture may leave it under
  its old id.
- Writes are per-row atomic, not transactional, and ordered so that a crash leaves nothing
  a reader can trip on: an image's vectors (and a frame's video and time), then its image row,
  then its paths. The image row
  is what makes an image exist: vectors without one (a crash before it, or after a removal
  deleted it) are never returned, and the next run writes them again by content hash; an
  image without a path is linked again by the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import FeatureMismatch, StoreError
from ..features.base import FeatureSpec
from ..records import ImageRecord
from ..settings import Settings
from .base import NewImage, PathLink, Store
from .milvus_layout import LAYOUT, MAX_RESULTS, GuardedClient, Layout, VectorCodec, parse_url

_SCALARS = ["id", "sha256", "bytes", "width", "height", "format", "label", "added_at", "name", "pixel_digest",
            "hash_detail"]
_NO_DETAIL = -1.0  # hash_detail of an image stored without it (Milvus scalars cannot be null on 2.3)


def sha256_id(sha256: str) -> int:
    """A 63-bit image id from the content hash: the same on every machine."""
    return int(sha256[:16], 16) >> 1


def generation_id(sha256: str, generation: int) -> int:
    """The id of a picture's `generation`-th life in a collection (0: never removed)."""
    if generation == 0:
        return sha256_id(sha256)
    return sha256_id(hashlib.sha256(f"{sha256}:{generation}".encode()).hexdigest())


class MilvusStore(Store):
    def __init__(self, settings: Settings, url: str) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise StoreError("the Milvus backend needs: pip install 'lookalike[milvus]'") from None
        # pymilvus logs a harmless warning on every query iterator against Milvus Lite
        # ("failed to get mvccTs"); keep its errors, drop that noise.
        logging.getLogger("pymilvus").setLevel(logging.ERROR)
        self._url = url
        target = parse_url(url)
        try:
            self.client = GuardedClient(MilvusClient(target.uri), target.uri)
        except Exception as exc:  # pymilvus raises many kinds; all mean "cannot reach it"
            raise StoreError(f"cannot open Milvus store {url}: {exc}") from None
        self.layout = Layout(self.client, target)
        self.index_type = target.index
        self._local = target.local_path
        self.layout.check_not_older(url)
        self.layout.open_side_collections()
        self._codecs: dict[str, VectorCodec] = {}
        self._open_features(settings)

    # --- naming and features ----------------------------------------------------------------

    @property
    def location(self) -> str:
        return self._url

    @property
    def _images(self) -> str:
        return self.layout.images

    def _codec(self, feature: str) -> VectorCodec:
        if feature not in self._codecs:
            self._codecs[feature] = self.layout.codec(self.spec(feature))
        return self._codecs[feature]

    def _record_features(self, specs: Sequence[FeatureSpec]) -> None:
        """Features are fixed once a collection holds images: an image without a vector for a
        feature could never be found by it, so a store with images refuses new ones."""
        if not specs:
            return
        if self.counts()["images"]:
            names = ", ".join(s.name for s in specs)
            raise FeatureMismatch(f"{self._url} has images without {names}; use a new collection")
        self.layout.create_feature_collections(specs)
        everything = [*self.stored_features(), *({"name": s.name, "version": s.version, "kind": s.kind, "dim": s.dim,
                                                  "source": s.source} for s in specs)]
        self.set_meta({"features": json.dumps(everything), "layout": LAYOUT})

    # --- metadata ---------------------------------------------------------------------------

    def _close(self) -> None:
        self.client.close()

    def stored_features(self) -> list[dict[str, object]]:
        features = json.loads(self.meta().get("features", "[]"))
        count = self.counts()["images"] if features else 0
        return [{**f, "generation": 0, "vectors": count, "index": f"milvus {self.layout.index_name(f)}"}
                for f in features]

    def meta(self) -> dict[str, str]:
        rows = self.client.query(self.layout.meta, filter='key != ""', output_fields=["key", "value"])
        return {row["key"]: row["value"] for row in rows}

    def set_meta(self, values: dict[str, str]) -> None:
        self.client.upsert(self.layout.meta, [self.layout.side_row({"key": k, "value": v}) for k, v in values.items()])

    def version(self) -> tuple[int, ...]:
        token = self.meta().get("version", "")
        return (hash(token), self.counts()["images"])

    def path_state(self, path: str) -> tuple[int, int, int] | None:
        rows = self.client.query(self.layout.paths, filter=f"path == {_literal(path)}",
                                 output_fields=["image_id", "mtime_ns", "size"])
        return (rows[0]["image_id"], rows[0]["mtime_ns"], rows[0]["size"]) if rows else None

    def path_states(self, paths: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        if not paths:
            return {}
        rows = self.client.get(self.layout.paths, ids=list(paths), output_fields=["path", "image_id", "mtime_ns", "size"])
        return {row["path"]: (row["image_id"], row["mtime_ns"], row["size"]) for row in rows}

    def image_id_for_sha256(self, sha256: str) -> int | None:
        image_id, stored = self._ids_for([sha256])[sha256]
        return image_id if stored else None

    def stored_sha256s(self, sha256s: Sequence[str]) -> set[str]:
        return {sha256 for sha256, (_, stored) in self._ids_for(sorted(set(sha256s))).items() if stored}

    def _ids_for(self, sha256s: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """Each content hash's (id, stored): the id it is stored under, else the id it is to
        get, its first generation whose id is neither retired nor another picture's. One
        round of lookups per generation (one for pictures never removed), the tombstones
        asked only about pictures not found stored."""
        found: dict[str, tuple[int, bool]] = {}
        generations = dict.fromkeys(sha256s, 0)
        while generations:
            wanted = {sha256: generation_id(sha256, generation) for sha256, generation in generations.items()}
            ids = sorted(set(wanted.values()))
            stored = {row["id"]: row["sha256"] for row in self.client.get(self._images, ids=ids,
                                                                          output_fields=["id", "sha256"])}
            unknown = sorted({i for sha256, i in wanted.items() if stored.get(i) != sha256})
            retired: set[int] = set()
            if unknown:
                retired = {row["id"] for row in self.client.get(self.layout.retired, ids=unknown,
                                                                output_fields=["id"])}
            for sha256, image_id in wanted.items():
                if stored.get(image_id) == sha256:
                    found[sha256] = (image_id, True)
                elif image_id in retired or image_id in stored:
                    continue
                else:
                    found[sha256] = (image_id, False)
                del generations[sha256]
            for sha256 in generations:
                generations[sha256] += 1
        return found

    def _retire(self, ids: Sequence[int]) -> None:
        """Record removed ids (before the rows go) so that no later image gets them."""
        rows = self.client.get(self._images, ids=[int(i) for i in ids], output_fields=["id", "sha256"])
        if rows:
            self.client.upsert(self.layout.retired, [self.layout.side_row({"id": row["id"], "sha256": row["sha256"]})
                                                     for row in rows])

    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self.client.get(self._images, ids=ids, output_fields=_SCALARS)
        frames = self.frame_times(ids)
        owners = sorted(set(ids) | {video for video, _ in frames.values()})  # a frame shows its video's files
        paths: dict[int, list[str]] = {}
        for row in self._query_all(self.layout.paths, f"image_id in {owners}", ["path", "image_id"]):
            paths.setdefault(row["image_id"], []).append(row["path"])
        return {row["id"]: _record(row, paths.get(frames.get(row["id"], (row["id"],))[0], []),
                                   frames.get(row["id"])) for row in rows}

    def image_ids(self) -> list[int]:
        return sorted(row["id"] for row in self._query_all(self._images, "id >= 0", ["id"]))

    def counts(self) -> dict[str, int]:
        labels = {row["label"] for row in self._query_all(self._images, "id >= 0", ["label"]) if row["label"]}
        return {"images": self._count(self._images), "paths": self._count(self.layout.paths), "labels": len(labels)}

    def images_with_several_paths(self) -> list[int]:
        counts = Counter(row["image_id"] for row in self._query_all(self.layout.paths, 'path != ""', ["image_id"]))
        return sorted(image_id for image_id, count in counts.items() if count > 1)

    def paths_under(self, root: str) -> list[str]:
        prefix = root.rstrip("/") + "/"
        rows = self._query_all(self.layout.paths, f"path like {_literal(prefix.replace('%', '') + '%')}", ["path"])
        return [row["path"] for row in rows if row["path"].startswith(prefix)]

    def disk_usage(self) -> tuple[int, int]:
        if not self._local:
            return 0, 0
        folder = Path(self._local)
        files = [folder] if folder.is_file() else list(folder.rglob("*")) if folder.exists() else []
        return 0, sum(f.stat().st_size for f in files if f.is_file())

    # --- writes -----------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.set_meta({"version": uuid.uuid4().hex})

    def refresh(self) -> None:
        """Nothing to do: every read goes to the server."""

    def add_batch(
        self, new: Sequence[NewImage], vectors: dict[str, np.ndarray], links: Sequence[PathLink]
    ) -> tuple[list[int], list[int]]:
        """Vectors first, then the image rows (which make the images exist), then the paths."""
        added_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        ids = {sha256: image_id for sha256, (image_id, _) in self._ids_for(
            [image.sha256 for image in new] + [image.video_sha256 for image in new if image.video_sha256]
            + [link.sha256 for link in links]).items()}
        new_ids = [ids[image.sha256] for image in new]
        if new:
            for spec in self.specs:
                self.client.upsert(self.layout.feature(spec.name),
                                   self._codec(spec.name).rows(new_ids, vectors[spec.name][: len(new)]))
            frames = [self.layout.side_row({"id": image_id, "video_id": ids[image.video_sha256 or image.sha256],
                                            "seconds": float(image.seconds)})
                      for image_id, image in zip(new_ids, new) if image.seconds is not None]
            if frames:
                self.client.upsert(self.layout.frames, frames)
            self.client.upsert(self._images, [self.layout.side_row(_image_row(image_id, image, added_at))
                                              for image_id, image in zip(new_ids, new)])
        paths = [(image.path, image.mtime_ns, image.size, image.sha256) for image in new if image.is_poster]
        paths += [(link.path, link.mtime_ns, link.size, link.sha256) for link in links]
        dropped = self._point_paths(paths, ids)
        return new_ids, dropped

    def _point_paths(self, paths: list[tuple[str, int, int, str]], ids: dict[str, int]) -> list[int]:
        """Record paths (to the image ids of their content hashes); drop images that lose
        their last path to other content."""
        if not paths:
            return []
        before = self._path_owners([path for path, *_ in paths])
        self.client.upsert(self.layout.paths, [
            self.layout.side_row({"path": path, "image_id": ids[sha256], "mtime_ns": mtime_ns, "size": size})
            for path, mtime_ns, size, sha256 in paths
        ])
        now = {path: ids[sha256] for path, _, _, sha256 in paths}
        replaced = {owner for path, owner in before.items() if owner != now[path]}
        return self._drop_orphans(replaced)

    def _path_owners(self, paths: Sequence[str]) -> dict[str, int]:
        rows = self.client.get(self.layout.paths, ids=list(paths), output_fields=["path", "image_id"])
        return {row["path"]: row["image_id"] for row in rows}

    def remove_images(self, ids: Sequence[int]) -> list[int]:
        """Retire, then paths, then the image rows (the image is gone), then its vectors."""
        present = [int(i) for i in self.images(self.with_frames(ids))]
        if present:
            self._retire(present)
            self.client.delete(self.layout.paths, filter=f"image_id in {present}")
            self._delete_images(present)
        return present

    def remove_paths(self, paths: Sequence[str]) -> list[int]:
        owners = set(self._path_owners(paths).values()) if paths else set()
        if paths:
            self.client.delete(self.layout.paths, ids=list(paths))
        return self._drop_orphans(owners)

    def _drop_orphans(self, ids: set[int]) -> list[int]:
        orphans = [i for i in ids if not self.client.query(self.layout.paths, filter=f"image_id == {i}", limit=1,
                                                            output_fields=["path"])]
        if orphans:
            orphans = self.with_frames(orphans)  # a video's frames leave with its poster
            self._retire(orphans)
            self._delete_images(orphans)
        return orphans

    def _delete_images(self, ids: list[int]) -> None:
        self.client.delete(self._images, ids=ids)
        self.client.delete(self.layout.frames, ids=ids)
        for spec in self.specs:
            self.client.delete(self.layout.feature(spec.name), ids=ids)

    # --- video frames -----------------------------------------------------------------------

    supports_video = True

    def with_frames(self, ids: Sequence[int]) -> list[int]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        rows = self._query_all(self.layout.frames, f"video_id in {ids}", ["id", "video_id"])
        return [row["id"] for row in rows if row["id"] != row["video_id"]] + ids

    def frame_times(self, ids: Sequence[int]) -> dict[int, tuple[int, float]]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self.client.get(self.layout.frames, ids=ids, output_fields=["id", "video_id", "seconds"])
        return {row["id"]: (row["video_id"], float(row["seconds"])) for row in rows}

    def frame_counts(self, video_ids: Sequence[int]) -> dict[int, int]:
        video_ids = [int(i) for i in video_ids]
        if not video_ids:
            return {}
        return dict(Counter(row["video_id"] for row in
                            self._query_all(self.layout.frames, f"video_id in {video_ids}", ["video_id"])))

    # --- vectors ----------------------------------------------------------------------------

    def vectors(self, feature: str, ids: Sequence[int]) -> np.ndarray:
        codec = self._codec(feature)
        ids = [int(i) for i in ids]
        if not ids:
            return codec.empty()
        rows = self.client.get(self.layout.feature(feature), ids=ids, output_fields=["id", "vector"])
        found = {row["id"]: row["vector"] for row in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise StoreError(f"no {feature} vector for image ids {missing[:10]}")
        return codec.decode([found[i] for i in ids])

    def iter_vectors(self, feature: str, batch: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored image's vector; vectors left without an image row (see the module
        docstring) are skipped."""
        codec = self._codec(feature)
        iterator = self.client.query_iterator(self.layout.feature(feature), batch_size=min(batch, MAX_RESULTS),
                                              filter="id >= 0", output_fields=["id", "vector"])
        try:
            while rows := iterator.next():
                ids = np.array([row["id"] for row in rows], dtype=np.int64)
                keep = self._existing(ids)
                vectors = codec.decode([row["vector"] for row in rows])
                yield ids[keep], vectors[keep]
        finally:
            iterator.close()

    def search_vectors(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        codec = self._codec(feature)
        k = min(k, self._count(self.layout.feature(feature)), MAX_RESULTS)
        if k == 0:
            return np.empty((len(queries), 0)), np.empty((len(queries), 0), dtype=np.int64)
        hits = self.client.search(self.layout.feature(feature), data=codec.queries(queries), anns_field="vector",
                                  limit=k, search_params=codec.search_params())
        sims = np.zeros((len(queries), k))
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, found in enumerate(hits):
            found = self._only_existing(found)
            for column, hit in enumerate(found[:k]):
                ids[row, column] = hit["id"]
                sims[row, column] = codec.similarity(hit["distance"])
        return sims, ids

    def range_search(
        self, feature: str, queries: np.ndarray, min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hits at or above `min_similarity`, at most 16,384 per query (Milvus's cap)."""
        codec = self._codec(feature)
        limit = min(MAX_RESULTS, max(1, self._count(self.layout.feature(feature))))
        hits = self.client.search(self.layout.feature(feature), data=codec.queries(queries), anns_field="vector",
                                  limit=limit, search_params=codec.range_params(min_similarity))
        lims, sims, ids = [0], [], []
        for found in hits:
            kept = [(hit["id"], codec.similarity(hit["distance"])) for hit in self._only_existing(found)]
            kept = [(i, s) for i, s in kept if s >= min_similarity - 1e-9]
            ids += [i for i, _ in kept]
            sims += [s for _, s in kept]
            lims.append(len(ids))
        return np.array(lims, dtype=np.int64), np.array(sims), np.array(ids, dtype=np.int64)

    def index_size(self, feature: str) -> int:
        return self._count(self.layout.feature(feature))

    def _existing(self, ids: np.ndarray) -> np.ndarray:
        """A mask of the ids that have an image row."""
        if not len(ids):
            return np.zeros(0, dtype=bool)
        rows = self.client.get(self._images, ids=[int(i) for i in ids], output_fields=["id"])
        return np.isin(ids, [row["id"] for row in rows])

    def _only_existing(self, hits: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = np.array([hit["id"] for hit in hits], dtype=np.int64)
        return [hit for hit, keep in zip(hits, self._existing(ids)) if keep]

    # --- small helpers ----------------------------------------------------------------------

    def _count(self, collection: str) -> int:
        if not self.client.has_collection(collection):
            return 0
        rows = self.client.query(collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _query_all(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        if not self.client.has_collection(collection):
            return []
        iterator = self.client.query_iterator(collection, batch_size=MAX_RESULTS, filter=expression,
                                              output_fields=fields)
        rows: list[dict[str, Any]] = []
        try:
            while batch := iterator.next():
                rows += batch
        finally:
            iterator.close()
        return rows


def _image_row(image_id: int, image: NewImage, added_at: str) -> dict[str, Any]:
    return {
        "id": image_id, "sha256": image.sha256, "bytes": image.size, "width": image.width, "height": image.height,
        "format": image.format, "label": image.label or "", "added_at": added_at, "name": image.name or "",
        "pixel_digest": image.pixel_digest or "",
        "hash_detail": _NO_DETAIL if image.hash_detail is None else float(image.hash_detail),
    }


def _record(row: dict[str, Any], paths: list[str], frame: tuple[int, float] | None) -> ImageRecord:
    detail = row.get("hash_detail", _NO_DETAIL)
    video_id, seconds = frame or (None, None)
    return ImageRecord(row["id"], row["sha256"], row["bytes"], row["width"], row["height"], row["format"],
                       row["label"] or None, row["added_at"], row["name"] or None, tuple(sorted(paths)),
                       row.get("pixel_digest") or None, None if detail == _NO_DETAIL else float(detail),
                       video_id, seconds)


def _literal(text: str) -> str:
    return json.dumps(text)
