"""The Milvus store against a real Milvus standalone server (the PyPI package `milvus`):
its layout, results equal to the embedded store's, processes that write and read at the
same time, a server that dies mid-index, and indexing on a Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lookalike import Collection, Settings

FEATURES = ("phash", "dhash", "color")
QUERIES = ("coffee.png", "astronaut.png", "moon.png")

pytest.importorskip("milvus", reason="needs the test extra: pip install 'lookalike[test]'")


def _child(store: str, db: Path, code: str, batch_size: int = 8) -> subprocess.Popen:
    """A Python process working on the store with FEATURES (as another machine would)."""
    script = (f"from lookalike import Collection, Settings\n"
              f"c = Collection(settings=Settings(db={str(db)!r}, store={store!r}, features={FEATURES!r}, "
              f"batch_size={batch_size}))\n{code}\nc.close()\n")
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float = 240) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _stored_paths(collections, name: str) -> int:
    return int(collections.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def test_hashes_are_binary_vectors_and_results_match_the_embedded_store(
    milvus_server, milvus_collections, gallery: Path, tmp_path: Path
) -> None:
    """One collection per feature (Milvus 2.3 holds one vector field per collection), 64-bit
    hashes as 8-byte binary vectors by Hamming distance; with the exact index every search
    and the duplicate groups are the embedded store's."""
    embedded = Collection(settings=Settings(db=tmp_path / "e.db", features=FEATURES))
    url = milvus_collections.fresh("match")
    server = Collection(settings=Settings(db=tmp_path / "m.db", store=url, features=FEATURES))
    with embedded, server:
        for collection in (embedded, server):
            collection.index([gallery], label_from="prefix")
        fields = milvus_collections.client.describe_collection("reused_match_f_phash")["fields"]
        vector = next(field for field in fields if field["name"] == "vector")
        assert vector["type"].name == "BINARY_VECTOR" and vector["params"]["dim"] == 64
        assert server.info().images == embedded.info().images
        for name in QUERIES:
            expected = [(m.image.sha256, round(m.score, 6), m.tier) for m in embedded.search(gallery / name, k=6)]
            found = [(m.image.sha256, round(m.score, 6), m.tier) for m in server.search(gallery / name, k=6)]
            assert found == expected, name

        def groups(collection: Collection) -> list[set[str]]:
            return sorted(({m.sha256 for m in group.images} for group in collection.duplicates()), key=sorted)

        assert groups(server) == groups(embedded)


def test_writers_and_a_reader_in_other_processes_at_once(milvus_collections, gallery: Path, tmp_path: Path) -> None:
    """Two processes index halves of a folder (--shard style) while a third searches; the
    collection ends with every picture once, and the reader never fails nor sees a half-written
    image."""
    folder = tmp_path / "photos"
    shutil.copytree(gallery, folder / "a")
    shutil.copytree(gallery, folder / "b")  # the same pictures under other paths: links, not images
    url = milvus_collections.fresh("concurrent")
    with Collection(settings=Settings(db=tmp_path / "m.db", store=url, features=FEATURES)) as first:
        first.add([gallery / "moon.png"])  # the store exists before the writers start
    reader = _child(url, tmp_path / "r.db", "\n".join([
        "import time",
        "deadline = time.time() + 8",
        "searches = 0",
        "while time.time() < deadline:",
        f"    hits = c.search({str(gallery / 'coffee.png')!r}, k=5)",
        "    assert all(hit.image.paths for hit in hits), hits",
        "    searches += 1",
        "print(searches)",
    ]))
    writers = [_child(url, tmp_path / f"w{n}.db", f"c.index([{str(folder)!r}], shard=({n}, 2))") for n in (0, 1)]
    for writer in writers:
        _finish(writer)
    assert int(_finish(reader)) > 0
    with Collection(settings=Settings(db=tmp_path / "m.db", store=url, features=FEATURES)) as collection:
        info = collection.info()
        distinct = len({(gallery / p.name).read_bytes() for p in gallery.iterdir()})
        assert info.images == distinct
        assert info.paths == 2 * len(list(gallery.iterdir())) + 1
        assert collection.search(gallery / "coffee.png", k=1)[0].tier == "exact"


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lookalike.cli import main

    result = CliRunner().invoke(main, ["--store", "milvus://127.0.0.1:9/nothing", "info"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_cluster_job_with_a_worker_killed_mid_job(milvus_collections, gallery: Path, tmp_path: Path) -> None:
    """`index --cluster local:2` style: two worker processes decode and embed into the server's
    collection; one is killed after the first task, Dask runs its work again on the other (a
    new one comes up), and the job ends with every file once. Run again, it does nothing."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from lookalike.cluster import ClusterJob, index_on_cluster

    folder = tmp_path / "photos"
    for copy in range(2):
        shutil.copytree(gallery, folder / f"set{copy}")
    url = milvus_collections.fresh("cluster")
    settings = Settings(db=tmp_path / "m.db", store=url, features=FEATURES)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one_worker(files: int) -> None:
            if not killed:
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        job = ClusterJob(cluster.scheduler_address, task_files=4)
        report = index_on_cluster(settings, [folder], job, label_from="prefix", on_progress=kill_one_worker)
        assert killed
        files = 2 * len(list(gallery.iterdir()))
        # a task rerun after its worker died may find its files already written: unchanged
        assert report.indexed + report.linked + report.unchanged == files and not report.skipped
        with Collection(settings=settings) as collection:
            info = collection.info()
            assert info.images == len({p.read_bytes() for p in gallery.iterdir()})
            assert info.paths == files
            assert {image.label for image in collection.page(0, 100)} >= {"coffee", "astronaut"}
        again = index_on_cluster(settings, [folder], job)
        assert (again.indexed, again.unchanged) == (0, files)


def test_cluster_needs_a_milvus_server_store(tmp_path: Path) -> None:
    from lookalike.cluster import ClusterJob, index_on_cluster
    from lookalike.errors import StoreError

    with pytest.raises(StoreError, match="milvus://"):
        index_on_cluster(Settings(db=tmp_path / "x.db"), [tmp_path], ClusterJob("local:1"))


def test_a_server_killed_mid_index_comes_back_and_the_index_completes(milvus_server, milvus_collections,
                                                                      gallery: Path, tmp_path: Path) -> None:
    """kill -9 of the server while a process indexes: the writer rides out the restart
    (pymilvus retries an unreachable server; the store waits while the server loads its
    collections again) and every picture is stored once. Runs last of the server's tests:
    it restarts the session's server."""
    folder = tmp_path / "photos"
    for copy in range(2):
        shutil.copytree(gallery, folder / f"set{copy}")
    url = milvus_collections.fresh("restarts")
    with Collection(settings=Settings(db=tmp_path / "m.db", store=url, features=FEATURES)) as collection:
        collection.add([gallery / "moon.png"])
    writer = _child(url, tmp_path / "w.db", f"print(c.index([{str(folder)!r}]).indexed)", batch_size=1)
    while _stored_paths(milvus_collections, "reused_restarts_paths") < 4:  # mid-index
        assert writer.poll() is None, writer.communicate()
        time.sleep(0.1)
    milvus_server.kill()
    time.sleep(1)
    milvus_server.restart()
    _finish(writer, timeout=400)
    with Collection(settings=Settings(db=tmp_path / "m.db", store=url, features=FEATURES)) as collection:
        assert collection.index([folder]).indexed == 0  # nothing left to do
        info = collection.info()
        assert info.images == len({p.read_bytes() for p in gallery.iterdir()})
        assert info.paths == 2 * len(list(gallery.iterdir())) + 1


def test_cli_cluster_refuses_what_it_cannot_do(gallery: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lookalike.cli import main

    runner = CliRunner()
    embedded = runner.invoke(main, ["--db", str(tmp_path / "x.db"), "index", str(gallery), "--cluster", "local:1"])
    assert embedded.exit_code == 1 and "--store milvus://" in embedded.output
    assert not (tmp_path / "x.db").exists()  # refused before making a store it could not use
    sharded = runner.invoke(main, ["--db", str(tmp_path / "x.db"), "index", str(gallery), "--cluster", "local:1",
                                   "--shard", "0/2"])
    assert sharded.exit_code == 2 and "leave out --shard" in sharded.output


def test_serve_answers_from_a_milvus_store(milvus_collections, gallery: Path, tmp_path: Path) -> None:
    """`lookalike --store milvus://... serve`: the HTTP API over the server's collection, as
    several `serve` instances behind a load balancer would run."""
    import httpx

    from tests.server.conftest import start_server, stop_server

    url = milvus_collections.fresh("served")
    added = subprocess.run([sys.executable, "-m", "lookalike.cli", "--store", url, "add",
                            *(str(gallery / name) for name in QUERIES)], capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr[-2000:]
    server = start_server(tmp_path / "unused.db", env={"LOOKALIKE_STORE": url})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            found = http.post("/v1/search", files={"file": (gallery / "coffee.png").read_bytes()}, data={"k": "2"})
            assert found.status_code == 200, found.text
            best = found.json()["results"][0]
            assert best["image"]["name"] == "coffee.png" and best["tier"] == "exact", best
            assert http.get("/v1/duplicates").status_code == 200
        assert url in server.log.read_text()  # it says which store it serves
        assert not (tmp_path / "unused.db").exists()
    finally:
        stop_server(server)
