"""The service against an attacker, each test on a real `lookalike serve` over a real store:
signed URLs bound to the content, upload racing delete, Host and Origin checks, body and
value limits, what health and metrics tell strangers, crash leftovers, JSON errors."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.server.conftest import RunningServer, start_server, stop_server

KEY = "s3cret"
MB = 1024 * 1024


@pytest.fixture()
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A fresh store; the test's `serve` options come from @pytest.mark.serve(...)."""
    marker = request.node.get_closest_marker("serve")
    running = start_server(tmp_path / "store.db", *(marker.args if marker else ()))
    yield running
    stop_server(running)


def png(side: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def assert_json_error(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json"), answer.text[:300]
    message = answer.json()["detail"]
    assert isinstance(message, (str, list)) and "Traceback" not in answer.text
    for word in words:
        assert word in str(message), message


# --- 3: a signed URL is bound to the picture it was signed for ---------------------------------

@pytest.mark.serve("--api-key", KEY)
def test_a_signed_url_never_serves_another_picture(server: RunningServer, gallery: Path) -> None:
    first, second = (gallery / "moon.png").read_bytes(), (gallery / "coins.png").read_bytes()
    with server.client(KEY) as member, server.client() as anonymous:
        stored = member.post("/v1/images", files=[("files", ("moon.png", first))]).json()["images"][0]
        assert anonymous.get(stored["file_url"]).content == first  # the signed URL opens without a key
        assert member.delete(f"/v1/images/{stored['id']}").status_code == 204
        assert_json_error(anonymous.get(stored["file_url"]), 404, "not in the collection")
        other = member.post("/v1/images", files=[("files", ("coins.png", second))]).json()["images"][0]
        for url in (stored["file_url"], stored["thumbnail_url"]):
            old = anonymous.get(url)
            assert old.status_code in (404, 410) and old.content != second, (other["id"], stored["id"], old.status_code)
            if other["id"] == stored["id"]:  # the store gave the id to the new picture
                assert_json_error(old, 410, "signed URL")
        assert anonymous.get(other["file_url"]).content == second  # the new picture's own URL works
        # The id in a signed URL cannot be swapped for another one.
        forged = other["file_url"].replace(f"/{other['id']}/", f"/{other['id'] + 1000}/")
        assert anonymous.get(forged).status_code == 401


# --- 4: upload and delete of the same picture at once ------------------------------------------

def test_upload_racing_delete_of_the_same_picture_loses_nothing(server: RunningServer, gallery: Path) -> None:
    picture = (gallery / "astronaut.png").read_bytes()
    statuses: list[tuple[str, int]] = []
    missing: list[str] = []
    deadline = time.monotonic() + 240

    def upload(http: httpx.Client) -> None:
        statuses.append(("upload", http.post("/v1/images", files=[("files", ("a.png", picture))]).status_code))

    def delete(http: httpx.Client, image_id: int) -> None:
        statuses.append(("delete", http.delete(f"/v1/images/{image_id}").status_code))

    clients = [server.client() for _ in range(4)]
    try:
        rounds = 0
        while rounds < 50 and time.monotonic() < deadline:
            rounds += 1
            answer = clients[0].post("/v1/images", files=[("files", ("a.png", picture))])
            assert answer.status_code in (200, 201), answer.text
            image_id = answer.json()["images"][0]["id"]
            workers = [threading.Thread(target=delete, args=(clients[0], image_id)),
                       threading.Thread(target=upload, args=(clients[1],)),
                       threading.Thread(target=delete, args=(clients[2], image_id)),
                       threading.Thread(target=upload, args=(clients[3],))]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=120)
            for image in clients[0].get("/v1/images").json()["images"]:
                served = clients[0].get(image["file_url"])
                if served.status_code != 200 or served.content != picture:
                    missing.append(f"round {rounds}: image {image['id']} answers {served.status_code}")
        assert rounds >= 10
    finally:
        for client in clients:
            client.close()
    assert [s for s in statuses if s[1] >= 500] == [] and missing == []
    assert {status for kind, status in statuses if kind == "upload"} <= {200, 201}
    assert {status for kind, status in statuses if kind == "delete"} <= {204, 404}


# --- 6: Host and Origin ----------------------------------------------------------------------

def test_foreign_origins_and_unknown_hosts_are_refused(server: RunningServer, gallery: Path) -> None:
    picture = [("files", ("moon.png", (gallery / "moon.png").read_bytes()))]
    port = server.url.rsplit(":", 1)[1]
    with server.client() as http:
        assert_json_error(http.post("/v1/images", files=picture, headers={"Origin": "http://evil.example"}),
                          403, "http://evil.example", "--allow-origin")
        assert_json_error(http.post("/v1/images", files=picture, headers={"Sec-Fetch-Site": "cross-site"}),
                          403, "--allow-origin")
        assert_json_error(http.post("/v1/images", files=picture, headers={"Referer": "http://evil.example/form"}),
                          403, "--allow-origin")
        assert_json_error(http.delete("/v1/images/1", headers={"Origin": "null"}), 403)
        assert_json_error(http.post("/v1/search", json={"id": 1}, headers={"Origin": "http://evil.example"}), 403)
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io"):
            assert_json_error(http.get("/v1/images", headers={"Host": host}), 400, "--allow-host")
            assert_json_error(http.get("/", headers={"Host": host}), 400, "--allow-host")
        assert http.get("/v1/images").json()["total"] == 0
        # The page's own origin, local names, and any IP literal (no DNS name to rebind) are fine.
        same = http.post("/v1/images", files=picture, headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 201, same.text
        for host in (f"localhost:{port}", "localhost", f"[::1]:{port}", f"192.168.1.7:{port}", f"photos.localhost:{port}"):
            assert http.get("/v1/images", headers={"Host": host}).status_code == 200, host
        local = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
        assert http.post("/v1/search", json={"id": 1}, headers=local).status_code == 200
        assert http.get("/v1/images", headers={"Origin": "http://evil.example"}).status_code == 200  # reads: CORS


def test_allow_host_and_allow_origin_options(tmp_path: Path, gallery: Path) -> None:
    picture = [("files", ("moon.png", (gallery / "moon.png").read_bytes()))]
    listed = start_server(tmp_path / "a.db", "--allow-host", "photos.lan", "--allow-origin", "https://photos.example",
                          env={"LOOKALIKE_ALLOWED_HOSTS": "", "LOOKALIKE_ALLOWED_ORIGINS": ""})
    try:
        with listed.client() as http:
            assert http.get("/v1/images", headers={"Host": "photos.lan:8000"}).status_code == 200
            assert http.get("/v1/images", headers={"Host": "other.lan"}).status_code == 400
            allowed = http.post("/v1/images", files=picture, headers={"Origin": "https://photos.example"})
            assert allowed.status_code == 201, allowed.text
            assert http.delete("/v1/images/1", headers={"Origin": "https://photos.example:8443"}).status_code == 403
    finally:
        stop_server(listed)
    from_env = start_server(tmp_path / "b.db", env={"LOOKALIKE_ALLOWED_HOSTS": "a.lan,b.lan",
                                                    "LOOKALIKE_ALLOWED_ORIGINS": "http://b.lan:9000"})
    try:
        with from_env.client() as http:
            assert http.get("/v1/images", headers={"Host": "b.lan"}).status_code == 200
            assert http.get("/v1/images", headers={"Host": "c.lan"}).status_code == 400
            assert http.post("/v1/images", files=picture, headers={"Origin": "http://b.lan:9000"}).status_code == 201
    finally:
        stop_server(from_env)
    anything = start_server(tmp_path / "c.db", "--allow-host", "*", "--allow-origin", "*")
    try:
        with anything.client() as http:
            assert http.get("/v1/images", headers={"Host": "whatever.example"}).status_code == 200
            assert http.post("/v1/images", files=picture, headers={"Origin": "http://x.example"}).status_code == 201
    finally:
        stop_server(anything)


def test_bound_to_every_interface_it_answers_addresses_and_says_names_need_allowing(tmp_path: Path) -> None:
    server = start_server(tmp_path / "lan.db", "--host", "0.0.0.0")
    try:
        port = server.url.rsplit(":", 1)[1]
        with server.client() as http:
            assert http.get("/v1/images", headers={"Host": f"192.168.1.7:{port}"}).status_code == 200
            assert_json_error(http.get("/v1/images", headers={"Host": f"myhost.lan:{port}"}), 400,
                              "--allow-host myhost.lan")
        assert "--allow-host" in server.log.read_text()
    finally:
        stop_server(server)


# --- 7: body limits ----------------------------------------------------------------------------

@pytest.mark.serve("--max-upload-mb", "1", "--max-files", "4")
def test_each_route_takes_only_the_body_it_needs(server: RunningServer, gallery: Path) -> None:
    small = (gallery / "coins.png").read_bytes()
    assert len(small) < MB // 2
    with server.client() as http:
        huge_json = b'{"id": 1, "pad": "' + b"x" * (2 * MB) + b'"}'
        assert_json_error(http.post("/v1/search", content=huge_json, headers={"Content-Type": "application/json"}),
                          413, "bytes")
        two_files = [("file", ("a.png", png(500, 1))), ("file", ("b.png", png(500, 2)))]
        assert_json_error(http.post("/v1/search", files=two_files), 413)  # one image per search
        three = {"first": png(560, 1), "second": png(560, 2), "third": png(560, 3)}
        assert_json_error(http.post("/v1/compare", files=three), 413)  # two per compare
        assert_json_error(http.request("DELETE", "/v1/images/1", content=b"x" * (2 * MB)), 413)

        def chunks(field: str, total: int) -> Iterator[bytes]:
            """A multipart body with no Content-Length (chunked): one endless file part."""
            yield (f'--zz\r\nContent-Disposition: form-data; name="{field}"; filename="a.png"\r\n'
                   f"Content-Type: image/png\r\n\r\n").encode()
            for _ in range(total // (64 * 1024)):
                yield b"y" * (64 * 1024)
            yield b"\r\n--zz--\r\n"

        for route, field, total in (("/v1/search", "file", 3 * MB), ("/v1/images", "files", 6 * MB)):
            chunked = http.post(route, content=chunks(field, total),
                                headers={"Content-Type": "multipart/form-data; boundary=zz"})
            assert_json_error(chunked, 413, "bytes")
        # What each route needs still passes.
        assert http.post("/v1/search", files={"file": small}).status_code == 200
        assert http.post("/v1/compare", files={"first": small, "second": small}).json()["verdict"] == "same"
        four = http.post("/v1/images", files=[("files", (f"{i}.png", png(300, i))) for i in range(4)])
        assert four.status_code == 201, four.text
        assert http.get("/healthz").json()["images"] == 4


def test_ids_beyond_the_store_range_are_not_found(gallery_server: RunningServer) -> None:
    with gallery_server.client() as http:
        for path in ("/v1/images/99999999999999999999", "/v1/images/99999999999999999999/file",
                     "/v1/images/99999999999999999999/thumbnail", "/v1/images/9223372036854775808"):
            assert_json_error(http.get(path), 404, "not in the collection")
        assert_json_error(http.delete("/v1/images/99999999999999999999"), 404)
        assert_json_error(http.post("/v1/search", json={"id": 1e20}), 422, "id")
        assert_json_error(http.post("/v1/search", json={"id": 99999999999999999999}), 422, "id")
        assert http.get("/v1/images/9223372036854775807").status_code == 404


@pytest.mark.serve("--max-megapixels", "1")
def test_too_many_pixels_is_refused_as_unprocessable(server: RunningServer) -> None:
    big = png(1100)  # 1.21 MP, a small request
    with server.client() as http:
        answer = http.post("/v1/images", files=[("files", ("big.png", big))])
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["status"] == 422 and "pixels" in answer.json()["errors"][0]["error"]
        assert_json_error(http.post("/v1/search", files={"file": big}), 422, "pixels")
        assert_json_error(http.post("/v1/compare", files={"first": big, "second": png(300)}), 422, "pixels")
        # What an HTTP client can do (not "raise max_pixels in Settings"): a smaller image, or the operator's option.
        advice = "this server takes images of up to 1 megapixels: send a smaller one, or have its operator raise " \
                 "`lookalike serve --max-megapixels`"
        assert advice in answer.json()["errors"][0]["error"]
        assert advice in http.post("/v1/search", files={"file": big}).json()["detail"]


def test_labels_are_short_printable_text(server: RunningServer, gallery: Path) -> None:
    picture = [("files", ("moon.png", (gallery / "moon.png").read_bytes()))]
    with server.client() as http:
        for label in ("x" * 900_000, "x" * 201, "sky\nline", "sky\x00", "\x1b[31mred"):
            assert_json_error(http.post("/v1/images", files=picture, data={"labels": label}), 422, "label")
        assert http.get("/healthz").json()["images"] == 0
        fine = http.post("/v1/images", files=picture, data={"labels": "ciel étoilé " + "x" * 188})
        assert fine.status_code == 201 and len(fine.json()["images"][0]["label"]) == 200


def test_uploading_stored_bytes_again_says_so_and_keeps_the_label_honest(server: RunningServer, gallery: Path) -> None:
    picture = (gallery / "moon.png").read_bytes()
    with server.client() as http:
        first = http.post("/v1/images", files=[("files", ("m.png", picture))], data={"labels": "sky"})
        assert first.status_code == 201
        image_id = first.json()["images"][0]["id"]
        same = http.post("/v1/images", files=[("files", ("m2.png", picture))], data={"labels": "sky"})
        assert same.status_code == 200 and same.json()["images"][0]["new"] is False
        unlabelled = http.post("/v1/images", files=[("files", ("m3.png", picture))])
        assert unlabelled.status_code == 200 and unlabelled.json()["images"][0]["label"] == "sky"
        relabelled = http.post("/v1/images", files=[("files", ("m4.png", picture))], data={"labels": "night"})
        assert relabelled.status_code == 409, relabelled.text
        (error,) = relabelled.json()["errors"]
        assert error["status"] == 409 and "sky" in error["error"] and str(image_id) in error["error"]
        assert relabelled.json()["images"] == []
        assert http.get(f"/v1/images/{image_id}").json()["label"] == "sky"  # what the answer said is true
        mixed = http.post("/v1/images", files=[("files", ("m5.png", picture)),
                                               ("files", ("c.png", (gallery / "coins.png").read_bytes()))],
                          data={"labels": "night"})
        assert mixed.status_code == 201 and [e["status"] for e in mixed.json()["errors"]] == [409]
        horse = [("files", ("h.png", (gallery / "horse.png").read_bytes()))]
        assert http.post("/v1/images", files=horse).status_code == 201
        late = http.post("/v1/images", files=horse, data={"labels": "animal"})
        assert late.status_code == 409 and "no label" in late.json()["errors"][0]["error"]


# --- 7: what health and metrics tell someone without a key -----------------------------------------

def test_health_and_metrics_keep_quiet_when_reads_need_a_key(tmp_path: Path, gallery: Path) -> None:
    closed = start_server(tmp_path / "m.db", "--api-key", KEY)
    try:
        with closed.client() as anonymous, closed.client(KEY) as member:
            member.post("/v1/images", files=[("files", ("m.png", (gallery / "moon.png").read_bytes()))])
            assert anonymous.get("/healthz").json() == {"status": "ok"}
            assert member.get("/healthz").json()["images"] == 1
            assert_json_error(anonymous.get("/metrics"), 401, "API key")
            assert "lookalike_images 1" in member.get("/metrics").text
    finally:
        stop_server(closed)
    opened = start_server(tmp_path / "m.db", "--api-key", KEY, "--open-metrics")
    try:
        with opened.client() as anonymous:
            assert "lookalike_images 1" in anonymous.get("/metrics").text
            assert anonymous.get("/healthz").json() == {"status": "ok"}
    finally:
        stop_server(opened)
    readable = start_server(tmp_path / "m.db", "--api-key", KEY, "--read-open")
    try:
        with readable.client() as anonymous:
            assert anonymous.get("/healthz").json()["images"] == 1
            assert anonymous.get("/metrics").status_code == 200
    finally:
        stop_server(readable)


# --- 7: crash leftovers, JSON errors -------------------------------------------------------------

def test_leftover_upload_files_are_cleaned_on_start(tmp_path: Path, gallery: Path) -> None:
    db = tmp_path / "crash.db"
    picture = (gallery / "moon.png").read_bytes()
    first = start_server(db)
    try:
        with first.client() as http:
            image_id = http.post("/v1/images", files=[("files", ("m.png", picture))]).json()["images"][0]["id"]
    finally:
        stop_server(first)
    files = Path(f"{db}.files")
    (stored,) = [p for p in files.rglob("*") if p.is_file()]
    leftovers = [stored.parent / ".upload-k2j3h4", files / "00" / ".upload-zz91x"]
    for leftover in leftovers:
        leftover.parent.mkdir(exist_ok=True)
        leftover.write_bytes(picture[:1000])  # a crash mid-write
    again = start_server(db)
    try:
        assert not any(leftover.exists() for leftover in leftovers)
        assert stored.read_bytes() == picture
        with again.client() as http:
            assert http.get(f"/v1/images/{image_id}/file").content == picture
    finally:
        stop_server(again)


def test_every_error_is_json_with_a_message(tmp_path: Path, gallery: Path) -> None:
    db = tmp_path / "broken.db"
    Path(f"{db}.files").write_text("not a folder")  # uploads cannot be kept: an unexpected failure
    server = start_server(db)
    try:
        with server.client() as http:
            failed = http.post("/v1/images", files=[("files", ("m.png", (gallery / "moon.png").read_bytes()))])
            assert_json_error(failed, 500)
            assert "File" not in failed.text and "line " not in failed.text
            assert_json_error(http.get("/no/such/page"), 404)
            assert_json_error(http.put("/v1/images"), 405)
            assert_json_error(http.post("/v1/search", content=b"{", headers={"Content-Type": "application/json"}), 422)
            assert_json_error(http.get("/static/nothing.js"), 404)
    finally:
        stop_server(server)


def test_search_options_out_of_range_say_which_and_why(tmp_path: Path, gallery: Path) -> None:
    """k=0 answered pydantic's raw multi-line report (with a link to its docs)."""
    server = start_server(tmp_path / "k.db")
    try:
        with server.client() as http:
            picture = (gallery / "moon.png").read_bytes()
            for answer in (http.post("/v1/search", files={"file": ("q.png", picture)}, data={"k": "0"}),
                           http.post("/v1/search", json={"id": 1, "k": 0})):
                assert_json_error(answer, 422)
                detail = answer.json()["detail"]
                assert detail.startswith("k: ") and "greater than or equal to 1" in detail, detail
                assert "pydantic" not in answer.text and "\n" not in detail
            compared = http.post("/v1/compare", files={"first": ("a.png", picture), "second": ("b.png", picture)})
            assert compared.status_code == 200 and compared.json()["verdict"] == "same"
    finally:
        stop_server(server)
