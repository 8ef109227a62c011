"""The systems the copy benchmark measures, each answering "rank the gallery for this query,
and is the match a copy?" in one way:

- `LookalikeSystem`: lookalike as shipped (default `Settings`, the public `Collection` API):
  the gallery indexed into a scratch store, each query searched with k=10; a match is called
  a copy when its tier is "exact" or "near-duplicate"; its score is the fused score.
- `DescriptorSystem`: any `Descriptor` (images -> L2-normalised vectors), ranked by cosine
  over the whole gallery; a copy when the cosine reaches the descriptor's `threshold` (None:
  the benchmark chooses one from the scores and says so). `EmbeddingDescriptor` wraps a
  registered float feature (the raw EfficientNet-Lite0 embedding, at its spec's `near`);
  a learned copy descriptor plugs in the same way.

Each system gives one `Answer` per query: the source's rank and score, and the best-ranked
gallery picture that is not the source (the hardest negative) with its score.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .galleries import Gallery

COPY_TIERS = ("exact", "near-duplicate")
DEPTH = 10  # lookalike's search depth: a source below it has no score
BATCH = 32


@dataclass(frozen=True)
class Answer:
    rank: int | None  # the source's rank (1 = first); None: not in the first DEPTH
    source_score: float | None
    source_tier: str | None  # lookalike's tier of the source's match; None for a descriptor
    negative: str | None  # the best-ranked picture that is not the source
    negative_score: float | None
    negative_tier: str | None


class Descriptor(ABC):
    """A copy descriptor: a name and `embed(images) -> (n, d)` L2-normalised rows. `threshold`
    is the cosine at and above which it calls two pictures copies (None: not decided yet)."""

    name: str
    threshold: float | None = None
    threshold_origin: str = "the descriptor's own"

    @abstractmethod
    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """RGB images -> one L2-normalised float row per image."""


class EmbeddingDescriptor(Descriptor):
    """A registered float feature of lookalike as a descriptor, calling copies at its spec's `near`."""

    def __init__(self, feature: str = "effnet_lite0") -> None:
        from lookalike.features.registry import get_extractor

        self.extractor = get_extractor(feature)
        self.name = f"{feature} cosine"
        self.threshold = self.extractor.spec.near
        self.threshold_origin = f"its FeatureSpec's `near` ({self.threshold})"

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        return np.asarray(self.extractor.extract_batch(images), dtype=np.float32)

    def close(self) -> None:
        self.extractor.close()


def embed_all(descriptor: Descriptor, images: Sequence[Image.Image]) -> np.ndarray:
    rows = [descriptor.embed(list(images[i : i + BATCH])) for i in range(0, len(images), BATCH)]
    vectors = np.concatenate(rows).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ValueError(f"{descriptor.name}: embed() must return L2-normalised rows "
                         f"(norms {norms.min():.3f}..{norms.max():.3f})")
    return vectors


class System(ABC):
    name: str
    description: str
    threshold: float | None  # the score of a copy call; None: tiers decide (lookalike)

    @abstractmethod
    def answer(self, gallery: Gallery) -> list[Answer]:
        """One answer per query of `gallery`, in order."""

    def close(self) -> None:
        pass


class DescriptorSystem(System):
    def __init__(self, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self.name = descriptor.name
        self.threshold = descriptor.threshold
        self.description = "cosine of L2-normalised vectors, the whole gallery ranked"

    def answer(self, gallery: Gallery) -> list[Answer]:
        items = gallery.items
        stored = embed_all(self.descriptor, [item.image for item in items])
        answers = []
        for start in range(0, len(gallery.queries), BATCH):
            chunk = gallery.queries[start : start + BATCH]
            scores = embed_all(self.descriptor, [q.image for q in chunk]) @ stored.T
            for query, row in zip(chunk, scores):
                own = float(row[query.source])
                others = row.copy()
                others[query.source] = -np.inf
                best = int(np.argmax(others))
                answers.append(Answer(1 + int(np.sum(others > own)), own, None,
                                      items[best].name, float(others[best]), None))
        return answers

    def close(self) -> None:
        close = getattr(self.descriptor, "close", None)
        if close is not None:
            close()


# lookalike's default features before its copy descriptor: the "before" of docs/copy-descriptor.md.
FEATURES_WITHOUT_COPY_DESCRIPTOR = ("ahash", "dhash", "phash", "whash", "color", "lbp", "effnet_lite0")


class LookalikeSystem(System):
    threshold = None

    def __init__(self, features: tuple[str, ...] | None = None, name: str = "lookalike") -> None:
        from lookalike.settings import Settings

        settings = Settings()
        self.name = name
        self.features = features or settings.features
        what = "default Settings" if features is None else f"default Settings but features {', '.join(features)}"
        self.description = f"{what} through the public `Collection` API, k={DEPTH}, fused score"
        self.shipped_score = settings.min_near_duplicate_score

    def answer(self, gallery: Gallery) -> list[Answer]:
        from lookalike import Collection
        from lookalike.settings import Settings

        with tempfile.TemporaryDirectory(prefix="lookalike-copies-") as scratch:
            folder = Path(scratch) / "gallery"
            folder.mkdir()
            for item in gallery.items:
                item.image.save(folder / f"{item.name}.png")
            with Collection(settings=Settings(db=Path(scratch) / "copies.db", features=self.features)) as collection:
                collection.index([folder])
                answers = []
                for query in gallery.queries:
                    matches = collection.search(query.data, k=DEPTH)
                    answers.append(self.read(matches, gallery.sources[query.source].name))
        return answers

    @staticmethod
    def read(matches: list, source: str) -> Answer:
        rank = score = tier = None
        negative = None
        for position, match in enumerate(matches, 1):
            name = Path(match.image.path).stem
            if name == source and rank is None:
                rank, score, tier = position, match.score, match.tier
            elif name != source and negative is None:
                negative = match
        return Answer(rank, score, tier, Path(negative.image.path).stem if negative else None,
                      negative.score if negative else None, negative.tier if negative else None)


def default_systems(extra: Sequence[Descriptor] = ()) -> list[System]:
    """lookalike as shipped and with its features before the copy descriptor, the raw
    EfficientNet-Lite0 cosine, the raw cosine of lookalike's copy descriptor, and any
    further descriptors."""
    return [LookalikeSystem(), LookalikeSystem(FEATURES_WITHOUT_COPY_DESCRIPTOR, "lookalike without copy descriptor"),
            DescriptorSystem(EmbeddingDescriptor("effnet_lite0")),
            DescriptorSystem(EmbeddingDescriptor("copy_lite0")), *[DescriptorSystem(d) for d in extra]]
