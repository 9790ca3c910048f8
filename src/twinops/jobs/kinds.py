"""Job kinds: what a job does, in two halves.

``prepare`` runs in the server process at submit time: it validates the raw spec and answers
the canonical spec and the input snapshot (the twins' state as the job will see it), both
stored before the job is queued. ``run`` runs in a worker process from those two alone, with
no database, so a re-run of the stored inputs reproduces the outputs.

A kind must pickle (worker processes and Ray receive it with each task): keep kinds as
instances of module-level classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twinops.errors import InvalidInput
from twinops.jobs.canonical import canonical_json, sha256_hex
from twinops.security.entities import Role
from twinops.timeutil import Clock

if TYPE_CHECKING:
    from twinops.models.service import ModelService
    from twinops.state.store import StateStore
    from twinops.twins.service import TwinService

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class PrepareContext:
    """What ``prepare`` may read, in the server process: the tenant's twins and state."""

    tenant: str
    twins: TwinService
    state: StateStore
    models: ModelService
    max_steps: int
    clock: Clock


@dataclass(frozen=True)
class Prepared:
    """A validated job: canonical spec and input snapshot (canonical JSON bytes), seeds."""

    spec: bytes
    snapshot: bytes
    seeds: Mapping[str, Any]
    spec_sha256: str = ""

    def __post_init__(self) -> None:
        if not self.spec_sha256:
            object.__setattr__(self, "spec_sha256", sha256_hex(self.spec))

    @classmethod
    def of(
        cls, spec: Mapping[str, Any], snapshot: Mapping[str, Any], seeds: Mapping[str, Any]
    ) -> Prepared:
        """Prepared inputs from JSON-like values, canonicalised here."""
        return cls(canonical_json(spec), canonical_json(snapshot), dict(seeds))


@dataclass(frozen=True)
class RunContext:
    """What ``run`` gets besides its inputs: a progress callback and the attempt number."""

    progress: ProgressFn
    attempt: int = 1


@dataclass(frozen=True)
class KindOutput:
    """What a run produced: named tables (pyarrow), a JSON summary, the model it ran.

    ``model`` is the resolved model record (reference, version, code sha256); ``blobs`` are
    other named outputs as bytes; ``metrics`` are figures about the run itself (not compared
    by reproduction).
    """

    tables: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] | None = None
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)


class JobKind(ABC):
    """A kind of job: its name, the least role that may submit it, prepare and run.

    ``aliases`` are the spec ``kind`` values it also accepts (the scenario kind takes
    ``what-if``, ``sweep``...): a job keeps the name it was submitted under.
    """

    name: str
    aliases: tuple[str, ...] = ()
    role: Role = Role.OPERATOR

    @abstractmethod
    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Validate ``raw`` (raising InvalidInput naming field and rule) and snapshot inputs."""

    @abstractmethod
    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Compute the outputs from the canonical spec and snapshot alone (in a worker)."""


class KindRegistry:
    """The kinds this server accepts, by name."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: JobKind) -> None:
        """Accept jobs of ``kind`` under its name and aliases (a later registration wins)."""
        for name in (kind.name, *kind.aliases):
            self._kinds[name] = kind

    def names(self) -> list[str]:
        """Every accepted kind name and alias, sorted."""
        return sorted(self._kinds)

    def find(self, name: str) -> JobKind | None:
        """The kind called ``name``, or None."""
        return self._kinds.get(name)

    def get(self, name: Any) -> JobKind:
        """The kind called ``name``; an unknown name is a 422 listing the known ones."""
        if not isinstance(name, str) or not name:
            raise InvalidInput.single(
                "kind", "required", f"name the job's kind ({', '.join(self.names())})", name
            )
        kind = self._kinds.get(name)
        if kind is None:
            raise InvalidInput.single(
                "kind",
                "knownKind",
                f"unknown job kind; this server runs: {', '.join(self.names())}",
                name[:100],
            )
        return kind


def default_kinds(*, test_kinds: bool = False) -> KindRegistry:
    """The built-in kinds; the test kinds only when asked for (never by default)."""
    from twinops.fidelity.kinds import CalibrationKind, ValidationKind
    from twinops.jobs.scenario import ScenarioKind

    registry = KindRegistry([ScenarioKind(), CalibrationKind(), ValidationKind()])
    if test_kinds:
        from twinops.jobs.testing import all_test_kinds

        for kind in all_test_kinds():
            registry.register(kind)
    return registry
