"""The Grafana dashboard and the SLO document query only metrics the server exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from obshelp import admin_headers, open_platform
from prometheus_client.parser import text_string_to_metric_families

from twinops.api import create_app

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "twinops.json"
DOC = REPO / "docs" / "observability.md"
METRIC = re.compile(r"\b((?:twinops|process)_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def queries(node: Any) -> Iterator[str]:
    """Every PromQL string of a dashboard: panel targets and templating queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query") and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def exposed_names(tmp_path: Path, tenant: str) -> set[str]:
    """The series names a server exposes after a little of everything."""
    platform = open_platform(tmp_path, tenant)
    try:
        with TestClient(create_app(platform), headers=admin_headers(platform)) as http:
            http.post(
                "/v1/telemetry",
                json=[{"twin": "pump-1", "name": "flowRate", "value": 1.0, "time": 1767225600}],
            )
            text = http.get("/metrics").text
    finally:
        platform.close()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def referenced(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC.findall(expr)}


def test_dashboard_queries_only_exposed_metrics(tmp_path: Path, tenant: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = list(queries(dashboard))
    assert len(expressions) >= 20
    used = referenced(expressions)
    exposed = exposed_names(tmp_path, tenant)
    assert used <= exposed, sorted(used - exposed)
    # Every family the server measures is on the dashboard (created timestamps aside).
    families = {n for n in exposed if n.startswith("twinops_") and not n.endswith("_created")}
    bases = {re.sub(r"_(bucket|count|sum)$", "", n) for n in families}
    shown = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
    assert bases <= shown, sorted(bases - shown)


def test_slo_document_queries_only_exposed_metrics(tmp_path: Path, tenant: str) -> None:
    text = DOC.read_text()
    blocks = re.findall(r"```promql\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 4  # one per SLO at least
    used = referenced(blocks)
    assert used, "the SLO queries name no metric"
    assert used <= exposed_names(tmp_path, tenant)
    for slo in ("freshness", "ingest-to-state latency", "job success rate", "availability"):
        assert slo in text.lower()
    readme = (REPO / "README.md").read_text()
    assert "docs/observability.md" in readme
