"""OpenTelemetry traces: spans at the measuring points, W3C trace context across job hand-offs.

Off by default: without an endpoint no SDK is set up and spans are the API's no-op spans (a
few microseconds per batch or request). With ``otel_endpoint`` (``TWINOPS_OTEL_ENDPOINT``) or
the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set,
:func:`configure` installs an SDK tracer provider exporting over OTLP/HTTP (the exporter is
the ``otlp`` extra, imported only then).

Spans: ``HTTP <method> <route>`` (server, per request) → ``ingest.batch`` → ``ingest.validate``
/ ``ingest.apply`` → ``state.apply``; ``jobs.submit`` → ``jobs.run`` (the attempt, on the
runner, child of the submit through the traceparent kept with the job) → ``jobs.execute`` (in
the worker process, when that process exports too).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "Span",
    "annotate",
    "configure",
    "configure_worker",
    "context_of",
    "end_span",
    "endpoint_from",
    "shutdown",
    "span",
    "start_span",
    "traced",
    "traceparent",
    "tracer",
    "use_provider",
]
log = logging.getLogger("twinops.obs")

INSTRUMENTATION = "twinops"
ENDPOINT_VARIABLES = (
    "TWINOPS_OTEL_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_PROPAGATOR = TraceContextTextMapPropagator()
P = ParamSpec("P")
R = TypeVar("R")


class _State:
    def __init__(self) -> None:
        self.provider: TracerProvider | None = None  # None: the OpenTelemetry global provider
        self.tracer: Tracer | None = None
        self.configured: str | None = None  # the endpoint this process exports to
        self.lock = threading.Lock()


_state = _State()


def tracer() -> Tracer:
    """The twinops tracer (cached; a no-op tracer until a provider is installed)."""
    found = _state.tracer
    if found is None:
        provider = _state.provider or trace.get_tracer_provider()
        found = _state.tracer = provider.get_tracer(INSTRUMENTATION)
    return found


def recording() -> bool:
    """True when spans may be recorded: a provider was installed here or process-wide."""
    return _state.provider is not None or not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def use_provider(provider: TracerProvider | None) -> TracerProvider | None:
    """Send twinops spans to ``provider`` (None: back to the global one); returns the old one.

    For tests (an SDK provider with an in-memory exporter) and embedders that manage their
    own provider; :func:`configure` sets the process-wide one.
    """
    previous = _state.provider
    _state.provider = provider
    _state.tracer = None
    return previous


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: str | None = None,
) -> Iterator[Span]:
    """A span around a block, current within it; ``parent``: a W3C traceparent to continue."""
    ctx = context_of(parent) if parent else None
    with tracer().start_as_current_span(
        name, context=ctx, kind=kind, attributes=dict(attributes) if attributes else None
    ) as current:
        yield current


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function so each call runs in a span called ``name``."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with tracer().start_as_current_span(name):
                return function(*args, **kwargs)

        return call

    return decorate


def start_span(
    name: str, attributes: Mapping[str, Any] | None = None, *, parent: str | None = None
) -> Span:
    """A span that outlives the block starting it (the caller ends it): a job's attempt."""
    ctx = context_of(parent) if parent else None
    return tracer().start_span(
        name, context=ctx, attributes=dict(attributes) if attributes else None
    )


def end_span(span: Span | None, outcome: str) -> None:
    """End a span from :func:`start_span`, recording how the work ended."""
    if span is None:
        return
    span.set_attribute("twinops.outcome", outcome)
    if outcome not in ("succeeded", "cancelled"):
        span.set_status(Status(StatusCode.ERROR, outcome))
    span.end()


def traceparent(of: Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``of`` (default: the current span); None when not recorded."""
    carrier: dict[str, str] = {}
    ctx = trace.set_span_in_context(of) if of is not None else None
    _PROPAGATOR.inject(carrier, context=ctx)
    return carrier.get("traceparent")


def annotate(key: str, value: str) -> None:
    """Set an attribute on the current span (nothing when it is not recorded)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attribute(key, value)


def context_of(
    traceparent_value: str | None, tracestate: str | None = None
) -> otel_context.Context:
    """A context whose parent is the span named by a W3C ``traceparent`` (else empty)."""
    carrier = {"traceparent": traceparent_value or ""}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current recorded span in hex, for log lines."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


# -- setup --------------------------------------------------------------------------------------


def endpoint_from(setting: str, environ: Mapping[str, str] | None = None) -> str:
    """The OTLP/HTTP endpoint: the setting, else the standard variables; empty: tracing off."""
    if setting:
        return setting
    env = os.environ if environ is None else environ
    return next((env[name] for name in ENDPOINT_VARIABLES[1:] if env.get(name)), "")


def configure(endpoint: str, service_name: str = "twinops") -> bool:
    """Export spans over OTLP/HTTP to ``endpoint`` from this process (once); False: off.

    ``endpoint`` is the collector's base URL (``http://collector:4318``) or the full traces
    URL (``.../v1/traces``).
    """
    if not endpoint:
        return False
    with _state.lock:
        if _state.configured is not None:
            return True
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        base = endpoint.rstrip("/")
        url = base if base.endswith("/v1/traces") else f"{base}/v1/traces"
        provider = SdkTracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        trace.set_tracer_provider(provider)
        _state.provider = None
        _state.tracer = None
        _state.configured = url
        # Job worker processes started from here export too (see configure_worker).
        os.environ.setdefault(ENDPOINT_VARIABLES[0], endpoint)
    log.info("exporting traces over OTLP/HTTP to %s", url)
    return True


def configure_worker() -> None:
    """In a job worker process: export spans too when the environment names an endpoint."""
    configure(endpoint_from(os.environ.get(ENDPOINT_VARIABLES[0], "")))


def shutdown() -> None:
    """Flush and stop the exporter (at server exit)."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if _state.configured is not None and callable(stop):
        stop()
