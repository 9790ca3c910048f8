"""``twinops serve --workers N``: N API processes, each accepting on a socket of its own.

uvicorn's own supervisor binds one listening socket and shares it with every worker. asyncio
accepts every pending connection in one wake-up and Linux wakes the most recent waiter first,
so the first worker to wake takes the lot: a few keep-alive clients (gateways, collectors)
all land on one process and the others idle. Here each worker binds the address itself with
``SO_REUSEPORT``, and the kernel spreads new connections across the workers' sockets.

The supervisor holds the address bound (never listening, so it is never handed a connection)
for as long as it runs, restarts a worker that dies, and stops them all on SIGINT or SIGTERM.
A worker whose supervisor is gone (killed, out of memory) stops by itself: an orphan would go
on answering on the address beside the workers of a restarted server.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess

log = logging.getLogger("twinops.api.workers")

APP_FACTORY = "twinops.api.asgi:app_from_environment"
# uvicorn's exit code for a worker that could not start (app, socket): restarting won't help.
STARTUP_FAILURE = 3
_STOP_SECONDS = 30.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other processes of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker_main(host: str, port: int) -> None:
    """(worker process) Serve the app from the environment on a socket of this process."""
    import uvicorn

    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        log_config=None,  # uvicorn logs through twinops' handler and format
        access_log=False,  # the request middleware logs requests, with their ids
    )
    try:
        sock = reuse_port_socket(host, port)
    except OSError as exc:
        log.error("worker cannot bind %s:%d: %s", host, port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    stop_with_parent()
    uvicorn.Server(config).run(sockets=[sock])


def stop_with_parent() -> None:
    """(spawned process) SIGTERM this process once its parent is gone, however it ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])  # ready when the parent's end of the start pipe closes
        log.warning("the supervisor (pid %s) is gone; stopping", parent.pid)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn finishes the requests in hand

    threading.Thread(target=watch, name="twinops-parent-watch", daemon=True).start()


class WorkerSupervisor:
    """Starts ``count`` worker processes and keeps them running until told to stop."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host = host
        self.port = port
        self.count = count
        self._stop = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self.processes: list[SpawnProcess] = []

    def _start_one(self) -> SpawnProcess:
        process = self._context.Process(
            target=_worker_main, args=(self.host, self.port), name="twinops-api-worker"
        )
        process.start()
        log.info("started API worker process %d", process.pid)
        return process

    def stop(self, *_: object) -> None:
        """Ask the supervisor to stop its workers and return (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM (or ``stop``), restarting workers that die."""
        holder = reuse_port_socket(self.host, self.port)  # fails early when the port is taken
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.processes = [self._start_one() for _ in range(self.count)]
            while not self._stop.wait(0.5):
                self._replace_dead()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            holder.close()

    def _replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("API worker %d could not start; stopping the server", process.pid)
                self._stop.set()
                return
            log.warning(
                "API worker %d exited (%s); starting another", process.pid, process.exitcode
            )
            self.processes[index] = self._start_one()

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in hand
        for process in self.processes:
            process.join(_STOP_SECONDS)
            if process.is_alive():
                log.warning("API worker %d did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
