"""The leaderboard page in a real browser: headless Chromium driven by Playwright.

Uses Debian's ``/usr/bin/chromium`` (or ``$CHROMIUM``), which ``.ci/run`` installs; the page is
opened from disk, so nothing touches the network. Without Chromium or Playwright these tests skip,
unless ``COORD_ENV_BROWSER_TESTS=required`` (set by CI), where they fail instead.
"""

import json
import os
import shutil

import pytest
from helpers import ROOT

from coord_env.leaderboard import build_leaderboard, collect, seed_baselines

pytestmark = pytest.mark.slow  # a real browser: pytest -m slow

REQUIRED = os.environ.get("COORD_ENV_BROWSER_TESTS") == "required"
CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
LEADERBOARDS = ROOT / "leaderboards"


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (COORD_ENV_BROWSER_TESTS=required)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    _need(sync_playwright is not None, "playwright is not installed")
    _need(CHROMIUM is not None, "no chromium executable (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"
    page.close()


def _column(page, scenario: str, key: str) -> list[str]:
    table = page.locator(f'table.leaderboard[data-scenario="{scenario}"]')
    index = [h.get_attribute("data-key") for h in table.locator("th").all()].index(key)
    return [
        row.locator("td").nth(index).get_attribute("data-value")
        for row in table.locator("tbody tr").all()
    ]


def _numbers(values: list[str]) -> list[float]:
    return [float(v) if v else float("-inf") for v in values]


@pytest.fixture(scope="module")
def tiny_board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    seed_baselines(["tiny"], root, policies=["random", "siloed", "mean_demand", "coordinated"])
    build_leaderboard(root)
    return root


def test_tables_render_and_sort_numerically_and_alphabetically(page, tiny_board):
    page.goto((tiny_board / "index.html").as_uri())
    rows = page.locator('table.leaderboard[data-scenario="tiny"] tbody tr')
    assert rows.count() == 4
    assert page.locator("figure.ci-plot svg").count() == 1
    profits = _numbers(_column(page, "tiny", "profit"))
    assert profits == sorted(profits, reverse=True)  # ranked best first

    header = page.locator('table.leaderboard[data-scenario="tiny"] th[data-key="profit"]')
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert _numbers(_column(page, "tiny", "profit")) == sorted(profits)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert _numbers(_column(page, "tiny", "profit")) == sorted(profits, reverse=True)

    # Numeric, not text, order: as text "-23.4" sorts before "-2349.8" (random's score).
    page.locator('table.leaderboard[data-scenario="tiny"] th[data-key="normalized_score"]').click()
    scores = _column(page, "tiny", "normalized_score")
    assert _numbers(scores) == sorted(_numbers(scores)) and scores != sorted(scores)

    page.locator('table.leaderboard[data-scenario="tiny"] th[data-key="method"]').click()
    methods = _column(page, "tiny", "method")
    assert methods == sorted(methods)
    # Sorting moves whole rows: each method keeps its own profit.
    first = rows.first
    method = first.get_attribute("data-method")
    shown_profit = _column(page, "tiny", "profit")[0]
    document = json.loads((tiny_board / "tiny" / f"{method.replace('_', '-')}.json").read_text())
    assert float(shown_profit) == document["profit"]["mean"]


def test_committed_page_shows_every_submission(page):
    _need((LEADERBOARDS / "index.html").is_file(), "no committed leaderboards/index.html")
    page.goto((LEADERBOARDS / "index.html").as_uri())
    boards = collect(LEADERBOARDS)
    for scenario, submissions in boards.items():
        table = page.locator(f'table.leaderboard[data-scenario="{scenario}"]')
        assert table.is_visible()
        shown = sorted(r.get_attribute("data-method") for r in table.locator("tbody tr").all())
        assert shown == sorted(s["method"] for s in submissions)
        for row in table.locator("tbody tr").all():
            assert row.locator("td").count() == table.locator("th").count()
