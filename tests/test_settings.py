"""Settings: sources and their order, validation errors, and the node secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pydantic
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from comity.errors import ConfigurationError
from comity.settings import (
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRETS,
    Environment,
    Settings,
    ensure_secret_file,
    load_settings,
)
from ledger.tsa import make_pki

GOOD_SECRET = "k3Jf9-sLq2Zx8Vb7Nm6Qw5Er4Ty1Ui0OpAsDfGh"
fixture_shared_by_examples = hypothesis_settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No COMITY_ variable of the machine running the tests, and no stray comity.toml."""
    for name in list(os.environ):
        if name.startswith("COMITY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_are_safe(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    assert settings.environment is Environment.PRODUCTION
    assert settings.cookie_secure
    assert settings.host == "127.0.0.1"
    assert settings.secret_key is None
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'home').resolve()}/comity.db"


def test_environment_variables_need_the_comity_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMITY_NODE_NAME", "From The Environment")
    monkeypatch.setenv("COMITY_PORT", "9123")
    monkeypatch.setenv("COMITY_REQUIRE_MFA_FOR_ALL", "true")
    monkeypatch.setenv("COMITY_NODE_COUNTRY", "ke")
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "77")
    settings = load_settings(home=tmp_path)
    assert (settings.node_name, settings.port, settings.require_mfa_for_all) == (
        "From The Environment",
        9123,
        True,
    )
    assert settings.node_country == "KE"
    assert settings.lockout_threshold == Settings.model_fields["lockout_threshold"].default


def test_toml_file_named_by_comity_config_ranks_below_environment_and_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write_toml(
        tmp_path / "etc" / "node.toml",
        'node_name = "From TOML"\nport = 8100\nlockout_threshold = 9\nsession_idle_minutes = 45\n',
    )
    monkeypatch.setenv("COMITY_CONFIG", str(config))
    monkeypatch.setenv("COMITY_PORT", "8200")
    settings = load_settings(home=tmp_path, lockout_threshold=3)
    assert settings.node_name == "From TOML"
    assert settings.session_idle_minutes == 45
    assert settings.port == 8200, "the environment outranks the file"
    assert settings.lockout_threshold == 3, "arguments outrank everything"


def test_comity_toml_in_the_home_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "data"
    write_toml(home / "comity.toml", 'node_name = "Home TOML"\n')
    monkeypatch.setenv("COMITY_HOME", str(home))
    settings = load_settings()
    assert (settings.home, settings.node_name) == (home, "Home TOML")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    with pytest.raises(pydantic.ValidationError):
        settings.port = 1  # type: ignore[misc]
    assert settings.port == 8000


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("COMITY_PORT", "0", "port"),
        ("COMITY_PORT", "eighty", "port"),
        ("COMITY_NODE_COUNTRY", "N1", "node_country"),
        ("COMITY_DEFAULT_LOCALE", "de", "default_locale"),
        ("COMITY_ENVIRONMENT", "staging", "environment"),
        ("COMITY_LOCKOUT_THRESHOLD", "0", "lockout_threshold"),
        ("COMITY_MAX_REQUEST_BYTES", "10", "max_request_bytes"),
        ("COMITY_NODE_NAME", "", "node_name"),
        ("COMITY_TSA_URL", "ftp://tsa.example/", "tsa_url"),
        ("COMITY_TSA_URL", "https://user:pass@tsa.example/", "tsa_url"),
        ("COMITY_TSA_URL", "tsa.example", "tsa_url"),
    ],
)
def test_invalid_variables_are_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(home=tmp_path)
    assert variable in caught.value.message
    assert list(caught.value.fields) == [field]


def test_an_invalid_toml_value_is_named_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write_toml(tmp_path / "node.toml", "session_max_hours = 0\n")
    monkeypatch.setenv("COMITY_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="COMITY_SESSION_MAX_HOURS"):
        load_settings(home=tmp_path)


def test_unknown_settings_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COMITY_COLOUR"):
        load_settings(home=tmp_path, colour="blue")
    config = write_toml(tmp_path / "node.toml", 'databse_url = "sqlite://"\n')
    monkeypatch.setenv("COMITY_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="COMITY_DATABSE_URL"):
        load_settings(home=tmp_path)


@pytest.mark.parametrize("secret", [*sorted(PLACEHOLDER_SECRETS), "ChangeMe", "x" * 31])
def test_weak_secrets_are_refused_in_production_only(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigurationError, match="COMITY_SECRET_KEY"):
        load_settings(home=tmp_path, secret_key=secret)
    development = load_settings(home=tmp_path, secret_key=secret, environment="development")
    assert development.secret_bytes() == secret.encode()


def test_a_weak_secret_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMITY_SECRET_KEY", "changeme")
    with pytest.raises(ConfigurationError, match="COMITY_SECRET_KEY"):
        load_settings(home=tmp_path)


@fixture_shared_by_examples
@given(secret=st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P"])))
def test_secret_length_rule(tmp_path: Path, secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH or secret.lower() in PLACEHOLDER_SECRETS:
        with pytest.raises(ConfigurationError):
            load_settings(home=tmp_path, secret_key=secret)
    else:
        assert load_settings(home=tmp_path, secret_key=secret).secret_bytes() == secret.encode()


def test_the_secret_is_kept_out_of_repr(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, secret_key=GOOD_SECRET)
    assert GOOD_SECRET not in repr(settings)
    assert GOOD_SECRET not in str(settings.model_dump())


def test_without_a_secret_the_node_cannot_derive_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="comity init"):
        load_settings(home=tmp_path).secret_bytes()


def test_ensure_secret_file_creates_a_private_key_once(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    settings = ensure_secret_file(load_settings(home=home))
    path = home / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value()
    assert len(secret) >= MIN_SECRET_LENGTH
    assert path.read_text(encoding="ascii").strip() == secret
    assert load_settings(home=home).secret_bytes() == secret.encode()
    assert ensure_secret_file(load_settings(home=home)).secret_bytes() == secret.encode()
    assert ensure_secret_file(load_settings(home=tmp_path / "other")).secret_bytes() != secret


def test_a_configured_secret_needs_no_file(tmp_path: Path) -> None:
    settings = ensure_secret_file(load_settings(home=tmp_path / "home", secret_key=GOOD_SECRET))
    assert settings.secret_bytes() == GOOD_SECRET.encode()
    assert not (tmp_path / "home" / "secret.key").exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_secret_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    ensure_secret_file(load_settings(home=tmp_path))
    (tmp_path / "secret.key").chmod(mode)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_settings(home=tmp_path)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        ensure_secret_file(Settings(home=tmp_path))


# --- time-stamping -----------------------------------------------------------------------


def test_time_stamping_is_off_by_default(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert settings.tsa_url == ""
    assert settings.tsa_ca_file is None
    assert settings.tsa_roots() == []


def test_an_authority_with_its_roots_is_accepted_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki", "Settings")
    monkeypatch.setenv("COMITY_TSA_URL", " https://tsa.example/tsr ")
    monkeypatch.setenv("COMITY_TSA_CA_FILE", str(pki.root_file))
    settings = load_settings(home=tmp_path)
    assert settings.tsa_url == "https://tsa.example/tsr"
    assert settings.tsa_ca_file == pki.root_file
    [root] = settings.tsa_roots()
    assert root.subject.rfc4514_string() == "CN=Settings Root"


def test_an_authority_needs_its_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMITY_TSA_URL", "https://tsa.example/tsr")
    monkeypatch.setenv("COMITY_TSA_CA_FILE", "")  # an empty variable is unset
    with pytest.raises(ConfigurationError) as caught:
        load_settings(home=tmp_path)
    assert caught.value.message.startswith(
        "COMITY_TSA_URL is set but COMITY_TSA_CA_FILE is not: name the PEM file"
    )
    assert caught.value.fields == {"tsa_ca_file": "required"}


@pytest.mark.parametrize(
    ("content", "message", "field"),
    [
        (None, "cannot read", "unreadable"),
        (b"not a certificate\n", "holds no PEM certificate that can be read", "invalid"),
        (b"", "holds no PEM certificate that can be read", "invalid"),
    ],
)
def test_the_roots_file_must_exist_and_hold_certificates(
    tmp_path: Path, content: bytes | None, message: str, field: str
) -> None:
    roots = tmp_path / "roots.pem"
    if content is not None:
        roots.write_bytes(content)
    for url in ("https://tsa.example/tsr", ""):  # checked even while time-stamping is off
        with pytest.raises(ConfigurationError) as caught:
            load_settings(home=tmp_path, tsa_url=url, tsa_ca_file=roots)
        assert caught.value.message.startswith("COMITY_TSA_CA_FILE: ")
        assert str(roots) in caught.value.message
        assert message in caught.value.message
        assert caught.value.fields == {"tsa_ca_file": field}
