"""A thin, typed client over the REST API; every error comes back as :class:`ApiError`."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn
from urllib.parse import quote

import httpx

if TYPE_CHECKING:
    import pandas


class ApiError(Exception):
    """The server answered with a problem document."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The individual violations (field, rule, message), if the server listed them."""
        return list(self.problem.get("errors", []))


def _seg(value: str) -> str:
    return quote(value, safe="")


class Client:
    """A twinops API client. ``http`` may be any httpx.Client (e.g. an in-process one)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("TWINOPS_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if http is None:
            base = url or os.environ.get("TWINOPS_URL") or "http://127.0.0.1:8000"
            http = httpx.Client(base_url=base, timeout=timeout)
        http.headers.update(headers)
        self._http = http

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and raise :class:`ApiError` on a 4xx/5xx answer."""
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            self._raise(response)
        return response

    @staticmethod
    def _raise(response: httpx.Response) -> NoReturn:
        try:
            problem = response.json()
        except ValueError:
            problem = {"title": response.reason_phrase, "detail": response.text[:500]}
        raise ApiError(response.status_code, problem)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    # -- models ---------------------------------------------------------------------------

    def validate_models(self, documents: Sequence[Any]) -> dict[str, Any]:
        """Validate DTDL documents without storing them."""
        result: dict[str, Any] = self._json("POST", "/v1/models/validate", json=list(documents))
        return result

    def upload_models(self, documents: Sequence[Any]) -> dict[str, Any]:
        """Store DTDL documents; answers what was created and the compatibility reports."""
        result: dict[str, Any] = self._json("POST", "/v1/models", json=list(documents))
        return result

    def get_model(self, dtmi: str) -> dict[str, Any]:
        """One stored model."""
        result: dict[str, Any] = self._json("GET", f"/v1/models/{_seg(dtmi)}")
        return result

    def list_models(self, base: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored model (following pages)."""
        params = {"base": base} if base else {}
        yield from self._pages("/v1/models", params)

    def decommission_model(self, dtmi: str, decommissioned: bool = True) -> dict[str, Any]:
        """Decommission a model (or bring it back)."""
        result: dict[str, Any] = self._json(
            "PATCH", f"/v1/models/{_seg(dtmi)}", json={"decommissioned": decommissioned}
        )
        return result

    def delete_model(self, dtmi: str) -> None:
        """Delete a model no twin uses."""
        self._json("DELETE", f"/v1/models/{_seg(dtmi)}")

    # -- twins ----------------------------------------------------------------------------

    def get_twin(self, twin_id: str) -> dict[str, Any]:
        """One twin."""
        result: dict[str, Any] = self._json("GET", f"/v1/twins/{_seg(twin_id)}")
        return result

    def put_twin(
        self, twin_id: str, body: Mapping[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Create or replace a twin."""
        headers = {"If-Match": if_match} if if_match else {}
        result: dict[str, Any] = self._json(
            "PUT", f"/v1/twins/{_seg(twin_id)}", json=dict(body), headers=headers
        )
        return result

    def patch_twin(
        self, twin_id: str, operations: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Apply a JSON Patch to a twin."""
        headers = {"If-Match": if_match} if if_match else {}
        result: dict[str, Any] = self._json(
            "PATCH",
            f"/v1/twins/{_seg(twin_id)}",
            json=[dict(op) for op in operations],
            headers=headers,
        )
        return result

    def delete_twin(self, twin_id: str, *, if_match: str | None = None) -> None:
        """Delete a twin without relationships."""
        headers = {"If-Match": if_match} if if_match else {}
        self._json("DELETE", f"/v1/twins/{_seg(twin_id)}", headers=headers)

    def list_twins(self, model: str | None = None) -> Iterator[dict[str, Any]]:
        """Every twin (following pages), optionally of one exact model."""
        yield from self._pages("/v1/twins", {"model": model} if model else {})

    def import_graph(
        self, twins: Sequence[Mapping[str, Any]], relationships: Sequence[Mapping[str, Any]] = ()
    ) -> dict[str, Any]:
        """Create many twins and relationships in one transaction."""
        result: dict[str, Any] = self._json(
            "POST",
            "/v1/import",
            json={"twins": list(twins), "relationships": list(relationships)},
        )
        return result

    def put_relationship(
        self, source_id: str, relationship_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create or replace a relationship."""
        result: dict[str, Any] = self._json(
            "PUT",
            f"/v1/twins/{_seg(source_id)}/relationships/{_seg(relationship_id)}",
            json=dict(body),
        )
        return result

    def list_relationships(self, source_id: str, name: str | None = None) -> Iterator[Any]:
        """Outgoing relationships of a twin."""
        params = {"name": name} if name else {}
        yield from self._pages(f"/v1/twins/{_seg(source_id)}/relationships", params)

    # -- query and events -----------------------------------------------------------------

    def query(self, text: str, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every result of a query (following continuation tokens)."""
        token: str | None = None
        while True:
            body: dict[str, Any] = {"query": text, "continuationToken": token}
            if page_size:
                body["pageSize"] = page_size
            page = self._json("POST", "/v1/query", json=body)
            yield from page["value"]
            token = page.get("continuationToken")
            if not token:
                return

    def events(
        self, after: int = 0, subject: str | None = None, types: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """One page of events after sequence number ``after`` (only ``types`` when given)."""
        params: dict[str, Any] = {"after": after}
        if subject:
            params["subject"] = subject
        if types:
            params["type"] = list(types)
        result: list[dict[str, Any]] = self._json("GET", "/v1/events", params=params)["data"]
        return result

    # -- telemetry ------------------------------------------------------------------------

    def ingest(
        self, points: Sequence[Mapping[str, Any]], *, source: str | None = None
    ) -> dict[str, Any]:
        """Send a batch of points; answers accepted/duplicates/late/quarantined and errors."""
        params = {"source": source} if source else None
        body = [dict(p) for p in points]
        result: dict[str, Any] = self._json("POST", "/v1/telemetry", json=body, params=params)
        return result

    def export(
        self,
        twin_id: str,
        fields: Sequence[str],
        out: BinaryIO,
        *,
        start: str | None = None,
        end: str | None = None,
        format: str = "csv",
    ) -> int:
        """Stream fields of a twin over [start, end) as CSV or Parquet into ``out``; bytes."""
        params: dict[str, Any] = {"fields": list(fields), "format": format}
        params.update({k: v for k, v in (("start", start), ("end", end)) if v is not None})
        path = f"/v1/twins/{_seg(twin_id)}/export"
        with self._http.stream("GET", path, params=params) as response:
            if response.status_code >= 400:
                response.read()
                self._raise(response)
            written = 0
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    # -- security -------------------------------------------------------------------------

    def create_key(
        self, name: str, role: str, *, tenant: str | None = None, expires_at: str | None = None
    ) -> dict[str, Any]:
        """Create an API key; the answer's ``key`` is shown only this once."""
        body: dict[str, Any] = {
            "name": name,
            "role": role,
            "tenant": tenant,
            "expiresAt": expires_at,
        }
        result: dict[str, Any] = self._json("POST", "/v1/keys", json=body)
        return result

    def list_keys(self) -> list[dict[str, Any]]:
        """The tenant's keys (never their secrets)."""
        result: list[dict[str, Any]] = self._json("GET", "/v1/keys")["data"]
        return result

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key."""
        self._json("DELETE", f"/v1/keys/{_seg(key_id)}")

    def verify_audit(self) -> dict[str, Any]:
        """Check the tenant's audit chain."""
        result: dict[str, Any] = self._json("GET", "/v1/audit/verify")
        return result

    def audit(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """One page of the tenant's audit records."""
        params = {"after": after, "limit": limit}
        result: list[dict[str, Any]] = self._json("GET", "/v1/audit", params=params)["data"]
        return result

    # -- retention ------------------------------------------------------------------------

    def retention_policies(self) -> dict[str, Any]:
        """The tenant's retention policies: ``{"policies": [{model, field, keep}, ...]}``."""
        result: dict[str, Any] = self._json("GET", "/v1/retention")
        return result

    def set_retention_policies(
        self, policies: Sequence[Mapping[str, Any]] | Mapping[str, Any]
    ) -> dict[str, Any]:
        """Replace the tenant's retention policies (a list, or ``{"policies": [...]}``)."""
        body = dict(policies) if isinstance(policies, Mapping) else list(policies)
        result: dict[str, Any] = self._json("PUT", "/v1/retention", json=body)
        return result

    def apply_retention(self) -> dict[str, Any]:
        """Enforce the retention policies now; answers the history rows deleted per field."""
        result: dict[str, Any] = self._json("POST", "/v1/retention/apply")
        return result

    # -- jobs -----------------------------------------------------------------------------

    def submit_job(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a job (``{"kind": ..., ...}``); answers the job, status ``queued``."""
        result: dict[str, Any] = self._json("POST", "/v1/jobs", json=dict(spec))
        return result

    # -- registry -------------------------------------------------------------------------

    def registered_models(self) -> list[dict[str, Any]]:
        """Every registered simulation model: latest version and aliases."""
        result: dict[str, Any] = self._json("GET", "/v1/registry/models")
        return list(result["models"])

    def registered_model(self, name: str) -> dict[str, Any]:
        """A registered model's versions and aliases."""
        result: dict[str, Any] = self._json("GET", f"/v1/registry/models/{_seg(name)}")
        return result

    def register_version(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Register a new immutable version of ``name``."""
        path = f"/v1/registry/models/{_seg(name)}/versions"
        result: dict[str, Any] = self._json("POST", path, json=dict(body))
        return result

    def model_version(self, name: str, selector: int | str) -> dict[str, Any]:
        """A version (number or alias) with its evidence and the promotion gate's answer."""
        path = f"/v1/registry/models/{_seg(name)}/versions/{_seg(str(selector))}"
        result: dict[str, Any] = self._json("GET", path)
        return result

    def move_alias(self, name: str, alias: str, version: int, reason: str = "") -> dict[str, Any]:
        """Point ``alias`` at ``version`` (production: admin, and the gate must pass)."""
        path = f"/v1/registry/models/{_seg(name)}/aliases/{_seg(alias)}"
        result: dict[str, Any] = self._json(
            "PUT", path, json={"version": version, "reason": reason}
        )
        return result

    def rollback_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Move ``alias`` back to where it pointed before its last move."""
        path = f"/v1/registry/models/{_seg(name)}/aliases/{_seg(alias)}/rollback"
        result: dict[str, Any] = self._json("POST", path)
        return result

    def attach_evidence(self, name: str, version: int, job_id: str) -> dict[str, Any]:
        """Keep a finished validation or regression job as evidence of a version."""
        path = f"/v1/registry/models/{_seg(name)}/versions/{version}/evidence"
        result: dict[str, Any] = self._json("POST", path, json={"job": job_id})
        return result

    def alias_history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """Every alias move of a model, oldest first."""
        params = {"alias": alias} if alias else {}
        path = f"/v1/registry/models/{_seg(name)}/history"
        result: dict[str, Any] = self._json("GET", path, params=params)
        return list(result["moves"])

    def run_regression(self, name: str, version: int, regression: str) -> dict[str, Any]:
        """Submit a version's declared regression scenario as a job."""
        path = f"/v1/registry/models/{_seg(name)}/versions/{version}/regressions/{_seg(regression)}"
        result: dict[str, Any] = self._json("POST", path)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """A job: status, progress, attempts, timings, error and output hashes."""
        result: dict[str, Any] = self._json("GET", f"/v1/jobs/{_seg(job_id)}")
        return result

    def jobs(self, status: str | None = None) -> Iterator[dict[str, Any]]:
        """The tenant's jobs, newest first (following pages), optionally of one status."""
        yield from self._pages("/v1/jobs", {"status": status} if status else {})

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job."""
        result: dict[str, Any] = self._json("POST", f"/v1/jobs/{_seg(job_id)}/cancel")
        return result

    def reproduce_job(self, job_id: str) -> dict[str, Any]:
        """Queue a re-run of a succeeded job from its stored inputs; answers the new job."""
        result: dict[str, Any] = self._json("POST", f"/v1/jobs/{_seg(job_id)}/reproduce")
        return result

    def job_log(self, job_id: str) -> str:
        """The job's log as text."""
        return self.request("GET", f"/v1/jobs/{_seg(job_id)}/log").text

    def job_artifacts(self, job_id: str) -> list[dict[str, Any]]:
        """The job's artifacts: name, role, sha256, size, media type."""
        result: list[dict[str, Any]] = self._json("GET", f"/v1/jobs/{_seg(job_id)}/artifacts")[
            "data"
        ]
        return result

    def artifact(self, job_id: str, name: str) -> bytes:
        """One artifact's bytes (e.g. ``outputs/summary.json``)."""
        path = f"/v1/jobs/{_seg(job_id)}/artifacts/{quote(name, safe='/')}"
        return self.request("GET", path).content

    def job_table(self, job_id: str, name: str) -> pandas.DataFrame:
        """One result table of a job (``series``, ``percentiles``...) as a pandas DataFrame."""
        import pandas as pd

        data = self.artifact(job_id, f"outputs/{name}.parquet")
        return pd.read_parquet(io.BytesIO(data))

    def job_summary(self, job_id: str) -> Any:
        """The summary output of a succeeded job."""
        return self._json("GET", f"/v1/jobs/{_seg(job_id)}/summary")

    def wait_job(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_seconds: float = 0.25,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a job until it has finished (TimeoutError after ``timeout`` s); answers it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']}")
            time.sleep(poll_seconds)

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            page = self._json("GET", path, params=query)
            yield from page["data"]
            cursor = page.get("next")
            if not cursor:
                return
