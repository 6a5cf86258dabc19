"""Dagster's, dbt's and Superset's own tools over the CLI's warehouse: ui, dbt, docs, bi."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from orchestration import pipeline
from orchestration.cli.app import (
    app,
    friendly_errors,
    out,
    say_waiting_for_build,
    say_waiting_for_lock,
    settings,
)
from orchestration.cli.recording import record_in_dagster
from orchestration.models.plan import build_turn
from orchestration.models.runner import (
    call_dbt,
    dbt_env,
    dbt_executable,
    read_run_results,
    run_results_path,
)
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse import prepare
from orchestration.workers import check_port, serve_until_stopped


@app.command()
@friendly_errors
def ui(
    port: Annotated[int, typer.Option(help="The webserver's port.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="The address the webserver listens on.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI and daemon (dagster dev) over the warehouse: schedules and the sensor run."""
    from orchestration.ui import STOP_GRACE_SECONDS, dagster_dev_command, ui_environment

    check_port(host, port, "the Dagster UI")
    env = ui_environment(settings())
    out.print(
        f"Dagster UI on http://{host}:{port} (Ctrl-C stops it); DAGSTER_HOME={env['DAGSTER_HOME']}"
    )
    sys.stdout.flush()
    code = serve_until_stopped(
        dagster_dev_command(env["DAGSTER_HOME"], host, port), env, grace_seconds=STOP_GRACE_SECONDS
    )
    if code:
        raise typer.Exit(code)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
@friendly_errors
def dbt(context: typer.Context) -> None:
    """dbt's own command line in dbt/ on the warehouse: `paperhouse dbt docs generate`, `paperhouse
    dbt show -s dim_papers`. `build` and `run` take their turn and follow the build's plan, as
    `paperhouse build` does (which also runs the features step first)."""
    if not context.args:
        out.print(context.get_help())
        raise typer.Exit(2)
    config = settings()
    url = prepare(config)
    args = list(context.args)
    code = pipeline.dbt_command(
        url, args, on_wait=say_waiting_for_build, on_blocked=say_waiting_for_lock
    )
    if pipeline.dbt_writes(args):
        command = " ".join(["paperhouse dbt", *args])
        record_in_dagster(command, config, url, dbt=read_run_results(run_results_path(url)))
    if code:
        raise typer.Exit(code)


@app.command()
@friendly_errors
def docs(
    port: Annotated[int, typer.Option(help="The docs server's port.", min=1, max=65535)] = 8080,
    host: Annotated[str, typer.Option(help="The address it listens on.")] = "127.0.0.1",
) -> None:
    """Generate dbt's documentation of the models (with the warehouse's catalog) and serve it."""
    check_port(host, port, "dbt docs")
    url = prepare(settings())
    # the build's turn while dbt writes the catalog: a build reads the same target folder back
    with build_turn(url, on_wait=say_waiting_for_build):
        code = call_dbt(url, ["--quiet", "docs", "generate"])
    if code:
        raise typer.Exit(code)
    out.print(f"dbt docs on http://{host}:{port} (Ctrl-C stops it)")
    sys.stdout.flush()
    serve = [dbt_executable(), "docs", "serve", "--no-browser", "--host", host, "--port", str(port)]
    code = serve_until_stopped(serve, dbt_env(url, os.environ), cwd=DBT_PROJECT_DIR)
    if code:
        raise typer.Exit(code)


@app.command()
@friendly_errors
def bi(
    port: Annotated[int, typer.Option(help="Superset's port.", min=1, max=65535)] = 8088,
    host: Annotated[str, typer.Option(help="The address it listens on.")] = "127.0.0.1",
) -> None:
    """Start Apache Superset on the marts, opening on paperhouse's dashboard (install it first
    with `make bi`). It reads through a reader login; its own tables live beside the warehouse."""
    from orchestration.bi import superset

    check_port(host, port, "Superset")
    config = settings()
    url = prepare(config)
    where = superset.site(config, url)
    out.print("preparing Superset (its tables, the reader login, the dashboard) ...")
    dashboard = superset.set_up(config, url, where)
    out.print(
        f"Superset on http://{host}:{port}{dashboard} (Ctrl-C stops it); log in as "
        f"{superset.ADMIN_LOGIN}, password in {where.admin_password_file}"
    )
    sys.stdout.flush()
    command = superset.server_command(where, host, port)
    code = serve_until_stopped(command, where.env, grace_seconds=superset.STOP_GRACE_SECONDS)
    if code:
        raise typer.Exit(code)
