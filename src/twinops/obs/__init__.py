"""Observability: Prometheus metrics, OpenTelemetry traces and structured JSON logs.

Every context measures itself the same way, through this package: one call at each measuring
point (``metrics.ingest_batch(...)``, ``tracing.span(...)``, ``logs.job_scope(...)``). This
package imports no other twinops context (contexts import it), so it can be used anywhere.

- :mod:`twinops.obs.metrics`: the metric families, on a registry per platform.
- :mod:`twinops.obs.tracing`: spans, W3C trace context for jobs, the OTLP exporter setup.
- :mod:`twinops.obs.logs`: contextual request/job ids, a JSON formatter that masks secrets.
- :mod:`twinops.obs.asgi`: the request middleware (request id, server span, HTTP metrics).
"""

from __future__ import annotations

from twinops.obs.metrics import Metrics, source_channel

__all__ = ["Metrics", "source_channel"]
