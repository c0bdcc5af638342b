"""End-to-end: the admin page in headless Chromium (Debian's ``chromium``, driven by Playwright).

The app is served over real HTTP on 127.0.0.1 from a thread. Screenshots go to
``tests/artifacts/`` (gitignored). Without /usr/bin/chromium or the ``playwright`` package
the tests are skipped locally but FAIL when ``CI`` is set: run ``make browser-deps``.
"""
from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from callflow.clock import utcnow
from callflow.extensions import db

from .conftest import Caller
from .test_admin import (
    EMAIL,
    HOSTILE,
    PASSWORD,
    XSS_SCRIPT,
    add_calls,
    create_admin,
    escalated_call,
    identify,
    make_admin_app,
    resolved_call,
)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _unavailable(reason: str) -> None:
    message = f"{reason}: run `make browser-deps` (Debian chromium) and install the playwright pip package"
    if os.environ.get("CI"):
        pytest.fail(message + " -- CI must run the browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def sync_api():
    """Playwright's sync API, or skip (fail on CI) when the browser or the package is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("the playwright package is not installed")
    return sync_api


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    """An app with an admin user and calls of every outcome, served on 127.0.0.1."""
    from werkzeug.serving import make_server

    tmp_path = tmp_path_factory.mktemp("browser")
    app = make_admin_app(tmp_path, SESSION_COOKIE_SECURE=False, ADMIN_COOKIE_SECURE=False)
    create_admin(app)
    client = app.test_client()
    resolved_call(client)
    resolved_call(client, from_number="+14155550142")
    escalated_call(client)
    escalated_call(client, question=f"how do I {HOSTILE} my account")
    abandoned = Caller(client, from_number="+14155550177")
    identify(abandoned)
    abandoned.hangup(duration=20)
    now = utcnow()
    outcomes = ["ai-resolved", "ai-resolved", "needs-human", "abandoned", "ai-resolved"]
    history = [  # for the chart: the last two weeks
        dict(
            started_at=now - timedelta(days=1 + i % 14, hours=i),
            name=f"Caller {i:02d}",
            email=f"caller{i:02d}@example.com",
            email_confirmed=i % 3 != 0,
            outcome=outcomes[i % len(outcomes)],
            duration_s=40 + 7 * i,
            topic=["password reset", "billing", "notifications"][i % 3],
        )
        for i in range(24)
    ]
    add_calls(app, history)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser(sync_api):
    """Headless Debian Chromium (Playwright's own browser download is not used)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Watch:
    """Collects console errors, page errors and dialogs: a hostile transcript must trigger none."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()


def _page(browser, viewport):
    context = browser.new_context(viewport=viewport, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, page, Watch(page)


def _login(page, base: str, sync_api) -> None:
    page.goto(base + "/admin/")
    sync_api.expect(page).to_have_url(f"{base}/admin/login?next=/admin/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    sync_api.expect(page).to_have_url(base + "/admin/")


def _chart_state(page) -> dict:
    page.wait_for_selector("#volume-chart[data-chart-ready]")
    return page.evaluate(
        """() => {
            const canvas = document.getElementById('volume-chart');
            const chart = window.Chart && window.Chart.getChart(canvas);
            const ctx = canvas.getContext('2d');
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
            return {
                width: canvas.width, height: canvas.height,
                box: canvas.getBoundingClientRect().width,
                exists: !!chart,
                bars: chart ? chart.getDatasetMeta(0).data.length : 0,
                total: chart ? chart.data.datasets[0].data.reduce((a, b) => a + b, 0) : -1,
                painted: painted,
            };
        }"""
    )


def test_admin_flow_on_a_laptop(browser, live_app, sync_api):
    expect = sync_api.expect
    base = live_app.config["LIVE_URL"]
    context, page, watch = _page(browser, LAPTOP)
    try:
        # 1. sign in (redirected from the dashboard to the login page and back)
        page.goto(base + "/admin/login")
        page.screenshot(path=str(ARTIFACTS / "laptop-0-login.png"), full_page=True)
        _login(page, base, sync_api)

        # 2. the dashboard's chart renders: 30 daily bars holding every call
        chart = _chart_state(page)
        assert chart["exists"] and chart["bars"] == 30 and chart["total"] == 29, chart
        assert chart["width"] > 0 and chart["height"] > 0 and chart["box"] > 300 and chart["painted"] > 500, chart
        expect(page.get_by_test_id("kpi-calls")).to_have_text("29")
        expect(page.get_by_test_id("unanswered")).to_contain_text(XSS_SCRIPT)  # shown as text
        page.screenshot(path=str(ARTIFACTS / "laptop-1-dashboard.png"), full_page=True)

        # 3. filter the calls list
        page.click("nav >> text=Calls")
        expect(page).to_have_url(base + "/admin/calls")
        expect(page.get_by_test_id("calls-total")).to_contain_text("29 calls")
        page.select_option("select[name=outcome]", "needs-human")
        page.get_by_test_id("apply-filters").click()
        expect(page).to_have_url(f"{base}/admin/calls?q=&outcome=needs-human&reason=&ticket=&from=&to=&sort=newest")
        rows = page.locator("[data-testid=calls-table] tbody tr")
        expect(rows).to_have_count(7)  # 2 escalated calls + 5 of the history
        for i in range(rows.count()):
            expect(rows.nth(i)).to_contain_text("needs human")
        page.fill("input[name=q]", "+14155550111")
        page.get_by_test_id("apply-filters").click()
        expect(rows).to_have_count(2)
        page.screenshot(path=str(ARTIFACTS / "laptop-2-calls-filtered.png"), full_page=True)

        # 4. open a call: the hostile question is plain text in the transcript and the ticket
        page.get_by_test_id("call-link").first.click()
        expect(page.get_by_test_id("transcript")).to_be_visible()
        expect(page.locator(".bubble", has_text=XSS_SCRIPT)).to_have_count(1)
        frame = page.frame_locator("iframe.ticket-html")
        expect(frame.locator("h3").first).to_have_text("SUBJECT")
        expect(frame.locator("body")).to_contain_text(XSS_SCRIPT)
        assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        page.screenshot(path=str(ARTIFACTS / "laptop-3-call-detail.png"), full_page=True)
        page.locator("iframe.ticket-html").scroll_into_view_if_needed()
        page.locator("#ticket").screenshot(path=str(ARTIFACTS / "laptop-3b-ticket.png"))

        # 5. the KB page answers a question
        page.click("nav >> text=Knowledge base")
        page.fill("input[name=q]", "how do I reset my password")
        page.click("button:has-text('Search')")
        expect(page.get_by_test_id("kb-verdict")).to_contain_text("clears the threshold")
        page.screenshot(path=str(ARTIFACTS / "laptop-4-kb.png"), full_page=True)

        # 6. sign out
        page.get_by_test_id("logout").click()
        expect(page).to_have_url(base + "/admin/login")
        page.goto(base + "/admin/calls")
        expect(page).to_have_url(f"{base}/admin/login?next=/admin/calls")
    finally:
        context.close()
    assert watch.problems == []


def test_admin_pages_fit_a_phone(browser, live_app, sync_api):
    base = live_app.config["LIVE_URL"]
    context, page, watch = _page(browser, PHONE)
    try:
        _login(page, base, sync_api)
        chart = _chart_state(page)
        assert chart["exists"] and 0 < chart["box"] <= PHONE["width"], chart
        pages = [("dashboard", "/admin/"), ("calls", "/admin/calls"), ("kb", "/admin/kb?q=invoice")]
        for name, path in pages:
            page.goto(base + path)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)  # wide tables scroll inside their own box
            page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"))  # what the phone shows first
            page.screenshot(path=str(ARTIFACTS / f"phone-{name}-full.png"), full_page=True)
        page.goto(base + "/admin/calls")
        page.get_by_test_id("call-link").first.click()
        page.get_by_test_id("transcript").wait_for()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, overflow
        page.screenshot(path=str(ARTIFACTS / "phone-call-detail.png"))
        page.screenshot(path=str(ARTIFACTS / "phone-call-detail-full.png"), full_page=True)
    finally:
        context.close()
    assert watch.problems == []


def test_artifacts_are_gitignored():
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text()
    assert "tests/artifacts/" in ignored
