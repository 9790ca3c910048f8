"""Request limits: the body-size middleware and the token-bucket rate limiter."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from twinops.api.limits import BodySizeLimit, BodyTooLarge, RateLimiter, retry_after_header

LIMIT = 64


class Item(BaseModel):
    name: str


def make_app() -> tuple[FastAPI, list[str]]:
    """A tiny app recording which endpoints ran, wrapped by the middleware."""
    app = FastAPI()
    calls: list[str] = []

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        calls.append("raw")
        return {"size": len(await request.body())}

    @app.post("/items")
    async def items(item: Item) -> dict[str, str]:
        calls.append("items")
        return {"name": item.name}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        calls.append("ping")
        return {"ok": True}

    app.add_middleware(BodySizeLimit, max_bytes=LIMIT)
    return app, calls


@pytest.fixture
def app_and_calls() -> tuple[FastAPI, list[str]]:
    return make_app()


@pytest.fixture
def client(app_and_calls: tuple[FastAPI, list[str]]) -> Iterator[TestClient]:
    with TestClient(app_and_calls[0]) as c:
        yield c


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def assert_payload_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:twinops:problem:payload-too-large"
    assert body["title"] == "Payload too large"
    assert body["status"] == 413
    assert body["detail"] == f"the request body is over the {LIMIT}-byte limit"


# --- BodySizeLimit through a real app ----------------------------------------------------------


def test_oversize_content_length_is_413_before_the_app_runs(
    client: TestClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = client.post("/raw", content=b"x" * (LIMIT + 1))
    assert_payload_too_large(response)
    assert response.headers["connection"] == "close"
    assert app_and_calls[1] == []


def test_chunked_body_over_the_limit_is_413(
    client: TestClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = client.post("/raw", content=chunks(b"a" * 40, b"b" * 40, b"c" * 40))
    assert_payload_too_large(response)
    assert app_and_calls[1] == ["raw"]  # the app ran: only counting while reading can catch it


def test_chunked_json_body_over_the_limit_is_413_not_a_parse_error(client: TestClient) -> None:
    # FastAPI turns any error while reading the body into a 400; the 413 must win.
    body = b'{"name": "' + b"n" * LIMIT + b'"}'
    response = client.post(
        "/items", content=chunks(body[:10], body[10:]), headers={"content-type": "application/json"}
    )
    assert_payload_too_large(response)


def test_body_at_exactly_the_limit_passes(client: TestClient) -> None:
    assert client.post("/raw", content=b"x" * LIMIT).json() == {"size": LIMIT}


def test_chunked_body_at_exactly_the_limit_passes(client: TestClient) -> None:
    response = client.post("/raw", content=chunks(b"x" * (LIMIT - 1), b"y"))
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


def test_json_body_under_the_limit_reaches_the_endpoint(client: TestClient) -> None:
    response = client.post("/items", json={"name": "pump"})
    assert response.status_code == 200
    assert response.json() == {"name": "pump"}


@pytest.mark.parametrize("value", ["abc", "-1", "+5", "1.5", "5_0", "0x10", ""])
def test_non_integer_content_length_is_400(
    value: str, client: TestClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = client.post("/raw", content=b"x", headers={"content-length": value})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:twinops:problem:malformed-input"
    assert body["status"] == 400
    assert "Content-Length" in body["detail"]
    assert app_and_calls[1] == []


def test_huge_content_length_is_413_not_a_crash(client: TestClient) -> None:
    response = client.post("/raw", content=b"x", headers={"content-length": "9" * 5000})
    assert_payload_too_large(response)


def test_get_without_body_passes(
    client: TestClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert app_and_calls[1] == ["ping"]


# --- BodySizeLimit at the ASGI level (what a test client cannot send) --------------------------


def run_asgi(
    app: BodySizeLimit, messages: list[Message], headers: list[tuple[bytes, bytes]] | None = None
) -> list[Message]:
    """Drive one HTTP request through ``app``; the messages it sent back."""
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": headers or [],
    }
    pending = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def body_messages(*parts: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


async def read_all(receive: Receive) -> bytes:
    data = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        data += chunk
        if not message.get("more_body"):
            return data


def test_body_longer_than_its_content_length_is_caught_while_reading() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await read_all(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run_asgi(
        BodySizeLimit(inner, LIMIT),
        body_messages(b"x" * LIMIT, b"x"),
        headers=[(b"content-length", b"10")],
    )
    assert sent[0]["status"] == 413
    assert len(sent) == 2


def test_app_response_is_replaced_even_if_it_swallows_the_error() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(BodyTooLarge):
            await read_all(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run_asgi(BodySizeLimit(inner, LIMIT), body_messages(b"x" * (LIMIT + 1)))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]


def test_limit_hit_after_the_response_started_stops_reading_without_a_second_response() -> None:
    reads_after_limit: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await read_all(receive)
        except BodyTooLarge:
            try:
                await receive()
            except BodyTooLarge:
                reads_after_limit.append("refused")
            raise

    sent = run_asgi(BodySizeLimit(inner, LIMIT), body_messages(b"x" * 40, b"x" * 40))
    assert [m.get("status") for m in sent] == [200]
    assert reads_after_limit == ["refused"]


def test_app_errors_unrelated_to_the_limit_propagate() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_asgi(BodySizeLimit(inner, LIMIT), body_messages(b"x"))


def test_repeated_identical_content_lengths_pass_but_differing_ones_are_400() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await read_all(receive)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    same = [(b"content-length", b"3"), (b"content-length", b"3")]
    differing = [(b"content-length", b"3"), (b"content-length", b"4")]
    assert run_asgi(BodySizeLimit(inner, LIMIT), body_messages(b"abc"), same)[0]["status"] == 204
    assert (
        run_asgi(BodySizeLimit(inner, LIMIT), body_messages(b"abc"), differing)[0]["status"] == 400
    )


def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        assert (await receive())["type"] == "lifespan.startup"

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    asyncio.run(BodySizeLimit(inner, 0)({"type": "lifespan"}, receive, send))
    assert seen == ["lifespan"]


# --- RateLimiter ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_allows_a_burst_then_refuses_with_a_positive_retry_after() -> None:
    limiter = RateLimiter(rate_per_second=2.0, burst=3, clock=FakeClock())
    assert [limiter.check("k") for _ in range(3)] == [None, None, None]
    wait = limiter.check("k")
    assert wait is not None
    assert wait == pytest.approx(0.5)
    assert retry_after_header(wait) == "1"


def test_rate_limiter_refills_over_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("k")
    clock.advance(0.25)
    assert limiter.check("k") == pytest.approx(0.25)  # half a token so far
    clock.advance(0.25)
    assert limiter.check("k") is None
    assert limiter.check("k") is not None
    clock.advance(100)  # never more than the burst, however long the wait
    assert [limiter.check("k") is None for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_keeps_keys_independent() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock())
    assert limiter.check("alice") is None
    assert limiter.check("alice") is not None
    assert limiter.check("bob") is None


def test_rate_limiter_charges_the_cost() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=10, clock=FakeClock())
    assert limiter.check("k", cost=8) is None
    assert limiter.check("k", cost=4) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        limiter.check("k", cost=11)


def test_rate_limiter_is_thread_safe_under_concurrent_checks() -> None:
    burst = 50
    limiter = RateLimiter(rate_per_second=1.0, burst=burst, clock=FakeClock())
    start = threading.Barrier(16)
    allowed: list[int] = []

    def worker() -> None:
        start.wait()
        allowed.append(sum(limiter.check("shared") is None for _ in range(100)))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == burst


def test_rate_limiter_evicts_idle_keys_once_their_bucket_is_full_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=10.0, burst=5, clock=clock)
    for i in range(1000):
        limiter.check(f"client-{i}")
    assert len(limiter) == 1000
    clock.advance(0.5)  # burst / rate: every bucket is full again
    limiter.check("newcomer")
    assert len(limiter) == 1


def test_rate_limiter_keeps_keys_whose_bucket_is_still_refilling() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=5, clock=clock)
    for _ in range(5):
        limiter.check("busy")
    clock.advance(4)
    limiter.check("other")
    assert limiter.check("busy") is None  # 4 tokens refilled, not a fresh bucket
    assert [limiter.check("busy") is None for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_caps_the_table_evicting_least_recently_used() -> None:
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=FakeClock(), max_keys=3)
    for key in ("a", "b", "c"):
        limiter.check(key)
    limiter.check("a")  # "a" is now the most recently used; "b" the least
    limiter.check("d")
    assert len(limiter) == 3
    assert limiter.check("b") is None  # forgotten, so it starts over with a full bucket
    assert limiter.check("a") is not None  # remembered: still empty


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_limiter_with_no_positive_rate_is_unlimited(rate: float) -> None:
    limiter = RateLimiter(rate_per_second=rate, burst=0, clock=FakeClock())
    assert all(limiter.check("k") is None for _ in range(1000))
    assert len(limiter) == 0


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.0, "1"), (0.01, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")]
)
def test_retry_after_header_rounds_up_to_a_whole_second_of_at_least_one(
    seconds: float, header: str
) -> None:
    assert retry_after_header(seconds) == header
