"""A Milvus backend: vectors and per-image metadata in a Milvus collection, so several
`lookalike index` processes on several machines can fill one collection and several
`serve` instances can read it.

- `milvus-lite:PATH` runs Milvus Lite (a real Milvus engine in-process, pip package
  `milvus-lite`) on a local folder; `milvus://HOST:PORT/COLLECTION` talks to a server or
  cluster (`?index=HNSW|IVF_SQ8|FLAT` picks the vector index; FLAT is exact).
- Four collections: NAME_images (one row per image: metadata and one vector field per
  feature), NAME_paths (one row per file path), NAME_meta (features, calibration) and
  NAME_retired (the ids of removed images).
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
  retired, which lookups still find (a stored row wins over its tombstone). Limits: a
  removal at the very moment another writer re-adds the same picture may leave it under
  its old id; images removed before tombstones existed left none, so such a picture,
  added again, gets its old id back once.
- Binary hashes are stored as vectors of +1/-1 compared by inner product: for b bits,
  Hamming distance = (b - inner product) / 2, exactly, on every Milvus edition.
- Writes are per-row atomic, not transactional: an image row (with all its vectors) is
  written before its paths, so a crash leaves at worst an image without a path, which
  the next run links again by content hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..errors import FeatureMismatch, StoreError
from ..features.base import FeatureSpec
from ..records import ImageRecord
from ..settings import Settings
from .base import NewImage, PathLink, Store

DEFAULT_COLLECTION = "lookalike"
MAX_RESULTS = 16_384  # Milvus's cap on results per query
_DUMMY = "v"  # Milvus wants a vector field in every collection
_SCALARS = ["id", "sha256", "bytes", "width", "height", "format", "label", "added_at", "name"]
_INDEX_PARAMS = {
    "FLAT": {},
    "HNSW": {"M": 16, "efConstruction": 200},
    "IVF_SQ8": {"nlist": 1024},
}
_SEARCH_PARAMS = {"FLAT": {}, "HNSW": {"ef": 128}, "IVF_SQ8": {"nprobe": 32}}


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
        target, self.name, self.index_type, self._local = _parse(url)
        try:
            self.client = MilvusClient(target)
        except Exception as exc:  # pymilvus raises many kinds; all mean "cannot reach it"
            raise StoreError(f"cannot open Milvus store {url}: {exc}") from None
        self._load_existing_collections()
        self._ensure_side_collections()
        self._open_features(settings)

    # --- naming and schema ------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self._url

    @property
    def _images(self) -> str:
        return f"{self.name}_images"

    @property
    def _retired(self) -> str:
        return f"{self.name}_retired"

    @property
    def _paths(self) -> str:
        return f"{self.name}_paths"

    @property
    def _meta(self) -> str:
        return f"{self.name}_meta"

    def _load_existing_collections(self) -> None:
        """Collections that an earlier process made may be "released" (Milvus Lite 3 releases
        them when a process closes; a Milvus server after `release`): load them before reads."""
        for collection in (self._meta, self._paths, self._images):
            if self.client.has_collection(collection):
                self.client.load_collection(collection)

    def _ensure_side_collections(self) -> None:
        from pymilvus import DataType

        for collection, key, columns in (
            (self._paths, ("path", 4096), [("image_id", DataType.INT64), ("mtime_ns", DataType.INT64),
                                           ("size", DataType.INT64)]),
            (self._meta, ("key", 256), [("value", DataType.VARCHAR)]),
            (self._retired, ("id", None), [("sha256", DataType.VARCHAR)]),  # made on open: older stores too
        ):
            if self.client.has_collection(collection):
                self.client.load_collection(collection)  # an earlier process may have released it
                continue
            schema = self.client.create_schema(auto_id=False)
            if key[1] is None:
                schema.add_field(key[0], DataType.INT64, is_primary=True)
            else:
                schema.add_field(key[0], DataType.VARCHAR, is_primary=True, max_length=key[1])
            for column, kind in columns:
                extra = {"max_length": 65_535} if kind == DataType.VARCHAR else {}
                schema.add_field(column, kind, **extra)
            schema.add_field(_DUMMY, DataType.FLOAT_VECTOR, dim=2)
            index = self.client.prepare_index_params()
            index.add_index(_DUMMY, index_type="FLAT", metric_type="L2")
            self.client.create_collection(collection, schema=schema, index_params=index, consistency_level="Strong")

    def _record_features(self, specs: Sequence[FeatureSpec]) -> None:
        """Features are fixed when the images collection is made (Milvus cannot add vector
        fields later): a store with images refuses new ones."""
        if not specs:
            return
        stored = self.stored_features()
        if self.client.has_collection(self._images):
            if self.counts()["images"]:
                names = ", ".join(s.name for s in specs)
                raise FeatureMismatch(f"{self._url} has images without {names}; use a new collection")
            self.client.drop_collection(self._images)
        everything = [*stored, *({"name": s.name, "version": s.version, "kind": s.kind, "dim": s.dim,
                                  "source": s.source} for s in specs)]
        self._create_images_collection(everything)
        self.set_meta({"features": json.dumps(everything)})

    def _create_images_collection(self, features: list[dict[str, Any]]) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("sha256", DataType.VARCHAR, max_length=64)
        for column in ("bytes", "width", "height"):
            schema.add_field(column, DataType.INT64)
        schema.add_field("format", DataType.VARCHAR, max_length=16)
        schema.add_field("label", DataType.VARCHAR, max_length=1024)
        schema.add_field("added_at", DataType.VARCHAR, max_length=40)
        schema.add_field("name", DataType.VARCHAR, max_length=1024)
        index = self.client.prepare_index_params()
        for feature in features:
            schema.add_field(_field(str(feature["name"])), DataType.FLOAT_VECTOR, dim=int(feature["dim"]))
            index.add_index(_field(str(feature["name"])), index_type=self.index_type, metric_type="IP",
                            params=_INDEX_PARAMS[self.index_type])
        self.client.create_collection(self._images, schema=schema, index_params=index, consistency_level="Strong")

    # --- metadata ---------------------------------------------------------------------------

    def _close(self) -> None:
        self.client.close()

    def stored_features(self) -> list[dict[str, object]]:
        features = json.loads(self.meta().get("features", "[]"))
        count = self.counts()["images"] if features else 0
        return [{**f, "generation": 0, "vectors": count, "index": f"milvus {self.index_type}"} for f in features]

    def meta(self) -> dict[str, str]:
        rows = self.client.query(self._meta, filter='key != ""', output_fields=["key", "value"])
        return {row["key"]: row["value"] for row in rows}

    def set_meta(self, values: dict[str, str]) -> None:
        self.client.upsert(self._meta, [{"key": k, "value": v, _DUMMY: [0.0, 0.0]} for k, v in values.items()])

    def version(self) -> tuple[int, ...]:
        token = self.meta().get("version", "")
        return (hash(token), self.counts()["images"])

    def path_state(self, path: str) -> tuple[int, int, int] | None:
        rows = self.client.query(self._paths, filter=f"path == {_literal(path)}",
                                 output_fields=["image_id", "mtime_ns", "size"])
        return (rows[0]["image_id"], rows[0]["mtime_ns"], rows[0]["size"]) if rows else None

    def image_id_for_sha256(self, sha256: str) -> int | None:
        image_id, stored = self._ids_for([sha256])[sha256]
        return image_id if stored else None

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
                retired = {row["id"] for row in self.client.get(self._retired, ids=unknown, output_fields=["id"])}
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
            self.client.upsert(self._retired, [{"id": row["id"], "sha256": row["sha256"], _DUMMY: [0.0, 0.0]}
                                               for row in rows])

    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self.client.get(self._images, ids=ids, output_fields=_SCALARS)
        paths: dict[int, list[str]] = {}
        for row in self._query_all(self._paths, f"image_id in {ids}", ["path", "image_id"]):
            paths.setdefault(row["image_id"], []).append(row["path"])
        return {
            row["id"]: ImageRecord(row["id"], row["sha256"], row["bytes"], row["width"], row["height"], row["format"],
                                   row["label"] or None, row["added_at"], row["name"] or None,
                                   tuple(sorted(paths.get(row["id"], []))))
            for row in rows
        }

    def image_ids(self) -> list[int]:
        return sorted(row["id"] for row in self._query_all(self._images, "id >= 0", ["id"]))

    def counts(self) -> dict[str, int]:
        if not self.client.has_collection(self._images):
            return {"images": 0, "paths": 0, "labels": 0}
        labels = {row["label"] for row in self._query_all(self._images, "id >= 0", ["label"]) if row["label"]}
        return {"images": self._count(self._images), "paths": self._count(self._paths), "labels": len(labels)}

    def images_with_several_paths(self) -> list[int]:
        counts = Counter(row["image_id"] for row in self._query_all(self._paths, 'path != ""', ["image_id"]))
        return sorted(image_id for image_id, count in counts.items() if count > 1)

    def paths_under(self, root: str) -> list[str]:
        prefix = root.rstrip("/") + "/"
        rows = self._query_all(self._paths, f"path like {_literal(prefix.replace('%', '') + '%')}", ["path"])
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
        added_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        ids = {sha256: image_id for sha256, (image_id, _) in
               self._ids_for([image.sha256 for image in new] + [link.sha256 for link in links]).items()}
        rows = []
        for number, image in enumerate(new):
            row: dict[str, Any] = {
                "id": ids[image.sha256], "sha256": image.sha256, "bytes": image.size, "width": image.width,
                "height": image.height, "format": image.format, "label": image.label or "", "added_at": added_at,
                "name": image.name or "",
            }
            for spec in self.specs:
                row[_field(spec.name)] = _to_milvus(spec, vectors[spec.name][number]).tolist()
            rows.append(row)
        if rows:
            self.client.upsert(self._images, rows)
        paths = [(image.path, image.mtime_ns, image.size, image.sha256) for image in new]
        paths += [(link.path, link.mtime_ns, link.size, link.sha256) for link in links]
        dropped = self._point_paths(paths, ids)
        return [row["id"] for row in rows], dropped

    def _point_paths(self, paths: list[tuple[str, int, int, str]], ids: dict[str, int]) -> list[int]:
        """Record paths (to the image ids of their content hashes); drop images that lose
        their last path to other content."""
        before = {path: self.path_state(path) for path, *_ in paths}
        self.client.upsert(self._paths, [
            {"path": path, "image_id": ids[sha256], "mtime_ns": mtime_ns, "size": size, _DUMMY: [0.0, 0.0]}
            for path, mtime_ns, size, sha256 in paths
        ])
        replaced = {state[0] for path, state in before.items() if state and state[0] != self.path_state(path)[0]}
        return self._drop_orphans(replaced)

    def remove_images(self, ids: Sequence[int]) -> list[int]:
        present = [int(i) for i in self.images(ids)]
        if present:
            self._retire(present)
            self.client.delete(self._paths, filter=f"image_id in {present}")
            self.client.delete(self._images, ids=present)
        return present

    def remove_paths(self, paths: Sequence[str]) -> list[int]:
        owners = {state[0] for state in (self.path_state(p) for p in paths) if state}
        if paths:
            self.client.delete(self._paths, ids=list(paths))
        return self._drop_orphans(owners)

    def _drop_orphans(self, ids: set[int]) -> list[int]:
        orphans = [i for i in ids if not self.client.query(self._paths, filter=f"image_id == {i}", limit=1,
                                                            output_fields=["path"])]
        if orphans:
            self._retire(orphans)
            self.client.delete(self._images, ids=orphans)
        return orphans

    # --- vectors ----------------------------------------------------------------------------

    def vectors(self, feature: str, ids: Sequence[int]) -> np.ndarray:
        spec = self.spec(feature)
        ids = [int(i) for i in ids]
        if not ids:
            return np.empty((0, spec.width), dtype=spec.dtype)
        found = {row["id"]: row[_field(feature)] for row in
                 self.client.get(self._images, ids=ids, output_fields=["id", _field(feature)])}
        missing = [i for i in ids if i not in found]
        if missing:
            raise StoreError(f"no {feature} vector for image ids {missing[:10]}")
        return _from_milvus(spec, np.asarray([found[i] for i in ids], dtype=np.float32))

    def iter_vectors(self, feature: str, batch: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        spec = self.spec(feature)
        iterator = self.client.query_iterator(self._images, batch_size=min(batch, MAX_RESULTS), filter="id >= 0",
                                              output_fields=["id", _field(feature)])
        try:
            while rows := iterator.next():
                ids = np.array([row["id"] for row in rows], dtype=np.int64)
                yield ids, _from_milvus(spec, np.asarray([row[_field(feature)] for row in rows], dtype=np.float32))
        finally:
            iterator.close()

    def search_vectors(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        spec = self.spec(feature)
        k = min(k, self._count(self._images), MAX_RESULTS)
        if k == 0:
            return np.empty((len(queries), 0)), np.empty((len(queries), 0), dtype=np.int64)
        hits = self.client.search(self._images, data=_to_milvus(spec, queries).tolist(), anns_field=_field(feature),
                                  limit=k, search_params={"metric_type": "IP", "params": _SEARCH_PARAMS[self.index_type]})
        sims = np.zeros((len(queries), k))
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, found in enumerate(hits):
            for column, hit in enumerate(found[:k]):
                ids[row, column] = hit["id"]
                sims[row, column] = _similarity(spec, hit["distance"])
        return sims, ids

    def range_search(
        self, feature: str, queries: np.ndarray, min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hits at or above `min_similarity`, at most 16,384 per query (Milvus's cap)."""
        spec = self.spec(feature)
        low = _inner_product(spec, min_similarity) - 1e-3
        params = {**_SEARCH_PARAMS[self.index_type], "radius": low, "range_filter": _inner_product(spec, 1.0) + 1e-3}
        limit = min(MAX_RESULTS, max(1, self._count(self._images)))
        hits = self.client.search(self._images, data=_to_milvus(spec, queries).tolist(), anns_field=_field(feature),
                                  limit=limit, search_params={"metric_type": "IP", "params": params})
        lims, sims, ids = [0], [], []
        for found in hits:
            kept = [(hit["id"], _similarity(spec, hit["distance"])) for hit in found]
            kept = [(i, s) for i, s in kept if s >= min_similarity - 1e-9]
            ids += [i for i, _ in kept]
            sims += [s for _, s in kept]
            lims.append(len(ids))
        return np.array(lims, dtype=np.int64), np.array(sims), np.array(ids, dtype=np.int64)

    def index_size(self, feature: str) -> int:
        return self._count(self._images)

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


def _parse(url: str) -> tuple[str, str, str, str | None]:
    """(client target, collection name, index type, local path or None)."""
    if url.startswith("milvus-lite:"):
        path = url.removeprefix("milvus-lite:")
        path, _, name = path.partition("#")
        if not path.endswith(".db"):
            raise StoreError(f"{url}: a Milvus Lite path must end in .db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return path, name or DEFAULT_COLLECTION, "FLAT", path
    parsed = urlparse(url)
    index = parse_qs(parsed.query).get("index", ["HNSW"])[0].upper()
    if index not in _INDEX_PARAMS:
        raise StoreError(f"{url}: index must be one of {', '.join(_INDEX_PARAMS)}")
    name = parsed.path.strip("/") or DEFAULT_COLLECTION
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StoreError(f"{url}: collection names are letters, digits and _")
    return f"http://{parsed.hostname}:{parsed.port or 19530}", name, index, None


def _field(feature: str) -> str:
    return "f_" + re.sub(r"[^A-Za-z0-9_]", "_", feature)


def _literal(text: str) -> str:
    return json.dumps(text)


def _to_milvus(spec: FeatureSpec, vectors: np.ndarray) -> np.ndarray:
    """Binary codes -> +1/-1 floats (so inner product gives Hamming distance); floats as they are."""
    if spec.kind == "binary":
        return np.unpackbits(np.asarray(vectors, dtype=np.uint8), axis=-1).astype(np.float32) * 2 - 1
    return np.asarray(vectors, dtype=np.float32)


def _from_milvus(spec: FeatureSpec, rows: np.ndarray) -> np.ndarray:
    if spec.kind == "binary":
        return np.packbits(rows > 0, axis=-1)
    return rows.astype(np.float32)


def _similarity(spec: FeatureSpec, inner_product: float) -> float:
    if spec.kind == "binary":
        return (inner_product + spec.dim) / (2.0 * spec.dim)
    return float(min(max(inner_product, 0.0), 1.0))


def _inner_product(spec: FeatureSpec, similarity: float) -> float:
    return 2.0 * spec.dim * similarity - spec.dim if spec.kind == "binary" else similarity
