"""The HTTP API against a real `lookalike serve` process on localhost, with real images."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.server.conftest import RunningServer, start_server, stop_server


@pytest.fixture()
def empty_server(tmp_path: Path):
    server = start_server(tmp_path / "empty.db", "--max-upload-mb", "1", "--max-files", "3")
    yield server
    stop_server(server)


@pytest.fixture()
def keyed_server(tmp_path: Path):
    server = start_server(tmp_path / "keyed.db", "--api-key", "s3cret")
    yield server
    stop_server(server)


def noise_png(pixels: int = 800) -> bytes:
    """A real PNG that does not compress: well over 1 MB."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (pixels, pixels, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_health_docs_and_schema(gallery_server: RunningServer) -> None:
    with gallery_server.client() as http:
        health = http.get("/healthz").json()
        assert (health["status"], health["auth"], health["images"]) == ("ok", "none", 21)
        assert health["limits"]["max_files_per_request"] == 100
        assert "swagger" in http.get("/docs").text.lower()
        assert http.get("/swagger/swagger-ui-bundle.js").status_code == 200  # served locally, no CDN
        paths = http.get("/openapi.json").json()["paths"]
        assert {"/v1/images", "/v1/search", "/v1/compare", "/v1/duplicates", "/v1/neighbors"} <= set(paths)


def test_search_with_an_upload_and_with_a_stored_id(gallery_server: RunningServer, queries: Path) -> None:
    with gallery_server.client() as http:
        answer = http.post("/v1/search", files={"file": (queries / "coffee-rot90.jpg").read_bytes()}, data={"k": "3"})
        assert answer.status_code == 200
        (best, *rest) = answer.json()["results"]
        assert (best["label"], best["tier"]) == ("coffee", "near-duplicate") and len(rest) == 2
        assert http.get(best["image"]["thumbnail_url"]).headers["content-type"] == "image/jpeg"
        by_id = http.post("/v1/search", json={"id": best["id"], "k": 2, "min_score": 0.5}).json()["results"]
        assert by_id[0]["id"] == best["id"] and by_id[0]["tier"] == "exact"
        assert http.post("/v1/search", json={"id": 999999}).status_code == 404
        assert http.post("/v1/search", json={"k": 3}).status_code == 422
        assert http.post("/v1/search", files={"file": b"not an image"}).status_code == 415


def test_compare(gallery_server: RunningServer, gallery: Path, queries: Path) -> None:
    with gallery_server.client() as http:
        same = http.post("/v1/compare", files={"first": (queries / "rocket-grayscale.jpg").read_bytes(),
                                               "second": (gallery / "rocket.png").read_bytes()}).json()
        assert same["verdict"] == "same" and same["score"] >= same["threshold"]
        different = http.post("/v1/compare", files={"first": (gallery / "moon.png").read_bytes(),
                                                    "second": (gallery / "coffee.png").read_bytes()}).json()
        assert different["verdict"] == "different"


def test_duplicates_and_neighbours_are_paginated(gallery_server: RunningServer) -> None:
    with gallery_server.client() as http:
        first = http.get("/v1/duplicates", params={"limit": 2}).json()
        rest = http.get("/v1/duplicates", params={"offset": 2, "limit": 10}).json()
        assert first["total"] == 4 and len(first["groups"]) == 2 and len(rest["groups"]) == 2
        groups = first["groups"] + rest["groups"]
        assert all(g["weakest_link"] >= 0.72 for g in groups)
        assert {frozenset(i["label"] for i in g["images"]) for g in groups} == {
            frozenset({"astronaut"}), frozenset({"chelsea"}), frozenset({"coffee"}), frozenset({"rocket"})}
        page = http.get("/v1/neighbors", params={"k": 2, "offset": 1, "limit": 3}).json()
        assert page["total"] == 21 and len(page["items"]) == 3
        assert all(len(item["neighbors"]) == 2 for item in page["items"])


def test_upload_stores_good_files_and_reports_bad_ones(empty_server: RunningServer, gallery: Path) -> None:
    with empty_server.client() as http:
        answer = http.post("/v1/images", files=[
            ("files", ("moon.png", (gallery / "moon.png").read_bytes())),
            ("files", ("../../../../tmp/evil.png", (gallery / "horse.png").read_bytes())),
            ("files", ("notes.txt", b"hello")),
        ], data={"labels": "sky"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert [i["filename"] for i in body["images"]] == ["moon.png", "../../../../tmp/evil.png"]
        assert [i["name"] for i in body["images"]] == ["moon.png", "evil.png"] and all(i["new"] for i in body["images"])
        assert all(i["label"] == "sky" for i in body["images"])
        assert body["errors"] == [{"filename": "notes.txt", "status": 415, "error": body["errors"][0]["error"]}]
        stored = empty_server.db.parent / "empty.db.files"
        assert all(p.parent.parent == stored for p in stored.rglob("*.png"))  # names never became paths
        assert not Path("/tmp/evil.png").exists()
        again = http.post("/v1/images", files=[("files", ("moon2.png", (gallery / "moon.png").read_bytes()))])
        assert again.json()["images"][0]["id"] == body["images"][0]["id"]  # same content, same image
        assert again.json()["images"][0]["new"] is False
        image_id = body["images"][0]["id"]
        assert http.get(f"/v1/images/{image_id}").json()["width"] == 512
        assert http.get(f"/v1/images/{image_id}/file").content == (gallery / "moon.png").read_bytes()
        assert http.delete(f"/v1/images/{image_id}").status_code == 204
        assert http.get(f"/v1/images/{image_id}").status_code == 404
        assert http.get("/healthz").json()["images"] == 1


def test_upload_limits(empty_server: RunningServer, gallery: Path) -> None:
    with empty_server.client() as http:
        only_bad = http.post("/v1/images", files=[("files", ("x.png", b"\x89PNG\r\n\x1a\n broken"))])
        assert only_bad.status_code == 422
        too_big = http.post("/v1/images", files=[("files", ("noise.png", noise_png()))])
        assert too_big.status_code == 413 and "bytes" in too_big.json()["errors"][0]["error"]
        image = (gallery / "coins.png").read_bytes()
        too_many = http.post("/v1/images", files=[("files", (f"{i}.png", image)) for i in range(4)])
        assert too_many.status_code == 413
        huge_body = http.post("/v1/images", files=[("files", (f"{i}.png", noise_png(1100))) for i in range(2)])
        assert huge_body.status_code == 413
        assert http.get("/healthz").json()["images"] == 0


def test_a_dropped_upload_stores_nothing(empty_server: RunningServer, gallery: Path) -> None:
    image = (gallery / "coins.png").read_bytes()
    boundary = "lookalike-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"c.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode()
    body = head + image + f"\r\n--{boundary}--\r\n".encode()
    host, port = empty_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall((f"POST /v1/images HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
                     f"boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        raw.sendall(body[: len(body) // 2])  # then the client vanishes
    with empty_server.client() as http:
        assert http.get("/healthz").json()["images"] == 0
        assert http.get("/healthz").status_code == 200


def test_api_keys(keyed_server: RunningServer, gallery: Path, tmp_path: Path) -> None:
    image = (gallery / "moon.png").read_bytes()
    with keyed_server.client() as anonymous, keyed_server.client("s3cret") as member:
        assert anonymous.post("/v1/images", files=[("files", ("m.png", image))]).status_code == 401
        assert anonymous.post("/v1/search", files={"file": image}).status_code == 401
        assert anonymous.get("/v1/duplicates").status_code == 401
        for route in ("/v1/dedup/plan", "/v1/dedup/apply"):  # acting on duplicates: the write key
            assert anonymous.post(route, json={"action": "trash"}).status_code == 401
        assert anonymous.post("/v1/dedup/undo").status_code == 401
        assert anonymous.post("/v1/dedup/marks", json={"kind": "keep", "images": [1]}).status_code == 401
        assert member.post("/v1/dedup/undo").status_code == 409  # nothing to undo
        assert keyed_server.client("wrong").get("/v1/images").status_code == 401
        assert member.get("/healthz").json()["auth"] == "all"  # without a key: only {"status": "ok"}
        stored = member.post("/v1/images", files=[("files", ("m.png", image))])
        assert stored.status_code == 201
        thumbnail = stored.json()["images"][0]["thumbnail_url"]
        assert "sig=" in thumbnail and anonymous.get(thumbnail).status_code == 200  # signed: <img> works
        assert anonymous.get(thumbnail.split("?")[0]).status_code == 401
        assert anonymous.get(thumbnail.replace("sig=", "sig=0")).status_code == 401
        assert anonymous.get(thumbnail.replace("/thumbnail", "/file")).status_code == 401  # per path
        bearer = anonymous.get("/v1/images", headers={"Authorization": "Bearer s3cret"})
        assert bearer.status_code == 200 and bearer.json()["total"] == 1
    stop_server(keyed_server)
    read_open = start_server(keyed_server.db, "--api-key", "s3cret", "--read-open")
    try:
        with read_open.client() as anonymous:
            assert anonymous.post("/v1/search", files={"file": image}).json()["results"][0]["tier"] == "exact"
            assert anonymous.delete("/v1/images/1").status_code == 401
    finally:
        stop_server(read_open)


def test_concurrent_searches_and_uploads_lose_nothing(empty_server: RunningServer, gallery: Path, queries: Path) -> None:
    uploads = sorted(p for p in queries.iterdir() if p.name.startswith("chelsea-"))[:9]
    failures: list[str] = []

    def upload(paths: list[Path]) -> None:
        with empty_server.client() as http:
            for path in paths:
                answer = http.post("/v1/images", files=[("files", (path.name, path.read_bytes()))])
                if answer.status_code != 201:
                    failures.append(f"upload {path.name}: {answer.status_code}")

    def search() -> None:
        with empty_server.client() as http:
            for _ in range(6):
                answer = http.post("/v1/search", files={"file": (gallery / "chelsea.png").read_bytes()})
                if answer.status_code != 200:
                    failures.append(f"search: {answer.status_code}")

    workers = [threading.Thread(target=upload, args=(uploads[i::3],)) for i in range(3)]
    workers += [threading.Thread(target=search) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert failures == []
    with empty_server.client() as http:
        assert http.get("/healthz").json()["images"] == len(uploads)
        results = http.post("/v1/search", files={"file": (gallery / "chelsea.png").read_bytes()},
                            data={"k": "20"}).json()["results"]
        assert len(results) == len(uploads)


def test_metrics_count_requests(gallery_server: RunningServer) -> None:
    with gallery_server.client() as http:
        http.get("/v1/images/1")
        text = http.get("/metrics").text
    assert "lookalike_images 21" in text
    assert 'lookalike_index_vectors{feature="effnet_lite0"} 21' in text
    assert 'lookalike_http_requests_total{method="GET",route="/v1/images/{image_id}",status="200"}' in text
    assert "lookalike_http_request_seconds_bucket" in text


def test_search_with_keypoints_explains_a_sure_copy(tmp_path: Path, gallery: Path, queries: Path) -> None:
    """With `serve --rerank keypoints`, a copy the first stage is sure of carries its verified
    keypoints (the page's lines), searched by upload or by id."""
    pytest.importorskip("cv2")
    from lookalike import Collection

    db = tmp_path / "explain.db"
    with Collection(db) as collection:
        collection.index([gallery], label_from="prefix", keypoints=False)  # the server describes on first use
    server = start_server(db, "--rerank", "keypoints")
    try:
        with server.client() as http:
            upload = {"file": (queries / "coffee-jpeg15.jpg").read_bytes()}
            told = http.post("/v1/search", files=upload, data={"k": "2"}).json()["results"]
            assert told[0]["label"] == "coffee" and told[0]["explanation"]["keypoints"]["inliers"] >= 10
            by_id = http.post("/v1/search", json={"id": told[0]["id"], "k": 2}).json()["results"]
            assert by_id[0]["id"] == told[0]["id"] and by_id[0]["tier"] == "exact"
    finally:
        stop_server(server)
