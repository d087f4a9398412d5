"""A throwaway PostgreSQL server for tests: its own data folder, a free port on 127.0.0.1, gone at stop.

Uses Debian's PostgreSQL 15 binaries (``/usr/lib/postgresql/15/bin``, or ``OPENAR_PG_BIN``).
``initdb`` refuses to run as root, so as root the cluster is created and run by the ``postgres``
user (``runuser``), in a folder that user owns; the socket goes into that folder too (``-k``), never
into ``/var/run/postgresql``. Durability is switched off (``fsync=off``...): the data lives for one
test session and speed matters more.

    with PostgresServer() as pg:
        conn = pg.connect()          # psycopg2, autocommit
        env = pg.env()               # OPENAR_PG_* for dbt's profiles.yml
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb/pg_ctl, or None when PostgreSQL is not installed."""
    candidate = Path(os.environ.get("OPENAR_PG_BIN") or DEFAULT_BIN_DIR)
    if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
        return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Start with :meth:`start` (or ``with``), stop with :meth:`stop`; :attr:`database` is created."""

    def __init__(self, database: str = "openar", bin_dir: Path | None = None) -> None:
        found = bin_dir or postgres_bin_dir()
        if found is None:
            raise FileNotFoundError(
                f"PostgreSQL binaries not found in {os.environ.get('OPENAR_PG_BIN') or DEFAULT_BIN_DIR} "
                "(apt-get install postgresql-15, or set OPENAR_PG_BIN)"
            )
        self.bin_dir = found
        self.database = database
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.user = SUPERUSER
        self._as_root = os.geteuid() == 0
        self._base: Path | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        # Not under pytest's tmp_path: that folder is private to root (0700) and the postgres
        # user could not reach its data or socket there.
        self._base = Path(tempfile.mkdtemp(prefix="openar-pg-"))
        try:
            self._initdb_and_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb_and_start(self) -> None:
        assert self._base is not None
        data_dir = self._base / "data"
        if self._as_root:
            shutil.chown(self._base, user=SUPERUSER, group=SUPERUSER)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "--auth=trust",
                f"--username={SUPERUSER}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        # A port found free can be taken before the server binds it; try a few.
        last_error: subprocess.CalledProcessError | None = None
        for _ in range(3):
            self.port = _free_port()
            options = (
                f"-h {self.host} -p {self.port} -k {self._base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
            )
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(data_dir),
                        "-o",
                        options,
                        "-l",
                        str(self._base / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
                break
            except subprocess.CalledProcessError as exc:
                last_error = exc
        else:
            raise RuntimeError(f"PostgreSQL did not start: {self.log_tail()}") from last_error
        conn = self.connect(dbname="postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(f'create database "{self.database}"')
        finally:
            conn.close()

    def stop(self) -> None:
        if self._base is None:
            return
        data_dir = self._base / "data"
        if (data_dir / "postmaster.pid").exists():
            self._run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                check=False,
            )
        shutil.rmtree(self._base, ignore_errors=True)
        self._base = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------------
    def connect(self, dbname: str | None = None):
        """A psycopg2 connection in autocommit mode (retries while the server finishes starting)."""
        import psycopg2

        deadline = time.monotonic() + 20
        while True:
            try:
                conn = psycopg2.connect(
                    host=self.host, port=self.port, user=self.user, dbname=dbname or self.database
                )
                conn.autocommit = True
                return conn
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def env(self) -> dict[str, str]:
        """The variables dbt's ``postgres`` target reads (dbt_project/profiles.yml)."""
        return {
            "OPENAR_PG_HOST": self.host,
            "OPENAR_PG_PORT": str(self.port),
            "OPENAR_PG_USER": self.user,
            "OPENAR_PG_DATABASE": self.database,
        }

    def log_tail(self, lines: int = 30) -> str:
        log = self._base / "server.log" if self._base else None
        if log is None or not log.exists():
            return "(no server log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self._as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)
        return result
