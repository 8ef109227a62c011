"""Every error lookalike raises on purpose. Each carries its data and says how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class LookalikeError(Exception):
    """Base class: catch this to handle every lookalike failure at an edge (CLI, HTTP)."""


class DecodeError(LookalikeError):
    """A file could not be turned into pixels. `source` names the file."""

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class NotAnImage(DecodeError):
    """The bytes are not in any image format we read (or the file is empty)."""


class CorruptImage(DecodeError):
    """The file looks like an image but its data is damaged or truncated."""


@dataclass(frozen=True)
class LimitAdvice:
    """What a person whose image was refused for its size can do about it, per unit
    ("pixels", "bytes"). Each edge says its own: the Python API names Settings' fields (the
    default), the command line its --max-megapixels option, the server what it takes and
    which option its operator sets (`Settings.limit_advice` carries it to the decoder)."""

    pixels: str = "raise Settings.max_pixels if you trust this file"
    bytes: str = "raise Settings.max_bytes if you trust this file"

    def for_unit(self, unit: str) -> str:
        return self.bytes if unit == "bytes" else self.pixels


class ImageTooLarge(DecodeError):
    """Pixel count or byte size over the limit: a guard against decompression bombs.
    `fix` says what the reader can do (default: the Python API's, see `LimitAdvice`)."""

    def __init__(self, source: str | Path, size: int, limit: int, unit: str = "pixels", fix: str | None = None) -> None:
        self.size = size
        self.limit = limit
        self.unit = unit
        self.fix = fix or LimitAdvice().for_unit(unit)
        super().__init__(source, f"image too large: {size:,} {unit} > limit {limit:,} ({self.fix})")


class OddShape(DecodeError):
    """Width and height so far apart (a 1 x 5,000 strip) that no feature can describe the
    picture: refused before decoding, like a bomb, because every feature would have to
    stretch it out of all proportion."""

    def __init__(self, source: str | Path, width: int, height: int, max_aspect: int) -> None:
        self.width = width
        self.height = height
        self.max_aspect = max_aspect
        super().__init__(
            source,
            f"odd shape: {width} x {height} pixels, one side more than {max_aspect} times the other "
            "(not a picture lookalike can describe)",
        )


class StoreError(LookalikeError):
    """The store is missing, from a newer version, or would mix incompatible vectors."""


class IndexFolderBlocked(StoreError):
    """The embedded store's index folder (`DB.indexes`) exists but is not a folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"{self.path}: the store keeps its vector indexes in this folder, but it is a file; "
            "move or rename that file (the indexes are then rebuilt from the catalog)"
        )


class FeatureMismatch(StoreError):
    """The store holds vectors made by another version of a feature or model."""


class UnknownFeature(LookalikeError):
    """A feature name that is not registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown feature {name!r}; known: {', '.join(sorted(known))}")


class FileGone(LookalikeError):
    """No file of a stored image is on disk any more (moved or deleted since it was indexed)."""

    def __init__(self, image_id: int) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id}: its file is no longer on disk (index its new place, or remove it)")


class NotInCollection(LookalikeError):
    """An id or path that the collection does not hold."""

    def __init__(self, key: str | int) -> None:
        self.key = key
        super().__init__(f"not in the collection: {key}")


class FileChanged(LookalikeError):
    """A file about to be acted on (or kept) is not what the collection indexed: gone, or its
    size, modification time or content differ. Nothing is done to it."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = str(path)
        self.what = what
        super().__init__(f"{self.path}: {what} since it was indexed; nothing done to it "
                         "(index its folder again, then look at the duplicates again)")


class UnknownKeepRule(LookalikeError):
    """A keeper rule name that is not one of `lookalike.curate.keeper.RULES`."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown keeper rule {name!r}; known: {', '.join(known)}")


class NothingToUndo(LookalikeError):
    """`undo` found no run of `duplicates --apply` that can still be undone."""

    def __init__(self) -> None:
        super().__init__("nothing to undo: no applied run of `lookalike duplicates --apply` is left "
                         "(runs already undone, and deletions, cannot be undone)")
