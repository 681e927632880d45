from pathlib import Path

import pytest

from middleware.config import ConfigError, load_settings


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/callcenter"
    assert s.agi_port == 4573


def test_environment_beats_toml(tmp_path: Path) -> None:
    toml = tmp_path / "cc.toml"
    toml.write_text('agi_port = 5000\nami_secret = "from-file"\n')
    s = load_settings(env={"AGI_PORT": "6000", "CALLCENTER_CONFIG": str(toml)})
    assert s.agi_port == 6000 and s.ami_secret == "from-file"


@pytest.mark.parametrize(("env", "message"), [
    ({"AGI_PORT": "many"}, "agi_port"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
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
