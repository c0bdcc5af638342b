"""Start a throwaway PostgreSQL server for tests and benchmarks, and remove it afterwards.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with a
private socket directory, trust authentication for a ``callflow`` role, durability
switched off (fsync, synchronous_commit, full_page_writes) since the data is disposable.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
user that Debian's ``postgresql`` package creates (``make test`` installs the package).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import psycopg


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (install Debian's ``postgresql``)."""


def find_bindir() -> Optional[Path]:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempPostgres:
    """A PostgreSQL server in a temp directory; use as a context manager.

    ``url`` is a SQLAlchemy URL (``postgresql+psycopg://callflow@127.0.0.1:PORT/postgres``);
    :meth:`create_database` makes a fresh, empty database and returns its URL.
    Raises :class:`PostgresUnavailable` if the binaries are missing and
    ``subprocess.CalledProcessError`` if the server fails to start.
    """

    def __init__(self) -> None:
        self.bindir = find_bindir()
        if self.bindir is None:
            raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.port = _free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="callflow-pg-"))
        self.data = self.tmp / "data"
        self._runas: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.tmp, user.pw_uid, user.pw_gid)
            self._runas = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql+psycopg://callflow@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(self._runas + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> "TempPostgres":
        """initdb and start the server (waits until it accepts connections)."""
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "callflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.tmp / "log"), "-w", "start")
        return self

    def _admin(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user="callflow", dbname="postgres", autocommit=True)

    def create_database(self, name: Optional[str] = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = name or "t_" + uuid.uuid4().hex[:12]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://callflow@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its connections)."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "TempPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
