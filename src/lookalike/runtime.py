"""What a collection builds once and reuses for every call: its extractors (the CNN's model
is loaded once), the features of the model files it uses, the re-ranking stages' state
(the keypoint stage's feature cache, the texture stage's parsed classifier) and its
worker pools.

A store owns one (`Store.runtime`, made when it opens, closed with it), so a `Collection`
owns its runtime through its store; a one-off `compare` makes its own. Nothing of this
lives in a module global: two collections in one process, or two tests, never share a
model, a cache or a pool by accident, and closing a collection stops its threads.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from .features.base import Extractor, FeatureSpec
from .features.registry import get_extractor, get_spec
from .settings import Settings

T = TypeVar("T")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._extractors: dict[str, Extractor] = {}
        self._learned: dict[str, FeatureSpec] = {}  # features of model files, by feature name
        self._states: dict[str, Any] = {}
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def spec(self, name: str) -> FeatureSpec:
        """A feature's spec: a registered one, or one of this runtime's model files."""
        return self._learned[name] if name in self._learned else get_spec(name)

    def add_model_file(self, path: str | Path) -> FeatureSpec:
        """Make a trained model file's feature available by its name (kind-sha8)."""
        from .features.learned import LearnedExtractor, read_model_file

        model = read_model_file(path)
        with self._lock:
            if model.feature_name not in self._learned:
                extractor = LearnedExtractor(model)
                extractor.attach(self.extractor)
                self._extractors[model.feature_name] = extractor
                self._learned[model.feature_name] = extractor.spec
            return self._learned[model.feature_name]

    def extractor(self, name: str) -> Extractor:
        """This runtime's one instance of a feature's extractor, made on first use."""
        with self._lock:
            if name not in self._extractors:
                extractor = get_extractor(self.spec(name).name)
                self._extractors[name] = extractor
                extractor.attach(self.extractor)
            return self._extractors[name]

    def pool(self, name: str, workers: int) -> ThreadPoolExecutor:
        """This runtime's worker pool called `name`, made on first use: work that runs beside
        a query's other steps without a thread start per query."""
        with self._lock:
            if name not in self._pools:
                self._pools[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"lookalike-{name}")
            return self._pools[name]

    def state(self, key: str, make: Callable[[], T]) -> T:
        """A stage's state for this collection (`key` names it, `make` builds it once)."""
        with self._lock:
            if key not in self._states:
                self._states[key] = make()
            return self._states[key]

    def close(self) -> None:
        """Stop the pools and let the extractors free what they hold."""
        with self._lock:
            pools, extractors = list(self._pools.values()), list(self._extractors.values())
            self._pools.clear()
        for pool in pools:
            pool.shutdown(wait=True)
        for extractor in extractors:
            extractor.close()
