"""docker-compose.yml cannot run here (no Docker engine): check that it agrees with the code."""

from __future__ import annotations

import importlib.util
import re

import yaml

from orchestration.settings import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text()


def command(service: str) -> list[str]:
    return SERVICES[service]["command"]


def test_the_stack_has_its_four_services_and_an_optional_bi_profile():
    always = {name for name, service in SERVICES.items() if "profiles" not in service}
    assert always == {"warehouse", "code", "webserver", "daemon"}
    assert SERVICES["superset"]["profiles"] == ["bi"] == SERVICES["bi-reader"]["profiles"]


def test_superset_reads_through_the_reader_login_and_imports_the_same_dashboard():
    from orchestration.bi.superset import READER_LOGIN

    reader = SERVICES["bi-reader"]
    assert reader["command"] == ["paperhouse", "db", "create-reader", READER_LOGIN]
    superset = SERVICES["superset"]
    assert superset["depends_on"]["bi-reader"]["condition"] == "service_completed_successfully"
    # the reader's password: the one bi-reader set is the one the dashboard's bundle carries
    password = reader["environment"]["PAPERHOUSE_READER_PASSWORD"]
    assert superset["environment"]["PAPERHOUSE_READER_PASSWORD"] == password
    start = (PROJECT_ROOT / "docker" / "superset-start.sh").read_text()
    assert f"postgresql+psycopg2://{READER_LOGIN}@warehouse:5432/" in start
    assert "python -m orchestration.bi.dashboard" in start
    assert "superset import-dashboards" in start
    # its own tables in database superset, made with the volume
    assert superset["environment"]["PAPERHOUSE_BI_METADATA_URL"].endswith(
        "@warehouse:5432/superset"
    )
    assert (
        "create database superset"
        in (PROJECT_ROOT / "docker" / "create-dagster-database.sql").read_text()
    )
    # the image installs the lock `make bi` installs, and the configuration it reads
    dockerfile = (PROJECT_ROOT / superset["build"]["dockerfile"]).read_text()
    assert "orchestration/bi/requirements.txt" in dockerfile
    assert "SUPERSET_CONFIG_PATH=/app/orchestration/bi/superset_config.py" in dockerfile


def test_the_warehouse_is_postgres_18_with_a_healthcheck_that_the_others_wait_for():
    warehouse = SERVICES["warehouse"]
    assert warehouse["image"] == "postgres:18"
    assert "pg_isready" in " ".join(warehouse["healthcheck"]["test"])
    for name in ("code", "webserver", "daemon"):
        assert SERVICES[name]["depends_on"]["warehouse"]["condition"] == "service_healthy"


def test_the_code_location_serves_the_definitions_module_the_workspace_names():
    code = command("code")
    assert code[:3] == ["dagster", "api", "grpc"]
    module = code[code.index("-m") + 1]
    assert (PROJECT_ROOT / (module.replace(".", "/") + ".py")).exists()
    workspace = yaml.safe_load((PROJECT_ROOT / "docker" / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server["host"] == "code"
    assert str(server["port"]) == code[code.index("-p") + 1]


def test_the_webserver_listens_on_port_3000_and_both_read_the_workspace():
    web = command("webserver")
    assert web[0] == "dagster-webserver" and web[web.index("-p") + 1] == "3000"
    assert SERVICES["webserver"]["ports"] == ["127.0.0.1:${DAGSTER_PORT:-3000}:3000"]
    assert command("daemon")[:2] == ["dagster-daemon", "run"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for service in ("webserver", "daemon"):
        workspace_path = command(service)[command(service).index("-w") + 1]
        assert workspace_path == "/opt/dagster/home/workspace.yaml"
    assert "COPY docker/dagster.yaml docker/workspace.yaml /opt/dagster/home/" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile


def test_every_file_the_stack_names_exists():
    assert (PROJECT_ROOT / "Dockerfile").exists()
    for service in SERVICES.values():
        if isinstance(service.get("build"), str):
            assert (PROJECT_ROOT / service["build"] / "Dockerfile").exists()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), source
    for copied in re.findall(r"^COPY (.+) \S+$", (PROJECT_ROOT / "Dockerfile").read_text(), re.M):
        for name in copied.split():
            assert (PROJECT_ROOT / name).exists(), name


def test_the_build_context_leaves_out_state_and_data_but_not_what_the_image_copies():
    ignored = {
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv*", ".paperhouse", "data"} <= ignored  # the backups grow with the warehouse
    for copied in re.findall(r"^COPY (.+) \S+$", (PROJECT_ROOT / "Dockerfile").read_text(), re.M):
        for name in copied.split():
            assert name.split("/")[0] not in ignored, name


def test_every_variable_is_documented_and_none_is_a_committed_secret():
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used, "the stack takes its settings from .env"
    for variable in used:
        assert re.search(rf"^#? ?{variable}=", ENV_EXAMPLE, re.M), f"{variable} not in .env.example"
    assert "POSTGRES_PASSWORD:?" in text  # required, never defaulted
    assert (
        not (PROJECT_ROOT / ".env").exists() or ".env" in (PROJECT_ROOT / ".gitignore").read_text()
    )


def test_every_published_port_is_on_this_host_only():
    published = [port for service in SERVICES.values() for port in service.get("ports", [])]
    assert len(published) == 3  # the warehouse, the Dagster UI, Superset
    assert all(port.startswith("127.0.0.1:") for port in published), published


def test_a_copied_env_example_fails_until_the_passwords_are_chosen():
    # compose's ${NAME:?message} stops on a variable that is unset or empty
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert {
        "POSTGRES_PASSWORD",
        "SUPERSET_READER_PASSWORD",
        "SUPERSET_ADMIN_PASSWORD",
        "SUPERSET_SECRET_KEY",
    } <= required
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", ENV_EXAMPLE, re.M))
    for variable in required:
        assert values.get(variable, "") == "", f"{variable} has a usable default in .env.example"


def interpolated(value: str, variables: dict[str, str]) -> str:
    """`value` as compose hands it to a service: ${NAME}, ${NAME:-default} and ${NAME:?message}
    replaced from `variables` (the .env file)."""

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if variables.get(name):
            return variables[name]
        assert kind == "-", f"compose would stop: {name} is unset"
        return default

    return re.sub(r"\$\{([A-Z_]+)(?::([-?])([^}]*))?\}", one, value)


def test_the_services_get_the_variables_the_code_reads():
    from orchestration.settings import Settings

    environment = SERVICES["code"]["environment"]
    dot_env = {"POSTGRES_PASSWORD": "a-password"}  # the one secret the code's services need
    settings = Settings.from_env(
        {key: interpolated(str(value), dot_env) for key, value in environment.items()}
    )
    assert settings.database_url and "@warehouse:5432/" in settings.database_url
    assert str(settings.inbox) == "/app/data/inbox"
    # the nightly backup's folder is a volume of the host's, so the archives outlive the stack
    assert str(settings.backup_dir) == "/app/backups" and settings.backup_keep == 7
    assert any(volume.endswith(f":{settings.backup_dir}") for volume in SERVICES["code"]["volumes"])
    dagster_yaml = yaml.safe_load((PROJECT_ROOT / "docker" / "dagster.yaml").read_text())
    storage_variable = dagster_yaml["storage"]["postgres"]["postgres_url"]["env"]
    assert storage_variable in environment
    assert environment[storage_variable].startswith("postgresql+psycopg2://")
    assert environment[storage_variable].endswith("@warehouse:5432/dagster")
    init_sql = (PROJECT_ROOT / "docker" / "create-dagster-database.sql").read_text()
    assert "create database dagster" in init_sql
    for name in ("webserver", "daemon"):
        assert SERVICES[name]["environment"] == environment  # one anchor, the same settings
    assert "PAPERHOUSE_DATABASE_URL" in SERVICES["bi-reader"]["environment"]


def test_the_image_builds_the_compiled_modules():
    # without them the image runs the Python rules, several times slower
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -e '.[compile]'" in dockerfile
    assert "python -m orchestration.compiled" in dockerfile
    # every module the image runs exists: a renamed one would break the image's build
    for module in re.findall(r"python -m ([\w.]+)", dockerfile):
        assert importlib.util.find_spec(module) is not None, module
