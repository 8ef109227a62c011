"""How a lookalike collection is laid out in Milvus: the collections, their fields and
vector indexes, and how a feature's vectors travel to and from the server.

The layout works on every Milvus from 2.3 (one vector field per collection) to today's:
each feature has its own collection, NAME_f_FEATURE (id, vector). Scalar-only collections
carry a 2-float dummy vector, because Milvus 2.3 wants a vector field in every collection.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..errors import StoreError
from ..features.base import FeatureSpec

DEFAULT_COLLECTION = "lookalike"
LAYOUT = "per-feature-1"  # NAME_meta["layout"]: this module's layout
MAX_RESULTS = 16_384  # Milvus's cap on results per query
_DUMMY = "v"
RECOVERY_SECONDS = 120.0  # how long a call waits for a restarted server to load its collections
RECOVERY_POLL_SECONDS = 0.5
_NOT_LOADED = 101  # Milvus's error code for "collection not loaded"
_RECOVERY_SIGNS = ("not loaded", "server unavailable", "Fail connecting", "UNAVAILABLE", "not ready")
_FLOAT_INDEX_PARAMS = {
    "FLAT": ("FLAT", {}, {}),
    "HNSW": ("HNSW", {"M": 16, "efConstruction": 200}, {"ef": 128}),
    "IVF_SQ8": ("IVF_SQ8", {"nlist": 1024}, {"nprobe": 32}),
}
# Milvus 2.3 has no HNSW over binary vectors: approximate stores use an inverted file.
_BINARY_INDEX_PARAMS = {
    "FLAT": ("BIN_FLAT", {}, {}),
    "HNSW": ("BIN_IVF_FLAT", {"nlist": 1024}, {"nprobe": 32}),
    "IVF_SQ8": ("BIN_IVF_FLAT", {"nlist": 1024}, {"nprobe": 32}),
}


@dataclass(frozen=True)
class Target:
    """A parsed store URL."""

    uri: str  # what MilvusClient connects to
    name: str  # the collection name prefix
    index: str  # FLAT | HNSW | IVF_SQ8
    local_path: str | None  # Milvus Lite's file, None for a server

    @property
    def binary_vectors(self) -> bool:
        """Milvus Lite 3.x has no BINARY_VECTOR; a server has."""
        return self.local_path is None


def parse_url(url: str) -> Target:
    if url.startswith("milvus-lite:"):
        path = url.removeprefix("milvus-lite:")
        path, _, name = path.partition("#")
        if not path.endswith(".db"):
            raise StoreError(f"{url}: a Milvus Lite path must end in .db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Target(path, _collection_name(url, name), "FLAT", path)
    parsed = urlparse(url)
    index = parse_qs(parsed.query).get("index", ["HNSW"])[0].upper()
    if index not in _FLOAT_INDEX_PARAMS:
        raise StoreError(f"{url}: index must be one of {', '.join(_FLOAT_INDEX_PARAMS)}")
    return Target(f"http://{parsed.hostname}:{parsed.port or 19530}", _collection_name(url, parsed.path.strip("/")),
                  index, None)


def _collection_name(url: str, name: str) -> str:
    name = name or DEFAULT_COLLECTION
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StoreError(f"{url}: collection names are letters, digits and _")
    return name


class GuardedClient:
    """A MilvusClient that rides out a server restart and whose failures are StoreErrors
    naming the server. pymilvus retries an unreachable server for a few minutes; a server
    that is back but still loading its collections answers "collection not loaded" for tens
    of seconds, which this waits out (up to RECOVERY_SECONDS). Other failures become one
    clear StoreError rather than a pymilvus traceback in the CLI or the HTTP service."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client = client
        self._uri = uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def guarded(*args: Any, **kwargs: Any) -> Any:
            from pymilvus.exceptions import MilvusException

            deadline = time.monotonic() + RECOVERY_SECONDS
            while True:
                try:
                    return method(*args, **kwargs)
                except MilvusException as exc:
                    if _recovering(exc) and time.monotonic() < deadline:
                        time.sleep(RECOVERY_POLL_SECONDS)
                        continue
                    raise StoreError(f"Milvus at {self._uri} failed ({name}): {exc.message}") from exc

        return guarded


def _recovering(exc: Exception) -> bool:
    """A server that is down or restarting, or back and loading its collections again."""
    message = str(getattr(exc, "message", exc))
    return getattr(exc, "code", None) == _NOT_LOADED or any(sign in message for sign in _RECOVERY_SIGNS)


class VectorCodec:
    """One feature's vectors on the wire: float vectors by inner product (cosine on the unit
    vectors lookalike stores); binary codes as BINARY_VECTOR by Hamming distance, or, where
    the store has no binary vectors, as +1/-1 floats by inner product."""

    def __init__(self, spec: FeatureSpec, index: str, binary_vectors: bool) -> None:
        self.spec = spec
        self.packed = spec.kind == "binary" and binary_vectors
        table = _BINARY_INDEX_PARAMS if self.packed else _FLOAT_INDEX_PARAMS
        self.index_name, self.index_params, self.query_params = table[index]
        self.metric = "HAMMING" if self.packed else "IP"

    def field_type(self) -> Any:
        from pymilvus import DataType

        return DataType.BINARY_VECTOR if self.packed else DataType.FLOAT_VECTOR

    def rows(self, ids: Sequence[int], vectors: np.ndarray) -> list[dict[str, Any]]:
        return [{"id": int(i), "vector": v} for i, v in zip(ids, self.queries(vectors))]

    def queries(self, vectors: np.ndarray) -> list[Any]:
        if self.packed:
            return [bytes(row) for row in np.asarray(vectors, dtype=np.uint8)]
        if self.spec.kind == "binary":
            return (np.unpackbits(np.asarray(vectors, dtype=np.uint8), axis=-1).astype(np.float32) * 2 - 1).tolist()
        return np.asarray(vectors, dtype=np.float32).tolist()

    def decode(self, stored: Sequence[Any]) -> np.ndarray:
        if not len(stored):
            return self.empty()
        if self.packed:
            return np.stack([np.frombuffer(_as_bytes(v), dtype=np.uint8) for v in stored])
        rows = np.asarray(stored, dtype=np.float32)
        return np.packbits(rows > 0, axis=-1) if self.spec.kind == "binary" else rows

    def empty(self) -> np.ndarray:
        return np.empty((0, self.spec.width), dtype=self.spec.dtype)

    def similarity(self, distance: float) -> float:
        """Milvus's distance -> lookalike's similarity in [0, 1]."""
        if self.packed:
            return 1.0 - float(distance) / self.spec.dim
        if self.spec.kind == "binary":
            return (float(distance) + self.spec.dim) / (2.0 * self.spec.dim)
        return float(min(max(distance, 0.0), 1.0))

    def search_params(self) -> dict[str, Any]:
        return {"metric_type": self.metric, "params": dict(self.query_params)}

    def range_params(self, min_similarity: float) -> dict[str, Any]:
        """A range search for similarities at or above `min_similarity`. For Hamming, Milvus
        keeps range_filter <= distance < radius; for inner product, radius < ip <= range_filter."""
        dim = self.spec.dim
        if self.packed:
            most = int(np.floor((1.0 - min_similarity) * dim + 1e-9))
            bounds = {"radius": most + 1, "range_filter": 0}
        elif self.spec.kind == "binary":
            bounds = {"radius": 2.0 * dim * min_similarity - dim - 1e-3, "range_filter": dim + 1e-3}
        else:
            bounds = {"radius": min_similarity - 1e-3, "range_filter": 1.0 + 1e-3}
        return {"metric_type": self.metric, "params": {**self.query_params, **bounds}}


def _as_bytes(value: Any) -> bytes:
    """pymilvus returns a binary vector as bytes, or as a one-item list of bytes."""
    if isinstance(value, (list, tuple)):
        value = value[0]
    return bytes(value)


class Layout:
    """The collections of one lookalike store in one Milvus, made on demand."""

    def __init__(self, client: Any, target: Target) -> None:
        self.client = client
        self.target = target
        self.name = target.name

    @property
    def images(self) -> str:
        return f"{self.name}_images"

    @property
    def paths(self) -> str:
        return f"{self.name}_paths"

    @property
    def meta(self) -> str:
        return f"{self.name}_meta"

    @property
    def retired(self) -> str:
        return f"{self.name}_retired"

    @property
    def frames(self) -> str:
        return f"{self.name}_frames"

    def feature(self, feature: str) -> str:
        return f"{self.name}_f_" + re.sub(r"[^A-Za-z0-9_]", "_", feature)

    def codec(self, spec: FeatureSpec) -> VectorCodec:
        return VectorCodec(spec, self.target.index, self.target.binary_vectors)

    def index_name(self, feature: dict[str, Any]) -> str:
        table = _BINARY_INDEX_PARAMS if feature["kind"] == "binary" and self.target.binary_vectors else _FLOAT_INDEX_PARAMS
        return table[self.target.index][0]

    def check_not_older(self, url: str) -> None:
        """Refuse a collection written with the earlier layout (every vector field in
        NAME_images, which Milvus 2.3 cannot hold) rather than misread it."""
        if not self.client.has_collection(self.images):
            return
        fields = [f["name"] for f in self.client.describe_collection(self.images)["fields"]]
        if any(name.startswith("f_") for name in fields):
            raise StoreError(
                f"{url} was written by an earlier lookalike (all vectors in {self.images}); copy it with that "
                f"version's `lookalike migrate --to some.db`, then `lookalike migrate --from some.db --to {url}`"
            )

    def open_side_collections(self) -> None:
        """Make the scalar collections if missing; load those an earlier process released
        (Milvus Lite 3 releases them when a process closes; a server after `release`)."""
        from pymilvus import DataType

        varchar = DataType.VARCHAR
        missing = []
        for collection, key, columns in (
            (self.paths, ("path", 4096), [("image_id", DataType.INT64), ("mtime_ns", DataType.INT64),
                                          ("size", DataType.INT64)]),
            (self.meta, ("key", 256), [("value", varchar)]),
            (self.retired, ("id", None), [("sha256", varchar)]),
            (self.frames, ("id", None), [("video_id", DataType.INT64), ("seconds", DataType.DOUBLE)]),
            (self.images, ("id", None), [("sha256", varchar), ("bytes", DataType.INT64), ("width", DataType.INT64),
                                         ("height", DataType.INT64), ("format", varchar), ("label", varchar),
                                         ("added_at", varchar), ("name", varchar), ("pixel_digest", varchar),
                                         ("hash_detail", DataType.DOUBLE)]),
        ):
            if self.client.has_collection(collection):
                self.client.load_collection(collection)
                continue
            schema = self.client.create_schema(auto_id=False)
            if key[1] is None:
                schema.add_field(key[0], DataType.INT64, is_primary=True)
            else:
                schema.add_field(key[0], varchar, is_primary=True, max_length=key[1])
            for column, kind in columns:
                extra = {"max_length": 65_535} if kind == varchar else {}
                schema.add_field(column, kind, **extra)
            schema.add_field(_DUMMY, DataType.FLOAT_VECTOR, dim=2)
            index = self.client.prepare_index_params()
            index.add_index(_DUMMY, index_type="FLAT", metric_type="L2")
            missing.append((collection, schema, index))
        self._create(missing)
        for collection in self.client.list_collections():
            if collection.startswith(f"{self.name}_f_"):
                self.client.load_collection(collection)

    def _create(self, collections: Sequence[tuple[str, Any, Any]]) -> None:
        """Create (and load) collections side by side: a Milvus server takes seconds to load
        each one, mostly waiting, so one after another would cost their sum."""
        if len(collections) <= 1 or self.target.local_path is not None:
            for name, schema, index in collections:
                self._create_one(name, schema, index)
            return
        with ThreadPoolExecutor(max_workers=len(collections)) as pool:
            for done in [pool.submit(self._create_one, *collection) for collection in collections]:
                done.result()

    def _create_one(self, name: str, schema: Any, index: Any) -> None:
        self.client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")

    def side_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, _DUMMY: [0.0, 0.0]}

    def create_feature_collections(self, specs: Sequence[FeatureSpec]) -> None:
        """NAME_f_FEATURE (id, vector) with its vector index for each spec; replaces empty ones."""
        from pymilvus import DataType

        made = []
        for spec in specs:
            name = self.feature(spec.name)
            if self.client.has_collection(name):
                self.client.drop_collection(name)
            codec = self.codec(spec)
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", codec.field_type(), dim=spec.dim)
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type=codec.index_name, metric_type=codec.metric,
                            params=codec.index_params)
            made.append((name, schema, index))
        self._create(made)
