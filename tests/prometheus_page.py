"""Reading a Prometheus text page in the tests with prometheus_client's own
parser: a series is found by its name and labels, whatever order a line
prints the labels in and however it prints the number."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(page: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples called ``name`` (``x_total``, ``x_bucket``, ``x_count``...)
    by their label sets."""
    found: dict[frozenset[tuple[str, str]], float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


def value(page: str, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels``."""
    found = samples(page, name)
    key = frozenset(labels.items())
    assert key in found, f"no {name}{labels} in the page; there are {[dict(k) for k in found]}"
    return found[key]


def request_counts(page: str) -> dict[tuple[str, str, str], float]:
    """Requests counted per (method, route, status)."""
    return {
        (labels["method"], labels["route"], labels["status"]): n
        for labels, n in (
            (dict(k), v)
            for k, v in samples(page, "groundstation_http_request_duration_seconds_count").items()
        )
    }
