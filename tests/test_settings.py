"""Where the warehouse lives does not depend on where a command runs (settings.default_places)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_ROOT, SettingError, Settings, default_places


def test_the_defaults_are_the_checkouts_folders_wherever_a_command_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = Settings.from_env({})
    assert config.home == PROJECT_ROOT / ".paperhouse"
    assert config.inbox == PROJECT_ROOT / "data" / "inbox"
    # a value the user gives is taken as typed, from where the command runs
    given = Settings.from_env({"PAPERHOUSE_HOME": "here", "PAPERHOUSE_INBOX": "~/in"})
    assert given.home == tmp_path / "here"
    assert given.inbox == Path.home() / "in"


def test_without_a_checkout_the_places_are_in_the_users_data_folder(tmp_path):
    home, inbox = default_places(project_root=tmp_path, environ={"XDG_DATA_HOME": str(tmp_path)})
    assert (home, inbox) == (tmp_path / "paperhouse", tmp_path / "paperhouse" / "inbox")


def test_status_from_another_folder_names_the_same_places_and_leaves_none_there(cli_env, tmp_path):
    env = {key: value for key, value in cli_env.items() if key != "PAPERHOUSE_INBOX"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "paperhouse"), "status", "--format", "json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inbox"] == str(PROJECT_ROOT / "data" / "inbox")
    assert list(elsewhere.iterdir()) == []


def test_a_yes_or_no_setting_takes_the_usual_spellings_and_names_a_wrong_one():
    for word, expected in [
        ("true", True),
        ("On", True),
        ("1", True),
        ("no", False),
        ("OFF", False),
    ]:
        assert Settings.from_env({"PAPERHOUSE_DAGSTER_HISTORY": word}).dagster_history is expected
    assert Settings.from_env({}).dagster_history is True
    with pytest.raises(SettingError, match="PAPERHOUSE_DAGSTER_HISTORY='maybe' is neither"):
        Settings.from_env({"PAPERHOUSE_DAGSTER_HISTORY": "maybe"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAPERHOUSE_SETTLE_SECONDS", "nan"),
        ("PAPERHOUSE_SETTLE_SECONDS", "inf"),
        ("PAPERHOUSE_SETTLE_SECONDS", "-1"),
        ("PAPERHOUSE_SENSOR_INTERVAL", "0"),
        ("PAPERHOUSE_SENSOR_INTERVAL", "99999999999999999999"),
        ("PAPERHOUSE_FRESHNESS_HOURS", "nan"),
        ("PAPERHOUSE_FRESHNESS_HOURS", "0"),
        ("PAPERHOUSE_FRESHNESS_HOURS", "1e400"),
    ],
)
def test_a_number_setting_out_of_its_range_is_named(variable, value):
    with pytest.raises(SettingError, match=rf"{variable}='{value}' is not between"):
        Settings.from_env({variable: value})


def test_a_number_setting_within_its_range_is_taken():
    config = Settings.from_env(
        {
            "PAPERHOUSE_SETTLE_SECONDS": "0",
            "PAPERHOUSE_SENSOR_INTERVAL": "86400",
            "PAPERHOUSE_FRESHNESS_HOURS": "0.5",
        }
    )
    assert (config.settle_seconds, config.sensor_interval_seconds, config.freshness_hours) == (
        0,
        86_400,
        0.5,
    )


def test_a_schedule_that_is_no_cron_expression_names_its_variable(cli_env):
    env = {**cli_env, "PAPERHOUSE_REBUILD_CRON": "30 3 31 2 *"}  # the 31st of February
    done = subprocess.run(
        [sys.executable, "-c", "import orchestration.defs.pipeline.schedules"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "PAPERHOUSE_REBUILD_CRON='30 3 31 2 *' is not a cron expression" in done.stderr


def test_a_home_that_cannot_be_a_folder_is_one_clear_line(cli_env, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    env = {key: value for key, value in cli_env.items() if key != "PAPERHOUSE_DATABASE_URL"}
    for home, says in (
        (str(a_file), "cannot be a folder"),
        (str(a_file / "below"), "cannot be a folder"),
        (os.fsdecode(bytes(tmp_path) + b"/h\xff"), "is not a UTF-8 path"),
    ):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "paperhouse"), "status"],
            env={**env, "PAPERHOUSE_HOME": home},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("error: the warehouse's home") and says in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize(
    "variable",
    ["PAPERHOUSE_DATABASE_URL", "PAPERHOUSE_DAGSTER_DATABASE_URL", "PAPERHOUSE_BI_DATABASE_URL"],
)
def test_a_database_url_libpq_cannot_read_is_named_without_its_password(variable):
    for url, says in (
        ("postgresql://me:hunter2@[::1/warehouse", "is not a connection URL libpq can read"),
        ("postgresql://me:hunter2@host/warehouse?bogus=1", "is not a connection URL libpq"),
        ("postgresql://me:hunter2%zz@host/warehouse", "is not a connection URL libpq"),
        (os.fsdecode(b"postgresql://me:hunter2@h\xff/warehouse"), "is not UTF-8 text"),
    ):
        with pytest.raises(SettingError) as raised:
            Settings.from_env({variable: url})
        assert str(raised.value).startswith(f"{variable} {says}")
        assert "hunter2" not in str(raised.value)
    for url in ("postgresql://me:hunter2@[::1]:5433/warehouse", "host=/tmp dbname=warehouse"):
        assert url in vars(Settings.from_env({variable: url})).values()


def test_a_database_url_libpq_cannot_read_is_one_line_from_every_command(cli_env):
    env = {**cli_env, "PAPERHOUSE_DATABASE_URL": "postgresql://me:hunter2@[::1/warehouse"}
    for command in (["status"], ["bench", "-n", "1"], ["search", "diffusion"]):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "paperhouse"), *command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, command
        assert done.stderr.startswith("error: PAPERHOUSE_DATABASE_URL is not a connection URL")
        assert "hunter2" not in done.stderr + done.stdout and "Traceback" not in done.stderr
