"""The span tree: request -> ingest -> store, and job submit -> the runner's attempt span."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from obshelp import admin_headers, open_platform
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from twinops.api import create_app
from twinops.obs import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Twinops spans go to memory for the test (the process-wide provider is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(previous)
    provider.shutdown()


def one(finished: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in finished if s.name == name]
    assert len(found) == 1, (name, [s.name for s in finished])
    return found[0]


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    assert span.parent is not None and span.context is not None and parent.context is not None
    return (
        span.context.trace_id == parent.context.trace_id
        and span.parent.span_id == parent.context.span_id
    )


def test_ingest_request_span_tree(spans: InMemorySpanExporter, tmp_path: Path, tenant: str) -> None:
    platform = open_platform(tmp_path, tenant)
    try:
        with TestClient(create_app(platform), headers=admin_headers(platform)) as http:
            body = [{"twin": "pump-1", "name": "flowRate", "value": 1.0, "time": 1767225600}]
            assert http.post("/v1/telemetry", json=body).status_code == 200
    finally:
        platform.close()
    finished = spans.get_finished_spans()
    request = one(finished, "HTTP POST /v1/telemetry")
    assert request.kind == SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/v1/telemetry"
    assert request.attributes["http.response.status_code"] == 200
    batch = one(finished, "ingest.batch")
    validate = one(finished, "ingest.validate")
    apply = one(finished, "ingest.apply")
    store = one(finished, "state.apply")
    assert child_of(batch, request)
    assert child_of(validate, batch) and child_of(apply, batch)
    assert child_of(store, apply)


def test_incoming_trace_context_is_continued(
    spans: InMemorySpanExporter, tmp_path: Path, tenant: str
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    platform = open_platform(tmp_path, tenant)
    try:
        with TestClient(create_app(platform)) as http:
            http.get("/healthz", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    finally:
        platform.close()
    request = one(spans.get_finished_spans(), "HTTP GET /healthz")
    assert request.context is not None
    assert format(request.context.trace_id, "032x") == trace_id


def test_job_attempt_span_is_a_child_of_the_submit(
    spans: InMemorySpanExporter, tmp_path: Path, tenant: str
) -> None:
    # One server takes the submit, another (same database) runs the job: the trace context
    # travels with the job's row, not in the submitting process's memory.
    platform = open_platform(tmp_path, tenant)
    runner = open_platform(tmp_path, tenant)
    runner.start_jobs()
    try:
        with TestClient(create_app(platform), headers=admin_headers(platform)) as http:
            job_id = http.post("/v1/jobs", json={"kind": "test.echo"}).json()["id"]
            done = runner.jobs.wait(tenant, job_id, timeout=120).job
            assert done.status == "succeeded"
            assert done.traceparent is not None and done.traceparent.startswith("00-")
            deadline = time.monotonic() + 10
            while not any(s.name == "jobs.run" for s in spans.get_finished_spans()):
                assert time.monotonic() < deadline, "the attempt's span never ended"
                time.sleep(0.05)
    finally:
        runner.close()
        platform.close()
    finished = spans.get_finished_spans()
    request = one(finished, "HTTP POST /v1/jobs")
    submit = one(finished, "jobs.submit")
    run = one(finished, "jobs.run")
    assert child_of(submit, request)
    assert child_of(run, submit)  # same trace id, across the queue and the runner thread
    assert submit.attributes is not None and submit.attributes["twinops.job_id"] == job_id
    assert run.attributes is not None
    assert run.attributes["twinops.job_id"] == job_id
    assert run.attributes["twinops.outcome"] == "succeeded"


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.endpoint_from("", environ={}) == ""
    assert not tracing.configure("")
    assert tracing.endpoint_from("", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == (
        "http://c:4318"
    )
    assert tracing.endpoint_from("http://mine:4318", {"OTEL_EXPORTER_OTLP_ENDPOINT": "x"}) == (
        "http://mine:4318"
    )
    with tracing.span("outside.any.provider"):
        assert tracing.traceparent() is None  # no-op spans carry no context to propagate
