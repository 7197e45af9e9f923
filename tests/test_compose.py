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
import socket
import subprocess
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import click
import httpx
import psycopg
import pytest
import yaml

from fxticker import serve as serving
from fxticker.cli import main
from fxticker.storage import cluster as db
from tests.fix_serve import SLOW_CLIENTS, free_port, slow_client, start_serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"timescaledb", "migrate", "web", "proxy", "scheduler", "grafana"}


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


def test_compose_validates_with_the_six_services(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == SERVICES
    image = services["timescaledb"]["image"]
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg15", image), f"{image} is not pinned"
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", services["grafana"]["image"])
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+-alpine", services["proxy"]["image"])
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
    assert all("command" not in services[name] for name in ("timescaledb", "grafana", "proxy"))
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
        with psycopg.connect(cluster.url(str(dbname)).replace(f"{db.DB_USER}@", f"{login}@")) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMPORARY TABLE scratch (x int)")
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT rolconfig FROM pg_roles WHERE rolname = 'fxticker_grafana'").fetchone()
    assert row == (["statement_timeout=30s"],)


def test_clients_reach_gunicorn_only_through_nginx(config: dict[str, Any]) -> None:
    services = config["services"]
    assert "ports" not in services["web"]
    assert [str(port) for port in services["web"]["expose"]] == ["8000"]
    [published] = services["proxy"]["ports"]
    assert (str(published["published"]), published["target"]) == ("8000", 8080)
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}
    # Debian's docker-compose prints the short syntax: host:container:ro.
    assert services["proxy"]["volumes"] == [f"{NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro"]
    text = NGINX_CONF.read_text()
    assert re.search(r"^\s*server web:8000;", text, re.MULTILINE)
    assert re.search(r"^\s*listen 8080;", text, re.MULTILINE)


NGINX_CONF = ROOT / "docker" / "nginx" / "fxticker.conf"


def run_nginx(tmp_path: Path, upstream_port: int) -> tuple[subprocess.Popen[str], int]:
    """docker/nginx/fxticker.conf as the image would run it, but on loopback and before a local serve."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: run 'make setup' (scripts/setup-system.sh installs it)"
    tmp_path.mkdir()
    port = free_port()
    site = NGINX_CONF.read_text()
    site = site.replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    # The image's nginx.conf around the site: what is outside docker/nginx is nginx's, not ours.
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log stderr warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    include {tmp_path}/site.conf;
}}
""")
    args = [nginx, "-p", str(tmp_path), "-e", "stderr", "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"nginx did not start: {process.communicate()[1]}") from None
            time.sleep(0.1)


@pytest.mark.timing
def test_behind_nginx_slow_clients_never_reach_gunicorn(env: dict[str, str], tmp_path: Path) -> None:
    served = start_serve(env, tmp_path)
    nginx, port = run_nginx(tmp_path / "nginx", served.port)
    stop = threading.Event()
    shed: list[float] = []
    clients = [threading.Thread(target=slow_client, args=(port, stop, shed), daemon=True)
               for _ in range(4 * SLOW_CLIENTS)]
    try:
        for client in clients:
            client.start()
        time.sleep(2)
        latencies = []
        for _ in range(8):
            asked = time.monotonic()
            response = httpx.get(f"http://127.0.0.1:{port}/livez", timeout=10)
            latencies.append(time.monotonic() - asked)
            assert response.status_code == 200
            time.sleep(0.5)
        # nginx holds the slow clients; gunicorn never saw one, so every /livez went straight through
        # (alone, gunicorn takes 7 s and more: tests/test_serve_limits.py). A slow client that reached
        # gunicorn would hold a thread until the read timeout: the bound that tells them apart.
        assert max(latencies) < serving.REQUEST_READ_TIMEOUT, latencies
        assert "no whole request within" not in served.log.read_text()
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)
        nginx.terminate()
        nginx.communicate(timeout=10)
        served.stop()
