"""imagededup's hashing methods, without torch (for the quality peers and the speed benchmark).

`imagededup.methods` and `imagededup.utils` import their CNN modules on import, and those
import torch, which we deliberately do not install (the hashing methods need none of it).
Empty stand-ins for those two modules, holding the one name each package imports from
them, let the hashing module load unchanged.
"""

from __future__ import annotations

import sys
import types

# module -> the one name its package imports from it
CNN_MODULES = {"imagededup.methods.cnn": "CNN", "imagededup.utils.models": "CustomModel"}


def without_torch() -> types.ModuleType:
    """`imagededup.methods.hashing` (PHash, DHash, AHash, WHash), loaded without torch."""
    for module, name in CNN_MODULES.items():
        if module not in sys.modules:
            stand_in = types.ModuleType(module)
            vars(stand_in)[name] = None
            sys.modules[module] = stand_in
    from imagededup.methods import hashing

    return hashing
