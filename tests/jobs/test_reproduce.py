"""Reproducibility: stored inputs re-run to the same output hashes; Parquet is deterministic."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from jobhelp import MakePlatform, run

from twinops.jobs.canonical import sha256_hex, table_to_parquet
from twinops.jobs.entities import JobStatus, JobView
from twinops.platform import Platform
from twinops.security.entities import Role


def reproduce(platform: Platform, job_id: str) -> JobView:
    tenant = platform.settings.default_tenant
    rerun = platform.jobs.reproduce(tenant, job_id, actor="key:test", role=Role.OPERATOR)
    return platform.jobs.wait(tenant, rerun.job.job_id, 60)


def test_reproduce_matches_for_a_seeded_model(make_platform: MakePlatform) -> None:
    platform = make_platform()
    original = run(platform, {"kind": "test.echo", "seed": 42, "rows": 1000})
    rerun = reproduce(platform, original.job.job_id)
    assert rerun.job.status == JobStatus.SUCCEEDED and rerun.job.reproduces == original.job.job_id
    assert rerun.reproduction is not None and rerun.reproduction.matches is True
    assert dict(rerun.outputs) == dict(original.outputs)
    assert rerun.job.spec_sha256 == original.job.spec_sha256
    assert rerun.job.snapshot_sha256 == original.job.snapshot_sha256


def test_reproduce_runs_the_stored_snapshot_not_fresh_state(make_platform: MakePlatform) -> None:
    platform = make_platform()
    tenant = platform.settings.default_tenant
    original = run(platform, {"kind": "test.echo", "seed": 1})
    fresh = run(platform, {"kind": "test.echo", "seed": 1})
    # Same spec, new snapshot (the kind stamps it): a fresh submission differs...
    assert fresh.job.spec_sha256 == original.job.spec_sha256
    assert fresh.outputs["outputs/summary.json"] != original.outputs["outputs/summary.json"]
    # ... while the reproduction, from the stored snapshot, matches.
    rerun = reproduce(platform, original.job.job_id)
    summary = platform.jobs.summary(tenant, rerun.job.job_id)
    assert summary == platform.jobs.summary(tenant, original.job.job_id)
    assert rerun.reproduction is not None and rerun.reproduction.matches is True


def test_a_killed_worker_is_retried_and_reproduces_the_same_hashes(
    make_platform: MakePlatform,
) -> None:
    platform = make_platform()
    original = run(platform, {"kind": "test.die", "seed": 9, "rows": 500})
    assert original.job.status == JobStatus.SUCCEEDED and original.job.attempts == 2
    rerun = reproduce(platform, original.job.job_id)  # its first attempt is killed too
    assert rerun.job.attempts == 2
    assert rerun.reproduction is not None and rerun.reproduction.matches is True
    assert rerun.reproduction.differing == []


def test_a_model_that_does_not_reproduce_is_caught(make_platform: MakePlatform) -> None:
    platform = make_platform()
    original = run(platform, {"kind": "test.noisy", "seed": 5})
    rerun = reproduce(platform, original.job.job_id)
    assert rerun.reproduction is not None and rerun.reproduction.matches is False
    assert rerun.reproduction.differing == ["outputs/summary.json"]  # the table still matches


def test_every_run_records_what_reproducing_it_needs(make_platform: MakePlatform) -> None:
    platform = make_platform()
    job = run(platform, {"kind": "test.echo", "seed": 11}).job
    tenant = job.tenant
    stored = {a.name: a for a in platform.jobs.artifacts(tenant, job.job_id)}

    def read(name: str) -> bytes:
        artifact, chunks = platform.jobs.artifact(tenant, job.job_id, name)
        data = b"".join(chunks)
        assert sha256_hex(data) == artifact.sha256 and len(data) == artifact.size
        return data

    assert json.loads(read("seeds.json")) == {"seed": 11}
    assert json.loads(read("spec.json")) == {"kind": "test.echo", "seed": 11}
    assert stored["spec.json"].sha256 == job.spec_sha256
    model = json.loads(read("model.json"))
    assert model["reference"] == "twinops.jobs.testing:test.echo" and len(model["codeSha256"]) == 64
    packages = json.loads(read("packages.json"))
    assert {"python", "twinops", "numpy", "pyarrow"} <= set(packages)
    assert json.loads(read("metrics.json"))["executor"] == "local"
    assert "succeeded" in read("log.txt").decode()
    table = pq.read_table(io.BytesIO(read("outputs/values.parquet")))
    assert table.num_rows == 10 and table.column_names == ["i", "x"]


def test_the_same_table_is_the_same_parquet_bytes() -> None:
    table = pa.table(
        {
            "time": pa.array(range(1000), pa.int64()),
            "flow": pa.array([i * 0.25 for i in range(1000)]),
            "pump": pa.array([f"pump-{i % 7}" for i in range(1000)]),
        }
    )
    first = table_to_parquet(table)
    rebuilt = pa.Table.from_pylist(table.to_pylist(), schema=table.schema)
    assert table_to_parquet(rebuilt) == first
    assert pq.read_table(io.BytesIO(first)).equals(table)
