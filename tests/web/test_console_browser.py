"""The console in a real browser (Debian's Chromium, headless, driven by Playwright) against a
real ``twinops demo`` server: every page at a laptop and a phone width, keyboard reach, the
main flow (open a pump, run a what-if, see the result), readable API errors and a live stream
that reconnects after the server restarts.

Screenshots go to ``test-artifacts/screenshots/<page>-<width>x<height>.png``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("TWINOPS_CHROMIUM", "/usr/bin/chromium")
ADMIN_KEY = "tok_console_browser_test_" + "k" * 24
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PUMP = "pump-01-01-01"
# Two shared cores: the server's first job submission imports the simulation stack.
expect.set_options(timeout=20_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DemoServer:
    """``twinops demo`` in a child process, restartable on the same port and data folder."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "TWINOPS_ADMIN_KEY": ADMIN_KEY, "TWINOPS_JOBS_WORKERS": "1"}
        command = [sys.executable, "-m", "twinops.cli.main", "demo", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--data-dir", str(self.data_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the demo server did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a hard stop, as a crash would: streams break mid-way
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    folder = tmp_path_factory.mktemp("console-demo")
    demo = DemoServer(folder / "data", folder / "server.log")
    demo.start()
    # The demo registers the example pump model (registry/pump.yaml) as the candidate.
    registered = httpx.get(
        f"{demo.url}/v1/registry/models/pump/versions/candidate",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert registered.status_code == 200, registered.text
    # Telemetry for the pumps' history: the feeder sends a batch every 5 s.
    time.sleep(5)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/browser.sh installs it (apt-get install chromium)"
        )
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


class Console:
    """A browser tab on the console, recording console errors and uncaught exceptions."""

    def __init__(self, browser: Browser, server: DemoServer, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.viewport = viewport
        self.server = server
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.server.url, "data:", "blob:")):
            self.external.append(request.url)

    def login(self, key: str = ADMIN_KEY) -> None:
        self.page.goto(f"{self.server.url}/")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        if key == ADMIN_KEY:  # signed in once the overview is drawn
            expect(self.page.locator("#fleet-summary")).to_contain_text("twins")

    def open(self, fragment: str) -> None:
        self.page.goto(f"{self.server.url}/#{fragment}")

    def shot(self, name: str) -> None:
        size = f"{self.viewport['width']}x{self.viewport['height']}"
        self.page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)

    def assert_clean(self, *, allow: tuple[str, ...] = ()) -> None:
        unexpected = [e for e in self.errors if not any(a in e for a in allow)]
        assert unexpected == [], unexpected
        assert self.external == [], self.external
        body = self.page.inner_text("body")
        assert "Traceback" not in body and "[object Object]" not in body

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Browser, server: DemoServer) -> Iterator[Console]:
    tab = Console(browser, server, LAPTOP)
    yield tab
    tab.close()


def no_horizontal_scroll(page: Page) -> bool:
    width: bool = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )
    return width


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_loads_cleanly(
    browser: Browser, server: DemoServer, viewport: dict[str, int]
) -> None:
    tab = Console(browser, server, viewport)
    page = tab.page
    try:
        tab.page.goto(f"{server.url}/")
        expect(page.get_by_label("API key")).to_be_visible()
        tab.shot("login")
        tab.login()
        expect(page.locator("#fleet-summary")).to_contain_text("40 twins")
        expect(page.get_by_role("link", name=PUMP, exact=True)).to_be_visible()
        expect(page.locator("[data-model='dtmi:twinops:example:Pump;1'] tbody tr")).to_have_count(
            12
        )
        expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
        tab.shot("overview")
        assert no_horizontal_scroll(page)

        tab.open(f"/twins/{PUMP}")
        expect(page.get_by_role("heading", name=PUMP)).to_be_visible()
        expect(page.locator("#stream-status")).to_have_text("live")
        expect(page.locator(".chart-plot canvas")).to_have_count(1)
        expect(page.locator("svg.graph a.node")).to_have_count(3)  # station, two sensors
        expect(page.get_by_role("cell", name="ratedFlow", exact=True)).to_be_visible()
        expect(page.locator("#chart-note")).to_contain_text("points")
        tab.shot("twin")
        assert no_horizontal_scroll(page)
        # Zoomed out, history comes downsampled (windows); dragging zooms back into raw points.
        page.get_by_role("button", name="1 h").click()
        expect(page.locator("#chart-note")).to_contain_text("(downsampled)")
        box = page.locator(".chart-plot .u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.8, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
        page.mouse.up()
        expect(page.locator("#chart-note")).to_contain_text("Raw: ")
        expect(page.locator("#chart-note")).not_to_contain_text("live")

        tab.open(f"/scenario?twin={PUMP}")
        expect(page.locator("#twins")).to_have_value(PUMP)
        expect(page.get_by_role("button", name="Run")).to_be_visible()
        tab.shot("scenario")
        assert no_horizontal_scroll(page)

        tab.open("/jobs")
        expect(page.locator("#job-list")).to_be_visible()
        tab.shot("jobs")

        tab.open("/quarantine")
        expect(page.get_by_role("heading", name="Quarantine")).to_be_visible()
        expect(page.get_by_role("button", name="Replay selected")).to_be_visible()
        tab.shot("quarantine")

        tab.open("/registry")
        expect(page.get_by_role("heading", name="Model registry")).to_be_visible()
        expect(page.get_by_role("link", name="pump", exact=True)).to_be_visible()
        tab.shot("registry")
        assert no_horizontal_scroll(page)
        page.get_by_role("link", name="pump", exact=True).click()
        expect(page.locator("#version-title")).to_have_text("pump v1")
        expect(page.locator("#version-detail")).to_contain_text("Production gate")
        expect(page.get_by_role("cell", name="shutoffHeadRatio")).to_be_visible()
        tab.shot("registry-model")
        tab.assert_clean()
    finally:
        tab.close()


def test_the_registry_shows_a_validation_as_evidence_with_its_plots(console: Console) -> None:
    server = console.server
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    time.sleep(5)  # at least a few demo batches in the window
    spec = {
        "kind": "validate",
        "model": "registry:pump@candidate",
        "twins": [PUMP],
        "window": {"last": "2min"},
        "step": "5s",
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
        "outputs": ["flowRate", "motorPower"],
    }
    submitted = httpx.post(f"{server.url}/v1/jobs", json=spec, headers=headers, timeout=30)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    deadline = time.monotonic() + 120
    evidence: list[Any] = []
    while time.monotonic() < deadline and not evidence:
        version = httpx.get(
            f"{server.url}/v1/registry/models/pump/versions/candidate", headers=headers
        ).json()
        evidence = [e for e in version["evidence"] if e["job"] == job]
        time.sleep(0.5)
    assert evidence, httpx.get(f"{server.url}/v1/jobs/{job}/log", headers=headers).text
    console.login()
    console.open("/registry/pump")
    expect(console.page.get_by_role("link", name=job)).to_be_visible()
    figures = console.page.locator("#version-detail figure.plot img")
    expect(figures.first).to_be_visible()
    assert figures.count() >= 2  # observed vs simulated, and residuals
    # Visible is not loaded: wait until every plot has decoded (fails after the timeout).
    console.page.wait_for_function(
        "Array.from(document.querySelectorAll('#version-detail figure.plot img'))"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        timeout=15_000,
    )
    console.shot("registry-evidence")
    console.assert_clean()


def test_no_data_without_a_key_and_a_wrong_key_is_explained(console: Console) -> None:
    page = console.page
    console.open("/twins/" + PUMP)
    expect(page.get_by_label("API key")).to_be_visible()  # the shell loads, the data does not
    expect(page.get_by_role("heading", name=PUMP)).to_have_count(0)
    page.get_by_label("API key").fill("tok_wrong_" + "x" * 30)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("Unauthorized")
    expect(page.locator("#login-error")).to_contain_text("not valid")
    assert page.evaluate("sessionStorage.getItem('twinops.apiKey')") is None
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=PUMP)).to_be_visible()  # where the user was going
    assert page.evaluate("sessionStorage.getItem('twinops.apiKey')") == ADMIN_KEY


def test_keyboard_reaches_the_navigation_and_the_run_button(console: Console) -> None:
    page = console.page
    console.login()
    console.open(f"/scenario?twin={PUMP}")
    page.reload()  # focus starts at the top of the document
    expect(page.get_by_role("button", name="Run")).to_be_visible()
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e ? (e.id || e.textContent || '').trim().slice(0, 40) : ''; })()"
        )
        reached.append(label)
        if label == "run":
            break
    assert {"Fleet", "Scenarios", "Jobs", "Registry", "Quarantine"} <= set(reached), reached
    assert reached[-1] == "run", reached
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") != "run"
    console.assert_clean()


def test_open_a_pump_run_a_what_if_and_see_the_result(console: Console) -> None:
    page = console.page
    console.login()
    page.get_by_role("link", name=PUMP, exact=True).click()
    expect(page.get_by_role("heading", name=PUMP)).to_be_visible()
    page.get_by_role("link", name="What-if from this twin").click()
    expect(page.locator("#twins")).to_have_value(PUMP)
    page.locator("#horizon").fill("2d")
    page.locator("#step").fill("10min")
    page.locator("#new-speed").fill("105")
    page.locator("#parameters").fill("wearRate = 6e-5")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#job-status")).to_contain_text("job-")
    expect(page.locator("#job-status .badge")).to_have_text("succeeded", timeout=90_000)
    results = page.locator("#results")
    expect(results.get_by_role("cell", name="motorPower", exact=True)).to_be_visible()
    expect(results.locator("figure.chart")).to_have_count(4)
    expect(results.locator("figcaption").first).to_contain_text("baseline vs what-if")
    expect(results.locator(".u-legend").first).to_contain_text("what-if")
    console.shot("scenario-what-if-result")

    # The job page shows the same run, its log and artifacts, and reproduces it.
    page.locator("#job-status a").first.click()
    expect(page.locator("#job-log")).to_contain_text("succeeded", ignore_case=True)
    expect(page.get_by_role("button", name="outputs/summary.json")).to_be_visible()
    expect(page.locator("#results figure.chart")).to_have_count(4)
    console.shot("job")
    page.get_by_role("button", name="Reproduce").click()
    expect(page.locator("dl.facts")).to_contain_text("Reproduces")
    expect(page.locator("dl.facts")).to_contain_text("outputs match", timeout=90_000)
    console.assert_clean()


def test_a_monte_carlo_from_a_past_state_shows_bands_and_observations(console: Console) -> None:
    page = console.page
    console.login()
    console.open(f"/scenario?twin={PUMP}&from=past")
    page.locator("#kind").select_option("monte-carlo")
    page.locator("#runs").fill("40")
    page.locator("#out-vibration").check()
    page.locator("#out-flowRate").check()
    # As of a minute or two ago (minute precision), over what has been observed since.
    as_of = page.evaluate(
        "(() => { const d = new Date(Date.now() - 60000); const p = (n) => String(n)"
        ".padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}"
        "T${p(d.getHours())}:${p(d.getMinutes())}`; })()"
    )
    page.locator("#as-of").fill(as_of)
    page.locator("#horizon").fill("3min")
    page.locator("#step").fill("5s")
    page.locator("#record").fill("5s")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#job-status .badge")).to_have_text("succeeded", timeout=90_000)
    charts = page.locator("#results figure.chart")
    expect(charts.first).to_contain_text("p5\N{EN DASH}p95 band")
    flow = charts.filter(has_text="flowRate")
    expect(flow.locator(".u-legend")).to_contain_text("observed")
    console.shot("scenario-monte-carlo-result")
    console.assert_clean()


def test_an_invalid_spec_shows_the_problem_detail(console: Console) -> None:
    page = console.page
    console.login()
    console.open(f"/scenario?twin={PUMP}")
    page.locator("#horizon").fill("banana")
    page.get_by_role("button", name="Run").click()
    error = page.locator("#job-status .error")
    expect(error).to_contain_text("'banana' is not a duration")
    expect(error).to_contain_text("Invalid input")
    # A spec that is not even JSON is explained too, without calling the server.
    page.get_by_text("The spec as JSON").click()
    page.locator("#spec").fill("{not json")
    page.get_by_role("button", name="Run").click()
    expect(error).to_contain_text("not valid JSON")
    # An unknown twin's page says so instead of going blank.
    console.open("/twins/no-such-pump")
    expect(page.locator("main .error")).to_contain_text("no-such-pump")
    console.shot("error")
    console.assert_clean(allow=("status of 422", "status of 404"))


def test_the_live_stream_reconnects_after_the_server_restarts(
    console: Console, server: DemoServer
) -> None:
    page = console.page
    console.login()
    console.open(f"/twins/{PUMP}")
    status = page.locator("#stream-status")
    expect(status).to_have_text("live")
    server.stop()
    expect(status).to_have_text("reconnecting", timeout=15_000)
    server.start()
    expect(status).to_have_text("live", timeout=30_000)
    # And data flows again: the current values refresh from the new stream.
    before = page.locator("#main").inner_text()
    expect(page.locator("#main")).not_to_have_text(before, timeout=15_000)
    # A server going away refuses, empties, cuts short or resets the requests in flight.
    console.assert_clean(
        allow=(
            "ERR_CONNECTION_REFUSED",
            "ERR_EMPTY_RESPONSE",
            "ERR_INCOMPLETE",
            "ERR_CONNECTION_RESET",
        )
    )
