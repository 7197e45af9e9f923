"""docker-compose.yml, the Dockerfile and the initdb script: valid, secret-free, and every command real.

Docker cannot run here, so the compose file is validated with Debian's docker-compose (`config` parses,
interpolates and checks it against the compose schema) and each command fxticker's services run is parsed
by fxticker's own CLI, options included.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
import yaml

from fxticker import db
from fxticker.cli import main

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"timescaledb", "migrate", "web", "scheduler", "grafana"}


def compose_config(tmp_path: Path, env_file: Path | None) -> subprocess.CompletedProcess[str]:
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is missing: run 'make setup' (scripts/setup-system.sh installs it)"
    args = [docker_compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    # A clean environment: the variables must come from the env file, not from whoever runs the tests.
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return subprocess.run([*args, "config"], capture_output=True, text=True, env=clean, cwd=tmp_path,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("compose")
    env_file = tmp / ".env"
    env_file.write_text((ROOT / ".env.example").read_text().replace("CHANGE-ME", "s3cret-from-env-file"))
    result = compose_config(tmp, env_file)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


def test_compose_validates_with_the_five_services(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == SERVICES
    image = services["timescaledb"]["image"]
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg15", image), f"{image} is not pinned"
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", services["grafana"]["image"])
    assert services["timescaledb"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert services["migrate"]["depends_on"] == {"timescaledb": {"condition": "service_healthy"}}
    for name in ("web", "scheduler", "grafana"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["restart"] == "no"
    # Passwords reach the services from the env file.
    assert services["web"]["environment"]["PGPASSWORD"] == "s3cret-from-env-file"
    assert services["web"]["environment"]["DATABASE_URL"] == "postgresql://fxticker_web@timescaledb:5432/fxticker"


def test_compose_refuses_to_run_without_the_env_file(tmp_path: Path) -> None:
    result = compose_config(tmp_path, None)
    assert result.returncode != 0
    assert "set POSTGRES_USER in .env" in result.stderr or "set POSTGRES_PASSWORD in .env" in result.stderr


def test_no_secret_in_the_repository() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if re.search(r"PASSWORD\s*:", line):
            assert re.search(r":\s*\$\{\w+:\?[^}]+\}\s*$", line), f"password not from the env file: {line}"
    example = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert all(value == "CHANGE-ME" for key, value in example.items() if "PASSWORD" in key)
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be ignored by git"
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def _check_fxticker_command(argv: list[str]) -> None:
    """Parse argv as fxticker would, options and their values included, without running it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert argv[0] in scripts, f"{argv[0]} is not a console script of this project"
    ctx = click.Context(main, info_name=argv[0])
    command = main.get_command(ctx, argv[1])
    if command is None:
        raise click.UsageError(f"no command {argv[1]!r}", ctx)
    command.make_context(argv[1], list(argv[2:]), parent=ctx)


@pytest.mark.parametrize("service", ["migrate", "web", "scheduler"])
def test_every_fxticker_service_command_exists(config: dict[str, Any], service: str) -> None:
    spec = config["services"][service]
    assert spec["build"]["context"] == str(ROOT)
    _check_fxticker_command(spec["command"])


def test_a_bad_command_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        _check_fxticker_command(["fxticker", "serve", "--workers", "none"])
    with pytest.raises(click.UsageError):
        _check_fxticker_command(["fxticker", "no-such-command"])


def test_image_services_run_their_images_entrypoint_and_real_health_checks(config: dict[str, Any]) -> None:
    services = config["services"]
    assert "command" not in services["timescaledb"] and "command" not in services["grafana"]
    # pg_isready ships with PostgreSQL's client tools, in the image as here.
    check = shlex.split(services["timescaledb"]["healthcheck"]["test"][1])
    assert check[0] == "pg_isready" and (db._pg_bindir() / "pg_isready").exists()
    web_check = services["web"]["healthcheck"]["test"]
    assert web_check[:3] == ["CMD", "python", "-c"]
    compile(web_check[3], "healthcheck", "exec")
    assert "/healthz" in web_check[3]


def test_dockerfile_copies_what_exists_and_runs_fxticker() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
            assert source not in ignored, f"Dockerfile copies {source}, which .dockerignore excludes"
    assert any(re.fullmatch(r"FROM python:3\.11\.\d+-slim-bookworm", line) for line in lines)
    cmd = next(line for line in lines if line.startswith("CMD "))
    _check_fxticker_command(yaml.safe_load(cmd.removeprefix("CMD ")))
    assert any(line.startswith("USER ") and "root" not in line for line in lines)


def test_initdb_script_creates_read_only_logins(cluster: db.EmbeddedCluster, db_url: str) -> None:
    """The script the timescaledb container runs on first start, run here against the test cluster."""
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    env = {
        "PATH": f"{db._pg_bindir()}:{os.environ['PATH']}",
        "PGHOST": str(cluster.socket_dir), "PGPORT": str(db.PORT),
        "POSTGRES_USER": db.DB_USER, "POSTGRES_DB": str(dbname),
        "FXTICKER_WEB_DB_PASSWORD": "web-pw", "FXTICKER_GRAFANA_DB_PASSWORD": "grafana-pw",
    }
    script = ROOT / "docker" / "initdb" / "10-fxticker-roles.sh"
    for _ in range(2):  # idempotent: a second run changes nothing but the passwords
        result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    for login in ("fxticker_web", "fxticker_grafana"):
        with psycopg.connect(cluster.url(str(dbname)).replace(f"{db.DB_USER}@", f"{login}@")) as conn:
            assert conn.execute("SELECT count(*) FROM daily_series").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM scrape_run")
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT rolconfig FROM pg_roles WHERE rolname = 'fxticker_grafana'").fetchone()
    assert row == (["statement_timeout=30s"],)
