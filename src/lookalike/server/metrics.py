"""Request counts and latencies, rendered in the Prometheus text exposition format."""

from __future__ import annotations

import threading
from collections import defaultdict

# Latency histogram bucket bounds, seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            counts = self._buckets[(method, route)]
            counts[next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))] += 1
            self._sums[(method, route)] += seconds

    def render(self, gauges: dict[str, tuple[str, list[tuple[dict[str, str], float]]]]) -> str:
        """Prometheus text: the request metrics plus `gauges` {name: (help, [(labels, value)])}."""
        lines: list[str] = []
        for name, (help_text, samples) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in samples]
        with self._lock:
            lines += ["# HELP lookalike_http_requests_total HTTP requests by route and status.",
                      "# TYPE lookalike_http_requests_total counter"]
            for (method, route, status), count in sorted(self._requests.items()):
                labels = {"method": method, "route": route, "status": str(status)}
                lines.append(f"lookalike_http_requests_total{_labels(labels)} {count}")
            lines += ["# HELP lookalike_http_request_seconds HTTP request latency.",
                      "# TYPE lookalike_http_request_seconds histogram"]
            for (method, route), counts in sorted(self._buckets.items()):
                base = {"method": method, "route": route}
                running = 0
                for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts):
                    running += count
                    lines.append(f"lookalike_http_request_seconds_bucket{_labels({**base, 'le': bound})} {running}")
                lines.append(f"lookalike_http_request_seconds_sum{_labels(base)} {self._sums[(method, route)]:.6f}")
                lines.append(f"lookalike_http_request_seconds_count{_labels(base)} {running}")
        return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
               for key, value in labels.items())
    return "{" + ",".join(escaped) + "}"
