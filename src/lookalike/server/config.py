"""Everything `lookalike serve` is started with, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import Settings

API_KEYS_ENV = "LOOKALIKE_API_KEYS"


@dataclass(frozen=True)
class ServerConfig:
    settings: Settings = field(default_factory=Settings)
    # With keys, writes need one; reads too unless `read_open`. Without keys, all is open
    # (the service binds to 127.0.0.1 unless told otherwise).
    api_keys: frozenset[str] = frozenset()
    read_open: bool = False
    max_file_bytes: int = 50 * 1024 * 1024
    max_files_per_request: int = 100
    max_pixels: int = 100_000_000

    @property
    def max_request_bytes(self) -> int:
        """Cap on a whole request body: every file at its limit, plus form overhead."""
        return self.max_files_per_request * self.max_file_bytes + 1024 * 1024
