"""`paperhouse bi`: Apache Superset on a warehouse of the sample files, its dashboard loaded in
headless Chromium; every chart must render the numbers `paperhouse sql` gives for its query,
before and after a full rebuild of the marts."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from orchestration.bi.dashboard import CHARTS, DASHBOARD_TITLE
from orchestration.bi.superset import STOP_GRACE_SECONDS
from orchestration.settings import PROJECT_ROOT

from conftest import processes_with, run_cli, start_server

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Chromium as root on a closed network: no sandbox, no background calls home (each one refused).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2100",
]
# A path here keeps the test's screenshot (docs/superset-dashboard.png is the README's).
SCREENSHOT = os.environ.get("PAPERHOUSE_BI_SCREENSHOT")


@contextlib.contextmanager
def superset_running(env: dict[str, str], log: Path):
    """`paperhouse bi` on a free port until the block ends, then Ctrl-C as a terminal sends it."""
    server, port = start_server("bi", env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, f"paperhouse bi exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "Superset did not answer in time"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{base}/health", timeout=5) as answer,
            ):
                if answer.status == 200:
                    break
            time.sleep(1)
        yield base
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=STOP_GRACE_SECONDS + 10) == 0, log.read_text()[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium():
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # the performance log holds the network's traffic: the data each chart was drawn from
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, password: str) -> None:
    deadline = time.monotonic() + 30
    while "/login/" not in driver.current_url:
        assert time.monotonic() < deadline, driver.current_url
        time.sleep(0.5)
    driver.find_element(By.ID, "username").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys(password + "\n")


def wait_for_the_dashboard(driver, timeout: float = 120) -> None:
    """Wait for the dashboard's page after logging in."""
    deadline = time.monotonic() + timeout
    while DASHBOARD_TITLE not in driver.title:
        assert time.monotonic() < deadline, (  # the message is read only on failure
            f"no dashboard at {driver.current_url} (title {driver.title!r}); the page says:\n"
            f"{driver.find_element(By.TAG_NAME, 'body').text[:2000]}"
        )
        time.sleep(0.5)


def rendered_charts(driver, timeout: float = 180) -> dict[str, dict]:
    """Wait for every chart's data to arrive and be drawn; returns chart title -> its data (the
    response to the chart's /api/v1/chart/data request), read from Chromium's network log."""
    answers: list[dict] = []
    deadline = time.monotonic() + timeout
    reloaded = False
    while len(answers) < len(CHARTS):
        assert time.monotonic() < deadline, (  # the message is read only on failure
            f"{len(answers)} of {len(CHARTS)} charts loaded at {driver.current_url}; the page says:\n"
            f"{driver.find_element(By.TAG_NAME, 'body').text[:2000]}\n"
            f"browser console: {driver.get_log('browser')[-10:]}"
        )
        # Once, in one fresh-clone run, a first page drew no chart at all for 120 s (cause not
        # found): a page that asked for nothing in half the time gets one reload, a real failure
        # fails again.
        if not answers and not reloaded and time.monotonic() > deadline - timeout / 2:
            driver.refresh()
            reloaded = True
        time.sleep(1)
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] != "Network.responseReceived":
                continue
            response = message["params"]["response"]
            if "/api/v1/chart/data" not in response["url"]:
                continue
            assert response["status"] == 200, response
            body = driver.execute_cdp_cmd(
                "Network.getResponseBody", {"requestId": message["params"]["requestId"]}
            )
            answers.append(json.loads(body["body"])["result"][0])
    titles = set()
    for holder in driver.find_elements(By.CSS_SELECTOR, ".dashboard-component-chart-holder"):
        title = holder.text.splitlines()[0]
        # drawn: an ECharts canvas or a table with rows, and no error tile
        deadline = time.monotonic() + 30
        while not holder.find_elements(By.CSS_SELECTOR, "canvas, table tbody tr"):
            assert time.monotonic() < deadline, f"chart {title!r} was not drawn"
            time.sleep(0.5)
        assert not holder.find_elements(By.CSS_SELECTOR, ".alert-danger, .ant-alert-error"), title
        titles.add(title)
    assert titles == {chart.title for chart in CHARTS}
    # Which answer is which chart: each chart's columns, as its params name them.
    by_title = {}
    for chart in CHARTS:
        wanted = set(chart.params.get("all_columns") or [chart.params["x_axis"]])
        [answer] = [a for a in answers if wanted <= set(a["colnames"])]
        assert answer["rowcount"] > 0, chart.title
        by_title[chart.title] = answer
    return by_title


def query(name: str, env: dict[str, str]) -> list[dict]:
    path = PROJECT_ROOT / "sql" / "queries" / f"{name}.sql"
    done = run_cli("sql", "--file", str(path), "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def epoch_ms(day: str) -> float:
    """A date as Superset's chart data gives it: milliseconds since 1970 at midnight UTC."""
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000


def assert_charts_equal_the_queries(charts: dict[str, dict], env: dict[str, str]) -> None:
    def rows(title: str, *columns: str) -> Counter:
        return Counter(tuple(row[c] for c in columns) for row in charts[title]["data"])

    def expected(name: str, *columns: str) -> Counter:
        return Counter(tuple(row[c] for c in columns) for row in query(name, env))

    trends = {}  # (month, keyword) -> papers, from the pivoted line chart
    for row in charts["Keyword trends by month"]["data"]:
        for keyword, papers in row.items():
            if keyword != "month" and papers is not None:
                trends[(row["month"], keyword)] = papers
    assert trends == {
        (epoch_ms(r["month"]), r["keyword"]): r["paper_count"]
        for r in query("keyword_trends_by_month", env)
    }
    assert rows("Emerging keywords", "display_keyword", "paper_count") == expected(
        "emerging_keywords", "display_keyword", "paper_count"
    )
    assert rows("Most-listed papers", "title", "listing_count", "file_count") == expected(
        "most_listed_papers", "title", "listing_count", "file_count"
    )
    assert rows("Papers per organization", "organization", "papers") == expected(
        "papers_per_organization", "organization", "papers"
    )
    scrape_days = {
        row["scrape_day"]: row["new papers"]
        for row in charts["New papers per day of scrape"]["data"]
    }
    assert scrape_days == {
        epoch_ms(r["scrape_day"]): r["new_papers"] for r in query("new_papers_per_scrape_day", env)
    }
    assert rows("Papers first seen this week", "title", "top_keywords") == expected(
        "papers_first_seen_this_week", "title", "top_keywords"
    )


@pytest.mark.slow(rank=2)
def test_the_dashboard_renders_every_chart_with_the_warehouses_numbers(
    dbt_manifest, cli_env, db_url, inbox, tmp_path
):
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "the browser test needs Debian's chromium and chromium-driver (make test installs them)"
    )
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    home = Path(cli_env["PAPERHOUSE_HOME"])
    metadata_db = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"] + "_superset"
    try:
        with superset_running(cli_env, tmp_path / "bi.log") as base, chromium() as driver:
            # the address paperhouse bi prints: the login page, then the dashboard
            driver.get(base)
            password = (home / "superset" / "admin_password").read_text().strip()
            log_in(driver, password)
            wait_for_the_dashboard(driver)
            charts = rendered_charts(driver)
            assert_charts_equal_the_queries(charts, cli_env)
            if SCREENSHOT:
                driver.save_screenshot(SCREENSHOT)

            # A full rebuild replaces the marts: the charts still read them, through the reader.
            built = run_cli("build", "--full-refresh", env=cli_env)
            assert built.returncode == 0, built.stderr
            driver.get(f"{base}/superset/dashboard/paperhouse/")
            assert_charts_equal_the_queries(rendered_charts(driver), cli_env)
        said = (tmp_path / "bi.log").read_text()
        assert "Traceback" not in said, said[-3000:]
        assert not processes_with(f"PAPERHOUSE_HOME={home}"), "Ctrl-C left a process running"

        # A second start updates what the first imported: one dashboard, one chart each; and
        # an admin password file deleted meanwhile is made again, and opens the door.
        (home / "superset" / "admin_password").unlink()
        with superset_running(cli_env, tmp_path / "bi-again.log") as base:
            password = (home / "superset" / "admin_password").read_text().strip()
            login = urllib.request.Request(
                f"{base}/api/v1/security/login",
                data=json.dumps(
                    {"username": "admin", "password": password, "provider": "db"}
                ).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(login, timeout=30) as answer:
                assert "access_token" in json.loads(answer.read())
            # The login page's event beacon, sent as its form is: its answer must leave the
            # session cookie alone, or it can overwrite the new login's and log the user out.
            with urllib.request.urlopen(f"{base}/login/", timeout=30) as page:
                cookie = page.headers["Set-Cookie"].split(";")[0]
            beacon = urllib.request.Request(
                f"{base}/superset/log/?explode=events",
                data=b"events=[]",
                headers={"Cookie": cookie},
            )
            with urllib.request.urlopen(beacon, timeout=30) as answer:
                assert answer.status == 204 and "Set-Cookie" not in answer.headers
        server = psycopg.conninfo.conninfo_to_dict(db_url)
        with psycopg.connect(**{**server, "dbname": metadata_db}) as conn:
            assert conn.execute("select count(*) from dashboards").fetchone() == (1,)
            assert conn.execute("select count(*) from slices").fetchone() == (len(CHARTS),)
            [(uri,)] = conn.execute("select sqlalchemy_uri from dbs").fetchall()
        assert "superset_reader@" in uri, "charts read through the reader login, not the owner"
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{metadata_db}" with (force)')


def test_every_chart_reads_one_example_query_of_the_marts_only():
    from orchestration.bi.dashboard import bundle_files

    files = bundle_files("postgresql+psycopg2://reader@host:5432/db", "secret")
    assert bundle_files("postgresql+psycopg2://reader@host:5432/db", "secret") == files
    datasets = [json.loads(body) for name, body in files.items() if "/datasets/" in name]
    assert {d["table_name"] for d in datasets} == {chart.dataset.query for chart in CHARTS}
    for dataset in datasets:
        schemas = set(re.findall(r"\b(?:from|join)\s+(\w+)\.", dataset["sql"], re.I))
        assert schemas == {"analytics"}, dataset["table_name"]
        assert dataset["sql"] == (
            PROJECT_ROOT / "sql" / "queries" / f"{dataset['table_name']}.sql"
        ).read_text().strip().rstrip(";")
    [database] = [json.loads(body) for name, body in files.items() if "/databases/" in name]
    assert database["sqlalchemy_uri"] == "postgresql+psycopg2://reader@host:5432/db"
    assert not database["allow_dml"]


def test_without_superset_installed_bi_says_how_to_install_it(tmp_path):
    from orchestration.bi.superset import SupersetError, site
    from orchestration.settings import Settings

    with pytest.raises(SupersetError, match="run `make bi`"):
        site(Settings.from_env({"PAPERHOUSE_HOME": str(tmp_path)}), "postgresql://x@y/z", tmp_path)


@pytest.mark.parametrize("command", ["bi", "ui", "docs"])
def test_a_taken_port_is_one_clear_line_before_any_set_up(cli_env, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(command, "--port", str(port), env=cli_env)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stdout == ""  # nothing started: no address announced
    assert not (Path(cli_env["PAPERHOUSE_HOME"]) / "superset").exists()
