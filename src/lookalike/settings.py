"""One Settings object, passed in explicitly (never a global)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from .errors import LimitAdvice

CACHE_DIR_ENV = "LOOKALIKE_CACHE_DIR"
DEFAULT_DB = "lookalike.db"
# The copy descriptor and its five windows (one CNN pass) call copies; the ImageNet
# embedding, colour and texture order look-alikes; the hashes confirm copies cheaply.
# (The copy features are `features.copy.COPY_FEATURES`, named here so that reading the
# settings loads no extractor code.)
DEFAULT_FEATURES = ("ahash", "dhash", "phash", "whash", "color", "lbp", "effnet_lite0", "copy_lite0",
                    "copy_lite0_region_tl", "copy_lite0_region_tr", "copy_lite0_region_bl", "copy_lite0_region_br",
                    "copy_lite0_region_c")

DEFAULT_RERANK = ("contest",)  # `rerank.CONTEST_STAGE`, named here so that reading the settings loads no stage code


@dataclass(frozen=True)
class Settings:
    """Where the store lives and the limits and thresholds it works with.

    Scores are fused similarities in [0, 1]; see `lookalike.scoring`.
    """

    db: Path = Path(DEFAULT_DB)
    features: tuple[str, ...] = DEFAULT_FEATURES
    # Decompression-bomb guards (lookalike.decode): 1.5x a 120 MP camera; 200 MB a file.
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    # Videos (lookalike.video): a file's bytes, the seconds from its start that are decoded
    # (the rest of a longer video is not indexed) and the frames kept per video; each frame
    # is held to `max_pixels` like a picture.
    video_max_bytes: int = 16 * 1024**3
    video_max_seconds: float = 3600.0
    video_max_frames: int = 300
    # What a refusal for size tells its reader to do: these fields, by default; the command
    # line and the server name their own options (see errors.LimitAdvice).
    limit_advice: LimitAdvice = LimitAdvice()
    # Fused score at and above which a match is a near-duplicate (edited copy) / compare says "same".
    min_near_duplicate_score: float = 0.72
    min_same_score: float = 0.72
    # Images per extractor batch while indexing; bounded memory, amortised model calls.
    batch_size: int = 16
    # Below this many vectors an exact index is used; above it an approximate one.
    max_exact_vectors: int = 50_000
    # Where vectors and metadata live: None = the embedded store at `db`; or
    # "milvus-lite:PATH" / "milvus://HOST:PORT/COLLECTION" (see lookalike.store).
    store: str | None = None
    # Second-stage re-rankers run on every search's candidates (see lookalike.rerank): by
    # default the contest stage, which verifies only candidates contesting the best copy's
    # place (frames of one video, shots of one burst) and costs nothing otherwise.
    rerank: tuple[str, ...] = DEFAULT_RERANK
    # A model file from `lookalike train`: a new store adds its learned feature.
    model: Path | None = None
    # Turn the query's CNN features too in every search ("always"), or only when the
    # upright search leaves doubt ("when-unsure"; see lookalike.search).
    turn_queries: Literal["when-unsure", "always"] = "when-unsure"
    # Where lookalike keeps what it can make again (the ONNX model converted once, keypoint
    # features): None = $LOOKALIKE_CACHE_DIR, else the platform's user cache directory.
    cache_dir: Path | None = None
    # The embedded store writes an index file again once this share of it changed since its
    # last save (smaller writes wait in the catalog's journal: see lookalike.store.embedded).
    index_save_share: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", Path(self.db))  # accept str as well

    def with_db(self, db: str | Path) -> "Settings":
        return replace(self, db=Path(db))

    def cache_root(self) -> Path:
        """`cache_dir`, else $LOOKALIKE_CACHE_DIR, else the platform's user cache directory."""
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_root()


def default_cache_root() -> Path:
    """$LOOKALIKE_CACHE_DIR, else the platform's user cache directory for lookalike."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir("lookalike"))
