"""``twinops serve --workers N``: each worker accepts on a socket of its own, and they stay up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from twinops.api.workers import reuse_port_socket

ADMIN_KEY = "workers-test-admin-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def _workers(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The API worker processes: the server's children that listen on a TCP socket."""
    found = []
    for child in psutil.Process(server.pid).children():
        try:
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "TWINOPS_HOME": str(tmp_path / "data"),
        "TWINOPS_ADMIN_KEY": ADMIN_KEY,
        "TWINOPS_DATABASE_URL": "",
    }
    env.pop("TWINOPS_CONFIG", None)
    env.pop("TWINOPS_MQTT_URL", None)
    log = (tmp_path / "server.log").open("wb")
    argv = [sys.executable, "-m", "twinops.cli.main", "serve", "--port", str(port)]
    server = subprocess.Popen([*argv, "--workers", "2"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: len(_workers(server)) == 2 and _answers(url), 90, "two workers")
        yield server, url, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        # The workers stop with their supervisor (the last test checks it); none is left.
        log.close()


def _connect_at_once(port: int, count: int) -> list[socket.socket]:
    """``count`` connections opened in one burst (gateways reconnecting after a restart)."""
    burst = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    for sock in burst:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: twinops\r\n\r\n")
    for sock in burst:
        assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "every connection is answered"
    return burst


def test_a_burst_of_keep_alive_clients_is_spread_over_the_workers(
    served: tuple[subprocess.Popen[bytes], str, int],
) -> None:
    server, _url, port = served
    burst = _connect_at_once(port, 16)
    try:
        per_worker = {
            worker.pid: sum(
                1
                for c in worker.net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
            for worker in _workers(server)
        }
    finally:
        for sock in burst:
            sock.close()
    # On one shared socket the worker that wakes first accepts the whole burst; with a
    # socket each, the kernel spreads the connections (16 all on one of two: 1 in 32,768).
    assert sum(per_worker.values()) == 16
    assert all(count > 0 for count in per_worker.values()), per_worker


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(
    served: tuple[subprocess.Popen[bytes], str, int],
) -> None:
    server, url, _port = served
    first, second = _workers(server)
    first.kill()
    _wait_until(
        lambda: (
            {w.pid for w in _workers(server)} - {first.pid, second.pid}
            and len(_workers(server)) == 2
        ),
        90,
        "a replacement worker",
    )
    assert second.is_running()
    for _ in range(8):  # new connections reach the survivors only, and are answered
        assert _answers(url)
    workers = _workers(server)
    server.send_signal(signal.SIGTERM)
    assert server.wait(60) == 0
    _wait_until(lambda: not any(w.is_running() for w in workers), 10, "workers stopped")


def test_the_address_in_use_by_another_program_fails_at_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            reuse_port_socket("127.0.0.1", port)


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(
    served: tuple[subprocess.Popen[bytes], str, int],
) -> None:
    server, _url, port = served
    workers = _workers(server)
    server.send_signal(signal.SIGKILL)  # no handler runs: the workers learn it on their own
    server.wait(10)
    _wait_until(lambda: not any(w.is_running() for w in workers), 30, "orphaned workers stopped")
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "something still answers on the port"
