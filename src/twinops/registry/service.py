"""The registry service: register versions, move aliases through the gates, keep evidence.

The registry does not import the simulation context: the composition root injects an
``Inspector`` (what a behavior-model reference declares and its code hash) and a
``JobFacts`` reader (a job's kind, status, canonical spec and summary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinops.digits import is_ascii_integer
from twinops.errors import Conflict, Forbidden, InvalidInput, NotFound, Violation
from twinops.registry.entities import (
    PRODUCTION,
    Alias,
    AliasMove,
    Evidence,
    EvidenceKind,
    Expectation,
    ModelVersion,
    NewEvidence,
    RegisteredModel,
    Regression,
)
from twinops.registry.gates import GateReport, check_expectations, promotion_gate, score_validation
from twinops.registry.spec import check_name, parse_version_body
from twinops.registry.store import RegistryStore, StaleAlias
from twinops.security.entities import AuditEntry, Role
from twinops.timeutil import Clock, system_clock

REGISTRY_PREFIX = "registry:"
VALIDATION_KINDS = frozenset({"validate", "validation"})
CALIBRATION_KINDS = frozenset({"calibrate", "calibration"})


@dataclass(frozen=True)
class InspectedModel:
    """What a behavior model declares: its code hash, parameter bounds, outputs."""

    reference: str
    code_sha256: str
    parameters: Mapping[str, tuple[float | None, float | None]]
    outputs: frozenset[str]
    twin_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobFacts:
    """What the registry reads of a job: kind, status, canonical spec and summary."""

    job_id: str
    kind: str
    status: str
    spec: Mapping[str, Any]
    summary: Any = None
    submitted_by: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    load_summary: Callable[[], Any] | None = None  # reads the summary only when it is needed

    def result(self) -> Mapping[str, Any]:
        """The job's summary as a mapping ({} when it has none)."""
        value = self.summary if self.load_summary is None else self.load_summary()
        return value if isinstance(value, Mapping) else {}


Inspector = Callable[[str], InspectedModel]
JobReader = Callable[[str, str], JobFacts]
DtmiCheck = Callable[[str, str], bool]


def parse_reference(text: str) -> tuple[str, str | int]:
    """``registry:pump@production`` or ``registry:pump@3`` -> (name, alias or number)."""
    body = text.removeprefix(REGISTRY_PREFIX)
    name, sep, selector = body.partition("@")
    check_name(name, "model")
    if not sep or not selector:
        raise InvalidInput.single(
            "model",
            "registryReference",
            "name a registry version as registry:<name>@<version or alias>",
            text,
        )
    if is_ascii_integer(selector):
        return name, int(selector)
    return name, check_name(selector, "model")


class RegistryService:
    """Registered model versions of every tenant, with evidence and aliases."""

    def __init__(
        self,
        store: RegistryStore,
        inspect: Inspector,
        jobs: JobReader,
        dtmi_exists: DtmiCheck,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._inspect = inspect
        self._jobs = jobs
        self._dtmi_exists = dtmi_exists
        self._clock = clock

    # -- versions --------------------------------------------------------------------------

    def register(
        self, tenant: str, name: str, body: Any, *, actor: str, lineage: Mapping[str, Any] = {}
    ) -> ModelVersion:
        """Validate and store a new immutable version of ``name`` (numbered 1, 2, ...)."""
        check_name(name, "name")
        parsed = parse_version_body(body)
        model = self._inspect(parsed.model)
        self._check_parameters(model, parsed.parameters, parsed.intervals)
        for twin, values in parsed.twin_parameters.items():
            self._check_parameters(model, values, {}, where=f"/twinParameters/{twin}")
        for output in parsed.thresholds:
            if output not in model.outputs:
                raise InvalidInput.single(
                    f"/thresholds/{output}",
                    "knownOutput",
                    f"the model has no output {output!r}"
                    f" (it has {', '.join(sorted(model.outputs))})",
                )
        if parsed.twin_model is not None and not self._dtmi_exists(tenant, parsed.twin_model):
            raise InvalidInput.single(
                "/twinModel", "knownModel", "no such DTDL model in this tenant", parsed.twin_model
            )
        now = self._clock()
        version = ModelVersion(
            tenant=tenant,
            name=name,
            version=0,
            model_ref=model.reference,
            code_sha256=model.code_sha256,
            parameters=dict(parsed.parameters),
            intervals=dict(parsed.intervals),
            twin_parameters=parsed.twin_parameters,
            twin_model=parsed.twin_model or (model.twin_models[0] if model.twin_models else None),
            default_scenario=parsed.default_scenario,
            thresholds=parsed.thresholds,
            regressions=tuple(
                Regression(
                    r.name,
                    r.spec,
                    tuple(Expectation(e.path, e.min, e.max) for e in r.expect),
                )
                for r in parsed.regressions
            ),
            author=actor,
            notes=parsed.notes,
            lineage={**parsed.lineage, **lineage},
            created_at=now,
        )
        audit = AuditEntry(
            tenant,
            actor,
            "ModelVersionRegistered",
            name,
            now,
            {"model": model.reference, "codeSha256": model.code_sha256},
        )
        return self._store.add_version(version, audit)

    def _check_parameters(
        self,
        model: InspectedModel,
        parameters: Mapping[str, float],
        intervals: Mapping[str, tuple[float, float]],
        where: str = "/parameters",
    ) -> None:
        problems: list[Violation] = []
        for pname, value in parameters.items():
            bounds = model.parameters.get(pname)
            if bounds is None:
                problems.append(
                    Violation(
                        f"{where}/{pname}", "knownParameter", "the model has no such parameter"
                    )
                )
                continue
            low, high = bounds
            if (low is not None and value < low) or (high is not None and value > high):
                problems.append(
                    Violation(
                        f"{where}/{pname}",
                        "bounds",
                        f"outside the parameter's bounds [{low}, {high}]",
                        value,
                    )
                )
        for pname, (low, high) in intervals.items():
            if pname not in model.parameters:
                problems.append(
                    Violation(
                        f"/intervals/{pname}", "knownParameter", "the model has no such parameter"
                    )
                )
            elif low > high:
                problems.append(
                    Violation(f"/intervals/{pname}", "ordered", "an interval is [low, high]")
                )
        if problems:
            raise InvalidInput("the model version is not valid", problems)

    def version(self, tenant: str, name: str, selector: int | str) -> ModelVersion:
        """A version by number or by alias; 404 when there is none."""
        if isinstance(selector, str) and not is_ascii_integer(selector):
            alias = next(
                (a for a in self._store.aliases(tenant, name) if a.alias == selector), None
            )
            if alias is None:
                raise NotFound(f"registered model {name} has no alias {selector!r}")
            selector = alias.version
        found = self._store.version(tenant, name, int(selector))
        if found is None:
            raise NotFound(f"registered model {name} has no version {selector}")
        return found

    def versions(self, tenant: str, name: str) -> list[ModelVersion]:
        """Every version of ``name``; 404 when the name is not registered."""
        found = self._store.versions(tenant, name)
        if not found:
            raise NotFound(f"no registered model {name!r}")
        return found

    def models(self, tenant: str) -> list[RegisteredModel]:
        """Every registered model of the tenant."""
        return self._store.models(tenant)

    def aliases(self, tenant: str, name: str) -> list[Alias]:
        """Where the aliases of ``name`` point."""
        self.versions(tenant, name)
        return self._store.aliases(tenant, name)

    def history(self, tenant: str, name: str, alias: str | None = None) -> list[AliasMove]:
        """Alias moves of ``name``, oldest first."""
        self.versions(tenant, name)
        return self._store.alias_history(tenant, name, alias)

    def evidence(self, tenant: str, name: str, number: int) -> list[Evidence]:
        """A version's evidence, oldest first."""
        self.version(tenant, name, number)
        return self._store.evidence(tenant, name, number)

    def gate(self, tenant: str, name: str, number: int) -> GateReport:
        """Would ``production`` accept this version now?"""
        version = self.version(tenant, name, number)
        return promotion_gate(version, self._store.evidence(tenant, name, number))

    # -- aliases ---------------------------------------------------------------------------

    def move_alias(
        self,
        tenant: str,
        name: str,
        alias: str,
        number: int,
        *,
        actor: str,
        role: Role,
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at a version; ``production`` needs an admin and a passed gate."""
        check_name(alias, "alias")
        version = self.version(tenant, name, number)
        current = self._current(tenant, name, alias)
        gate: GateReport | None = None
        if alias == PRODUCTION:
            if not role.allows(Role.ADMIN):
                raise Forbidden("moving production takes the admin role")
            gate = promotion_gate(version, self._store.evidence(tenant, name, number))
            if not gate.passed:
                raise Conflict(
                    f"{version.key} cannot become production: the promotion gate refused it",
                    [Violation("evidence", "promotionGate", r) for r in gate.reasons],
                )
        return self._move(tenant, name, alias, current, number, actor, reason, gate)

    def rollback(self, tenant: str, name: str, alias: str, *, actor: str, role: Role) -> AliasMove:
        """Move ``alias`` back to where it pointed before its last move."""
        moves = self._store.alias_history(tenant, name, alias)
        if not moves or moves[-1].previous is None:
            raise Conflict(f"{name}:{alias} has no earlier version to roll back to")
        return self.move_alias(
            tenant,
            name,
            alias,
            moves[-1].previous,
            actor=actor,
            role=role,
            reason=f"rollback of move {moves[-1].seq}",
        )

    def remove_alias(self, tenant: str, name: str, alias: str, *, actor: str, role: Role) -> None:
        """Remove an alias (production only by an admin)."""
        if alias == PRODUCTION and not role.allows(Role.ADMIN):
            raise Forbidden("moving production takes the admin role")
        current = self._current(tenant, name, alias)
        if current is None:
            raise NotFound(f"registered model {name} has no alias {alias!r}")
        self._move(tenant, name, alias, current, None, actor, "removed", None)

    def _current(self, tenant: str, name: str, alias: str) -> int | None:
        found = next((a for a in self._store.aliases(tenant, name) if a.alias == alias), None)
        return None if found is None else found.version

    def _move(
        self,
        tenant: str,
        name: str,
        alias: str,
        current: int | None,
        number: int | None,
        actor: str,
        reason: str,
        gate: GateReport | None,
    ) -> AliasMove:
        now = self._clock()
        details: dict[str, Any] = {"alias": alias, "from": current, "to": number}
        if reason:
            details["reason"] = reason
        if gate is not None:
            details["evidence"] = list(gate.evidence)
        audit = AuditEntry(tenant, actor, "AliasMoved", f"{name}:{alias}", now, details)
        try:
            return self._store.move_alias(
                tenant, name, alias, current, number, now, actor, reason, audit
            )
        except StaleAlias as exc:
            raise Conflict(f"{exc}; read it again and retry") from None

    # -- evidence --------------------------------------------------------------------------

    def attach(self, tenant: str, job_id: str, *, actor: str) -> Evidence:
        """Score a finished job that ran a registry version and keep it as that version's
        evidence: a validation against the version's thresholds, or a declared regression."""
        return self.attach_facts(tenant, self._jobs(tenant, job_id), actor=actor)

    def attach_facts(self, tenant: str, facts: JobFacts, *, actor: str) -> Evidence:
        """``attach`` for a job already read."""
        job_id = facts.job_id
        ref = facts.spec.get("registry")
        if not isinstance(ref, Mapping) or "name" not in ref or "version" not in ref:
            raise InvalidInput.single(
                "job",
                "ranRegistryVersion",
                "evidence comes from a job that ran a registry version"
                " (model: registry:<name>@<version>)",
                job_id,
            )
        if facts.status != "succeeded":
            raise Conflict(f"job {job_id} is {facts.status}: only a succeeded job is evidence")
        version = self.version(tenant, str(ref["name"]), int(ref["version"]))
        evidence = self._score(version, facts)
        now = self._clock()
        audit = AuditEntry(
            tenant,
            actor,
            "EvidenceAttached",
            version.key,
            now,
            {
                "job": job_id,
                "kind": str(evidence.kind),
                "label": evidence.label,
                "passed": evidence.passed,
            },
        )
        return self._store.add_evidence(
            tenant, version.name, version.version, evidence, now, actor, audit
        )

    def _score(self, version: ModelVersion, facts: JobFacts) -> NewEvidence:
        summary = facts.result()
        if facts.kind in VALIDATION_KINDS:
            metrics = summary.get("outputs", {})
            verdict = score_validation(
                version.thresholds, metrics if isinstance(metrics, Mapping) else {}
            )
            return NewEvidence(
                EvidenceKind.VALIDATION,
                "validation",
                facts.job_id,
                verdict.passed,
                {"thresholds": dict(version.thresholds), "observed": dict(verdict.figures)},
                verdict.reasons,
            )
        label = facts.spec.get("name")
        regression = version.regression(label) if isinstance(label, str) else None
        if regression is None:
            declared = ", ".join(r.name for r in version.regressions) or "none"
            raise InvalidInput.single(
                "job",
                "declaredRegression",
                f"job {facts.job_id} is neither a validation nor a regression declared by"
                f" {version.key} (its spec's name must be one of: {declared})",
                label,
            )
        verdict = check_expectations(regression.expect, summary)
        return NewEvidence(
            EvidenceKind.REGRESSION,
            regression.name,
            facts.job_id,
            verdict.passed,
            {"expect": [e.to_json() for e in regression.expect], "observed": dict(verdict.figures)},
            verdict.reasons,
        )

    # -- jobs that run registry versions ---------------------------------------------------

    def resolve_spec(self, tenant: str, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """A job spec naming ``model: registry:<name>@<version or alias>``, rewritten to run
        that version: its model reference and parameters (the spec's own parameters win),
        with ``registry: {name, version}`` recorded for lineage and evidence."""
        model = raw.get("model")
        if not isinstance(model, str) or not model.startswith(REGISTRY_PREFIX):
            return raw
        name, selector = parse_reference(model)
        version = self.version(tenant, name, selector)
        current = self._inspect(version.model_ref)
        if current.code_sha256 != version.code_sha256:
            raise Conflict(
                f"{version.key} was registered with {version.model_ref} at code sha256"
                f" {version.code_sha256[:12]}, but the installed code is"
                f" {current.code_sha256[:12]}: register a new version for the new code"
            )
        ref: dict[str, Any] = {"name": name, "version": version.version}
        if isinstance(selector, str):
            ref["alias"] = selector
        resolved = {**raw, "model": version.model_ref, "registry": ref}
        if raw.get("kind") in CALIBRATION_KINDS:
            # A recalibration starts from the version: its values are the fixed ones (the
            # spec's own ``fixed`` win) and the starting point of the ones being fitted.
            fitted = raw.get("parameters")
            names = set(fitted) if isinstance(fitted, Mapping | list) else set()
            own_fixed = raw.get("fixed")
            fixed = {k: v for k, v in version.parameters.items() if k not in names}
            resolved["fixed"] = {**fixed, **(own_fixed if isinstance(own_fixed, Mapping) else {})}
            return resolved
        own = raw.get("parameters")
        resolved["parameters"] = {
            **version.parameters,
            **(own if isinstance(own, Mapping) else {}),
        }
        if version.twin_parameters:
            own_twins = raw.get("twinParameters")
            twins = raw.get("twins")
            chosen = set(twins) if isinstance(twins, list | tuple) else set()
            merged = {t: dict(p) for t, p in version.twin_parameters.items() if t in chosen}
            for twin, values in (own_twins if isinstance(own_twins, Mapping) else {}).items():
                merged[twin] = {
                    **merged.get(twin, {}),
                    **(values if isinstance(values, Mapping) else {}),
                }
            resolved["twinParameters"] = merged
        return resolved

    def regression_spec(
        self, tenant: str, name: str, number: int, regression: str
    ) -> dict[str, Any]:
        """The job spec that runs a declared regression on a version."""
        version = self.version(tenant, name, number)
        found = version.regression(regression)
        if found is None:
            raise NotFound(f"{version.key} declares no regression {regression!r}")
        return {**found.spec, "name": found.name, "model": f"{REGISTRY_PREFIX}{version.key}"}
