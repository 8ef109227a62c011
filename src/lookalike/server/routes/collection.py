"""Collection-wide views: duplicate groups, neighbour lists, health, metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from ...records import DuplicateGroup
from ...curate import PlannedGroup, group_key
from ..deps import CanRead, CanReadMetrics, ServiceDep, may_read
from ..service import Service
from .views import Signer, image_view

router = APIRouter(tags=["collection"])


@router.get("/v1/duplicates", dependencies=[CanRead])
def duplicates(
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    keep: Annotated[str | None, Query(description="Keeper rules, e.g. original,pixels,quality")] = None,
    prefer: Annotated[list[str], Query(description="Folders whose copies to keep first")] = [],  # noqa: B006
) -> dict[str, Any]:
    """Groups of near-duplicates, largest first, a page at a time (as the marks leave
    them), each with the image the keeper rules keep (`keeper_id`) and why (`reason`)."""
    groups = duplicate_groups(service, min_score)
    page = groups[offset : offset + limit]
    with service.lock.reading():
        planned = _page_plan(service, page, keep, tuple(prefer))
    return {"total": len(groups), "offset": offset, "limit": limit,
            "groups": [_group_view(group, service.sign_url, planned.get(group_key(group))) for group in page]}


def _page_plan(service: Service, page: list[DuplicateGroup], keep: str | None,
               prefer: tuple[str, ...]) -> dict[str, PlannedGroup]:
    """The keepers of a page of groups, by group key; kept with the cached groups (aligning
    copies to spot edited ones takes a fraction of a second per group)."""
    key = ("keepers", tuple(group_key(group) for group in page), keep, prefer)
    planned = service.duplicates_cache.get(key)
    if planned is None:
        plan = service.collection.plan_dedup(keep, prefer=prefer, groups=page)
        planned = service.duplicates_cache[key] = {p.key: p for p in plan.groups}
    return planned


def duplicate_groups(service: Service, min_score: float | None) -> list[DuplicateGroup]:
    """Cached until the collection or the marks change: paging through groups must not
    recompute them (a dedup action clears the cache: moving a path changes no vector)."""
    with service.lock.reading():
        return cached_groups(service, min_score)


def cached_groups(service: Service, min_score: float | None) -> list[DuplicateGroup]:
    """`duplicate_groups` for a caller that holds the service's lock already."""
    key = (service.collection.version(), service.collection.marks_revision(), min_score)
    cached = service.duplicates_cache.get(key)
    if cached is None:
        cached = service.collection.duplicates(min_score)
        service.duplicates_cache.clear()
        service.duplicates_cache[key] = cached
    return cached


def _group_view(group: DuplicateGroup, sign: Signer, planned: PlannedGroup | None = None) -> dict[str, Any]:
    """The keeper is named by its image's id (the API shows no server paths)."""
    keeper = planned.keeper if planned else None
    return {
        "key": group_key(group),
        "size": len(group.images),
        "files": sum(len(image.paths) for image in group.images),
        "weakest_link": round(group.weakest_link, 4),
        "keeper_id": next((image.id for image in group.images if keeper in image.paths), None),
        "reason": planned.reason if planned else None,
        "images": [{**image_view(image, sign), "copies": len(image.paths)} for image in group.images],
    }


@router.get("/v1/neighbors", dependencies=[CanRead])
def neighbors(
    service: ServiceDep,
    k: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Each image's k nearest neighbours with scores, a page of images at a time."""
    with service.lock.reading():
        ids = service.collection.image_ids()
        page = ids[offset : offset + limit]
        items = list(service.collection.neighbors(k, ids=page)) if page else []
    return {
        "total": len(ids), "offset": offset, "limit": limit,
        "items": [
            {**image_view(item.image, service.sign_url),
             "neighbors": [{**image_view(n.image, service.sign_url), "score": round(n.score, 4)}
                           for n in item.neighbours]}
            for item in items
        ],
    }


@router.get("/healthz", tags=["health"])
def health(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Liveness; for those who may read (anyone, unless reads need a key), also the
    collection size and what a client needs to know before writing: whether keys are
    required ("none", "write" or "all") and the upload limits."""
    if not may_read(request, service):
        return {"status": "ok"}
    with service.lock.reading():
        images = len(service.collection)
    config = service.config
    auth = "none" if not config.api_keys else ("write" if config.read_open else "all")
    return {
        "status": "ok",
        "images": images,
        "auth": auth,
        "limits": {"max_file_bytes": config.max_file_bytes, "max_files_per_request": config.max_files_per_request,
                   "max_pixels": config.max_pixels},
    }


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse, dependencies=[CanReadMetrics])
def metrics(service: ServiceDep) -> PlainTextResponse:
    """Prometheus text format: collection size, index sizes, request counts and latency."""
    with service.lock.reading():
        info = service.collection.info()
        vectors = [({"feature": name}, float(size)) for name, size in service.collection.index_sizes().items()]
    gauges = {
        "lookalike_images": ("Images in the collection.", [({}, float(info.images))]),
        "lookalike_paths": ("File paths recorded (identical files share an image).", [({}, float(info.paths))]),
        "lookalike_index_vectors": ("Vectors in each feature index.", vectors),
        "lookalike_store_bytes": ("Bytes on disk.", [({"part": "catalog"}, float(info.db_bytes)),
                                                      ({"part": "indexes"}, float(info.index_bytes))]),
    }
    return PlainTextResponse(service.metrics.render(gauges), media_type="text/plain; version=0.0.4")
