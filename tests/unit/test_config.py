import asyncio
from pathlib import Path

import pytest

from middleware import event_loop
from middleware.config import ConfigError, load_settings


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/callcenter"
    assert s.agi_port == 4573


def test_environment_beats_toml(tmp_path: Path) -> None:
    toml = tmp_path / "cc.toml"
    toml.write_text('agi_port = 5000\nami_user = "from-file"\n')
    s = load_settings(env={"AGI_PORT": "6000", "CALLCENTER_CONFIG": str(toml), "CALLCENTER_RUN_DIR": str(tmp_path)})
    assert s.agi_port == 6000 and s.ami_user == "from-file"


def test_no_default_secret_a_generated_one_kept_private(tmp_path: Path) -> None:
    env = {"CALLCENTER_RUN_DIR": str(tmp_path / "run")}
    first, again = load_settings(env=env), load_settings(env=env)
    secret_file = tmp_path / "run" / "ami-secret"
    assert first.ami_secret == again.ami_secret == secret_file.read_text().strip()
    assert len(first.ami_secret) >= 32 and (secret_file.stat().st_mode & 0o777) == 0o600
    other = load_settings(env={"CALLCENTER_RUN_DIR": str(tmp_path / "elsewhere")})
    assert other.ami_secret != first.ami_secret
    assert load_settings(env={**env, "AMI_SECRET": "from-env"}).ami_secret == "from-env"


def test_secret_files_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "ami"
    secret.write_text("s3cret-from-file\n")
    secret.chmod(0o600)
    assert load_settings(env={"AMI_SECRET_FILE": str(secret)}).ami_secret == "s3cret-from-file"
    password = tmp_path / "pg"
    password.write_text("pg-pass")
    password.chmod(0o600)
    s = load_settings(env={"AMI_SECRET": "x", "DATABASE_PASSWORD_FILE": str(password),
                           "DATABASE_URL": "postgresql://cc@db:5432/callcenter"})
    assert "password=pg-pass" in s.database_url and "host=db" in s.database_url
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"may be read by others \(mode 0644\): chmod 600"):
        load_settings(env={"AMI_SECRET_FILE": str(secret)})
    with pytest.raises(ConfigError, match=r"AMI secret file .*missing: No such file"):
        load_settings(env={"AMI_SECRET_FILE": str(tmp_path / "missing")})
    toml = tmp_path / "cc.toml"
    toml.write_text('ami_secret = "in-the-config"\n')
    with pytest.raises(ConfigError, match="secrets do not go in the config file"):
        load_settings(env={}, toml_path=toml)


@pytest.mark.parametrize(("env", "message"), [
    ({"AGI_PORT": "many"}, "agi_port"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"EVENT_LOOP": "trio"}, "EVENT_LOOP must be one of uvloop, asyncio, not 'trio'"),
    ({"CALLCENTER_CONFIG": "/nonexistent.toml"}, "does not exist"),
])
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_unknown_toml_key(tmp_path: Path) -> None:
    toml = tmp_path / "cc.toml"
    toml.write_text("agi_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'agi_prot'"):
        load_settings(env={}, toml_path=toml)


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_serve_runs_on_the_event_loop_named(kind: str) -> None:
    assert load_settings(env={"AMI_SECRET": "x", "EVENT_LOOP": kind}).event_loop == kind

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert event_loop.run(which(), kind).startswith(kind)
