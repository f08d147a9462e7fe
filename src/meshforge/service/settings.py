"""Settings of ``meshforge serve`` and its workers, from MESHFORGE_* environment variables only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from meshforge.settings import Settings

# The brokers kombu speaks out of the box with meshforge[celery]: Redis and AMQP (RabbitMQ).
BROKER_SCHEMES = ("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp")


class ServiceSettings(Settings):
    """The machine's settings plus the service's; every field can be set as
    ``MESHFORGE_<NAME>``, and the defaults are the embedded setup."""

    model_config = SettingsConfigDict(env_prefix="MESHFORGE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="Catalog URL: sqlite:///PATH (default HOME/service/catalog.db) or "
        "postgresql://user@host/db.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Blob storage: a folder or file:// URL (default HOME/service/storage), "
        "s3://bucket/prefix.",
    )
    public_url: str = Field(
        default="", description="Base URL put in links (default: the request's own base URL)."
    )
    workers: int = Field(
        default=1,
        ge=0,
        description="Embedded worker processes (0: none; the default is 0 with a Celery broker).",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Scheduling niceness of the embedded workers (0: as the API). They share "
        "the machine's cores with the API: an engine run can wait, a request should not.",
    )
    api_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes answering the API, each on one core; the workers and the "
        "webhook dispatcher stay in the serving process, rate limits and metrics are shared.",
    )
    celery_broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://host:6379/0, amqp://user:password@host:5672//): new "
        "jobs are then published to `meshforge worker --celery` processes.",
    )
    celery_queue: str = Field(
        default="meshforge", min_length=1, description="The Celery queue jobs are published to."
    )
    celery_redispatch_s: float = Field(
        default=30.0,
        gt=0,
        description="Publish a job again when it is still queued this long after its last "
        "publish (the wait doubles each time, up to 10 minutes).",
    )
    job_lease_s: float = Field(
        default=60.0, gt=0, description="A running job whose worker is silent this long is re-run."
    )
    max_attempts: int = Field(default=3, ge=1, description="Runs of one job before it fails.")
    catalog_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads that run the API's catalog work (key lookups, job reads and "
        "writes). Few: under a burst, many threads taking turns on the GIL cost more CPU than "
        "they overlap.",
    )
    drain_timeout_s: float = Field(
        default=120.0, ge=0, description="On shutdown, wait this long for running jobs."
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Largest image.")
    max_request_bytes: int = Field(
        default=110 * 1024 * 1024, gt=0, description="Largest request body."
    )
    max_wait_s: float = Field(default=60.0, ge=0, description="Longest ?wait= allowed.")
    rate_per_minute: float = Field(
        default=600.0, ge=0, description="Requests per minute per API key (0: unlimited)."
    )
    rate_burst: int = Field(default=100, ge=1, description="Burst of requests per API key.")
    max_active_jobs: int = Field(
        default=500, ge=1, description="Queued plus running jobs per API key."
    )
    url_allowlist: str = Field(
        default="",
        description="Comma-separated hosts, IPs or CIDRs exempt from the private-address block "
        "when fetching image URLs and posting webhooks.",
    )
    fetch_timeout_s: float = Field(default=20.0, gt=0, description="Image URL fetch deadline.")
    signing_secret: str | None = Field(
        default=None,
        description="Key of signed download URLs (default: generated once, kept in HOME).",
    )
    signed_url_ttl_s: int = Field(default=3600, gt=0, description="Life of a signed URL.")
    webhook_retry_scale: float = Field(
        default=1.0, gt=0, description="Multiplies the webhook retry delays (tests use 0.01)."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="One delivery's deadline.")
    auth: bool = Field(default=True, description="Require an API key (false: local use only).")
    log_json: bool = Field(default=True, description="JSON log lines on stderr.")

    @field_validator("celery_broker_url")
    @classmethod
    def _known_broker(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None  # MESHFORGE_CELERY_BROKER_URL= (empty) means no broker
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in BROKER_SCHEMES:
            # The URL itself is not repeated: it may hold a password.
            raise ValueError(
                f"unknown broker scheme {scheme or '(none)'!r}; use redis://HOST:6379/0 (Redis) "
                "or amqp://USER:PASSWORD@HOST:5672// (RabbitMQ)"
            )
        return url

    @model_validator(mode="after")
    def _no_embedded_workers_with_a_broker(self) -> ServiceSettings:
        # With a broker, jobs go to Celery workers; embedded ones run only when asked for.
        if self.celery_broker_url and "workers" not in self.model_fields_set:
            self.workers = 0
        return self

    @property
    def service_dir(self) -> Path:
        return self.home.expanduser() / "service"

    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{self.service_dir / 'catalog.db'}"

    @property
    def blob_url(self) -> str:
        return self.storage_url or str(self.service_dir / "storage")

    @property
    def allow_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.url_allowlist.split(",") if h.strip())

    def signing_key(self) -> bytes:
        """The URL-signing key: the setting, else a random one kept in the service folder."""
        if self.signing_secret:
            return self.signing_secret.encode()
        import secrets

        path = self.service_dir / "signing.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.replace(path)
        return path.read_text().strip().encode()
