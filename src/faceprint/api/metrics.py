"""Prometheus metrics of the service (served at ``/metrics``). Labels hold operation
names and error codes only: never a key, a collection name or anything about a face."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("faceprint_requests_total", "API calls answered, by operation and result code", ["operation", "code"])
LATENCY = Histogram(
    "faceprint_request_seconds",
    "Time to answer an API call, by operation",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("faceprint_requests_in_flight", "API calls being answered now")
