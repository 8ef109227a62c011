"""Read PyTorch ``.pth`` state dicts into numpy arrays without importing torch.

Two on-disk formats exist:

* **legacy** (``torch.save(..., _use_new_zipfile_serialization=False)`` and every
  torch before 1.6): a plain concatenation of pickles -- magic number, protocol
  version, system-info dict, the pickled object, the list of storage keys -- followed
  by, for each storage key in that order, an 8-byte little-endian element count
  and the raw storage bytes.
* **zip** (the default since torch 1.6): a zip archive ``<prefix>/data.pkl`` holding
  the pickled object and ``<prefix>/data/<key>`` holding each raw storage.

In both, tensors are pickled as calls to ``torch._utils._rebuild_tensor_v2`` whose
storage argument is a *persistent id* tuple ``('storage', torch.FloatStorage, key,
location, numel[, view_metadata])``. We unpickle with a restricted
:class:`pickle.Unpickler` that resolves only that handful of globals -- to inert
placeholders defined here -- so that loading a checkpoint can never execute
arbitrary code, then materialise every tensor from its storage honouring its
offset and strides.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

from ..errors import LookalikeError

__all__ = [
    "CheckpointError",
    "UnsafeCheckpointError",
    "load_state_dict",
]

LEGACY_MAGIC_NUMBER: Final = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION: Final = 1001


class CheckpointError(LookalikeError, ValueError):
    """The file is not a checkpoint this reader understands."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The checkpoint's pickle references something outside the allowed set."""


# --------------------------------------------------------------------------- #
# Inert placeholders the restricted unpickler hands out instead of torch objects.
# --------------------------------------------------------------------------- #


class _Inert:
    """Base for placeholders: refuses pickle ``BUILD`` so state cannot be injected.

    (Subclasses must not be ``slots=True`` dataclasses: those get a generated
    ``__setstate__`` that would override this one.)
    """

    def __setstate__(self, state: object) -> None:
        raise UnsafeCheckpointError(
            f"checkpoint tries to set state on {type(self).__name__}; refusing"
        )


@dataclass(frozen=True)
class _StorageType(_Inert):
    """Stand-in for a ``torch.<Kind>Storage`` class: only carries the numpy dtype."""

    torch_name: str
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef(_Inert):
    """A reference to ``numel`` elements of a stored buffer, starting at ``offset``."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    offset: int = 0  # element offset into the root storage (legacy views only)


@dataclass(frozen=True)
class _TensorRef(_Inert):
    """A tensor described by ``_rebuild_tensor_v2``; materialised once data is read."""

    storage: _StorageRef
    storage_offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


# bfloat16 has no numpy dtype: it is read as uint16 and widened to float32 when
# materialised. uint16 never arises otherwise (torch has no legacy UInt16Storage).
_BFLOAT16_RAW: Final = np.dtype("<u2")
_STORAGE_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": _BFLOAT16_RAW,
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "ComplexFloatStorage": np.dtype("<c8"),
    "ComplexDoubleStorage": np.dtype("<c16"),
    "UntypedStorage": np.dtype("u1"),
}


def _rebuild_tensor_v2(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _TensorRef:
    """Placeholder for ``torch._utils._rebuild_tensor_v2``: validates and records."""
    del requires_grad, backward_hooks, metadata  # irrelevant for inference weights
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor storage is not a persistent storage reference")
    offset = _as_int(storage_offset, "storage_offset")
    shape = _as_int_tuple(size, "size")
    strides = _as_int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise CheckpointError(f"tensor size {shape} and stride {strides} differ in rank")
    _check_bounds(offset, shape, strides, storage.numel)
    return _TensorRef(storage, offset, shape, strides)


def _check_bounds(
    offset: int, shape: tuple[int, ...], strides: tuple[int, ...], numel: int
) -> None:
    """Refuse views reaching outside their storage (``as_strided`` would read past it)."""
    if offset < 0 or any(s < 0 for s in shape) or any(s < 0 for s in strides):
        raise CheckpointError("negative tensor offset, size or stride")
    if 0 not in shape:
        last = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
        if last >= numel:
            raise CheckpointError(
                f"tensor (offset {offset}, size {shape}, stride {strides}) reads past "
                f"the end of its storage of {numel} elements"
            )


def _rebuild_parameter(
    data: object, requires_grad: object = False, backward_hooks: object = None
) -> object:
    """Placeholder for ``torch._utils._rebuild_parameter``: a Parameter is its data."""
    del requires_grad, backward_hooks
    if not isinstance(data, _TensorRef):
        raise CheckpointError("Parameter does not wrap a tensor")
    return data


def _rebuild_parameter_with_state(
    data: object, requires_grad: object, backward_hooks: object, state: object
) -> object:
    """Placeholder for ``torch._utils._rebuild_parameter_with_state``."""
    del state
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _as_int(value: object, what: str) -> int:
    if type(value) is not int:
        raise CheckpointError(f"expected an int for {what}, got {type(value).__name__}")
    return value


def _as_int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise CheckpointError(f"expected a tuple for {what}, got {type(value).__name__}")
    return tuple(_as_int(v, what) for v in value)


_ALLOWED_GLOBALS: Final[dict[tuple[str, str], object]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    **{("torch", name): _StorageType(name, dt) for name, dt in _STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler resolving only :data:`_ALLOWED_GLOBALS`; storages become refs."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"checkpoint references {module}.{name}, which is not allowed: only "
                "plain tensors in (Ordered)dicts can be loaded without torch"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"unsupported persistent id {pid!r:.100}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unsupported storage type {storage_type!r:.100}")
        if not isinstance(key, str):
            raise CheckpointError("storage key is not a string")
        numel = _as_int(numel, "storage numel")
        root = self._root_storage(key, storage_type, numel)
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return root
        return self._legacy_view(root, view)

    def _root_storage(self, key: str, storage_type: _StorageType, numel: int) -> _StorageRef:
        ref = self.storages.get(key)
        if ref is None:
            ref = _StorageRef(key, storage_type.dtype, numel)
            self.storages[key] = ref
        elif ref.dtype != storage_type.dtype or ref.numel != numel:
            raise CheckpointError(f"storage {key} is declared with conflicting types/sizes")
        return ref

    @staticmethod
    def _legacy_view(root: _StorageRef, view: object) -> _StorageRef:
        """Legacy format: ``(view_key, offset, view_size)`` slices a root storage."""
        if not (isinstance(view, tuple) and len(view) == 3):
            raise CheckpointError(f"unsupported storage view metadata {view!r:.100}")
        _view_key, offset, size = view
        offset, size = _as_int(offset, "view offset"), _as_int(size, "view size")
        if offset < 0 or size < 0 or offset + size > root.numel:
            raise CheckpointError("storage view lies outside its root storage")
        return _StorageRef(root.key, root.dtype, size, root.offset + offset)


# --------------------------------------------------------------------------- #
# Materialisation
# --------------------------------------------------------------------------- #


def _materialise(ref: _TensorRef, buffers: Mapping[str, np.ndarray]) -> np.ndarray:
    """Copy a tensor out of its (1-D) storage buffer into a C-contiguous array."""
    base = buffers[ref.storage.key]
    start = ref.storage.offset + ref.storage_offset
    # Checked against the declared numel when unpickled; re-checked against the
    # buffer actually read, as the one guard that as_strided stays inside it.
    _check_bounds(start, ref.size, ref.stride, base.size)
    if 0 in ref.size:
        out = np.zeros(ref.size, dtype=base.dtype)
    else:
        view = np.lib.stride_tricks.as_strided(
            base[start:],
            shape=ref.size,
            strides=tuple(s * base.itemsize for s in ref.stride),
            writeable=False,
        )
        out = np.array(view, copy=True, order="C")
    if ref.storage.dtype == _BFLOAT16_RAW:
        out = _bfloat16_to_float32(out)
    return out.astype(out.dtype.newbyteorder("="), copy=False)


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 is the top half of a float32: shift the bits into place."""
    return (raw.astype("<u4") << 16).view("<f4")


def _collect_tensors(obj: object) -> dict[str, _TensorRef]:
    """Find the ``name -> tensor`` mapping inside an unpickled checkpoint object."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    tensors: dict[str, _TensorRef] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise CheckpointError(f"state dict key {key!r:.100} is not a string")
        if not isinstance(value, _TensorRef):
            raise CheckpointError(
                f"state dict entry {key!r} is a {type(value).__name__}, not a tensor"
            )
        tensors[key] = value
    return tensors


def _build_state_dict(
    obj: object, read_storage: Callable[[_StorageRef], np.ndarray]
) -> dict[str, np.ndarray]:
    tensors = _collect_tensors(obj)
    buffers: dict[str, np.ndarray] = {}
    for ref in tensors.values():
        key = ref.storage.key
        if key not in buffers:
            buffers[key] = read_storage(ref.storage)
    return {name: _materialise(ref, buffers) for name, ref in tensors.items()}


# --------------------------------------------------------------------------- #
# Legacy format
# --------------------------------------------------------------------------- #


def _load_legacy(f: IO[bytes]) -> dict[str, np.ndarray]:
    magic = _RestrictedUnpickler(f).load()
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointError("not a torch checkpoint (bad magic number)")
    protocol = _RestrictedUnpickler(f).load()
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise CheckpointError(f"unsupported legacy torch protocol version {protocol!r}")
    sys_info = _RestrictedUnpickler(f).load()
    little_endian = (
        bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
    )

    unpickler = _RestrictedUnpickler(f)
    obj = unpickler.load()
    keys = _RestrictedUnpickler(f).load()
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError("malformed storage key list")
    if set(keys) != set(unpickler.storages):
        raise CheckpointError("storage key list does not match the storages referenced")

    raw: dict[str, np.ndarray] = {}
    for key in keys:
        ref = unpickler.storages[key]
        raw[key] = _read_legacy_storage(f, ref, little_endian)

    def read_storage(ref: _StorageRef) -> np.ndarray:
        return raw[ref.key]

    return _build_state_dict(obj, read_storage)


def _read_legacy_storage(f: IO[bytes], ref: _StorageRef, little_endian: bool) -> np.ndarray:
    header = f.read(8)
    if len(header) != 8:
        raise CheckpointError(f"truncated checkpoint: storage {ref.key} header missing")
    (count,) = struct.unpack("<q" if little_endian else ">q", header)
    if count != ref.numel:
        raise CheckpointError(
            f"storage {ref.key} holds {count} elements but {ref.numel} were declared"
        )
    nbytes = count * ref.dtype.itemsize
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(f"truncated checkpoint: storage {ref.key} data cut short")
    dtype = ref.dtype if little_endian else ref.dtype.newbyteorder(">")
    return np.frombuffer(data, dtype=dtype)


# --------------------------------------------------------------------------- #
# Zip format
# --------------------------------------------------------------------------- #


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError("zip checkpoint must contain exactly one <name>/data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        little_endian = True
        if f"{prefix}byteorder" in names:
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise CheckpointError(f"unknown byteorder record {order!r}")
            little_endian = order == "little"

        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])))
        obj = unpickler.load()

        def read_storage(ref: _StorageRef) -> np.ndarray:
            record = f"{prefix}data/{ref.key}"
            try:
                data = archive.read(record)
            except KeyError:
                raise CheckpointError(f"zip checkpoint lacks storage record {record}") from None
            root = unpickler.storages[ref.key]
            expected = root.numel * root.dtype.itemsize
            if len(data) < expected:
                raise CheckpointError(
                    f"storage {ref.key} has {len(data)} bytes, expected {expected}"
                )
            dtype = root.dtype if little_endian else root.dtype.newbyteorder(">")
            return np.frombuffer(data, dtype=dtype, count=root.numel)

        return _build_state_dict(obj, read_storage)


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Load a torch ``state_dict`` (legacy or zip ``.pth``) as ``name -> ndarray``.

    Arrays are C-contiguous copies in native byte order with the tensor's dtype
    (bfloat16 is widened to float32). A checkpoint wrapping its weights as
    ``{"state_dict": {...}, ...}`` is accepted too. Anything in the pickle beyond
    tensors in dicts raises :class:`UnsafeCheckpointError` without running it.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        with path.open("rb") as f:
            if f.read(1) != pickle.PROTO:
                raise CheckpointError(f"{path} is neither a zip nor a legacy torch checkpoint")
            f.seek(0)
            return _load_legacy(f)
    except CheckpointError:
        raise
    except _MALFORMED_PICKLE_ERRORS as exc:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {exc}") from exc


#: What a corrupt or hand-crafted pickle makes the unpickler (or our placeholders,
#: called with the wrong arguments) raise; reported as :class:`CheckpointError`.
_MALFORMED_PICKLE_ERRORS: Final = (
    EOFError,
    pickle.UnpicklingError,
    struct.error,
    zipfile.BadZipFile,
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
)
