"""Make sure a PostgreSQL server answers on the configured address; on a bare Debian machine, install
Debian's package and start a cluster with trust auth on 127.0.0.1 (what these machines normally have)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

from psycopg.conninfo import conninfo_to_dict


class PostgresError(RuntimeError):
    """No PostgreSQL server, and none could be started here."""


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_server(url: str, wait: float = 30.0) -> str:
    params = conninfo_to_dict(url)
    host = str(params.get("host", "127.0.0.1"))
    port = int(str(params.get("port", 5432)))
    if answers(host, port):
        return f"PostgreSQL answers on {host}:{port}"
    if host not in ("127.0.0.1", "localhost"):
        raise PostgresError(f"PostgreSQL at {host}:{port} does not answer (and it is not local to start)")
    if os.geteuid() != 0:
        raise PostgresError(f"nothing answers on {host}:{port}; starting PostgreSQL here needs root")
    try:
        if shutil.which("pg_ctlcluster") is None or not glob.glob("/etc/postgresql/*/main"):
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "install", "-y", "-qq", "postgresql"])
        versions = sorted(glob.glob("/etc/postgresql/*/main"))
        if not versions:
            raise PostgresError("Debian's postgresql package installed no cluster")
        conf_dir = versions[-1]
        version = conf_dir.split("/")[3]
        hba = os.path.join(conf_dir, "pg_hba.conf")
        with open(hba) as f:
            current = f.read()
        trust = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust\n"
        if not current.startswith(trust):
            with open(hba, "w") as f:
                f.write(trust + current)
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    except (subprocess.CalledProcessError, OSError) as exc:
        raise PostgresError(f"could not start PostgreSQL: {exc}") from exc
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if answers(host, port):
            return f"started PostgreSQL {version} on {host}:{port}"
        time.sleep(0.5)
    raise PostgresError(f"PostgreSQL {version} started but does not answer on {host}:{port}")


class PrivateCluster:
    """A throwaway PostgreSQL server of its own (initdb in a temporary directory, its own port on
    127.0.0.1, trust auth), for what the machine's shared server must never suffer: being stopped and
    started under traffic. Runs as the ``postgres`` user when we are root (the server refuses root)."""

    def __init__(self, port: int) -> None:
        self.port = port
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise PostgresError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): install postgresql")
        self._bin = os.path.dirname(bins[-1])
        self.directory = tempfile.mkdtemp(prefix="cc-pg-")
        self.data = os.path.join(self.directory, "data")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._owner(["initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8"])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _owner(self, cmd: list[str]) -> None:
        full = [os.path.join(self._bin, cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            full = ["runuser", "-u", "postgres", "--", *full]
        try:
            subprocess.run(full, check=True, capture_output=True, text=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            raise PostgresError(f"{cmd[0]} failed: {(exc.stderr or exc.stdout).strip()[-500:]}") from exc

    def start(self) -> None:
        if answers("127.0.0.1", self.port):
            return
        self._owner(["pg_ctl", "-D", self.data, "-l", os.path.join(self.directory, "server.log"), "-w", "-o",
                     f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", "start"])

    def stop(self) -> None:
        """A fast shutdown: every session is cut, new ones are refused until ``start``."""
        self._owner(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
            self._owner(["pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
