"""Commands that need no model start fast: `lookalike --help`, `info` and `remove` import
none of the heavy libraries (the CNN's onnxruntime, OpenCV, the web server's FastAPI,
torch, scipy), and `--help` not even FAISS. A check of which modules load, in a fresh
interpreter, not of time: the speed itself is measured by benchmarks, not unit tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lookalike import Collection, Settings
from tests.conftest import HASH_FEATURES

MODEL_AND_SERVER = ("onnxruntime", "onnx", "cv2", "fastapi", "starlette", "uvicorn", "torch", "scipy", "skimage",
                    "matplotlib")
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)([\w.]+)\s*$")


def imports_of(*args: str) -> list[tuple[int, str]]:
    """(depth, module) for every module `python -m lookalike ARGS` imports, in the order
    -X importtime reports them (a module after everything it imported)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "lookalike", *args],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    found = [IMPORT_LINE.match(line) for line in run.stderr.splitlines()]
    return [(len(match.group(1)), match.group(2)) for match in found if match]


def heavy_imports(imports: list[tuple[int, str]], heavy: tuple[str, ...]) -> dict[str, str]:
    """Each heavy package imported -> the chain of modules that brought it in."""
    chains = {}
    for number, (depth, module) in enumerate(imports):
        top = module.split(".")[0]
        if top not in heavy or top in chains:
            continue
        chain, level = [module], depth
        for later_depth, later in imports[number + 1:]:
            if later_depth < level:
                chain.append(later)
                level = later_depth
        chains[top] = " <- ".join(chain)
    return chains


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, gallery: Path) -> Path:
    """A real store of three photos (hashes, colour and texture: no model needed to make it)."""
    db = tmp_path_factory.mktemp("startup") / "store.db"
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        collection.index([gallery / "coffee.png", gallery / "rocket.png", gallery / "moon.png"])
    return db


def test_help_loads_no_model_server_or_index_library() -> None:
    imports = imports_of("--help")
    assert any(module == "lookalike.cli" for _, module in imports)
    assert heavy_imports(imports, (*MODEL_AND_SERVER, "faiss")) == {}


def test_info_and_remove_load_no_model_or_server(store: Path, gallery: Path) -> None:
    assert heavy_imports(imports_of("--db", str(store), "info"), MODEL_AND_SERVER) == {}
    assert heavy_imports(imports_of("--db", str(store), "remove", str(gallery / "moon.png")), MODEL_AND_SERVER) == {}


def test_a_search_loads_the_model_runtime_but_not_its_converter(tmp_path: Path, gallery: Path) -> None:
    """A search runs the converted model with onnxruntime: onnx (the converter, the heaviest
    import of all) and scipy load only when a model is converted or a stage needs them."""
    db = tmp_path / "full.db"
    with Collection(settings=Settings(db=db)) as collection:  # converts the models into the cache first
        collection.index([gallery / "coffee.png", gallery / "rocket.png"])
    imports = imports_of("--db", str(db), "search", str(gallery / "coffee.png"))
    assert any(module == "onnxruntime" for _, module in imports)
    assert heavy_imports(imports, ("onnx", "scipy", "cv2", "fastapi", "starlette", "torch", "skimage",
                                   "matplotlib")) == {}
