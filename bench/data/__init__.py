"""The benchmark images, prepared idempotently into a data folder (default `bench-data/`).

Everything comes from files that install offline: Debian packages (photos, wallpapers,
clipart, Fashion-MNIST) and scikit-image's bundled samples. `prepare()` writes

    sources/      real photos, long side <= 1600 px, JPEG q95: the originals
    queries/      every edit kind applied to some of the sources: SOURCE-EDIT.jpg (crops "anywhere"
                  are cut at a position drawn per photo; pastes go into one of PASTE_HOSTS, real
                  photos kept out of the gallery)
    distractors/  clipart and Tux Paint stamps flattened on white (PNG)
    pairs/        the same object or scene seen twice: PAIR-a.*, PAIR-b.*
    fashion/      the Fashion-MNIST test split, LABEL-INDEX.png (28 x 28 grey)
    texture/      patches of uniform-texture photos, some rotated: TEXTURE-NN[-rotA].png

A file that exists is kept (each is written under a temporary name, then renamed), so a
re-run costs a few stat calls. Every choice is deterministic: sorted paths, even strides,
fixed grids, positions seeded by file name. Quick mode prepares a small subset in the same layout (a later full run
reuses those files).

The modules: `packages` (the Debian packages and their paths), `photos` (the real photos),
`edits` (the edit kinds), `sizes` (`FULL`, `QUICK`), `textures` (patches), `files` (atomic
writes), `prepare` (all of it into a `Dataset`). The names the benchmarks use are here.
"""

from .edits import EDIT_KINDS, HALF_CROPS, LOCAL_EDITS, PASTE_HOSTS
from .packages import FASHION_DIR, MissingData, ensure_packages, missing_packages
from .photos import source_photos
from .prepare import DEFAULT_DATA_DIR, FASHION_CLASSES, Dataset, EditedCopy, Labelled, prepare, read_idx
from .sizes import FULL, QUICK, Size, pick_evenly
from .textures import TexturePatch, write_textures

__all__ = [
    "DEFAULT_DATA_DIR", "EDIT_KINDS", "FASHION_CLASSES", "FASHION_DIR", "FULL", "HALF_CROPS", "LOCAL_EDITS",
    "PASTE_HOSTS", "QUICK", "Dataset", "EditedCopy", "Labelled", "MissingData", "Size", "TexturePatch",
    "ensure_packages", "missing_packages", "pick_evenly", "prepare", "read_idx", "source_photos", "write_textures",
]
