"""Everything `lookalike serve` is started with, in one object, and every limit the
service enforces (the routes and middleware ask this module; none repeats a number)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..errors import LimitAdvice
from ..settings import Settings

API_KEYS_ENV = "LOOKALIKE_API_KEYS"
ALLOWED_HOSTS_ENV = "LOOKALIKE_ALLOWED_HOSTS"
ALLOWED_ORIGINS_ENV = "LOOKALIKE_ALLOWED_ORIGINS"

# Host names every server answers to: loopback can only be reached from this machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# Multipart framing and small form fields (k, min_score, labels) around the files of a request.
FORM_OVERHEAD_BYTES = 256 * 1024
# Any body that carries no image: JSON options, or nothing at all.
MAX_JSON_BYTES = 1024 * 1024
# Images a search and a compare take.
SEARCH_FILES = 1
COMPARE_FILES = 2
# Labels: short printable text (no control characters), as people type them.
MAX_LABEL_CHARS = 200
# The largest id a store can hold (SQLite INTEGER, Milvus INT64); larger ones name no image.
MAX_IMAGE_ID = 2**63 - 1


@dataclass(frozen=True)
class ServerConfig:
    settings: Settings = field(default_factory=Settings)
    # With keys, writes need one; reads too unless `read_open`. Without keys, all is open
    # (the service binds to 127.0.0.1 unless told otherwise).
    api_keys: frozenset[str] = frozenset()
    read_open: bool = False
    # /metrics without a key even when reads need one (for a Prometheus scraper).
    open_metrics: bool = False
    max_file_bytes: int = 50 * 1024 * 1024
    max_files_per_request: int = 100
    max_pixels: int = 100_000_000
    # The interface the server is bound to: its name is a Host the server answers to.
    bind_host: str = "127.0.0.1"
    # More Host names to answer to ("*": any), and web origins whose pages may write.
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()

    @property
    def reads_need_key(self) -> bool:
        return bool(self.api_keys) and not self.read_open

    @property
    def max_request_bytes(self) -> int:
        """Cap on an upload's body: every file at its limit, plus form overhead."""
        return self.max_body_bytes(self.max_files_per_request)

    def max_body_bytes(self, files: int) -> int:
        """Cap on a multipart body carrying up to `files` images."""
        return files * self.max_file_bytes + FORM_OVERHEAD_BYTES

    def limit_advice(self) -> LimitAdvice:
        """What a client refused an image for its size can do: send a smaller one (this
        server's limits, in the units people choose files by), or have the operator raise
        the option that sets the limit."""
        megapixels = f"{self.max_pixels / 1_000_000:g}"
        megabytes = f"{self.max_file_bytes / 2**20:g}"
        return LimitAdvice(
            pixels=f"this server takes images of up to {megapixels} megapixels: send a smaller one, or have its "
            "operator raise `lookalike serve --max-megapixels`",
            bytes=f"this server takes files of up to {megabytes} MB: send a smaller one, or have its operator "
            "raise `lookalike serve --max-upload-mb`",
        )

    def host_allowed(self, host: str) -> bool:
        """`host` is a Host header's name (no port). Loopback names, the bound name, names
        under .localhost, listed names, and IP literals (a DNS rebinding attack needs a
        name it controls, so an address is never one) are allowed."""
        name = host.lower().rstrip(".")
        if "*" in self.allowed_hosts or name in {h.lower() for h in self.allowed_hosts}:
            return True
        if name in LOCAL_HOSTS or name == self.bind_host.lower() or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return False
        return True

    def origin_allowed(self, origin: str) -> bool:
        """A foreign origin (not the page's own) listed with --allow-origin ("*": any)."""
        return "*" in self.allowed_origins or origin.rstrip("/").lower() in {
            o.rstrip("/").lower() for o in self.allowed_origins}
