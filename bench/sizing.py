"""Sizing arithmetic for a Milvus deployment, from the features' own declared sizes.

    python -m bench.sizing [--images 100000000] [--index IVF_SQ8]

Prints the table that docs/milvus.md quotes: bytes per image in query-node memory (the
vector indexes) and in object storage (raw vectors + scalars), and totals.
"""

from __future__ import annotations

import argparse

from lookalike.features.registry import get_spec
from lookalike.settings import DEFAULT_FEATURES

# Bytes per dimension of a float vector field. Binary hashes are BINARY_VECTOR fields on a
# Milvus server (one bit per dimension, by Hamming distance) in an inverted file (BIN_FLAT
# for FLAT): no links, no quantisation (`lookalike.store.milvus_layout`).
INDEX_BYTES_PER_DIM = {"FLAT": 4.0, "IVF_SQ8": 1.0, "HNSW": 4.0}
HNSW_LINKS_BYTES = 16 * 2 * 8  # M=16: ~2M neighbour ids of 8 bytes per vector on layer 0
ID_BYTES = 8  # each feature's collection keeps the image id beside the vector
SCALAR_BYTES = 64 + 3 * 8 + 16 + 32 + 40 + 64  # sha256, sizes, format, label, added_at, name (typical)
PATH_ROW_BYTES = 120 + 3 * 8 + 8  # a typical path, image id, mtime, size, 2-d placeholder vector


def per_image(index: str) -> list[tuple[str, int, float, float]]:
    """(feature, dims, index bytes, raw bytes) for the default features."""
    rows = []
    for name in DEFAULT_FEATURES:
        spec = get_spec(name)
        if spec.kind == "binary":
            rows.append((name, spec.dim, spec.dim / 8, spec.dim / 8 + ID_BYTES))
            continue
        extra = HNSW_LINKS_BYTES if index == "HNSW" else 0
        rows.append((name, spec.dim, spec.dim * INDEX_BYTES_PER_DIM[index] + extra, spec.dim * 4.0 + ID_BYTES))
    return rows


def table(images: int, index: str) -> str:
    rows = per_image(index)
    lines = [f"Sizing for {images:,} images, vector index {index}:", "",
             "| feature | dims | index bytes/image | raw bytes/image |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {dims} | {index_bytes:,.0f} | {raw:,.0f} |" for name, dims, index_bytes, raw in rows]
    memory = sum(r[2] for r in rows)
    raw = sum(r[3] for r in rows) + SCALAR_BYTES + PATH_ROW_BYTES
    lines += [f"| **total** | | **{memory:,.0f}** | **{raw:,.0f}** |", "",
              f"- query-node memory for the indexes: {memory * images / 1e9:,.0f} GB per replica",
              f"- object storage (raw vectors, scalars, paths): {raw * images / 1e9:,.0f} GB",
              f"- query nodes of 64 GB filled to 70%: {memory * images / (64e9 * 0.7):,.1f} per replica"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000_000)
    parser.add_argument("--index", choices=sorted(INDEX_BYTES_PER_DIM), default="IVF_SQ8")
    args = parser.parse_args()
    print(table(args.images, args.index))


if __name__ == "__main__":
    main()
