"""The Dagster code location: definitions, real materializations, the sensor, the webserver."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import psycopg
import pytest

from orchestration.defs.resources import WarehouseResource, dbt_resource
from orchestration.defs.shared import CHECKED_ASSETS
from orchestration.models.runner import BuildSummary, NodeResult
from orchestration.settings import DAGSTER_INSTANCE_FILE, PROJECT_ROOT
from orchestration.ui import STOP_GRACE_SECONDS
from orchestration.warehouse import sqlalchemy_url

from conftest import (
    SEED_DISTINCT_TITLES,
    SEED_LISTINGS,
    SEEDS,
    fresh_database,
    processes_with,
    run_cli,
    start_server,
    wait_for_history,
)
from warehouse_state import mart_snapshot

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def code(dbt_manifest):
    """The code location's modules, imported once dbt's manifest exists (dagster-dbt reads it)."""
    import orchestration.definitions as definitions
    import orchestration.defs.ingest.sensors as sensors
    import orchestration.defs.models.assets as models

    return SimpleNamespace(defs=definitions.defs(), sensors=sensors, models=models)


@pytest.mark.parametrize(
    "command,says",
    [
        (
            ["dagster", "definitions", "validate", "-m", "orchestration.definitions"],
            "All code locations passed validation",
        ),
        (["dg", "check", "defs"], "All definitions loaded successfully"),
    ],
    ids=["dagster-definitions-validate", "dg-check-defs"],
)
def test_dagsters_own_commands_work_in_the_repository_root(dbt_manifest, command, says):
    # As a user who knows Dagster types them: in the root, no variables set.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DAGSTER_", "PAPERHOUSE_"))
    }
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert says in done.stderr + done.stdout


def test_the_asset_graph_runs_from_the_inbox_to_the_marts(code):
    defs = code.defs
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/paper_listings", "raw/ingested_files"} <= keys
    from orchestration.models.manifest import marts

    names = {mart.name for mart in marts()}
    assert {"dim_papers", "fct_paper_listings", "fct_paper_keywords"} <= names
    assert {f"analytics/{name}" for name in names} <= keys
    graph = defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["staging", "stg_raw__paper_listings"]))
    assert dg.AssetKey(["raw", "paper_listings"]) in staging.parent_keys
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "no_file_rejected",
        "no_keyphrase_error",
        "listings_map_to_papers",
        "newest_file_is_fresh",
    } <= checks
    assert any(
        name.startswith("not_null_dim_papers_paper_id") for name in checks
    )  # dbt tests as checks
    features = graph.get(dg.AssetKey(["staging", "stg_features__listing_search_documents"]))
    assert dg.AssetKey(["features", "listing_search_documents"]) in features.parent_keys
    assert (
        dg.AssetKey(["raw", "paper_listings"])
        in graph.get(dg.AssetKey(["features", "listing_keywords"])).parent_keys
    )
    repository = defs.get_repository_def()
    assert set(repository.schedule_defs and [s.name for s in repository.schedule_defs]) == {
        "ingest_schedule",
        "nightly_full_rebuild",
        "nightly_backup",
    }
    assert [s.name for s in repository.sensor_defs] == ["inbox_sensor"]
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"ingest_and_build", "full_rebuild", "backup"} <= jobs


def test_a_build_plan_gives_dbt_its_arguments_and_bounds(code):
    from orchestration.models.plan import BuildPlan

    assert not code.models.DbtBuildConfig().full_refresh
    incremental = BuildPlan(120, 100, (), "3-abc")
    assert incremental.dbt_args == ["build"]
    assert incremental.dbt_env == {
        "PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ": "120",
        "PAPERHOUSE_TEST_SINCE_INGEST_SEQ": "100",
    }
    full = BuildPlan(120, 0, ("asked for",), "3-abc", selection="dim_papers+")
    assert full.dbt_args == ["build", "--full-refresh", "--select", "dim_papers+"]


def warehouse(url: str, inbox: Path) -> WarehouseResource:
    return WarehouseResource(database_url=url, inbox=str(inbox), settle_seconds="0")


def test_materializing_gives_the_same_tables_as_paperhouse_run(
    code, server_url, template_db, db_url, conn, inbox, cli_env
):
    defs = code.defs
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # ingest, the dbt models, our own checks
        resources={"warehouse": warehouse(db_url, inbox), "dbt": dbt_resource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    ingest_event = next(
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["raw", "paper_listings"])
    )
    metadata = ingest_event.step_materialization_data.materialization.metadata
    assert metadata["listings_loaded"].value == SEED_LISTINGS
    assert metadata["files_loaded"].value == 5
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["no_file_rejected"] is True
    assert checks["no_keyphrase_error"] is True
    assert checks["listings_map_to_papers"] is True
    assert checks["assert_keyword_counts_per_paper"] is True  # a dbt test, as a check
    assert all(checks.values()), [name for name, passed in checks.items() if not passed]
    assert conn.execute("select count(*) from analytics.dim_papers").fetchone() == (
        SEED_DISTINCT_TITLES,
    )
    dagster_tables = mart_snapshot(db_url)

    with fresh_database(server_url, template_db) as other_url:
        env = {**cli_env, "PAPERHOUSE_DATABASE_URL": other_url, "PAPERHOUSE_INBOX": str(inbox)}
        done = run_cli("run", env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        cli_tables = mart_snapshot(other_url)
    assert dagster_tables == cli_tables


def test_after_an_extractor_change_a_dagster_run_rebuilds_in_full_as_the_cli_would(
    code, db_url, conn, inbox, cli_env
):
    # Built by the CLI; then as if by an older keyword rule (`paperhouse calibrate`
    # without the rebuild): the features and the marts' keywords are stale.
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    before = conn.execute(
        "select paper_id, keyword, score from analytics.fct_paper_keywords order by 1, 2"
    ).fetchall()
    conn.execute("update features.extracted_files set extractor_version = 'an older rule'")
    conn.execute("update meta.builds set extractor_version = 'an older rule'")
    conn.execute("delete from analytics.fct_paper_keywords where rank = 1")
    defs = code.defs
    instance = dg.DagsterInstance.ephemeral()
    # A dashboard's transaction stays open on dim_papers, which the full rebuild replaces: the
    # run's log names it (lock_waits, from a thread beside dbt), and the run goes on once it ends.
    with psycopg.connect(db_url, application_name="a dashboard") as reader:
        reader.execute("select count(*) from analytics.dim_papers")
        releaser = threading.Thread(target=end_once_it_blocks_dbt, args=(reader, db_url))
        releaser.start()
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            resources={"warehouse": warehouse(db_url, inbox), "dbt": dbt_resource()},
            instance=instance,
        )
        releaser.join()
        blocker = reader.info.backend_pid
    assert result.success
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if "the build waits for session" in entry.user_message
    ]
    assert len(warnings) == 1 and f"session {blocker}, which holds a lock" in warnings[0]
    assert "a dashboard, idle in transaction" in warnings[0]
    last = conn.execute(
        "select full_refresh, succeeded from meta.builds order by build_id desc limit 1"
    ).fetchone()
    assert last == (True, True)
    after = conn.execute(
        "select paper_id, keyword, score from analytics.fct_paper_keywords order by 1, 2"
    ).fetchall()
    assert after == before


def test_the_backup_job_writes_an_archive_into_the_folder_or_says_what_is_missing(
    code, sample_db, inbox, tmp_path, monkeypatch
):
    job = code.defs.get_job_def("backup")
    resources = {"warehouse": warehouse(sample_db, inbox)}
    monkeypatch.delenv("PAPERHOUSE_BACKUP_DIR", raising=False)
    missing = job.execute_in_process(
        resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not missing.success
    (failure,) = [event for event in missing.all_events if event.is_step_failure]
    assert "PAPERHOUSE_BACKUP_DIR is not set" in failure.step_failure_data.error.message

    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("PAPERHOUSE_BACKUP_DIR", str(folder))
    monkeypatch.setenv("PAPERHOUSE_BACKUP_KEEP", "1")
    old = folder / "paperhouse-20000101T000000Z.dump"
    old.write_text("an old backup")
    result = job.execute_in_process(resources=resources, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (archive,) = folder.iterdir()
    assert result.output_for_node("back_up_warehouse") == str(archive)
    (output,) = [event for event in result.all_events if event.is_successful_output]
    metadata = output.step_output_data.metadata
    assert metadata["listings"].value == SEED_LISTINGS
    assert metadata["bytes"].value == archive.stat().st_size
    assert metadata["older_backups_removed"].value == [old.name]


def end_once_it_blocks_dbt(reader: psycopg.Connection, url: str) -> None:
    """Roll back `reader`'s transaction some seconds after a dbt session starts waiting for it:
    time for the build's watcher, which reports a wait it has seen twice a second apart."""
    deadline = time.monotonic() + 120
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute(
                "select 1 from pg_stat_activity where application_name = 'dbt' "
                "and %s = any(pg_blocking_pids(pid))",
                [reader.info.backend_pid],
            ).fetchone():
                time.sleep(6)
                break
            time.sleep(0.1)
    reader.rollback()


def test_plan_tick_asks_once_for_new_bytes_and_never_for_known_ones(code):
    plan_tick, run_key_for, InboxCursor = (
        code.sensors.plan_tick,
        code.sensors.run_key_for,
        code.sensors.InboxCursor,
    )
    a, b = "a" * 64, "b" * 64
    key, cursor = plan_tick({"x.txt": (1, 1, a)}, set(), InboxCursor())
    assert key == run_key_for({a}) and cursor.requested == {a}
    assert plan_tick({"x.txt": (1, 1, a)}, set(), cursor)[0] is None
    assert plan_tick({"y.txt": (1, 2, a)}, {a}, cursor)[0] is None  # renamed, and now ingested
    key, cursor = plan_tick({"x.txt": (1, 1, a), "z.txt": (1, 3, b)}, {a}, cursor)
    assert key == run_key_for({b}) and cursor.requested == {b}


def test_the_inbox_sensor_against_a_real_inbox(code, db_url, tmp_path):
    inbox_sensor, run_key_for = code.sensors.inbox_sensor, code.sensors.run_key_for
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    seeds = sorted(SEEDS.iterdir())
    for seed in seeds[:2]:
        shutil.copy2(seed, inbox / seed.name)
    resources = {"warehouse": warehouse(db_url, inbox)}

    def tick(cursor):
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            result = inbox_sensor(context)
        return result.run_requests or [], result.cursor

    requests, cursor = tick(None)
    assert len(requests) == 1  # two new files, one run
    assert tick(cursor)[0] == []  # nothing new since
    shutil.copy2(inbox / seeds[0].name, inbox / "renamed-copy.txt")
    requests, cursor = tick(cursor)
    assert requests == []  # the same bytes under another name
    shutil.copy2(seeds[2], inbox / seeds[2].name)
    requests, cursor = tick(cursor)
    assert len(requests) == 1 and requests[0].run_key == run_key_for(
        {hashlib.sha256(seeds[2].read_bytes()).hexdigest()}
    )
    assert tick(cursor)[0] == []
    # A name that is not UTF-8 is a file like any other, tick after tick.
    shutil.copy2(seeds[3], inbox / os.fsdecode(b"bad\xffname.txt"))
    requests, cursor = tick(cursor)
    assert len(requests) == 1
    assert tick(cursor)[0] == []


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def dagster_instance(cli_env: dict[str, str], db_url: str, monkeypatch) -> dg.DagsterInstance:
    """The Dagster instance of a CLI environment (storage: its warehouse database, as an external
    warehouse's is)."""
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", sqlalchemy_url(db_url, "psycopg2"))
    return dg.DagsterInstance.from_config(str(Path(cli_env["PAPERHOUSE_HOME"]) / "dagster"))


def test_the_cli_reports_dbt_nodes_under_the_keys_of_the_definitions(code):
    from orchestration import history

    manifest = history.read_manifest()
    nodes = [
        NodeResult(unique_id, "success" if props["resource_type"] == "model" else "pass", 0.1)
        for unique_id, props in manifest["nodes"].items()
        if props["resource_type"] in ("model", "test")
    ]
    run = history.CommandRun("paperhouse build", dbt=BuildSummary(True, nodes=nodes))
    events = history.asset_events(run, manifest)
    graph = code.defs.resolve_asset_graph()
    materialized = {e.asset_key for e in events if isinstance(e, dg.AssetMaterialization)}
    checked = {
        dg.AssetCheckKey(e.asset_key, e.check_name)
        for e in events
        if isinstance(e, dg.AssetCheckEvaluation)
    }
    dbt_assets = {
        key for key in graph.materializable_asset_keys if key.path[0] not in ("raw", "features")
    }
    assert materialized == dbt_assets
    warehouse_checks = {dg.AssetCheckKey(key, name) for name, key in CHECKED_ASSETS.items()}
    assert checked == set(graph.asset_check_keys) - warehouse_checks
    assert len(checked) >= 15  # the project has 19 model tests; an empty match proves nothing


def test_a_cli_run_is_in_dagsters_history_with_its_metadata_and_checks(
    dbt_manifest, cli_env, db_url, inbox, monkeypatch
):
    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "true"
    (inbox / "archive.txt").write_bytes(b"PK\x03\x04" + bytes(500))
    done = run_cli("run", "--inbox", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    wait_for_history(cli_env)
    with dagster_instance(cli_env, db_url, monkeypatch) as instance:
        listings = instance.get_latest_materialization_event(dg.AssetKey(["raw", "paper_listings"]))
        metadata = listings.asset_materialization.metadata
        assert metadata["listings_loaded"].value == SEED_LISTINGS
        assert metadata["files_rejected"].value == 1
        assert "archive.txt" in metadata["problem_files"].value
        papers = instance.get_latest_materialization_event(dg.AssetKey(["analytics", "dim_papers"]))
        assert papers.asset_materialization.metadata["rows_affected"].value == SEED_DISTINCT_TITLES
        features = instance.get_latest_materialization_event(
            dg.AssetKey(["features", "listing_keywords"])
        )
        assert features.asset_materialization.metadata["listings_extracted"].value == SEED_LISTINGS

        def latest(asset: list[str], check: str) -> dg.AssetCheckEvaluation:
            key = dg.AssetCheckKey(dg.AssetKey(asset), check)
            record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
            return record.event.dagster_event.event_specific_data

        # the warehouse's state: a rejected file in the ledger
        rejected = latest(["raw", "paper_listings"], "no_file_rejected")
        assert rejected.passed is False
        assert "1 file(s) rejected" in rejected.description
        assert latest(["analytics", "fct_paper_listings"], "listings_map_to_papers").passed
        assert latest(["analytics", "dim_papers"], "not_null_dim_papers_paper_id").passed

    # A later command that only builds still judges the ledger, not its own run.
    done = run_cli("build", env=cli_env)
    assert done.returncode == 0, done.stderr
    wait_for_history(cli_env)
    with dagster_instance(cli_env, db_url, monkeypatch) as instance:
        assert latest(["raw", "paper_listings"], "no_file_rejected").passed is False


def test_an_ingest_reports_from_a_process_of_its_own_and_never_imports_dagster(
    cli_env, db_url, inbox, monkeypatch
):
    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "true"
    # the command in this interpreter: which modules it imported is then known
    script = (
        "import sys\n"
        "from orchestration.cli import main\n"
        f"sys.argv = ['paperhouse', 'ingest', {str(inbox)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_dbt')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("[]"), done.stdout[-500:]
    wait_for_history(cli_env)
    with dagster_instance(cli_env, db_url, monkeypatch) as instance:
        listings = instance.get_latest_materialization_event(dg.AssetKey(["raw", "paper_listings"]))
        assert listings.asset_materialization.metadata["listings_loaded"].value == SEED_LISTINGS


def test_a_report_whose_reporter_was_killed_is_delivered_by_the_next_command(
    dbt_manifest, cli_env, db_url, inbox, monkeypatch
):
    from orchestration.history import UNCLAIMED_SECONDS
    from orchestration.instance import pending_reports
    from orchestration.settings import Settings

    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "true"
    cli_env["PAPERHOUSE_TEST_COMMAND"] = "the-killed-ingest"  # marks what the ingest starts
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    reporters = processes_with("PAPERHOUSE_TEST_COMMAND=the-killed-ingest")
    assert reporters, "the ingest started no reporter"
    for pid in reporters:  # while it imports Dagster, before it can report
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    left = pending_reports(Settings.from_env(cli_env))
    assert len(left) == 1
    with dagster_instance(cli_env, db_url, monkeypatch) as instance:
        assert (
            instance.get_latest_materialization_event(dg.AssetKey(["raw", "paper_listings"]))
            is None
        )
    # a minute on, as far as the next reporter can tell, if the reporter died before its claim
    old = time.time() - UNCLAIMED_SECONDS - 1
    os.utime(left[0], (old, old))

    cli_env["PAPERHOUSE_TEST_COMMAND"] = "the-next-command"
    assert run_cli("build", env=cli_env).returncode == 0
    wait_for_history(cli_env)
    with dagster_instance(cli_env, db_url, monkeypatch) as instance:
        listings = instance.get_latest_materialization_event(dg.AssetKey(["raw", "paper_listings"]))
        assert listings.asset_materialization.metadata["listings_loaded"].value == SEED_LISTINGS
        assert instance.get_latest_materialization_event(
            dg.AssetKey(["analytics", "dim_papers"])
        ), "the build's own report"


def test_history_that_cannot_be_written_is_a_warning_not_a_failure(cli_env, inbox, tmp_path):
    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "true"
    cli_env["PAPERHOUSE_DAGSTER_DATABASE_URL"] = (
        "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    )
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "warning: the Dagster UI's history was not updated" in done.stderr
    assert "Traceback" not in done.stderr


def test_with_the_history_off_a_command_reports_nothing(cli_env, db_url, inbox):
    def events() -> int:  # Dagster's event log lives beside the warehouse's tables here
        with psycopg.connect(db_url) as conn:
            return conn.execute("select count(*) from event_logs").fetchone()[0]

    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "off"
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert events() == 0
    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "on"
    assert run_cli("build", env=cli_env).returncode == 0
    wait_for_history(cli_env)
    assert events() > 0


@pytest.mark.slow
def test_paperhouse_ui_shows_the_clis_runs_and_ctrl_c_ends_all_it_started(
    dbt_manifest, cli_env, db_url, inbox, tmp_path
):
    cli_env["PAPERHOUSE_DAGSTER_HISTORY"] = "true"
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    log = tmp_path / "ui.log"
    server, port = start_server("ui", cli_env, log)
    query = """{ assetNodes(assetKeys: [{path: ["raw", "paper_listings"]}]) {
        assetMaterializations(limit: 1) { metadataEntries {
            label ... on IntMetadataEntry { intValue } } } } }"""
    data: dict = {}
    home = f"DAGSTER_HOME={Path(cli_env['PAPERHOUSE_HOME']) / 'dagster'}"
    try:
        deadline = time.monotonic() + 150
        while not data.get("data", {}).get("assetNodes"):
            assert server.poll() is None, "paperhouse ui exited"
            assert time.monotonic() < deadline, "the webserver did not answer in time"
            time.sleep(1)
            with contextlib.suppress(OSError, ValueError):
                data = graphql(port, query)
        started = processes_with(home)
        assert len(started) >= 3, "dagster dev, its webserver and its daemon"
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=STOP_GRACE_SECONDS + 10) == 0
        assert not [pid for pid in processes_with(home) if pid in started]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        for pid in processes_with(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    said = log.read_text()
    # what a newcomer reads first: no warning that an instance file or a location name is ignored
    assert "will not be used" not in said
    assert "does not match the name" not in said
    assert "superseded" not in said
    [node] = data["data"]["assetNodes"]
    [materialization] = node["assetMaterializations"]
    loaded = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}
    assert loaded["listings_loaded"] == SEED_LISTINGS
    # Dagster's own storage went to PostgreSQL (here the warehouse database), not SQLite.
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select to_regclass('public.runs') is not null").fetchone() == (True,)
    dagster_home = Path(cli_env["PAPERHOUSE_HOME"]) / "dagster"
    assert (dagster_home / "dagster.yaml").exists()
    assert not list(dagster_home.rglob("*.db")), "no SQLite files"


def test_the_instance_settings_keep_one_ingest_at_a_time_and_storage_in_postgres(db_url, tmp_path):
    shutil.copyfile(DAGSTER_INSTANCE_FILE, tmp_path / "dagster.yaml")
    os.environ["DAGSTER_POSTGRES_URL"] = sqlalchemy_url(db_url, "psycopg2")
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    finally:
        del os.environ["DAGSTER_POSTGRES_URL"]
    from orchestration.defs.ingest.assets import ingest_inbox
    from orchestration.defs.shared import WRITERS_POOL as INGEST_POOL

    assert ingest_inbox.op.pool == INGEST_POOL
