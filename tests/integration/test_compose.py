"""docker-compose.yml stays a valid deployment: `docker-compose config` (Compose v2 from the rootfs)."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from middleware.config import PROJECT_ROOT, Settings


def test_compose_file_is_valid_and_wires_the_three_services(pbx: Settings, tmp_path) -> None:
    work = pbx.asterisk_root / "tmp" / "compose-check"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", work / "docker-compose.yml")
    shutil.copytree(PROJECT_ROOT / "docker", work / "docker")
    proc = subprocess.run(["chroot", str(pbx.asterisk_root), "docker-compose", "-f",
                           "/tmp/compose-check/docker-compose.yml", "config"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    assert set(config["services"]) == {"postgres", "asterisk", "middleware"}
    mw = config["services"]["middleware"]
    assert mw["environment"]["AMI_HOST"] == "asterisk"
    assert mw["environment"]["DATABASE_URL"].endswith("@postgres:5432/callcenter")
    assert config["services"]["asterisk"]["environment"]["AGI_HOST"] == "middleware"
    # No default passwords: secrets come from files the operator creates (Docker secrets).
    assert "AMI_SECRET" not in mw["environment"] and mw["environment"]["AMI_SECRET_FILE"] == "/run/secrets/ami_secret"
    assert "POSTGRES_PASSWORD" not in config["services"]["postgres"]["environment"]
    # Least privilege: the middleware is not the database superuser, cdr_pgsql has a role of its own,
    # the middleware runs as no root, ports listen on this host only unless opened.
    assert mw["environment"]["DATABASE_URL"] == "postgresql://callcenter@postgres:5432/callcenter"  # no password
    assert mw["environment"]["CDR_DATABASE_URL"] == "postgresql://asterisk_cdr@postgres:5432/callcenter"
    assert mw["user"] == "10001:10001"
    published = [p for service in config["services"].values() for p in service.get("ports", [])]
    assert published and all(p.get("host_ip") == "127.0.0.1" for p in published), published
    # Recordings and the journal are volumes the middleware keeps.
    targets = {v["target"] for v in mw["volumes"]}
    assert {"/asterisk/var/spool/asterisk/monitor", "/var/lib/callcenter"} <= targets
    assert mw["environment"]["CALLCENTER_RUN_DIR"] == "/var/lib/callcenter"
    for service in ("asterisk", "middleware"):
        dockerfile = config["services"][service]["build"]["dockerfile"]
        assert (PROJECT_ROOT / dockerfile).is_file()
