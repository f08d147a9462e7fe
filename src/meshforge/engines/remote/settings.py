"""Settings of the remote engines, from the environment only.

The limits every provider shares are ``MESHFORGE_REMOTE_<NAME>``; each provider's API key and
base URL are ``MESHFORGE_<PROVIDER>_API_KEY`` and ``MESHFORGE_<PROVIDER>_BASE_URL`` (declared
in its module). The key may also come from the provider's own conventional variable
(``TRIPO_API_KEY``, ``MESHY_API_KEY``), so a key already set up for the provider's tools works.
Settings are read when a task starts, never cached: a changed variable takes effect at once.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshforge.errors import ProviderError
from meshforge.recipe import describe_validation_error

S = TypeVar("S", bound=BaseSettings)


class RemoteSettings(BaseSettings):
    """Time and size limits of a remote task; every field can be set as
    ``MESHFORGE_REMOTE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MESHFORGE_REMOTE_", extra="ignore")

    request_timeout_s: float = Field(
        default=30.0, gt=0, description="Deadline of one HTTP request (connect, each read, write)."
    )
    task_timeout_s: float = Field(
        default=1200.0,
        gt=0,
        description="Deadline of a whole task: upload, every generation step, download.",
    )
    poll_interval_s: float = Field(
        default=2.0, gt=0, description="First wait between two polls of a task; it grows by half."
    )
    max_poll_interval_s: float = Field(
        default=15.0, gt=0, description="The longest wait between two polls."
    )
    retries: int = Field(
        default=5,
        ge=0,
        description="Retries of a request answered 429 or 5xx, or lost in transport.",
    )
    retry_backoff_s: float = Field(
        default=1.0,
        gt=0,
        description="Wait before the first retry; it doubles each time. A Retry-After wins.",
    )
    max_retry_backoff_s: float = Field(
        default=30.0, gt=0, description="The longest wait between two retries (but Retry-After)."
    )
    max_download_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="Largest model file accepted, in bytes."
    )


def key_variables(provider: str) -> tuple[str, str]:
    """The variables a provider's API key is read from, first wins: meshforge's own, then the
    provider's conventional one."""
    return f"MESHFORGE_{provider.upper()}_API_KEY", f"{provider.upper()}_API_KEY"


class ProviderSettings(BaseSettings):
    """A provider's API key and base URL; ``provider_settings`` names their variables."""

    model_config = SettingsConfigDict(extra="ignore")

    api_key: SecretStr | None = None
    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def key(self) -> str:
        """The API key, or "" when none is set."""
        return self.api_key.get_secret_value().strip() if self.api_key is not None else ""


def provider_settings(provider: str, base_url: str) -> type[ProviderSettings]:
    """The settings of ``provider``: its key from ``MESHFORGE_<PROVIDER>_API_KEY`` (else
    ``<PROVIDER>_API_KEY``), its API root from ``MESHFORGE_<PROVIDER>_BASE_URL`` (default
    ``base_url``)."""
    return create_model(
        f"{provider.title()}Settings",
        __base__=ProviderSettings,
        __doc__=f"The {provider} engine's API key and base URL.",
        api_key=(
            SecretStr | None,
            Field(
                default=None,
                validation_alias=AliasChoices(*key_variables(provider)),
                description=f"The {provider} API key.",
            ),
        ),
        base_url=(
            str,
            Field(
                default=base_url,
                validation_alias=f"MESHFORGE_{provider.upper()}_BASE_URL",
                description=f"The {provider} API's root (a proxy's, or a test server's).",
            ),
        ),
    )


def read_settings(cls: type[S]) -> S:
    """``cls`` from the environment; a bad value is a ProviderError naming it."""
    try:
        return cls()
    except ValidationError as exc:
        raise ProviderError(
            f"invalid settings: {describe_validation_error(exc)}",
            stage="reconstruct",
            hint="Fix the MESHFORGE_REMOTE_* and provider variables named above.",
        ) from exc
