"""Typed, frozen settings for one node, validated once at start-up.

Sources, highest priority first: keyword arguments (tests, CLI options), environment
variables prefixed ``COMITY_``, then an optional TOML file (``COMITY_CONFIG``, else
``<home>/comity.toml`` if it exists). Settings are built once by :func:`load_settings`
and passed down; nothing reads the environment after that.

The node's secret key is never a default: it is generated on first start into
``<home>/secret.key`` with mode 0600, or supplied through ``COMITY_SECRET_KEY``. Outside
the ``development`` environment a short or placeholder secret is refused.

The evidence vault's encrypted blobs live in ``COMITY_VAULT_DIR`` (default
``<home>/vault``), or in S3-compatible object storage when ``COMITY_BLOB_STORE`` is
``s3://bucket/optional/prefix`` (with ``COMITY_S3_ENDPOINT_URL`` and ``COMITY_S3_REGION``
for stores other than Amazon's); its index lives in the database. The object store's
credentials are never settings: boto3 reads them from its standard sources
(``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).
Settings that would send blobs to two places, or S3 settings without an S3 store, are
refused (those values and that check: :mod:`comity.settings_storage`).

Time-stamping of checkpoints is off unless ``COMITY_TSA_URL`` names an RFC 3161
authority; then ``COMITY_TSA_CA_FILE`` must name a readable PEM file of the roots its
tokens chain to, or the settings are refused. ``COMITY_VAULT_TIMESTAMPS`` has that
authority time-stamp every evidence item too, and is refused without it.
"""

from __future__ import annotations

import os
import secrets
import stat
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from comity.errors import ConfigurationError
from comity.ledger.errors import TimestampError
from comity.ledger.rfc3161 import read_roots
from comity.settings_storage import (
    LOCAL_BLOB_STORE,
    S3Location,
    blob_store_value,
    check_blob_store,
    endpoint_url_value,
    parse_s3_location,
    region_value,
)
from comity.urls import is_service_url

PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "password", "development", "test", "comity"}
)
MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "secret.key"  # noqa: S105 - a file name


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def _config_file() -> Path | None:
    explicit = os.environ.get("COMITY_CONFIG")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("COMITY_HOME", "comity-data"))
    candidate = home / "comity.toml"
    return candidate if candidate.is_file() else None


class Settings(BaseSettings):
    """Everything a node needs to know about itself and its limits."""

    model_config = SettingsConfigDict(env_prefix="COMITY_", frozen=True, extra="forbid")

    home: Path = Field(default=Path("comity-data"), description="Data directory of the node.")
    environment: Environment = Environment.PRODUCTION
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in home.")
    vault_dir: Path | None = Field(
        default=None, description="Where the evidence vault keeps its blobs; default home/vault."
    )
    blob_store: str = Field(
        default=LOCAL_BLOB_STORE,
        max_length=500,
        description="'local' (blobs in vault_dir) or 's3://bucket/optional/prefix'.",
    )
    s3_endpoint_url: str = Field(
        default="",
        max_length=500,
        description="URL of an S3-compatible service (MinIO, Garage …); empty: Amazon S3.",
    )
    s3_region: str = Field(default="", description="Region of the S3 bucket; empty: boto3's.")
    secret_key: SecretStr | None = Field(default=None, repr=False)

    node_name: str = Field(default="Comity node", min_length=1, max_length=200)
    node_country: str = Field(default="", max_length=2)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="",
        max_length=500,
        description="The base URL peer nodes reach this node at, as its descriptor gives it "
        "(such as https://comity.example.org); empty: http://host:port.",
    )
    publish_descriptor: bool = Field(
        default=False,
        description="Serve this node's signed descriptor (organisation, address, public keys) "
        "to anyone at /api/v1/node/descriptor, so peers can fetch it by URL.",
    )
    checkpoint_interval_seconds: float = Field(
        default=300,
        ge=0,
        le=24 * 3600,
        description="While serving, sign a checkpoint this often if the ledger grew (0: never).",
    )
    witness_interval_seconds: float = Field(
        default=600,
        ge=0,
        le=24 * 3600,
        description="While serving, witness every followed log this often (0: never).",
    )
    exchange_delivery_interval_seconds: float = Field(
        default=30,
        ge=0,
        le=24 * 3600,
        description="While serving, deliver the messages that are due this often (0: never).",
    )
    exchange_message_hours: int = Field(
        default=7 * 24,
        ge=1,
        le=30 * 24,
        description="How long a message this node sends stays valid (its envelope's expiry).",
    )
    exchange_receipt_timeout_hours: int = Field(
        default=48,
        ge=1,
        le=30 * 24,
        description="A message that no recipient's acceptance receipt answers within this "
        "time (or before it expires, if sooner) fails for that recipient, for good.",
    )

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7)
    cookie_secure: bool = True
    require_mfa_for_all: bool = False
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    ip_throttle_failures: int = Field(default=20, ge=1, le=10_000)
    ip_throttle_minutes: int = Field(default=10, ge=1, le=24 * 60)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    api_token_max_days: int = Field(default=365, ge=1, le=3650)
    upload_max_bytes: int = Field(
        default=64 * 1024**3, ge=1, description="Largest file a web upload may declare."
    )
    upload_chunk_bytes: int = Field(
        default=8 * 1024**2,
        ge=1024,
        le=64 * 1024**2,
        description="Largest chunk of a web upload (one request body); also the chunk size "
        "offered to clients.",
    )
    upload_expiry_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 365,
        description="An unfinished web upload untouched this long is removed.",
    )
    default_locale: str = "en"
    tsa_url: str = Field(
        default="",
        max_length=500,
        description="RFC 3161 time-stamping authority for checkpoints; empty: no time-stamps.",
    )
    tsa_ca_file: Path | None = Field(
        default=None,
        description="PEM root certificate(s) the time-stamping authority's tokens chain to.",
    )
    vault_timestamps: bool = Field(
        default=False,
        description="Have every evidence item time-stamped by the authority of tsa_url.",
    )

    @field_validator("node_country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        if value and not (len(value) == 2 and value.isalpha()):
            raise ValueError("must be a two-letter ISO 3166-1 code, such as 'NL'")
        return value.upper()

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from comity.i18n import LOCALES  # noqa: PLC0415 - i18n imports nothing from here

        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("tsa_ca_file", "vault_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tsa_url")
    @classmethod
    def _authority_url(cls, value: str) -> str:
        value = value.strip()
        if value and not is_service_url(value, query=True):
            raise ValueError(
                "must be the http:// or https:// URL of an RFC 3161 time-stamping authority, "
                "without a user name, password or fragment, such as 'https://freetsa.org/tsr'"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not is_service_url(value):
            raise ValueError(
                "must be the http:// or https:// base URL of this node, without a user "
                "name, password, query or fragment, such as 'https://comity.example.org'"
            )
        return value

    @field_validator("blob_store")
    @classmethod
    def _blob_store_location(cls, value: str) -> str:
        return blob_store_value(value)

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        return endpoint_url_value(value)

    @field_validator("s3_region")
    @classmethod
    def _region_name(cls, value: str) -> str:
        return region_value(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no secret dirs
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'comity.db').resolve()}"

    @property
    def listen_url(self) -> str:
        """Where ``comity serve`` listens."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Where peers reach this node: ``public_url``, or where ``comity serve`` listens."""
        return self.public_url or self.listen_url

    @property
    def resolved_vault_dir(self) -> Path:
        return self.vault_dir if self.vault_dir is not None else self.home / "vault"

    @property
    def s3_location(self) -> S3Location | None:
        """The bucket and key prefix of the blob store, or ``None`` for the local one."""
        if self.blob_store == LOCAL_BLOB_STORE:
            return None
        return parse_s3_location(self.blob_store)

    @property
    def secret_file(self) -> Path:
        return self.home / SECRET_FILE_NAME

    def tsa_roots(self) -> list[x509.Certificate]:
        """The certificates in ``tsa_ca_file`` (none when it is not set)."""
        if self.tsa_ca_file is None:
            return []
        try:
            pem = self.tsa_ca_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"COMITY_TSA_CA_FILE: cannot read {self.tsa_ca_file}: {exc.strerror or exc}.",
                fields={"tsa_ca_file": "unreadable"},
            ) from None
        try:
            return read_roots(pem, str(self.tsa_ca_file))
        except TimestampError as exc:
            raise ConfigurationError(
                f"COMITY_TSA_CA_FILE: {exc.message}", fields={"tsa_ca_file": "invalid"}
            ) from None

    def secret_bytes(self) -> bytes:
        """The node's secret key, used to derive cookie, CSRF and field-encryption keys."""
        if self.secret_key is None:
            raise ConfigurationError("The node has no secret key; run 'comity init' first.")
        return self.secret_key.get_secret_value().encode()


def _check_secret(settings: Settings) -> None:
    if settings.secret_key is None or settings.environment is Environment.DEVELOPMENT:
        return
    value = settings.secret_key.get_secret_value()
    if value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            "COMITY_SECRET_KEY is a placeholder or shorter than "
            f"{MIN_SECRET_LENGTH} characters; outside development the node refuses to start. "
            "Unset it to let the node generate and keep its own key."
        )


def _check_timestamping(settings: Settings) -> None:
    if settings.vault_timestamps and not settings.tsa_url:
        raise ConfigurationError(
            "COMITY_VAULT_TIMESTAMPS is on but COMITY_TSA_URL is not set: name the RFC 3161 "
            "authority that time-stamps evidence items (with COMITY_TSA_CA_FILE), or turn "
            "COMITY_VAULT_TIMESTAMPS off.",
            fields={"vault_timestamps": "no_authority"},
        )
    if settings.tsa_url and settings.tsa_ca_file is None:
        raise ConfigurationError(
            "COMITY_TSA_URL is set but COMITY_TSA_CA_FILE is not: name the PEM file of the "
            "root certificate(s) the authority's time-stamp tokens must chain to.",
            fields={"tsa_ca_file": "required"},
        )
    settings.tsa_roots()


def _read_secret_file(path: Path) -> str | None:
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"{path} is readable by other users (mode {mode:o}); run 'chmod 600 {path}'."
        )
    return path.read_text(encoding="ascii").strip()


def ensure_secret_file(settings: Settings) -> Settings:
    """Create ``<home>/secret.key`` (0600) if no secret is configured; return settings with it."""
    if settings.secret_key is not None:
        return settings
    existing = _read_secret_file(settings.secret_file)
    if existing is None:
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(settings.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        existing = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(existing + "\n")
    return settings.model_copy(update={"secret_key": SecretStr(existing)})


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings, turning every problem into one readable error."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        fields = {
            ".".join(str(part) for part in err["loc"]) or "settings": err["msg"]
            for err in exc.errors()
        }
        lines = "; ".join(f"COMITY_{name.upper()}: {msg}" for name, msg in fields.items())
        raise ConfigurationError(f"Invalid settings: {lines}", fields=fields) from None
    if settings.secret_key is None:
        stored = _read_secret_file(settings.secret_file)
        if stored is not None:
            settings = settings.model_copy(update={"secret_key": SecretStr(stored)})
    _check_secret(settings)
    _check_timestamping(settings)
    check_blob_store(settings)
    return settings
