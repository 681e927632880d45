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
    assert mw["environment"]["DATABASE_URL"] == "postgresql://postgres@postgres:5432/callcenter"  # no password
    for service in ("asterisk", "middleware"):
        dockerfile = config["services"][service]["build"]["dockerfile"]
        assert (PROJECT_ROOT / dockerfile).is_file()
