"""Tests for the torch-free ``.pth`` reader.

Synthetic checkpoints are written by a tiny pickle emitter below that produces the
same opcode structure as ``torch.save`` (GLOBALs for ``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and ``torch.<Kind>Storage``, persistent ids for
storages), so no torch is needed to create them.
"""

from __future__ import annotations

import ast
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import lookalike.models
from lookalike.models import CheckpointError, UnsafeCheckpointError, get_model_spec, load_state_dict
from lookalike.models.cache import source_weights

# ---------------------------------------------------------------------------- #
# A minimal writer for torch-style pickles (protocol 2)
# ---------------------------------------------------------------------------- #

_STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}


@dataclass(frozen=True)
class TensorSpec:
    """A tensor as torch stores it: a view (offset, shape, strides) into a storage."""

    storage: str
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class TorchPickleWriter:
    """Emits protocol-2 pickle opcodes the way torch's pickler lays them out."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.out.write(pickle.PROTO + b"\x02")

    def _str(self, s: str) -> None:
        data = s.encode("utf-8")
        self.out.write(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)

    def _int(self, n: int) -> None:
        self.out.write(pickle.BININT + struct.pack("<i", n))

    def _global(self, module: str, name: str) -> None:
        self.out.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))

    def _int_tuple(self, values: tuple[int, ...]) -> None:
        self.out.write(pickle.MARK)
        for v in values:
            self._int(v)
        self.out.write(pickle.TUPLE)

    def _empty_ordered_dict(self) -> None:
        self._global("collections", "OrderedDict")
        self.out.write(pickle.EMPTY_TUPLE + pickle.REDUCE)

    def _tensor(self, t: TensorSpec, storages: dict[str, np.ndarray], legacy: bool) -> None:
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out.write(pickle.MARK)
        # persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel[, None])
        self.out.write(pickle.MARK)
        self._str("storage")
        self._global("torch", _STORAGE_NAMES[storages[t.storage].dtype])
        self._str(t.storage)
        self._str("cpu")
        self._int(storages[t.storage].size)
        if legacy:
            self.out.write(pickle.NONE)
        self.out.write(pickle.TUPLE + pickle.BINPERSID)
        self._int(t.offset)
        self._int_tuple(t.shape)
        self._int_tuple(t.strides)
        self.out.write(pickle.NEWFALSE)
        self._empty_ordered_dict()
        self.out.write(pickle.TUPLE + pickle.REDUCE)

    def state_dict(
        self, tensors: dict[str, TensorSpec], storages: dict[str, np.ndarray], legacy: bool
    ) -> bytes:
        self._empty_ordered_dict()
        self.out.write(pickle.MARK)
        for name, t in tensors.items():
            self._str(name)
            self._tensor(t, storages, legacy)
        self.out.write(pickle.SETITEMS + pickle.STOP)
        return self.out.getvalue()


def write_zip_checkpoint(
    path: Path, tensors: dict[str, TensorSpec], storages: dict[str, np.ndarray]
) -> None:
    """The layout of ``torch.save`` since torch 1.6."""
    data_pkl = TorchPickleWriter().state_dict(tensors, storages, legacy=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for key, array in storages.items():
            z.writestr(f"archive/data/{key}", array.astype(array.dtype.newbyteorder("<")).tobytes())
        z.writestr("archive/version", "3\n")


def write_legacy_checkpoint(
    path: Path, tensors: dict[str, TensorSpec], storages: dict[str, np.ndarray]
) -> None:
    """The pre-1.6 layout: a run of pickles followed by the raw storages."""
    sys_info = {
        "protocol_version": 1001,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    with path.open("wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, sys_info):
            f.write(pickle.dumps(header, protocol=2))
        f.write(TorchPickleWriter().state_dict(tensors, storages, legacy=True))
        keys = list(storages)
        f.write(pickle.dumps(keys, protocol=2))
        for key in keys:
            f.write(struct.pack("<q", storages[key].size))
            f.write(storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes())


def _strided_example() -> tuple[
    dict[str, TensorSpec], dict[str, np.ndarray], dict[str, np.ndarray]
]:
    """Storages, the tensors viewing them, and the arrays those views must produce."""
    rng = np.random.default_rng(0)
    conv = rng.standard_normal((3, 3, 3, 32)).astype(np.float32)  # HWIO, like TF ports
    shared = np.arange(60, dtype=np.float64)
    storages: dict[str, np.ndarray] = {
        "0": conv.ravel(),
        "1": shared,
        "2": np.array([7], dtype=np.int64),
        "3": rng.standard_normal(12).astype(np.float16),
        "4": np.array([True, False, True]),
        "5": np.arange(-3, 3, dtype=np.int8),
        "6": np.zeros(0, dtype=np.float32),
    }
    tensors = {
        # OIHW view of HWIO data, exactly the stride pattern of the real stem conv
        "conv.weight": TensorSpec("0", 0, (32, 3, 3, 3), (1, 32, 288, 96)),
        "a.bias": TensorSpec("1", 5, (4, 5), (10, 1)),  # offset, row stride 10
        "b.bias": TensorSpec("1", 2, (3,), (20,)),  # same storage, other view
        "bn.num_batches_tracked": TensorSpec("2", 0, (), ()),
        "half": TensorSpec("3", 0, (4, 3), (1, 4)),  # transposed
        "mask": TensorSpec("4", 0, (3,), (1,)),
        "small": TensorSpec("5", 1, (2, 2), (2, 1)),
        "empty": TensorSpec("6", 0, (0, 4), (4, 1)),
    }
    expected: dict[str, np.ndarray] = {
        "conv.weight": conv.transpose(3, 2, 0, 1),
        "a.bias": shared[5:45].reshape(4, 10)[:, :5],
        "b.bias": shared[[2, 22, 42]],
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "half": storages["3"].reshape(3, 4).T,
        "mask": storages["4"],
        "small": np.array([[-2, -1], [0, 1]], dtype=np.int8),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    return tensors, storages, expected


# ---------------------------------------------------------------------------- #
# Tests
# ---------------------------------------------------------------------------- #


@pytest.mark.parametrize("writer", [write_zip_checkpoint, write_legacy_checkpoint])
def test_round_trip_with_strides_offsets_and_dtypes(tmp_path: Path, writer) -> None:
    tensors, storages, expected = _strided_example()
    path = tmp_path / "ckpt.pth"
    writer(path, tensors, storages)
    loaded = load_state_dict(path)
    assert list(loaded) == list(tensors)
    for name, want in expected.items():
        got = loaded[name]
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        assert got.flags.c_contiguous and got.flags.writeable, name
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_zip_checkpoint_of_real_weights_matches_legacy(tmp_path: Path) -> None:
    """Re-save the shipped weights in zip format (contiguous) and read them back."""
    with source_weights("efficientnet_lite0") as pth:
        legacy = load_state_dict(pth)
    storages = {str(i): a.ravel() for i, a in enumerate(legacy.values())}
    tensors = {
        name: TensorSpec(str(i), 0, a.shape, tuple(s // a.itemsize for s in a.strides))
        for i, (name, a) in enumerate(legacy.items())
    }
    path = tmp_path / "lite0_zip.pth"
    write_zip_checkpoint(path, tensors, storages)
    assert zipfile.is_zipfile(path)
    loaded = load_state_dict(path)
    assert list(loaded) == list(legacy)
    for name in legacy:
        np.testing.assert_array_equal(loaded[name], legacy[name], err_msg=name)


def test_real_lite0_checkpoint() -> None:
    spec = get_model_spec("efficientnet_lite0")
    with source_weights(spec) as pth:
        sd = load_state_dict(pth)
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert sd["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert sd["_fc.weight"].shape == (1000, 1280)
    assert sd["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(
        v.dtype == np.float32 for k, v in sd.items() if not k.endswith("num_batches_tracked")
    )
    assert all(np.isfinite(v).all() for v in sd.values())
    # BN statistics look like statistics (variances are non-negative)
    assert all((v >= 0).all() for k, v in sd.items() if k.endswith("running_var"))


def test_wrapped_state_dict_is_unwrapped(tmp_path: Path) -> None:
    storages = {"0": np.arange(4, dtype=np.float32)}
    inner = TorchPickleWriter().state_dict(
        {"w": TensorSpec("0", 0, (2, 2), (2, 1))}, storages, legacy=False
    )
    # {"state_dict": <ordered dict>, "epoch": 3}
    body = inner[2:-1]  # strip PROTO and STOP
    data = pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.MARK
    data += pickle.BINUNICODE + struct.pack("<I", 10) + b"state_dict" + body
    data += pickle.BINUNICODE + struct.pack("<I", 5) + b"epoch" + pickle.BININT1 + b"\x03"
    data += pickle.SETITEMS + pickle.STOP
    path = tmp_path / "wrapped.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ckpt/data.pkl", data)
        z.writestr("ckpt/data/0", storages["0"].tobytes())
    np.testing.assert_array_equal(load_state_dict(path)["w"], [[0, 1], [2, 3]])


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_arbitrary_globals_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"builtin\w*\.print"):
        load_state_dict(path)
    assert "never run" not in capsys.readouterr().out


def test_state_injection_into_tensors_is_refused(tmp_path: Path) -> None:
    """A pickle BUILD on a tensor (to widen its strides after the bounds check) fails."""
    storages = {"0": np.arange(4, dtype=np.float32)}
    w = TorchPickleWriter()
    w._empty_ordered_dict()
    w.out.write(pickle.MARK)
    w._str("w")
    w._tensor(TensorSpec("0", 0, (2,), (1,)), storages, legacy=False)
    w.out.write(pickle.EMPTY_DICT + pickle.MARK)
    w._str("stride")
    w._int_tuple((1_000_000,))
    w.out.write(pickle.SETITEMS + pickle.BUILD + pickle.SETITEMS + pickle.STOP)
    path = tmp_path / "inject.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", w.out.getvalue())
        z.writestr("archive/data/0", storages["0"].tobytes())
    with pytest.raises(UnsafeCheckpointError, match="set state"):
        load_state_dict(path)


def test_out_of_bounds_view_is_refused(tmp_path: Path) -> None:
    storages = {"0": np.arange(6, dtype=np.float32)}
    path = tmp_path / "oob.pth"
    write_zip_checkpoint(path, {"w": TensorSpec("0", 2, (2, 3), (3, 1))}, storages)
    with pytest.raises(CheckpointError, match="past the end"):
        load_state_dict(path)


def test_truncated_legacy_file_is_refused(tmp_path: Path) -> None:
    tensors, storages, _ = _strided_example()
    path = tmp_path / "legacy.pth"
    write_legacy_checkpoint(path, tensors, storages)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"hello world")
    with pytest.raises(CheckpointError, match="neither"):
        load_state_dict(path)


def test_corrupt_zip_pickle_is_a_checkpoint_error(tmp_path: Path) -> None:
    tensors, storages, _ = _strided_example()
    path = tmp_path / "ckpt.pth"
    write_zip_checkpoint(path, tensors, storages)
    with zipfile.ZipFile(path) as z:
        records = {name: z.read(name) for name in z.namelist()}
    records["archive/data.pkl"] = records["archive/data.pkl"][:-40]
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in records.items():
            z.writestr(name, payload)
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_state_dict(path)


def test_package_never_imports_torch() -> None:
    package_dir = Path(lookalike.models.__file__).parent
    for source in package_dir.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "torch" or n.startswith("torch.") for n in names), source
