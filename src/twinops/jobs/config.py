"""The jobs context's settings, read once from the platform's."""

from __future__ import annotations

from dataclasses import dataclass

from twinops.config import Settings
from twinops.errors import InvalidInput

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class JobSettings:
    """Executor, concurrency, limits and retry policy of the job system."""

    executor: str = "local"
    workers: int = 2
    max_concurrent_per_tenant: int = 4
    max_queued_per_tenant: int = 10_000
    timeout_seconds: float = 3600.0
    max_timeout_seconds: float = 86_400.0
    max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    lease_seconds: float = 30.0
    test_kinds: bool = False
    ray_address: str = ""
    max_steps: int = 10_000_000
    tenants: tuple[str, ...] = ()  # run only these tenants' jobs (empty: every tenant's)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise InvalidInput.single(
                "jobs_executor", "oneOf", f"must be one of {', '.join(EXECUTORS)}", self.executor
            )
        for name in ("workers", "max_concurrent_per_tenant", "max_attempts"):
            if getattr(self, name) < 1:
                raise InvalidInput.single(f"jobs_{name}", "minimum", "must be at least 1")
        if not 0 < self.timeout_seconds <= self.max_timeout_seconds:
            raise InvalidInput.single(
                "jobs_timeout_seconds", "range", "must be positive and at most the maximum"
            )
        if self.lease_seconds <= 0 or self.retry_backoff_seconds < 0:
            raise InvalidInput.single("jobs_lease_seconds", "range", "must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> JobSettings:
        """The job settings among the platform's."""
        return cls(
            executor=settings.jobs_executor,
            workers=settings.jobs_workers,
            max_concurrent_per_tenant=settings.jobs_max_concurrent_per_tenant,
            max_queued_per_tenant=settings.jobs_max_queued_per_tenant,
            timeout_seconds=settings.jobs_timeout_seconds,
            max_timeout_seconds=settings.jobs_max_timeout_seconds,
            max_attempts=settings.jobs_max_attempts,
            retry_backoff_seconds=settings.jobs_retry_backoff_seconds,
            lease_seconds=settings.jobs_lease_seconds,
            test_kinds=settings.jobs_test_kinds,
            ray_address=settings.ray_address,
            max_steps=settings.sim_max_steps,
            tenants=tuple(t.strip() for t in settings.jobs_tenants.split(",") if t.strip()),
        )
