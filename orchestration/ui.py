"""`paperhouse ui`: the Dagster webserver and daemon (`dagster dev`) over the CLI's warehouse and
Dagster instance (orchestration/instance.py), ended whole by Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from orchestration.instance import instance_env
from orchestration.models.runner import dbt_env, parse_project
from orchestration.settings import Settings
from orchestration.warehouse import prepare
from orchestration.workers import die_with_parent

# How long dagster dev gets to end its webserver, daemon and code servers
# after Ctrl-C before whatever is left of them is killed.
STOP_GRACE_SECONDS = 10.0


def dagster_dev_command(dagster_home: str, host: str, port: int) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    workspace = str(Path(dagster_home) / "workspace.yaml")
    return [dagster, "dev", "-w", workspace, "-h", host, "-p", str(port)]


def ui_environment(settings: Settings) -> dict[str, str]:
    """The environment `dagster dev` runs in: the CLI's warehouse, Dagster's home and storage."""
    url = prepare(settings)
    parse_project()
    env = dbt_env(url, os.environ)
    env.update(
        instance_env(settings, url),
        PAPERHOUSE_HOME=str(settings.home),
        PAPERHOUSE_INBOX=str(settings.inbox),
        # dagster dev is superseded by `dg dev`, which wants a uv-managed
        # project; the notice would be the first line a newcomer reads.
        PYTHONWARNINGS="ignore:Function `dev_command` is superseded",
    )
    if settings.database_url:
        env["PAPERHOUSE_DATABASE_URL"] = settings.database_url
    return env


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in a process group of its own until it exits or this process is asked to stop
    (Ctrl-C, SIGTERM, a closed terminal); then end the whole group.

    dagster dev starts the webserver, the daemon and a code server, and its
    own shutdown sometimes hangs and leaves them running: so the group gets
    SIGINT (dagster dev's graceful path), STOP_GRACE_SECONDS, then SIGKILL.
    Returns the exit code: 0 when stopped on request.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    child = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=die_with_parent())
    while child.poll() is None and not stop.is_set():
        stop.wait(0.5)
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
    end_group(child, time.monotonic() + STOP_GRACE_SECONDS)
    code = child.wait()
    return 0 if stop.is_set() else code


def end_group(leader: subprocess.Popen, deadline: float) -> None:
    """Wait until no process of `leader`'s group is left, killing those still there at `deadline`."""
    while time.monotonic() < deadline:
        leader.poll()  # reaps the leader once it exits: a zombie would keep the group alive
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
