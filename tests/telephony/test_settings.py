"""The [telephony] settings: provider secrets from config or the providers' variable names,
never in a repr, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxseal.config import load_settings
from voxseal.errors import ConfigError

SECRETS = {
    "VOXSEAL_TWILIO_AUTH_TOKEN": "tw-secret-0001",
    "VOXSEAL_VONAGE_SIGNATURE_SECRET": "vg-secret-0002",
    "VOXSEAL_SIGNALWIRE_SIGNING_KEY": "sw-secret-0003",
    "VOXSEAL_TELEPHONY_API_KEY": "vxk_secret_0004",
}


def test_secrets_from_env_aliases_and_hidden_from_repr(tmp_path: Path) -> None:
    s = load_settings(env=SECRETS, overrides={"data_dir": str(tmp_path)})
    t = s.telephony
    assert (t.twilio_auth_token, t.vonage_signature_secret, t.signalwire_signing_key) == (
        "tw-secret-0001",
        "vg-secret-0002",
        "sw-secret-0003",
    )
    assert t.api_key == "vxk_secret_0004"
    for text in (repr(s), str(s), repr(t)):
        for secret in SECRETS.values():
            assert secret not in text
    assert "twilio_auth_token='***'" in repr(t) and "vonage_api_key=''" in repr(t)


def test_toml_section_and_prefixed_env_wins_over_alias(tmp_path: Path) -> None:
    (tmp_path / "voxseal.toml").write_text(
        '[telephony]\nport = 9555\npublic_base_url = "https://voice.example.com"\n'
        'twilio_auth_token = "from-file"\nstream_token_ttl = "30s"\n'
    )
    s = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    assert s.telephony.port == 9555 and s.telephony.twilio_auth_token == "from-file"
    assert s.telephony.stream_token_ttl == 30
    env = {"VOXSEAL_TWILIO_AUTH_TOKEN": "alias", "VOXSEAL_TELEPHONY_TWILIO_AUTH_TOKEN": "full"}
    s = load_settings(env=env, overrides={"data_dir": str(tmp_path)})
    assert s.telephony.twilio_auth_token == "full"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"VOXSEAL_TELEPHONY_PORT": "0"}, "telephony.port"),
        ({"VOXSEAL_TELEPHONY_HOST": "bad host!"}, "telephony.host"),
        ({"VOXSEAL_TELEPHONY_PUBLIC_BASE_URL": "http://x.example"}, "telephony.public_base_url"),
        ({"VOXSEAL_TELEPHONY_GATEWAY_URL": "ftp://x"}, "telephony.gateway_url"),
        ({"VOXSEAL_TELEPHONY_STREAM_TOKEN_TTL": "1h"}, "telephony.stream_token_ttl"),
        ({"VOXSEAL_TELEPHONY_MAX_UNADMITTED_STREAMS": "0"}, "telephony.max_unadmitted_streams"),
        ({"VOXSEAL_TELEPHONY_MAX_UNADMITTED_STREAMS": "many"}, "telephony.max_unadmitted_streams"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, overrides={"data_dir": str(tmp_path)})
    assert info.value.setting == setting
