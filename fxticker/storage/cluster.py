"""Where the database is: the server named by DATABASE_URL, or an embedded cluster fxticker runs itself.

The embedded cluster lives in FXTICKER_DATA_DIR, listens only on a unix socket inside it (so it never
clashes with a system PostgreSQL) and preloads TimescaleDB. PostgreSQL refuses to run as root, so when we
are root the cluster's files belong to, and its processes run as, the ``postgres`` system user.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from fxticker.settings import Settings

log = logging.getLogger(__name__)

DB_NAME = "fxticker"
DB_USER = "fxticker"
# The embedded cluster's login for the web tier: not a superuser, a member of the SELECT-only
# fxticker_reader (sql/003_*.sql), so a web connection that leaves that role (RESET ROLE) still cannot
# write. The cluster trusts its private socket, so neither login has a password.
WEB_USER = "fxticker_web"
PORT = 5432
# Unix socket paths are limited to about 107 bytes, the socket file name included.
_MAX_SOCKET_DIR = 80
# The cluster trusts whoever reaches its socket (initdb --auth=trust), so only the account the server
# runs as (and root) may reach it; PostgreSQL's default, 0777, would let any local user in as superuser.
SOCKET_PERMISSIONS = "0700"


class DatabaseError(RuntimeError):
    """The database cannot be reached or set up; the message says what to do."""


def _pg_bindir(configured: Path | None = None) -> Path:
    """FXTICKER_PG_BINDIR when set, else the newest PostgreSQL installed from Debian's packages."""
    if configured is not None:
        return configured
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise DatabaseError(
            "no PostgreSQL server found under /usr/lib/postgresql; run 'make setup' "
            "(or set DATABASE_URL to a server with TimescaleDB)"
        )
    return candidates[-1]


def _system_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise DatabaseError(
            "running as root, but there is no 'postgres' system user to run the embedded "
            "PostgreSQL; install postgresql-15 (make setup) or run as an ordinary user"
        ) from None


@dataclass(frozen=True)
class EmbeddedCluster:
    """A PostgreSQL cluster of fxticker's own, in one directory."""

    root: Path
    bindir: Path

    @classmethod
    def from_settings(cls, conf: Settings) -> EmbeddedCluster:
        return cls(conf.data_dir.absolute(), _pg_bindir(conf.pg_bindir))

    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    @property
    def socket_dir(self) -> Path:
        inside = self.root / "run"
        if len(str(inside)) <= _MAX_SOCKET_DIR:
            return inside
        # A deep data directory: keep the socket under /tmp, named after the directory.
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"fxticker-{digest}"

    @property
    def logfile(self) -> Path:
        return self.root / "postgresql.log"

    def url(self, dbname: str = DB_NAME, user: str = DB_USER) -> str:
        return f"postgresql://{user}@/{dbname}?host={quote(str(self.socket_dir), safe='/')}&port={PORT}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        user = _system_user()
        if user is not None:
            command = ["runuser", "-u", user.pw_name, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise DatabaseError(f"{args[0]} failed: {' / '.join(detail[-3:]) or 'no output'}")
        return result

    def _own(self, *paths: Path) -> None:
        user = _system_user()
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if user is not None:
                # A link planted in its place would hand its target to the server's account.
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def _private_socket_dir(self) -> None:
        """Make the socket directory, or accept the one there only if it is a real directory of the
        server's account; either way only that account may enter it.

        Under /tmp its name is predictable, so anyone could have made it first: a link there would let
        them choose where the trusting socket goes, a directory of theirs would let them replace it.
        """
        path = self.socket_dir
        user = _system_user()
        uid, gid = (user.pw_uid, user.pw_gid) if user else (os.geteuid(), os.getegid())
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
            os.chown(path, uid, gid, follow_symlinks=False)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            owner = user.pw_name if user else pwd.getpwuid(uid).pw_name
            raise DatabaseError(
                f"{path}, the embedded database's socket directory, is not a directory of {owner!r} "
                "(a link, or another account's): remove it, or give FXTICKER_DATA_DIR a shorter path "
                "so that the socket stays inside it"
            )
        # Ours, and a real directory (lstat): closing it to others follows no link.
        os.chmod(path, 0o700)

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        if not (self.bindir / "initdb").exists():
            raise DatabaseError(f"{self.bindir}/initdb not found; run 'make setup'")
        self.root.mkdir(parents=True, exist_ok=True)
        self._own(self.root, self.pgdata)
        self._private_socket_dir()
        log.info("creating the embedded PostgreSQL cluster in %s", self.pgdata)
        self._run(
            "initdb", "-D", str(self.pgdata), "-U", DB_USER, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        conf = self.pgdata / "postgresql.auto.conf"
        extra = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": SOCKET_PERMISSIONS,
            "port": str(PORT),
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "max_connections": "200",
            "logging_collector": "off",
        }
        with conf.open("a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in extra.items())

    def running(self) -> bool:
        if not self.initialized():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0

    def start(self) -> None:
        """Initialise if needed and start; return once the server accepts connections."""
        self.init()
        if self.running():
            # Also for a cluster created before the web login existed.
            self._ensure_database()
            return
        self._private_socket_dir()
        self._private_logfile()
        result = self._run(
            "pg_ctl", "start", "-D", str(self.pgdata), "-l", str(self.logfile), "-w", "-t", "60",
            # Also on clusters created before the setting was written at initdb.
            "-o", f"-c unix_socket_permissions={SOCKET_PERMISSIONS}",
            check=False,
        )
        if result.returncode != 0 and not self.running():
            tail = self.logfile.read_text(errors="replace").strip().splitlines()[-3:]
            raise DatabaseError(f"the embedded PostgreSQL did not start: {' / '.join(tail)}")
        self._ensure_database()

    def _private_logfile(self) -> None:
        """The server's log, readable by its account only: it holds statements and connection details."""
        user = _system_user()
        try:
            fd = os.open(self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise DatabaseError(f"cannot open {self.logfile}: {exc.strerror}") from None
        try:
            # Also a log that an older version left readable by everyone.
            os.fchmod(fd, 0o600)
            if user is not None:
                os.fchown(fd, user.pw_uid, user.pw_gid)
        finally:
            os.close(fd)

    def _ensure_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
                    _ensure_web_login(conn)
                    return
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.DuplicateObject,
                    psycopg.errors.UniqueViolation):
                # Another process created it at the same moment.
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", mode, "-w")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def database_url(conf: Settings, *, start: bool = True) -> str:
    """The URL to write to: DATABASE_URL, else the embedded cluster's (started when asked)."""
    if conf.database_url:
        return conf.database_url
    cluster = EmbeddedCluster.from_settings(conf)
    if start:
        cluster.start()
    return cluster.url()


def read_url(conf: Settings, *, start: bool = True) -> str:
    """The URL the web tier reads from: DATABASE_READ_URL when set (a replica), else DATABASE_URL, else the
    embedded cluster's, as its web login."""
    configured = conf.database_read_url or conf.database_url
    if configured:
        return configured
    cluster = EmbeddedCluster.from_settings(conf)
    if start:
        cluster.start()
    return cluster.url(user=WEB_USER)


# Roles are cluster-wide; the reader's grants are per database, made by migrate (sql/003_*.sql), which
# creates fxticker_reader the same way when it is missing.
_WEB_LOGIN = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxticker_reader') THEN
        CREATE ROLE fxticker_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WEB_USER}') THEN
        CREATE ROLE {WEB_USER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE fxticker_reader;
    END IF;
END
$$
"""


# Every role may create temporary tables in a new database (PUBLIC holds TEMPORARY), the web login too; it
# must not write anything. The owner (the login that ingests, into a temporary stage table) keeps the right
# through ownership. Revoked only while PUBLIC still holds it: a replica, read-only, has the primary's
# catalog and so nothing to do (a REVOKE there fails even when it would change nothing).
_NO_PUBLIC_TEMP = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = '{DB_NAME}' AND (d.datacl IS NULL OR EXISTS (
            SELECT 1 FROM aclexplode(d.datacl) a
            WHERE a.grantee = 0 AND a.privilege_type = 'TEMPORARY'))) THEN
        REVOKE TEMPORARY ON DATABASE "{DB_NAME}" FROM PUBLIC;
    END IF;
END
$$
"""


def _ensure_web_login(conn: psycopg.Connection) -> None:
    conn.execute(_WEB_LOGIN)
    conn.execute(_NO_PUBLIC_TEMP)

