"""Configuration: defaults for the embedded mode, a TOML file, then ``TWINOPS_*`` variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from twinops.errors import InvalidInput

DEFAULT_TENANT = "default"
# TWINOPS_DATA_DIR already names the shared real-data folder the tests read, so the
# embedded mode's folder takes another variable.
_ENV_NAMES = {"data_dir": "TWINOPS_HOME"}


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the composition root needs to build the platform."""

    data_dir: Path = Path("twinops-data")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    default_tenant: str = DEFAULT_TENANT
    admin_key: str = ""
    max_body_bytes: int = 8 * 1024 * 1024
    max_query_joins: int = 20
    query_page_size: int = 1000
    max_batch_items: int = 50_000
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    auth_cache_seconds: float = 5.0
    jwt_secret: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_jwks_file: str = ""
    # A point whose event time is this far behind its arrival is stored but flagged very late.
    late_after_seconds: float = 3600.0
    retention_interval_seconds: float = 3600.0  # how often `serve` enforces retention; 0: never
    ingest_max_inflight_bytes: int = 64 * 1024 * 1024
    # History: a tenant's batch segments are compacted into per-field blocks once they hold
    # this many points, or number this many segments.
    history_compact_points: int = 100_000
    history_compact_segments: int = 64
    history_compact_background: bool = True  # false: compact inside the ingest call
    # SQLite: WAL checkpoints on a thread of the server instead of inside commits.
    sqlite_background_checkpoint: bool = True
    mqtt_url: str = ""
    mqtt_client_id: str = "twinops-ingest"
    mqtt_topic_prefix: str = "twinops"
    mqtt_receive_maximum: int = 1000
    mqtt_batch_points: int = 5000
    mqtt_session_expiry_seconds: int = 7 * 86400
    # 2 or more: the consumer hands each twin's messages to one of this many ingest processes.
    mqtt_ingest_processes: int = 1
    # Jobs (scenarios, calibration): where attempts run, how many at once, limits per tenant.
    jobs_executor: str = "local"  # local (a process pool) or ray
    jobs_workers: int = 2  # attempts running at once on this server
    jobs_max_concurrent_per_tenant: int = 4
    jobs_max_queued_per_tenant: int = 10_000
    jobs_timeout_seconds: float = 3600.0  # a job's default timeout
    jobs_max_timeout_seconds: float = 86_400.0  # the most a spec's timeoutSeconds may ask
    jobs_max_attempts: int = 3  # attempts lost to the infrastructure before a job fails
    jobs_retry_backoff_seconds: float = 2.0  # wait before a retry, doubled each time
    jobs_lease_seconds: float = 30.0  # a running job whose runner stops renewing is re-queued
    jobs_test_kinds: bool = False  # accept the test.* kinds (test suites and benchmarks only)
    jobs_tenants: str = ""  # comma-separated: this server runs only these tenants' jobs
    ray_address: str = ""  # with jobs_executor = "ray": a cluster address, empty: a local Ray
    sim_max_steps: int = 10_000_000  # the most time steps (all runs together) one job may take
    # Observability (docs/observability.md): /metrics access, logs, trace export.
    metrics_require_auth: bool = False  # true: /metrics needs a viewer's credentials
    log_format: str = "auto"  # json, text, or auto: text on a terminal, JSON otherwise
    log_level: str = "INFO"
    access_log: str = "problems"  # all, problems (4xx/5xx and slow requests), or off
    slow_request_seconds: float = 1.0  # with access_log = problems: slower requests are logged
    otel_endpoint: str = ""  # OTLP/HTTP collector URL; empty: OTEL_EXPORTER_OTLP_ENDPOINT or off
    otel_service_name: str = "twinops"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'twinops.db').resolve()}"

    def __repr__(self) -> str:
        """Settings with secrets masked, safe for logs and error reports."""
        shown = {
            f.name: "***"
            if f.name in SECRET_SETTINGS and getattr(self, f.name)
            else getattr(self, f.name)
            for f in fields(self)
        }
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (non-None) fields replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(str(raw)).expanduser()
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput.single(name, "type", f"expected {type(default).__name__}", raw) from exc


# Settings that are secrets: a config file holding one must not be readable by others.
SECRET_SETTINGS = frozenset({"admin_key", "jwt_secret", "database_url", "mqtt_url"})


def _check_private(path: Path) -> None:
    """Refuse a configuration file that other users could read: it may hold secrets."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise InvalidInput.single(
            "config",
            "filePermissions",
            f"{path} is readable or writable by group/others; run: chmod 600 {path}",
        )


def env_name(setting: str) -> str:
    """The environment variable that overrides ``setting``."""
    return _ENV_NAMES.get(setting, f"TWINOPS_{setting.upper()}")


def load_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from defaults, then ``config_file`` (TOML), then environment variables."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["TWINOPS_CONFIG"]) if env.get("TWINOPS_CONFIG") else None)
    if path is not None:
        _check_private(path)
        with path.open("rb") as handle:
            values.update(tomllib.load(handle))
    known = {f.name: f.default for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidInput.single(
            unknown[0], "unknownSetting", f"not a twinops setting (known: {', '.join(known)})"
        )
    for name in known:
        env_value = env.get(env_name(name))
        if env_value is not None:
            values[name] = env_value
    return Settings(**{n: _coerce(n, v, known[n]) for n, v in values.items()})
