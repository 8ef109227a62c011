"""Fusing per-feature similarities into one score in [0, 1], and naming the kind of match.
Every threshold and tier boundary lives here, the keypoint stage's included, so a score,
its tier and a verdict always agree (also after `lookalike calibrate` moves
`Settings.min_near_duplicate_score`: the boundaries that depend on it take it as an argument).

Each feature's raw similarity is first mapped onto a common scale with two anchors from
its FeatureSpec: `far` (typical of unrelated images) -> 0.3 and `near` (typical of
copies) -> 0.8, linear in between and beyond. Then:

- copy evidence, with lookalike's copy descriptor in the store (family "copy", trained to
  tell an edited copy from a look-alike: `features.copy`): the mean of its level (the best
  of the whole picture's and its windows': a crop of part of a picture meets that part's
  window) and the ImageNet embedding's. Either one alone is fooled somewhere (the embedding
  calls any two star fields or shoes on white alike, the descriptor is unsure of heavy
  JPEG on smooth gradients); a copy needs both to agree. On the copy benchmark's galleries
  (upright queries) the mean ranked the source first for 0.887 of the copies against 0.859
  for the descriptor alone, 0.836 for the embedding alone and 0.873 for the higher of the
  two, with a third fewer best non-copies at a copy's level than the higher of the two.
  The hashes may lift it by at most HASH_CAP_ABOVE_COPY (neighbouring video frames agree
  on nearly every bit).
- copy evidence without it = the highest level among the other copy families (the
  embedding and the hashes): hashes survive recompression, rescaling and grey conversion,
  the embedding survives rotation, mirroring and crops, so either one vouching for a copy
  is enough. Hash evidence is the mean over the hashes and is capped at the other
  families' evidence + 0.4.
- the hashes count only as far as they carry information on both images (`hash_weight`,
  from `features.hashes.hash_detail`): a flat or smooth picture's bits are constant or
  noise, so two different gradient wallpapers agree on every whash bit. Their evidence is
  blended towards the other families' (towards FAR_LEVEL without any), in proportion:
  hash' = w x hash + (1 - w) x other; at w = 0 the embedding alone decides.
- score = 0.9 x copy evidence + 0.1 x mean(colour, texture): colour and texture order
  the look-alikes without outvoting the copy detectors.
Missing families (a store without embeddings, say) simply drop out.

Tiers: "exact" only for the same file bytes or the same decoded pixels (`decode.pixel_digest`),
never inferred from features (a JPEG at quality 20 keeps every hash bit);
"near-duplicate" at `min_near_duplicate_score` and above, after the collection's
background is taken into account (`normalised`); "similar" below.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .features.base import FeatureSpec
from .records import Tier, Verdict

FAR_LEVEL = 0.3
NEAR_LEVEL = 0.8
HASH_CAP_ABOVE_EMBEDDING = 0.4
COPY_WEIGHT = 0.9
# Families whose evidence alone may call a pair a copy, and those that only order look-alikes.
COPY_FAMILIES = ("copy", "embedding", "hash")
LOOK_FAMILIES = ("colour", "texture")
# Beside the copy descriptor: how far the hashes may lift the copy evidence (they see
# recompression and grey conversion, which it was trained on too, and call neighbouring
# video frames the same picture).
HASH_CAP_ABOVE_COPY = 0.1

# --- how informative an image's hashes are (`features.hashes.hash_detail`) -------------------
# Below UNINFORMATIVE the hashes get no weight, from INFORMATIVE on all of it, linear between.
# Measured: smooth wallpapers (Ubuntu's lomiri/warty backdrop 0.012, MATE's near-white
# abstracts 0.000-0.001, Plasma's Kay dark 0.015), graded ones 0.03-0.06 (focal-ubuntukylin
# 0.058, DarkestHour 0.033), photographs and detailed wallpapers 0.07-0.5.
HASH_DETAIL_UNINFORMATIVE = 0.02
HASH_DETAIL_INFORMATIVE = 0.06


def calibrate(spec: FeatureSpec, raw: np.ndarray) -> np.ndarray:
    """Raw similarity -> common scale (far -> 0.3, near -> 0.8, 1 -> 1)."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.interp(raw, [0.0, spec.far, spec.near, 1.0], [0.0, FAR_LEVEL, NEAR_LEVEL, 1.0])


def raw_for_calibrated(spec: FeatureSpec, level: float) -> float:
    """The raw similarity at which `calibrate` reaches `level` (its inverse)."""
    return float(np.interp(level, [0.0, FAR_LEVEL, NEAR_LEVEL, 1.0], [0.0, spec.far, spec.near, 1.0]))


def hash_weight(detail: float | np.ndarray | None) -> float | np.ndarray:
    """The weight (0..1) the hashes get on an image of this `hash_detail`; an unknown detail
    (a store indexed before it was measured) counts as informative."""
    if detail is None:
        return 1.0
    weight = np.interp(np.asarray(detail, dtype=np.float64), [HASH_DETAIL_UNINFORMATIVE, HASH_DETAIL_INFORMATIVE],
                       [0.0, 1.0])
    return float(weight) if np.ndim(weight) == 0 else weight


def pair_hash_weight(query_detail: float | None, details: Sequence[float | None]) -> np.ndarray:
    """The hashes' weight for the query against each of several images: the lower of the two
    sides' (one uninformative image is enough to make agreeing bits mean nothing)."""
    others = np.asarray([hash_weight(detail) for detail in details], dtype=np.float64)
    return np.minimum(hash_weight(query_detail), others)


def family_levels(specs: Sequence[FeatureSpec], raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each family's calibrated level: the mean over its features; the copy descriptor's
    windows (region features searched with a "copy" feature's query vector) raise the
    "copy" level to their best."""
    levels: dict[str, list[np.ndarray]] = {}
    windows: list[np.ndarray] = []
    families = {spec.name: spec.family for spec in specs}
    for spec in specs:
        level = calibrate(spec, raw[spec.name])
        if spec.family == "region" and families.get(str(spec.query_with)) == "copy":
            windows.append(level)
        else:
            levels.setdefault(spec.family, []).append(level)
    family = {name: np.mean(values, axis=0) for name, values in levels.items()}
    if windows and "copy" in family:
        family["copy"] = np.maximum(family["copy"], np.max(windows, axis=0))
    return family


def copy_evidence(family: Mapping[str, np.ndarray], hash_weight: float | np.ndarray = 1.0) -> np.ndarray | None:
    """The copy evidence of the module docstring, None without any copy family."""
    if "copy" in family:
        return _copy_descriptor_evidence(family, hash_weight)
    others = [family[name] for name in COPY_FAMILIES if name != "hash" and name in family]
    sure = np.max(others, axis=0) if others else None
    hashes = family.get("hash")
    if hashes is None:
        return sure
    if sure is None:
        return hash_weight * hashes + (1.0 - hash_weight) * FAR_LEVEL
    hashes = np.minimum(hashes, sure + HASH_CAP_ABOVE_EMBEDDING)
    return np.maximum(hash_weight * hashes + (1.0 - hash_weight) * sure, sure)


def _copy_descriptor_evidence(family: Mapping[str, np.ndarray], hash_weight: float | np.ndarray) -> np.ndarray:
    evidence = (family["copy"] + family["embedding"]) / 2 if "embedding" in family else family["copy"]
    if "hash" in family:
        hashes = np.minimum(family["hash"], evidence + HASH_CAP_ABOVE_COPY)
        evidence = np.maximum(hash_weight * hashes + (1.0 - hash_weight) * evidence, evidence)
    return evidence


def fuse(specs: Sequence[FeatureSpec], raw: Mapping[str, np.ndarray],
         hash_weight: float | np.ndarray = 1.0) -> np.ndarray:
    """Fused score for arrays of raw similarities (all the same shape), one per feature.
    `hash_weight` (`pair_hash_weight`; broadcast against the last axis: one per candidate)
    says how far the hashes count."""
    family = family_levels(specs, raw)
    copy = copy_evidence(family, hash_weight)
    looks = [family[name] for name in LOOK_FAMILIES if name in family]
    if copy is None:
        return np.mean(looks, axis=0)
    if not looks:
        return copy
    return COPY_WEIGHT * copy + (1.0 - COPY_WEIGHT) * np.mean(looks, axis=0)


def hash_evidence(specs: Sequence[FeatureSpec], raw: Mapping[str, np.ndarray | float]) -> np.ndarray | None:
    """The hash family's calibrated level (mean over the hashes) for raw similarities (arrays
    or single numbers), None without hashes: at NEAR_LEVEL and above, the hashes alone call
    the pair the same picture."""
    levels = [calibrate(spec, np.asarray(raw[spec.name])) for spec in specs if spec.family == "hash" and spec.name in raw]
    return np.mean(levels, axis=0) if levels else None


# --- the collection's background ---------------------------------------------------------------
# A fused score says how alike two images are, not whether that is unusual here: among star
# fields or clip art on white every image scores 0.6-0.8 against every other, so the best
# look-alike of a query clears a threshold set on holiday photos (precision 0.55 on those).
# As the ISC 2021 winners did (score minus beta x the query's mean similarity to its nearest
# unrelated background images), each score is judged against the query's background: the
# mean fused score of the upright query against its BACKGROUND_RANKS-th nearest neighbours
# by the embedding (past the few copies a collection may hold of one picture), an estimate
# of how alike this collection's unrelated images are to this query. A plain subtraction
# would move a true copy (0.95) below any threshold where the background is 0.7; instead the
# distance from 1 is stretched so that the background b' = REFERENCE + BETA x (background -
# REFERENCE) lands where unrelated images sit in an ordinary collection (REFERENCE) and 1
# stays 1:
#     score' = 1 - (1 - score) x (1 - REFERENCE) / (1 - b')
# A background at or below REFERENCE (an ordinary collection) leaves every score as it is;
# so does a collection too small to estimate one (fewer than BACKGROUND_MIN_IMAGES there).
#
# Measured (default features, 80-image galleries, 20 queries each an edited copy: 90% crop,
# brightness 1.1, JPEG 40; threshold 0.72): the background (ranks 4-32) is 0.35 on average
# among photographs and wallpapers, 0.50 among openclipart animals, 0.62 among upscaled
# Fashion-MNIST. Without this step the best non-copy was a near-duplicate for 5% / 30% / 90%
# of the queries; with REFERENCE 0.35 and BETA 1.0, 5% / 5% / 15%, while the true source
# stays a near-duplicate for 100% / 100% / 95% (BETA 1.25: fashion's sources 85%;
# REFERENCE 0.45: clip art 15%, fashion 30%; ranks 8-32: fashion 25%; ranks 2-16: sources
# 95% / 100% / 90%). On the copy benchmark (`python -m bench.copies`, docs/copies.md: seven
# galleries of hard negatives, every edit kind) the best non-copy is called a copy for 17%
# of the queries instead of 63%, at a cost in recall at the shipped threshold where the
# background is high and the edits hard (fashion 0.98 -> 0.71, video frames 0.95-0.99 ->
# 0.43-0.55); BETA 0.5 gives 47% and recalls 0.93 / 0.82-0.91.
BACKGROUND_RANKS = (4, 32)
BACKGROUND_MIN_IMAGES = 8
BACKGROUND_REFERENCE = 0.35
BACKGROUND_BETA = 1.0
BACKGROUND_MAX = 0.95  # keeps the stretch finite when everything looks alike


def background_level(scores: Sequence[float] | np.ndarray) -> float | None:
    """The query's background from the fused scores of its candidates (any order), None when
    there are too few candidates past the first BACKGROUND_RANKS[0]."""
    ranked = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    first, last = BACKGROUND_RANKS
    band = ranked[first:last]
    return float(band.mean()) if band.size >= BACKGROUND_MIN_IMAGES else None


def normalised(scores: float | np.ndarray, background: float | None) -> np.ndarray:
    """Scores judged against the query's background (see above)."""
    scores = np.asarray(scores, dtype=np.float64)
    if background is None or background <= BACKGROUND_REFERENCE:
        return scores
    level = min(BACKGROUND_REFERENCE + BACKGROUND_BETA * (background - BACKGROUND_REFERENCE), BACKGROUND_MAX)
    return np.clip(1.0 - (1.0 - scores) * (1.0 - BACKGROUND_REFERENCE) / (1.0 - level), 0.0, 1.0)


# --- tiers -----------------------------------------------------------------------------------


def tier_of(score: float, exact: bool, min_near_duplicate: float) -> Tier:
    """`exact`: the same file bytes or the same decoded pixels in the upright orientation."""
    if exact:
        return "exact"
    return "near-duplicate" if score >= min_near_duplicate else "similar"


def verdict_of(score: float, tier: Tier, min_same: float) -> Verdict:
    """compare's verdict from its score and tier."""
    if tier == "same-object":
        return "same-object"
    return "same" if tier == "exact" or score >= min_same else "different"


# --- keypoint verification (`rerank.keypoints`) ---------------------------------------------
# Tuned on real photographs and checked on unrelated ones (SIFT, 480-pixel working copies):
# 4,005 pairs of unrelated photos (scikit-image samples, opencv-doc photos, KDE wallpapers)
# gave 0 verified, at most 7 inliers; 42 of 46 directions of real second views (opencv-doc
# graf, box, aloe, leuven, books, video frames, 13 stereo chessboard pairs, scikit-image's
# stereo motorcycle) were same-object, with at least 35 inliers (the 4 others: aero1/aero3
# barely overlap, text_defocus/text_motion are blurred past any keypoint), none
# near-duplicate; all 60 named edits (`lookalike.edits`) and 105 of 108 harsher ones (JPEG
# quality 5-10, blur + JPEG, stretching, 160-pixel thumbnails) were near-duplicate (one
# same-object: a JPEG-5 moon); crops of 50/30/15% of the area: 34/33/30 of 36
# near-duplicate, never same-object. tests/test_verify.py keeps the essentials.
#
# Near-duplicate: the inliers sit on one affine map up to noise. The statistic is the median
# residual (working pixels, normalised for the scale between the two images) after local
# smoothing over geometry.SMOOTH_NEIGHBOURS inliers (the plain median residual below
# geometry.SMOOTH_MIN_INLIERS inliers). SIFT: the named edits measured <= 0.39; JPEG quality 5-10,
# blur + JPEG, stretched copies <= 0.45 but one (0.48); real second photographs >= 0.51
# (a stereo chessboard pair), mostly > 1. ORB's corners sit on coarser pyramid pixels,
# hence its own, looser bound (and a weaker split: 17 of 48 views were same-object).
NEAR_DUPLICATE_MIN_INLIERS = 10
NEAR_DUPLICATE_MAX_DISPLACEMENT = {"sift": 0.45, "orb": 0.6}
# Same object: a homography with at least this many inliers. Unrelated pairs: at most 7
# (SIFT and ORB); the weakest real second view measured 35.
SAME_OBJECT_MIN_INLIERS = 15
SAME_OBJECT_MIN_INLIER_RATIO = 0.2
# The inliers' hull must cover at least this share of each image (a clump of points on a
# logo or a few letters is not a picture).
MIN_COVERAGE = 0.002
# A map that shrinks or grows areas by more than this factor between the two working copies
# is a RANSAC artefact, not a view.
MAX_AREA_CHANGE = 100.0
# A failed verification refutes a copy only when both images had keypoints enough to
# verify one (a flat or blurred picture has next to none: no evidence either way).
REFUTE_MIN_KEYPOINTS = 50
# A first-stage best match scoring at least this is a copy the hashes and the embedding agree
# on: the stage then verifies that match (for its explanation) and, unless it fails, no other.
KEYPOINT_CONFIDENT = 0.9
# Score bands of verified pairs, ranked within by the keypoint evidence's strength: a verified
# copy's band starts just above the near-duplicate threshold; another view's band lies just
# below it (another photograph is not the same picture), above a refuted match's score.
NEAR_DUPLICATE_BAND = (0.76, 0.99)
SAME_OBJECT_BAND = (0.72, 0.88)
BAND_MARGIN = 0.01


def near_duplicate_band(min_near_duplicate: float) -> tuple[float, float]:
    """At or above the near-duplicate threshold (and at most 1), so a verified copy's score
    says near-duplicate whatever threshold `calibrate` chose."""
    low, high = NEAR_DUPLICATE_BAND
    low = max(low, min_near_duplicate + BAND_MARGIN)
    if low > 1.0:  # a threshold within the margin of 1: the band shrinks to the threshold
        low = min(min_near_duplicate, 1.0)
    return low, max(low, high)


def same_object_band(min_near_duplicate: float) -> tuple[float, float]:
    """Below the near-duplicate threshold, so `tier_of` of the score never says near-duplicate."""
    low, high = SAME_OBJECT_BAND
    high = min(high, min_near_duplicate - BAND_MARGIN)
    return min(low, high - 0.1), high


def verified_score(score: float, kind: str, strength: float, min_near_duplicate: float) -> float:
    """The score of a verified pair: a copy keeps the higher of its first-stage score and its
    band; another view takes its band alone, ranked by the keypoint evidence (the first
    stage scores look-alike views of one object, such as the poses of a chessboard, nearly
    alike and above the band)."""
    if kind == "near-duplicate":
        low, high = near_duplicate_band(min_near_duplicate)
        return max(score, low + (high - low) * strength)
    low, high = same_object_band(min_near_duplicate)
    return low + (high - low) * strength


def refuted_score(score: float, min_near_duplicate: float) -> float:
    """A match the keypoints refuted (enough keypoints on both sides, none agreeing): below
    the near-duplicate threshold and below any verified other view."""
    low, _ = same_object_band(min_near_duplicate)
    return min(score, low - BAND_MARGIN)


def refutes(query_keypoints: int, candidate_keypoints: int, kind: str | None) -> bool:
    """Whether a verification that found `kind` disproves a copy."""
    return kind is None and min(query_keypoints, candidate_keypoints) >= REFUTE_MIN_KEYPOINTS


def keypoint_tier(score: float, kind: str | None, exact: bool, min_near_duplicate: float) -> Tier:
    """The tier of a match after verification: same-object for another view, else by score."""
    if not exact and kind == "same-object":
        return "same-object"
    return tier_of(score, exact, min_near_duplicate)


def keypoint_strength(inliers: int, query_coverage: float, candidate_coverage: float) -> float:
    """0..1: more inliers (10 -> 0, 200 -> 1, logarithmic) and more of either image covered
    (half of it -> 1) make stronger evidence."""
    if inliers <= 0:
        return 0.0
    count = min(1.0, max(0.0, math.log(inliers / 10.0) / math.log(20.0)))
    area = min(1.0, max(query_coverage, candidate_coverage) / 0.5)
    return 0.5 * count + 0.5 * area


# --- contested copies: pixel agreement (`rerank.keypoints.alignment`) ----------------------
# When the first stage's best match is a copy and other candidates score within CONTEST_RANGE
# of it or are called copies too (at most CONTEST_MAX of them), the frames of one video, the
# shots of one burst or the tiles of one photo may all pass for the query's source; where
# they all look alike, the background (above) keeps every one of them below a copy's score,
# the true source included: the fused score before the background then says who contests.
# The
# contest stage (on by default: `Settings.rerank`) and the keypoint stage verify those
# candidates (a tile of the same photo is refuted: no geometry fits), align every verified
# copy on the query and count the query's textured blocks (AGREEMENT_BLOCK pixels square at
# AGREEMENT_SIDE pixels on the long side, grey standard deviation at least
# AGREEMENT_MIN_TEXTURE on either side) that the candidate reproduces (normalised correlation
# at least AGREEMENT_MIN_CORRELATION). On the copy benchmark's video galleries (bench.copies)
# an edited copy's source reproduces a median 0.99-1.0 of the blocks, the best other frame
# 0.66-0.84 (people moved); a verified copy that agrees AGREEMENT_MARGIN less than the best
# one is another shot of the scene: same-object. (The margin was read off those galleries;
# tests/test_contest.py checks it on other frames of vtest.avi.)
CONTEST_RANGE = 0.1
CONTEST_MAX = 12
# When a contest outvotes its contenders, the copies ranked below them come up: they are
# contested in turn, for at most CONTEST_ROUNDS rounds in all (a hundred frames of one video).
CONTEST_ROUNDS = 3
AGREEMENT_SIDE = 256
AGREEMENT_BLOCK = 16
AGREEMENT_MIN_TEXTURE = 4.0
AGREEMENT_MIN_CORRELATION = 0.6
AGREEMENT_MARGIN = 0.05


def contenders(scores: Sequence[float], tiers: Sequence[Tier], unjudged: Sequence[float],
               min_near_duplicate: float) -> list[int]:
    """The positions (best first) a contest verifies, from each match's score, tier and
    fused score before the background judged it (`unjudged`). None unless the best match is
    a copy, or would be but for the background (a collection of look-alikes: every frame of
    a fixed camera scores like a copy, so none is called one; the keypoints decide); else
    every non-exact match among the first CONTEST_MAX that scores within CONTEST_RANGE of the
    best, or is (or but for the background would be) called a copy too, when there are two or
    more, or one that only the background kept from being a copy."""
    if not scores or tiers[0] == "exact":
        return []
    called = tiers[0] == "near-duplicate"
    hidden = not called and unjudged[0] >= min_near_duplicate
    if not called and not hidden:
        return []
    floor = min(scores[0] - CONTEST_RANGE, min_near_duplicate)
    chosen = [i for i in range(min(CONTEST_MAX, len(scores)))
              if tiers[i] != "exact" and (scores[i] >= floor or unjudged[i] >= min_near_duplicate)]
    return chosen if len(chosen) >= (2 if called else 1) else []


def outvoted(agreement: float, best: float) -> bool:
    """Whether a verified copy reproduces so much less of the query than the best verified
    copy that it is another shot of the scene, not the query's source."""
    return agreement < best - AGREEMENT_MARGIN


def outvoted_score(score: float, agreement: float, best: float, min_near_duplicate: float) -> float:
    """An outvoted copy's score: at the top of the same-object band (another shot of the
    scene still ranks above mere look-alikes), lower the less it reproduces, and never above
    its first-stage score."""
    _, high = same_object_band(min_near_duplicate)
    return min(score, high - BAND_MARGIN * (1.0 - (agreement / best if best > 0 else 0.0)))


# --- video frames (`lookalike.video`) and frame sequences (`lookalike.sequences`) ------------
# Frames are judged on a 32 x 32 grey thumbnail (0-255). A frame whose grey standard deviation
# is below FRAME_BLANK_MAX_STD shows nothing: black, white, one flat colour, a fade at its
# darkest (the copy benchmark calls a picture blank below the same 8). Such frames are never
# indexed: every video that starts black would otherwise share a frame with every other.
FRAME_BLANK_MAX_STD = 8.0
# Mean absolute grey difference between two frames' thumbnails: at most FRAME_STILL_MAX_DIFF,
# the same picture (a still shot, a title card held for seconds; encoder noise moves a
# thumbnail by about 1); at least SCENE_CHANGE_MIN_DIFF between consecutive frames, a cut.
# Measured on the test slideshows (tests/video_files.py: 320 x 240, 10 fps, a pan across 15%
# of a photo in 3 s): consecutive frames differ by 1.3-7.6, frames a second apart by 10-30,
# the two frames of a cut between photos by 50-70; a title card held still, by 0.
FRAME_STILL_MAX_DIFF = 3.0
SCENE_CHANGE_MIN_DIFF = 25.0
# Two videos are one clip (a re-encode, a trim) when at least SEQUENCE_MIN_FRAMES of their
# frames match as near-duplicates in the same time order at one time offset (within
# SEQUENCE_OFFSET_SLACK seconds: each video's frames are sampled a step apart, so matching
# frames may sit up to a step apart), and those frames are at least SEQUENCE_MIN_SHARE of the
# shorter video's frames. One shared frame (a title card, a logo) or a shared opening of a
# longer video is no duplicate.
SEQUENCE_MIN_FRAMES = 3
SEQUENCE_MIN_SHARE = 0.5
SEQUENCE_OFFSET_SLACK = 1.0


def frame_is_blank(thumbnail: np.ndarray) -> bool:
    """Whether a frame's grey thumbnail shows nothing (FRAME_BLANK_MAX_STD)."""
    return float(np.std(thumbnail)) < FRAME_BLANK_MAX_STD


def frame_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute grey difference of two frames' thumbnails (0-255)."""
    return float(np.mean(np.abs(first.astype(np.float32) - second.astype(np.float32))))


def same_clip(matched: int, shorter_frames: int) -> bool:
    """Whether `matched` frames in time order make two videos one clip (see above), the
    shorter of the two holding `shorter_frames` indexed frames."""
    return matched >= SEQUENCE_MIN_FRAMES and matched >= SEQUENCE_MIN_SHARE * shorter_frames


# --- which copy of a duplicate group to keep (`lookalike.curate`) ------------------------------
# Ties between copies (`curate.keeper`): differences this small decide nothing.
# Pixel counts within this share of the largest tie (a 1-pixel trim is no difference).
PIXELS_TOLERANCE = 0.01
# JPEG quality estimates within this many points tie (encoders round their tables).
QUALITY_TOLERANCE = 3
# Modification times within this many seconds tie (copies made in one go).
MTIME_TOLERANCE_S = 2.0
# What makes a copy the edited one (`curate.provenance`, on copies aligned by their keypoints).
# One copy holds content around the other's frame when at least this share of its area lies
# outside the other's content, while the other has at most MAX_OTHER_EXTRA outside it.
MIN_EXTRA = 0.03
MAX_OTHER_EXTRA = 0.015
# Pixels within this many levels (0-255, each channel) count as the same flat colour.
FLAT_TOLERANCE = 12
# A margin or overlay is synthetic when this share of its pixels has one flat colour.
MIN_FLAT_SHARE = 0.5
# An overlay makes the blocks it covers differ by at least this (mean absolute grey level,
# after the best gain and offset from one copy to the other: recolouring is no overlay),
# and covers between these shares of the picture.
OVERLAY_BLOCK = 8
OVERLAY_MIN_DIFFERENCE = 30.0
OVERLAY_SHARES = (0.01, 0.5)
# The gain and offset are refitted on this share of the pixels that fit best.
FIT_SHARE = 0.7
# ... and the edited copy's covered blocks are flatter than the other's by this share.
OVERLAY_FLATTER_BY = 0.2
# A copy is grey when no pixel's channels differ by more than this; the other has colour
# when its mean channel spread reaches COLOUR_SPREAD.
GREY_SPREAD = 3
COLOUR_SPREAD = 8.0
