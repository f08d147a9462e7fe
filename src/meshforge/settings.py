"""Settings read from the environment (prefix ``MESHFORGE_``), and from nowhere else."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Machine-wide settings; every field can be set as ``MESHFORGE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MESHFORGE_", extra="forbid")

    home: Path = Field(
        default=Path("~/.cache/meshforge"),
        description="Where meshforge keeps model files and caches (MESHFORGE_HOME).",
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="CPU threads for model inference; 0 uses every core.",
    )

    @property
    def models_dir(self) -> Path:
        return self.home.expanduser() / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests clear the cache after changing env vars)."""
    return Settings()
