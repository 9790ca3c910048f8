"""Ingest: telemetry sources and the pipeline that turns points into state."""
