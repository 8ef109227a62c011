"""Duplicate videos by their frame sequences: two encodes or trims of one clip, never two
videos that merely share a frame (a title card, a logo, a black first second).

`dedup` links near-duplicate frames like any pictures; the pairs that involve a video frame
come here instead of into its groups. For each two videos, the matched frames that agree
in time order at one time offset (a re-encode: offset 0; a trim: the seconds cut) form a
chain (the longest one, by a longest increasing subsequence); the videos are one clip when
the chain holds enough frames, of the shorter video's, as `scoring.same_clip` says.
Videos that are one clip are grouped by connected components, like pictures. A video frame
matched with a picture links nothing: a video is not a duplicate of a photo.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .components import connected_components
from .scoring import SEQUENCE_OFFSET_SLACK, same_clip
from .store import Store


@dataclass(frozen=True)
class FrameMatch:
    """Two videos' frames (their times in seconds) that matched, and their score."""

    first: float
    second: float
    score: float


@dataclass(frozen=True)
class ClipGroup:
    """Videos (their posters' ids, ascending) that are one clip, and the lowest frame score
    in the chains that joined them."""

    videos: tuple[int, ...]
    weakest_link: float


def split_video_pairs(store: Store, pairs: np.ndarray, scores: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, list[ClipGroup]]:
    """(the pairs of two pictures, their scores, the groups of videos that are one clip)
    from linked (i < j) pairs and their scores."""
    if not len(pairs):
        return pairs, scores, []
    frames = store.frame_times(np.unique(pairs).tolist())
    if not frames:
        return pairs, scores, []
    is_frame = np.isin(pairs, np.fromiter(frames, dtype=np.int64))
    pictures = ~is_frame.any(axis=1)
    by_videos: dict[tuple[int, int], list[FrameMatch]] = {}
    for (left, right), score in zip(pairs[is_frame.all(axis=1)].tolist(), scores[is_frame.all(axis=1)].tolist()):
        (video_a, time_a), (video_b, time_b) = frames[left], frames[right]
        if video_a == video_b:
            continue
        if video_a > video_b:
            (video_a, time_a), (video_b, time_b) = (video_b, time_b), (video_a, time_a)
        by_videos.setdefault((video_a, video_b), []).append(FrameMatch(time_a, time_b, score))
    counts = store.frame_counts(sorted({video for key in by_videos for video in key}))
    linked = {}
    for (video_a, video_b), matches in by_videos.items():
        chain = chain_in_order(matches)
        if same_clip(len(chain), min(counts.get(video_a, 1), counts.get(video_b, 1))):
            linked[(video_a, video_b)] = min(match.score for match in chain)
    return pairs[pictures], scores[pictures], _groups(linked)


def chain_in_order(matches: Sequence[FrameMatch]) -> list[FrameMatch]:
    """The longest chain of matches whose times rise in both videos, at one time offset
    (second - first, within SEQUENCE_OFFSET_SLACK of the chain's own), each frame of either
    video in it once. Each first frame keeps its best match; every offset among them is tried."""
    best: dict[float, FrameMatch] = {}
    for match in matches:
        if match.first not in best or match.score > best[match.first].score:
            best[match.first] = match
    ordered = sorted(best.values(), key=lambda m: m.first)
    longest: list[FrameMatch] = []
    for offset in sorted({m.second - m.first for m in ordered}):
        near = [m for m in ordered if abs(m.second - m.first - offset) <= SEQUENCE_OFFSET_SLACK]
        if len(near) > len(longest):
            chain = _rising(near)
            if len(chain) > len(longest):
                longest = chain
    return longest


def _rising(matches: list[FrameMatch]) -> list[FrameMatch]:
    """The longest subsequence (matches sorted by first time, each first time once) whose
    second times strictly rise: patience sorting, O(n log n)."""
    tails: list[float] = []
    tail_index: list[int] = []
    previous = [-1] * len(matches)
    for index, match in enumerate(matches):
        place = bisect_left(tails, match.second)
        if place == len(tails):
            tails.append(match.second)
            tail_index.append(index)
        else:
            tails[place] = match.second
            tail_index[place] = index
        previous[index] = tail_index[place - 1] if place else -1
    chain, index = [], tail_index[-1] if tail_index else -1
    while index >= 0:
        chain.append(matches[index])
        index = previous[index]
    return chain[::-1]


def _groups(linked: dict[tuple[int, int], float]) -> list[ClipGroup]:
    """Connected components of the linked video pairs, each with its weakest link."""
    groups = []
    for videos in connected_components(linked):
        members = set(videos)
        weakest = min(score for (a, _), score in linked.items() if a in members)
        groups.append(ClipGroup(tuple(videos), weakest))
    return sorted(groups, key=lambda group: group.videos)
