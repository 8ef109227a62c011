"""Acting on duplicates: a dry run, apply, undo, and the "not duplicates" / "keep" marks:
/v1/dedup. Every route that plans or changes something needs the write key.

Groups are named by their key (their image ids, "12-15-33", as `GET /v1/duplicates` gives
it) and a keeper by its image's id: the API shows no server paths, so reports name files
by their file names only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, Field, model_validator

from ...curate import DedupPlan, group_key
from ..deps import CanRead, CanWrite, ServiceDep
from ..service import Service
from .collection import cached_groups

router = APIRouter(prefix="/v1/dedup", tags=["dedup"])


class DedupRequest(BaseModel):
    action: Literal["move-to", "trash", "hardlink", "symlink", "delete"] = Field(
        description="What to do with the copies that are not kept.")
    target: str | None = Field(None, description="The server folder for move-to.")
    keep: str | None = Field(None, description="Keeper rules, comma-separated (default: the collection's default).")
    prefer: list[str] = Field([], description="Server folders whose copies to keep first.")
    min_score: float | None = Field(None, ge=0, le=1)
    groups: list[str] | None = Field(None, description="Keys of the groups to act on (default: every group).")
    keepers: dict[str, int] = Field({}, description="A group's key -> the id of the image to keep instead.")

    @model_validator(mode="after")
    def _target_for_move(self) -> "DedupRequest":
        if self.action == "move-to" and not self.target:
            raise ValueError("move-to needs a target folder on the server")
        return self


class MarkRequest(BaseModel):
    kind: Literal["distinct", "keep"] = Field(description="distinct: not duplicates; keep: keep them all.")
    images: list[int] = Field(min_length=1, max_length=1000, description="The images' ids (a pair or a group).")
    note: str | None = Field(None, max_length=500)


@router.post("/plan", dependencies=[CanWrite])
def plan(service: ServiceDep, request: DedupRequest) -> dict[str, Any]:
    """The dry run: each chosen group's keeper and reason, and what the action would do."""
    with service.lock.reading():
        return _plan_view(_plan(service, request))


@router.post("/apply", dependencies=[CanWrite])
def apply(service: ServiceDep, request: DedupRequest) -> dict[str, Any]:
    """Act on the chosen groups (every file checked against the catalog first, journaled,
    and followed in the catalog); `POST /v1/dedup/undo` puts it back."""
    with service.lock.writing():
        made = _plan(service, request)
        report = service.collection.apply(made)
        service.duplicates_cache.clear()
    return {"run": report.run_id, "action": report.action, "summary": made.summary(),
            "done": [Path(path).name for path in report.done],
            "refused": [{"name": Path(path).name, "reason": why} for path, why in report.refused]}


@router.post("/undo", dependencies=[CanWrite])
def undo(service: ServiceDep) -> dict[str, Any]:
    """Undo the newest applied run (deletions cannot be undone): 409 when there is none."""
    with service.lock.writing():
        report = service.collection.undo()
        service.duplicates_cache.clear()
    return {"run": report.run_id, "action": report.action, "restored": [Path(p).name for p in report.restored],
            "failed": [{"name": Path(path).name, "reason": why} for path, why in report.failed]}


@router.get("/marks", dependencies=[CanRead])
def list_marks(service: ServiceDep) -> dict[str, Any]:
    """Every mark, in the export format (`POST /v1/dedup/marks/import` reads it), without paths."""
    with service.lock.reading():
        exported = service.collection.export_marks()
    for entry in exported["marks"]:
        entry.pop("paths", None)
    return exported


@router.post("/marks", status_code=201, dependencies=[CanWrite])
def add_mark(service: ServiceDep, request: MarkRequest) -> dict[str, Any]:
    """Remember that these images are not duplicates of each other (never grouped again),
    or that they are all to be kept (no action proposed on them again)."""
    if request.kind == "distinct" and len(set(request.images)) < 2:
        raise HTTPException(422, "mark at least two different images as not duplicates")
    with service.lock.writing():
        mark = service.collection.mark_distinct if request.kind == "distinct" else service.collection.mark_keep
        mark_id = mark(request.images, request.note)
        service.duplicates_cache.clear()
    return {"id": mark_id, "kind": request.kind, "images": request.images}


@router.post("/marks/import", dependencies=[CanWrite])
def import_marks(service: ServiceDep, data: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    with service.lock.writing():
        count = service.collection.import_marks(data)
        service.duplicates_cache.clear()
    return {"imported": count}


@router.delete("/marks/{mark_id}", status_code=204, dependencies=[CanWrite])
def remove_mark(service: ServiceDep, mark_id: int) -> None:
    with service.lock.writing():
        if not service.collection.unmark(mark_id):
            raise HTTPException(404, f"no mark {mark_id}")
        service.duplicates_cache.clear()


def _plan(service: Service, request: DedupRequest) -> DedupPlan:
    """The plan for the groups the request names (all by default); a key that names no
    current group (the collection changed since the page loaded) is a conflict. Call
    under the service's lock."""
    groups = cached_groups(service, request.min_score)
    by_key = {group_key(group): group for group in groups}
    wanted = list(by_key) if request.groups is None else request.groups
    unknown = [key for key in wanted if key not in by_key]
    if unknown:
        raise HTTPException(409, f"no such group now: {', '.join(unknown[:5])} (the collection changed: reload the groups)")
    keepers = {}
    for key, image_id in request.keepers.items():
        group = by_key.get(key)
        image = next((i for i in group.images if i.id == image_id), None) if group else None
        path = next((p for p in image.paths if Path(p).is_file()), None) if image else None
        if path is None:
            raise HTTPException(422, f"image {image_id} is not a file of group {key} on disk")
        keepers[key] = path
    return service.collection.plan_dedup(request.keep, prefer=request.prefer, action=request.action,
                                         target=request.target, keepers=keepers, groups=[by_key[k] for k in wanted])


def _plan_view(made: DedupPlan) -> dict[str, Any]:
    return {"rules": made.rules, "summary": made.summary(), "groups": [
        {"key": g.key, "keeper_id": g.image_of(g.keeper).id, "keeper_name": Path(g.keeper).name, "reason": g.reason,
         "act": [Path(p).name for p in g.act], "kept": [Path(p).name for p in g.kept]} for g in made.groups]}
