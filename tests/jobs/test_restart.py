"""The queue survives a crash of ``twinops serve``: SIGKILL it mid-job, start it again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

KEY = "restart-test-admin-key-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``twinops serve`` on a data folder, as a subprocess."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TWINOPS_ADMIN_KEY": KEY,
            "TWINOPS_JOBS_TEST_KINDS": "1",
            "TWINOPS_JOBS_WORKERS": "1",
            "TWINOPS_JOBS_LEASE_SECONDS": "1.5",
            "TWINOPS_JOBS_RETRY_BACKOFF_SECONDS": "0.05",
            "TWINOPS_RETENTION_INTERVAL_SECONDS": "0",
        }
        argv = [sys.executable, "-m", "twinops.cli.main", "serve", "--port", str(self.port)]
        argv += ["--data-dir", str(data_dir)]
        with log.open("ab") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError("twinops serve did not become ready")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, headers=HEADERS, timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def children(self) -> list[int]:
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def wait_job(server: Server, job_id: str, done: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = server.call("GET", f"/v1/jobs/{job_id}")
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there: {job}")


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads worker processes from /proc")
def test_the_queue_survives_a_restart(tmp_path: Path, servers: list[Server]) -> None:
    data, log = tmp_path / "data", tmp_path / "serve.log"
    first = Server(data, log)
    servers.append(first)
    slow = first.call("POST", "/v1/jobs", json={"kind": "test.sleep", "seconds": 3, "steps": 6})
    queued = first.call("POST", "/v1/jobs", json={"kind": "test.echo", "seed": 2})
    wait_job(first, slow["id"], lambda j: j["progress"]["fraction"] > 0)
    workers = first.children()
    assert workers, "the server runs its jobs in worker processes"

    first.process.send_signal(signal.SIGKILL)  # a crash: nothing is cleaned up
    first.process.wait()
    time.sleep(0.5)
    orphans = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert orphans == [] or all(
        "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2] for pid in orphans
    ), "worker processes outlived their server"

    second = Server(data, log)
    servers.append(second)
    finished = {"succeeded", "failed", "cancelled"}
    rerun = wait_job(second, slow["id"], lambda j: j["status"] in finished)
    assert rerun["status"] == "succeeded", log.read_text()[-3000:]
    assert rerun["attempts"] == 2  # the attempt lost in the crash counts
    assert (
        "stopped renewing the lease"
        in httpx.get(f"{second.url}/v1/jobs/{slow['id']}/log", headers=HEADERS).text
    )
    after = wait_job(second, queued["id"], lambda j: j["status"] in finished)
    assert after["status"] == "succeeded" and after["attempts"] == 1
    ready = httpx.get(f"{second.url}/readyz").json()
    assert ready["checks"]["jobs"] == "ok" and ready["jobs"]["executor"] == "local"
