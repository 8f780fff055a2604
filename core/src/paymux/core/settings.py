"""paymux's settings, read from the environment (``PAYMUX_...``) by pydantic-settings.

Nothing reads them at import: build ``Settings()`` where the application starts and pass it on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paymux.core.domain.api_keys import DIGEST_PREFIX, Scope, digest

DEVELOPMENT_API_KEY = "pmx_dev_sandbox_key"
"""The API key of the default (sandbox) configuration. Refused in live mode."""

DEVELOPMENT_SECRET = "pmx-dev-secret-not-for-production"  # noqa: S105 - sandbox default, refused live


def _development_key() -> dict[str, str | ConfiguredApiKey]:
    return {DEVELOPMENT_API_KEY: "dev"}


def _sandbox_only() -> dict[str, dict[str, Any]]:
    return {"sandbox": {}}


class RetrySettings(BaseModel):
    """The retry policy of one job kind (see :class:`paymux.core.jobs.retry.RetryPolicy`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=8, gt=0)
    base_seconds: float = Field(default=1.0, gt=0)
    cap_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> RetrySettings:
        if self.cap_seconds < self.base_seconds:
            raise ValueError("cap_seconds must not be below base_seconds")
        return self


class FxSettings(BaseModel):
    """Where exchange rates come from and how long a quote holds (``docs/concepts/fx.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    """The name of the rate source quotes are locked from (``ecb``, ``fixed``, a plugin's
    source). ``None``: the only source there is; with several, this must be set."""

    fixed_rates: dict[str, str] = Field(default_factory=dict)
    """Rates of the built-in ``fixed`` source, ``{"EUR/USD": "1.0812"}`` (1 EUR = 1.0812 USD;
    inverses are derived). Empty: no ``fixed`` source."""

    lock_seconds: float = Field(default=15 * 60, gt=0, le=7 * 24 * 3600)
    """How long a locked quote holds (15 minutes)."""

    max_rate_age_days: int = Field(default=5, ge=0, le=366)
    """A rate older than this many days is refused (no quote)."""

    @field_validator("fixed_rates")
    @classmethod
    def _pairs(cls, value: dict[str, str]) -> dict[str, str]:
        for pair in value:
            base, slash, quote = pair.partition("/")
            if not slash or len(base) != 3 or len(quote) != 3:
                raise ValueError(f"a fixed rate's pair is written 'BASE/QUOTE', not {pair!r}")
        return value


class ConfiguredApiKey(BaseModel):
    """A key of ``api_keys`` with its own scopes: ``{"client": "shop", "scopes": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.ADMIN], min_length=1)


class Settings(BaseSettings):
    """Everything paymux needs to run.

    Nested values use ``__``: ``PAYMUX_PROVIDERS__SANDBOX__WEBHOOK_SECRET``.
    """

    model_config = SettingsConfigDict(
        env_prefix="PAYMUX_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    mode: Literal["sandbox", "live"] = "sandbox"
    """``sandbox``: no real money, the sandbox PSP is mounted. ``live``: real providers only."""

    database_url: str = "sqlite+aiosqlite:///paymux.db"
    """SQLAlchemy URL: ``sqlite+aiosqlite:///path.db`` or ``postgresql+psycopg://user@host/db``."""

    public_url: str = "http://127.0.0.1:8000"
    """The URL under which buyers and PSPs reach this instance (with any mount prefix)."""

    api_keys: dict[str, str | ConfiguredApiKey] = Field(default_factory=_development_key)
    """Configured bearer API keys and the client each belongs to (``{"key": "client-id"}``,
    every scope), or ``{"key": {"client": "client-id", "scopes": ["payments:read"]}}``. A key
    may be given as its digest, ``sha256:<64 hex digits>``. Keys made with ``paymux keys
    create`` live in the database and work beside these; ``{}`` leaves only those."""

    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    """How long a process remembers a database API key it looked up: a revocation takes
    effect within this time (``0``: every request reads the database)."""

    providers: dict[str, dict[str, Any]] = Field(default_factory=_sandbox_only)
    """Enabled providers, each with its own configuration."""

    markets_file: Path | None = None
    """A markets file (TOML): providers, markets, provider chains and fee rules. Without it,
    a payment goes to the first enabled provider that serves it. See ``docs/markets.md``."""

    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    """Signs the links of buyer status pages."""

    status_link_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    """How long after a payment was made its status page link stays valid (30 days); after
    that the link answers 410."""

    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    """When set (16 characters at least), ``GET /metrics`` answers only
    ``Authorization: Bearer <token>`` (``None``:
    open, as on the sandbox; in production set it or keep ``/metrics`` off the internet)."""

    idempotency_lock_seconds: float = Field(default=60.0, gt=0)
    """How long a request holds its idempotency key before another may take over."""

    event_source: str = Field(default="paymux", min_length=1)
    """The ``source`` attribute of the CloudEvents paymux publishes (``docs/events.md``)."""

    log_publisher: Literal["auto", "always", "never"] = "auto"
    """Log every published event on the ``paymux.events`` logger: ``auto`` only when no
    plugin offers a publisher, ``always`` beside them, ``never``."""

    log_format: Literal["auto", "json", "text"] = "auto"
    """How ``paymux serve``, ``worker`` and ``relay`` write logs (to standard error): ``json``,
    one JSON object per line with the request or job id; ``text``, one readable line;
    ``auto``, text on a terminal and JSON otherwise (a container, systemd, a pipe)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """The lowest level logged by ``paymux serve``, ``worker`` and ``relay``."""

    relay_batch_size: int = Field(default=100, gt=0, le=10_000)
    """How many outbox events the relay publishes per pass."""

    relay_interval_seconds: float = Field(default=1.0, gt=0)
    """How long the relay sleeps when the outbox is empty."""

    relay_max_backoff_seconds: float = Field(default=60.0, gt=0)
    """The longest the relay waits before retrying after a publisher failed (it doubles
    from ``relay_interval_seconds`` up to this)."""

    embedded_worker: Literal["auto", "always", "never"] = "auto"
    """Run a job worker inside ``paymux serve``: ``auto`` on SQLite (the embedded default,
    where one process does everything), ``always``, or ``never`` (run ``paymux worker``
    processes instead; the API keeps answering while they are down)."""

    worker_lease_seconds: float = Field(default=120.0, gt=0)
    """How long a worker holds a claimed job; a job held longer (its worker died) is taken
    over by another worker and counts as a failed attempt."""

    worker_batch_size: int = Field(default=10, gt=0, le=1000)
    """How many due jobs a worker claims and runs at once."""

    worker_idle_seconds: float = Field(default=1.0, gt=0)
    """How long a worker sleeps when no job is due."""

    job_retry: dict[str, RetrySettings] = Field(default_factory=dict)
    """Retry policy per job kind, over paymux's defaults
    (``PAYMUX_JOB_RETRY__REGISTER_PAYMENT__MAX_ATTEMPTS=5``). Kinds: ``register_payment``,
    ``check_payment``, ``notify_buyer``, ``submit_refund``, ``submit_payout``,
    ``refund_late_payment``, ``send_reconciliation_alert``, ``reconcile_nightly``,
    ``reconcile_announced_report``."""

    circuit_failure_threshold: int = Field(default=5, gt=0)
    """Retryable failures in a row after which a provider's circuit opens."""

    circuit_open_seconds: float = Field(default=30.0, gt=0)
    """How long an open circuit keeps new work away from its provider."""

    janitor_schedule: dict[str, list[float]] = Field(default_factory=dict)
    """Seconds between the janitor's checks of an open payment, per ``provider/method``,
    ``provider``, ``method`` or ``default``, over paymux's defaults (cards: minutes to two
    days; ``bank_transfer``: daily for two weeks). After the last check it is expired."""

    late_payments: Literal["refund", "hold"] = "refund"
    """What happens to money a buyer pays after paymux expired the payment (the PSP reports
    success too late): ``refund`` gives it back automatically; ``hold`` keeps it booked as
    owed to the buyer for an operator. Either way an event says so."""

    reconciliation_lookback_days: int = Field(default=90, gt=0, le=3660)
    """How far back reconciliation reads paymux's payments, refunds and payouts (and the
    lines of earlier runs) to match a settlement file."""

    reconciliation_client: str | None = None
    """The API client (marketplace) whose records the nightly reconciliation and
    ``paymux reconcile`` match against; ``None``: the only client with a key (in ``api_keys``
    or valid in the database)."""

    reconciliation_hour: int = Field(default=3, ge=0, le=23)
    """The UTC hour after which the worker fetches and reconciles the previous day's
    settlement report of every provider that can fetch one."""

    reconciliation_max_upload_bytes: int = Field(default=1 << 30, gt=0)
    """The largest settlement file ``POST /v1/reconciliations`` accepts (413 above)."""

    fx: FxSettings = Field(default_factory=FxSettings)
    """Exchange rates and quotes: ``PAYMUX_FX__SOURCE``, ``PAYMUX_FX__FIXED_RATES``
    (JSON), ``PAYMUX_FX__LOCK_SECONDS``, ``PAYMUX_FX__MAX_RATE_AGE_DAYS``."""

    # Hardening: rate limits, body sizes, HTTPS (docs/security/rate-limits.md,
    # docs/security/https-and-proxies.md).

    rate_limit: str = "100/second"
    """Requests per API key (``Authorization: Bearer``), in the ``limits`` notation:
    ``100/second``, or several at once: ``100/second;2000/minute``. Empty: no limit."""

    rate_limit_anonymous: str = "20/second"
    """Requests per client IP without an API key (buyer status pages, plugin pages, the
    API docs, and API calls that present no key). Empty: no limit."""

    rate_limit_webhooks: str = "100/second"
    """Webhook deliveries per provider and client IP on ``/v1/webhooks/{provider}``.
    Empty: no limit."""

    rate_limit_storage_url: str = "memory://"
    """Where the counters live: ``memory://`` (one process), or Redis (``redis://host:6379``,
    ``async+redis://...``; ``rediss://`` for TLS) to share the limits between instances."""

    rate_limit_key_prefix: str = Field(default="paymux-rate", min_length=1)
    """The prefix of paymux's keys in the rate-limit storage."""

    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = (
        "moving-window"
    )
    """The ``limits`` strategy: ``moving-window`` never lets more than the limit through
    in any window; the others are cheaper and may let up to twice the limit through at the
    edge of a window."""

    rate_limit_on_storage_error: Literal["open", "closed"] = "open"
    """When the storage (Redis) cannot be reached: ``open`` limits in this process's
    memory instead (and logs a warning); ``closed`` answers 503 ``rate-limit-unavailable``."""

    max_body_bytes: int = Field(default=1 << 20, gt=0)
    """The largest request body (413 above), except ``POST /v1/reconciliations``
    (``reconciliation_max_upload_bytes``) and webhooks (``webhook_max_body_bytes``)."""

    webhook_max_body_bytes: int = Field(default=1 << 20, gt=0)
    """The largest webhook body on ``/v1/webhooks/{provider}`` (413 above); a provider
    plugin may ask for more (the bank-transfer plugin: its ``max_statement_bytes``)."""

    hsts_max_age_seconds: int = Field(default=31_536_000, ge=0)
    """The ``max-age`` of the ``Strict-Transport-Security`` header sent on responses to
    HTTPS requests; 0: no header."""

    hsts_always: bool = False
    """Send ``Strict-Transport-Security`` on every response, also over plain HTTP (when a
    proxy that paymux does not trust ends TLS in front of it)."""

    ssl_certfile: Path | None = None
    """The certificate chain (PEM) ``paymux serve`` serves HTTPS with."""

    ssl_keyfile: Path | None = None
    """The private key (PEM) of ``ssl_certfile``."""

    trusted_proxies: str | None = None
    """Proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` headers ``paymux serve``
    believes: a comma-separated list of IPs or networks (``127.0.0.1,10.0.0.0/8``), or
    ``*``. Unset: the headers are ignored."""

    @property
    def reconciliation_client_id(self) -> str | None:
        """The client reconciliation runs for (see ``reconciliation_client``); ``None`` when
        there are several clients and none is set."""
        clients = self.configured_clients
        if self.reconciliation_client is not None:
            return self.reconciliation_client
        return next(iter(clients)) if len(clients) == 1 else None

    @property
    def configured_clients(self) -> set[str]:
        """The clients of ``api_keys`` (not those of keys in the database)."""
        return {
            value if isinstance(value, str) else value.client for value in self.api_keys.values()
        }

    @field_validator("api_keys")
    @classmethod
    def _digests_are_sha256(
        cls, value: dict[str, str | ConfiguredApiKey]
    ) -> dict[str, str | ConfiguredApiKey]:
        for key, owner in value.items():
            if not key or (isinstance(owner, str) and not owner):
                raise ValueError("api_keys needs non-empty keys and client ids")
            if key.startswith(DIGEST_PREFIX):
                hex_digits = key.removeprefix(DIGEST_PREFIX)
                if len(hex_digits) != 64 or not all(c in "0123456789abcdef" for c in hex_digits):
                    raise ValueError("a hashed API key is sha256: and 64 lower-case hex digits")
        return value

    @field_validator("janitor_schedule")
    @classmethod
    def _positive_delays(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for key, delays in value.items():
            if not delays or any(delay <= 0 for delay in delays):
                raise ValueError(f"janitor_schedule[{key!r}] needs positive delays")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _live_needs_real_secrets(self) -> Settings:
        if self.mode == "live":
            if {DEVELOPMENT_API_KEY, DIGEST_PREFIX + digest(DEVELOPMENT_API_KEY)} & set(
                self.api_keys
            ):
                raise ValueError("live mode refuses the development API key")
            if self.secret_key.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("live mode needs PAYMUX_SECRET_KEY")
            if "sandbox" in self.providers and self.markets_file is None:
                raise ValueError("live mode cannot enable the sandbox provider")
        return self
