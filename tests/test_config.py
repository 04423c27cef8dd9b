"""Settings: defaults, TOML, environment, CLI overrides, and clear errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxseal.config import load_settings, parse_duration
from voxseal.errors import ConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'voxseal.db'}"
    assert s.public_base_url == "https://localhost:8443"
    assert s.host == "127.0.0.1" and s.tls_cert_file is None


def test_precedence_toml_env_overrides(tmp_path: Path) -> None:
    (tmp_path / "voxseal.toml").write_text(
        'port = 9000\nlog_level = "debug"\n[lockout]\nthreshold = 7\nwindow = "20m"\n'
    )
    s = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    assert (s.port, s.log_level, s.lockout.threshold, s.lockout.window) == (9000, "debug", 7, 1200)
    env = {"VOXSEAL_PORT": "9100", "VOXSEAL_LOCKOUT_THRESHOLD": "9"}
    s = load_settings(env=env, overrides={"data_dir": str(tmp_path)})
    assert (s.port, s.lockout.threshold) == (9100, 9)
    s = load_settings(env=env, overrides={"data_dir": str(tmp_path), "port": 9200})
    assert s.port == 9200 and s.public_base_url == "https://localhost:9200"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"VOXSEAL_PORT": "eighty"}, "port"),
        ({"VOXSEAL_PORT": "70000"}, "port"),
        ({"VOXSEAL_PUBLIC_BASE_URL": "http://insecure.example"}, "public_base_url"),
        ({"VOXSEAL_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"VOXSEAL_TLS_CERT_FILE": "/nonexistent.pem"}, "tls_cert_file"),
        ({"VOXSEAL_TOKENS_ACCESS_TTL": "forever"}, "tokens.access_ttl"),
        ({"VOXSEAL_TOKENS_ACCESS_TTL": "2d"}, "tokens.access_ttl"),
        ({"VOXSEAL_LOCKOUT_THRESHOLD": "0"}, "lockout.threshold"),
        ({"VOXSEAL_PASSWORDS_MIN_LENGTH": "4"}, "passwords.min_length"),
        ({"VOXSEAL_LOG_LEVEL": "chatty"}, "log_level"),
        ({"VOXSEAL_HOST": "bad host!"}, "host"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, overrides={"data_dir": str(tmp_path)})
    assert info.value.setting == setting
    assert repr(setting) in str(info.value)


def test_unknown_and_malformed_toml_are_refused(tmp_path: Path) -> None:
    (tmp_path / "voxseal.toml").write_text("prot = 1\n")
    with pytest.raises(ConfigError, match=r"'prot'.*unknown setting"):
        load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    (tmp_path / "voxseal.toml").write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})


def test_database_password_is_not_in_repr(tmp_path: Path) -> None:
    s = load_settings(
        env={"VOXSEAL_DATABASE_URL": "postgresql://vox:s3cr3tpw@db.internal/voxseal"},
        overrides={"data_dir": str(tmp_path)},
    )
    assert "s3cr3tpw" not in repr(s) and "s3cr3tpw" not in str(s)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h", 3600), ("250ms", 0.25)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "-5s", "0", "5w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text, setting="--ttl")
