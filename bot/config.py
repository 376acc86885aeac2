"""Settings read from the environment and `.env`.

Built once and passed to the composition root (`bot.app.build`); never a global instance.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.telegram_limits import DOWNLOAD_MAX_BYTES, UPLOAD_MAX_BYTES

OFFICIAL_API_URL = "https://api.telegram.org"
SUPPORTED_LANGUAGES = ("ru", "en")
# Telegram accepts 1-256 of these; fewer than 16 is guessable, so the bot asks for at least 16.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")
# The ports Telegram's own servers post webhooks to (a self-hosted Bot API server allows any).
WEBHOOK_PORTS = (443, 80, 88, 8443)


class RuleDefaults(BaseModel):
    """Team-level periods copied into a new team's row; owners may change them per team later."""

    followup_hot_days: int = Field(3, ge=1, le=365)
    followup_warm_days: int = Field(14, ge=1, le=365)
    followup_cold_days: int = Field(30, ge=1, le=365)
    no_answer_retry_days: int = Field(1, ge=1, le=30)
    # A hot client with no logged contact this long is "going quiet": the manager is nudged.
    quiet_hot_days: int = Field(14, ge=1, le=365)
    # A hot client with no activity at all this long cools to warm; manager and owner are told.
    hot_to_warm_days: int = Field(90, ge=1, le=3650)
    # The stuck-lead ladder: this long in one stage nudges the manager, this much longer tells
    # the owner and head, and this much longer again archives the lead.
    stuck_lead_days: int = Field(7, ge=1, le=365)
    stuck_escalate_days: int = Field(2, ge=1, le=365)
    stuck_archive_days: int = Field(7, ge=1, le=365)


class DeliverySettings(BaseModel):
    """How the sweep delivers what the outbox owes."""

    sweep_interval_seconds: float = Field(10.0, gt=0, le=30)
    lease_seconds: int = Field(120, ge=10)
    batch_size: int = Field(100, ge=1, le=1000)
    # A push sent this long after its moment says it is late (the bot was down meanwhile).
    late_after_seconds: int = Field(300, ge=0)
    retry_backoff_seconds: int = Field(30, ge=1)
    global_per_second: float = Field(25.0, gt=0, le=30)
    # Team-wide digest figures are reused this long across sweeps: a morning digest is a
    # snapshot, and recomputing them per batch of a thousand digests costs seconds.
    digest_snapshot_seconds: int = Field(120, ge=0, le=3600)
    # Nudges are counted in days; looking for new ones scans every client, so not every tick.
    nudge_scan_seconds: int = Field(300, ge=0, le=3600)


class Limits(BaseModel):
    """Input limits: one place for every bound the parsers and services enforce."""

    max_amount: Decimal = Decimal("100000000000")  # 100 bn: anything above is a typo, not a deal
    max_note_chars: int = 4000
    max_name_chars: int = 200
    max_tag_chars: int = 20  # keeps `/list #tag` page buttons within 64 bytes of callback data
    list_page_size: int = 25
    pick_candidates: int = 6
    card_last_items: int = 5
    invite_ttl_hours: int = 72
    match_min_score: float = 72.0
    # Import of client tables (/import): refused above these sizes, before any row is read.
    import_max_bytes: int = DOWNLOAD_MAX_BYTES
    import_max_rows: int = 50_000
    # The progress message is edited at most this often (Telegram limits edits per chat).
    import_progress_seconds: float = 3.0
    import_problems_listed: int = 20
    # Rows an import writes per batch of INSERTs: smaller lets other updates in more often.
    import_write_rows: int = Field(250, ge=1, le=5000)
    # Mass viewing: more than this many distinct client cards (plus exports) opened by one
    # member within the window alerts the owners once (a sign of copying the base).
    mass_view_cards: int = Field(30, ge=1)
    mass_view_minutes: int = Field(10, ge=1, le=1440)
    # Rows read from the database per query while an export streams into its file.
    export_chunk_rows: int = Field(2000, ge=100, le=50_000)
    # An exported file above this is refused: what the Bot API server takes from a bot.
    export_max_bytes: int = Field(UPLOAD_MAX_BYTES, ge=1)
    audit_page_size: int = Field(20, ge=5, le=50)


class ImportFileSettings(BaseModel):
    """What one imported file may unpack to, and the worker process that reads it
    (env `IMPORT_FILES__MAX_CELL_CHARS=10000`, ...). An .xlsx is a zip: 400 KB can unpack to
    gigabytes, so every bound is checked while the file is read, not after."""

    # All parts read from an .xlsx together, uncompressed, and any one of them (zip headers are
    # checked first, then bytes are counted while inflating: headers can lie).
    max_unpacked_mb: int = Field(256, ge=1, le=4096)
    max_part_mb: int = Field(160, ge=1, le=4096)
    # Uncompressed to compressed: real sheets are 5-30 times, a zip bomb thousands.
    max_ratio: int = Field(200, ge=10)
    # Row elements in the sheet, empty ones Excel kept for their formatting included (four
    # times the row limit: counting Excel's own maximum, a million, takes seconds), and
    # columns (Excel's own maximum).
    max_sheet_rows: int = Field(200_000, ge=1)
    max_columns: int = Field(16_384, ge=1)
    # Characters in one cell (Excel's own maximum), in one CSV file's cell too.
    max_cell_chars: int = Field(32_767, ge=100)
    max_shared_strings: int = Field(2_000_000, ge=1)
    max_shared_chars: int = Field(64_000_000, ge=1)
    # Nesting of XML elements (a sheet needs 6) and bytes of XML read without any element,
    # text or end tag completing (one absurdly long tag, attribute or comment).
    max_xml_depth: int = Field(64, ge=8)
    max_xml_token_kb: int = Field(1024, ge=64)
    # The worker process that reads a file: its address-space limit and its time limit.
    worker_memory_mb: int = Field(1536, ge=256)
    worker_seconds: float = Field(120.0, gt=0, le=3600)
    # Files read at once by this instance (each in its own process).
    workers: int = Field(2, ge=1, le=16)
    # Rows read at preview wait here for «Import», keyed by the import's one-time token;
    # removed after the import or cancel, and after this many hours if the owner never answers.
    parsed_dir: Path = Path("./data/imports")
    parsed_keep_hours: int = Field(48, ge=1)


class AnalyticsSettings(BaseModel):
    """`/portfolio` thresholds and its cache (env `ANALYTICS__ABC_A_PERCENT=80`, ...)."""

    # ABC: clients sorted by revenue; cumulative share up to this is A, up to the next B.
    abc_a_percent: Decimal = Field(Decimal(80), gt=0, lt=100)
    abc_b_percent: Decimal = Field(Decimal(95), gt=0, le=100)
    # XYZ: coefficient of variation of monthly revenue, in percent.
    xyz_x_percent: Decimal = Field(Decimal(10), ge=0)
    xyz_y_percent: Decimal = Field(Decimal(25), ge=0)
    xyz_months: int = Field(12, ge=2, le=36)
    # Reports of ended periods are kept this long per instance (0 turns the cache off).
    cache_seconds: int = Field(600, ge=0, le=86400)
    cache_entries: int = Field(64, ge=1, le=10000)
    # Lines per list in a message (angels, movers, plan); the export has them all.
    top_clients: int = Field(10, ge=1, le=50)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        # `VAR=` (or compose's `${VAR:-}`) means "not set", not an invalid empty value.
        env_ignore_empty=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = OFFICIAL_API_URL
    database_url: str = "sqlite+aiosqlite:///./data/salesbot.sqlite3"
    # PostgreSQL only: the schema (search_path) to use instead of "public", e.g. one per tenant
    # or per test run.
    database_schema: str | None = None
    default_timezone: str = "Europe/Moscow"
    default_language: str = "ru"
    default_currency: str = "RUB"
    owner_telegram_id: int | None = None
    open_registration: bool = False
    log_level: str = "INFO"
    migrate_on_start: bool = True
    sqlite_busy_timeout_ms: int = 15000
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    digest_time: time = time(9, 0)

    # Production runtime (see README "Deploying"): how updates arrive and where probes listen.
    bot_mode: Literal["polling", "webhook"] = "polling"
    # The public https address Telegram posts to. Without a path, WEBHOOK_PATH is appended.
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    # Telegram echoes it in X-Telegram-Bot-Api-Secret-Token: 16-256 of A-Z a-z 0-9 _ -.
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int | None = Field(None, ge=1, le=65535)
    # The port platforms such as Heroku or Cloud Run assign; WEBHOOK_PORT wins if both are set.
    port: int | None = Field(None, ge=1, le=65535)
    # Polling mode serves /health, /ready and /metrics only if this is set.
    http_port: int | None = Field(None, ge=1, le=65535)
    # Set: conversation state and cross-instance locks live in Redis (several instances).
    redis_url: SecretStr | None = None
    redis_prefix: str = "salesbot"
    log_format: Literal["text", "json"] = "text"
    # On SIGTERM: how long updates in flight and the current sweep tick may take to finish.
    shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600)
    # Webhook mode: at most this many updates are handled at once by this instance (sized to
    # the database pool: more would only queue for a connection and time out after the 200).
    webhook_max_in_flight: int = Field(10, ge=1, le=1000)
    # A request finding every slot taken waits this long, then gets 503 and Telegram redelivers
    # it later (well under Telegram's own request timeout).
    webhook_slot_wait_seconds: float = Field(5.0, ge=0, le=30)
    # An update whose database was briefly unavailable (pool exhausted, connection cut) is
    # retried in-process this many times: Telegram got 200 and will not resend it.
    update_db_retries: int = Field(2, ge=0, le=10)
    # The Mini App (docs/miniapp.md): the public https address of the page, `/app/` of this
    # server. Set: the bot puts a button opening it in every chat's menu at start.
    miniapp_url: str | None = None
    # A Mini App request signed by Telegram longer ago than this is refused (its initData is
    # signed once, when the page opens).
    miniapp_auth_max_age_seconds: int = Field(86400, ge=60, le=30 * 86400)

    rules: RuleDefaults = RuleDefaults()
    limits: Limits = Limits()
    delivery: DeliverySettings = DeliverySettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    import_files: ImportFileSettings = ImportFileSettings()

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language must be one of {SUPPORTED_LANGUAGES}")
        return value

    @field_validator("default_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("currency must be an ISO 4217 code such as RUB")
        return value.upper()

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("webhook_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw and not _SECRET_TOKEN.fullmatch(raw):
            # The message never repeats the value (nor its length): it is a credential.
            raise ValueError(
                "must be 16-256 characters of A-Z, a-z, 0-9, _ and - "
                "(make one with: openssl rand -hex 32)"
            )
        return value

    @model_validator(mode="after")
    def _webhook_url_telegram_accepts(self) -> Settings:
        """Telegram's servers post only to https on a few ports; refused here, at start-up,
        rather than by setWebhook later. A self-hosted Bot API server (TELEGRAM_API_URL) also
        posts to http and any port, so the check is for the official API only."""
        if not self.webhook_url or self.telegram_api_url != OFFICIAL_API_URL:
            return self
        url = urlparse(self.webhook_url)
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme != "https" or not url.hostname:
            raise ValueError(
                "WEBHOOK_URL must be an https:// address such as https://bot.example.org: "
                "Telegram posts updates over HTTPS only"
            )
        if port is not None and port not in WEBHOOK_PORTS:
            raise ValueError(
                "WEBHOOK_URL must use port 443, 80, 88 or 8443 (or none): "
                "Telegram posts updates to no other port"
            )
        return self

    @model_validator(mode="after")
    def _miniapp_url_telegram_opens(self) -> Settings:
        """Telegram opens Mini Apps over HTTPS only (a local Bot API server does not check)."""
        if not self.miniapp_url or self.telegram_api_url != OFFICIAL_API_URL:
            return self
        url = urlparse(self.miniapp_url)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(
                "MINIAPP_URL must be an https:// address such as https://bot.example.org/app/: "
                "Telegram opens Mini Apps over HTTPS only"
            )
        return self

    @model_validator(mode="after")
    def _webhook_complete(self) -> Settings:
        if self.bot_mode != "webhook":
            return self
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ValueError(
                "BOT_MODE=webhook requires WEBHOOK_SECRET (random, 16-256 characters of "
                "A-Z a-z 0-9 _ -): without it anyone who finds the URL could post updates"
            )
        if not self.webhook_url:
            raise ValueError("BOT_MODE=webhook requires WEBHOOK_URL, the public https address")
        return self

    @property
    def listen_port(self) -> int:
        return self.webhook_port or self.port or 8080

    @property
    def public_webhook_url(self) -> str:
        url = (self.webhook_url or "").rstrip("/")
        return url if urlparse(url).path not in ("", "/") else url + self.webhook_path

    @property
    def has_token(self) -> bool:
        return bool(self.bot_token and self.bot_token.get_secret_value().strip())

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        raw = self.database_url[len(prefix) :]
        return None if raw in ("", ":memory:") else Path(raw)
