"""How much one speed run measures (`FULL`, `QUICK`), and the names every timed run shares."""

from __future__ import annotations

from dataclasses import dataclass

MODEL = "efficientnet_lite0"
EMBEDDING = "effnet_lite0"
HASH_FEATURES = ("ahash", "dhash", "phash", "whash")
# imagededup's default threshold; also where lookalike's pHash calls a pair a copy.
IMAGEDEDUP_MAX_DISTANCE = 10


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    large_images: int
    small_images: int
    mnist_images: int
    queries: int
    latency_sizes: tuple[int, ...]  # stored vectors for the query-latency runs
    duplicates_sizes: tuple[int, ...]  # the last one is the 100k
    imagededup_sizes: tuple[int, ...]
    onnx_seconds: float
    centres: int
    scale_size: int  # the one-machine collection (issue 6): a million items
    group_recall_size: int  # where the duplicate scan is checked against every pair within reach
    keypoints_size: int  # stored vectors for the latency run with the keypoint stage (crops issue: 100k)

    @property
    def store_sizes(self) -> list[int]:
        return sorted(set(self.latency_sizes) | set(self.duplicates_sizes)
                      | {self.scale_size, self.group_recall_size, self.keypoints_size})


FULL = Plan(
    large_images=48,
    small_images=240,
    mnist_images=500,
    queries=100,
    latency_sizes=(10_000, 100_000, 1_000_000),
    duplicates_sizes=(1_000, 10_000, 100_000, 1_000_000),
    imagededup_sizes=(1_000, 2_500, 10_000, 25_000),
    onnx_seconds=15.0,
    centres=3000,
    scale_size=1_000_000,
    group_recall_size=60_000,  # just past the exact limit: the scan runs over compressed indexes
    keypoints_size=100_000,
)
QUICK = Plan(
    large_images=4,
    small_images=12,
    mnist_images=0,
    queries=12,
    latency_sizes=(10_000,),
    duplicates_sizes=(500,),
    imagededup_sizes=(500,),
    onnx_seconds=2.0,
    centres=200,
    scale_size=10_000,
    group_recall_size=500,
    keypoints_size=10_000,
)
