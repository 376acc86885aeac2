"""ORM models. Every business row carries team_id: one install may hold several companies."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.fields import FIELDS_BY_NAME
from storage.limits import CAMPAIGN_SELECTOR_CHARS, CAMPAIGN_TITLE_CHARS
from storage.types import Money, Percent, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _length(field: str) -> int:
    """A client text column's length: declared once, in the field registry (bot/fields.py)."""
    length = FIELDS_BY_NAME[field].max_length
    assert length is not None, field
    return length


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every model here is mapped to a Table (`__tablename__`), never to a join or a select, so
    # the repositories' Core statements may use `Model.__table__` as one (columns_for, insert).
    __table__: ClassVar[Table]


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), server_default="RUB")
    followup_hot_days: Mapped[int] = mapped_column(Integer)
    followup_warm_days: Mapped[int] = mapped_column(Integer)
    followup_cold_days: Mapped[int] = mapped_column(Integer)
    no_answer_retry_days: Mapped[int] = mapped_column(Integer)
    # Bumped whenever a client's name, phones or manager changes: lets every instance cache
    # lookup candidates and notice, from the team row it loads anyway, when they go stale.
    roster_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # Nudge periods in days (see RuleDefaults for their meaning).
    quiet_hot_days: Mapped[int] = mapped_column(Integer, server_default="14")
    hot_to_warm_days: Mapped[int] = mapped_column(Integer, server_default="90")
    stuck_lead_days: Mapped[int] = mapped_column(Integer, server_default="7")
    stuck_escalate_days: Mapped[int] = mapped_column(Integer, server_default="2")
    stuck_archive_days: Mapped[int] = mapped_column(Integer, server_default="7")
    # The owner's weekly report (bot/services/weekly.py): on or off, the day (0 = Monday) and
    # the time (None: each recipient's own digest time), whether heads get it too, and since
    # when it is on (moments before it, or before the team existed, are not owed).
    weekly_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    weekly_day: Mapped[int] = mapped_column(Integer, server_default="0")
    weekly_time: Mapped[time | None] = mapped_column(Time())
    weekly_heads: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    weekly_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("role in ('owner', 'head', 'manager')", name="role"),
        # One Telegram account belongs to one team: access checks start from the account.
        UniqueConstraint("telegram_id"),
        Index(None, "team_id", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    telegram_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    # The member's own choice in /settings; telegram_language is what their app reports, kept
    # so that messages sent outside their updates (jobs, notices) use the right language too.
    language: Mapped[str | None] = mapped_column(String(8))
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    work_start: Mapped[time] = mapped_column(Time())
    work_end: Mapped[time] = mapped_column(Time())
    digest_time: Mapped[time] = mapped_column(Time(), server_default="09:00:00")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Set when Telegram answers 403 (the member blocked the bot): nothing is sent until they
    # write to the bot again.
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The owner may grant export to a head or manager; the owner can always export.
    can_export: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Set with is_active=false when the owner removes the member: access ends at once, history
    # stays attributed to them.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint("temperature in ('hot', 'warm', 'cold')", name="temperature"),
        Index(None, "team_id", "manager_id", "temperature"),
        Index(None, "team_id", "stage"),
        Index(None, "team_id", "last_contact_at"),
        # The Mini App's table: the base by name (migration 0012).
        Index(
            "ix_clients_team_base_name",
            "team_id",
            "name",
            sqlite_where=text("erased_at IS NULL AND archived_at IS NULL"),
            postgresql_where=text("erased_at IS NULL AND archived_at IS NULL"),
        ),
        # The table filtered by temperature: the base's hot (warm, cold) clients (0014).
        Index(
            "ix_clients_team_base_temperature",
            "team_id",
            "temperature",
            sqlite_where=text("erased_at IS NULL AND archived_at IS NULL"),
            postgresql_where=text("erased_at IS NULL AND archived_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    name: Mapped[str] = mapped_column(String(_length("name")))
    contact_person: Mapped[str | None] = mapped_column(String(_length("contact_person")))
    position: Mapped[str | None] = mapped_column(String(_length("position")))
    email: Mapped[str | None] = mapped_column(String(_length("email")))
    website: Mapped[str | None] = mapped_column(String(_length("website")))
    city: Mapped[str | None] = mapped_column(String(_length("city")))
    address: Mapped[str | None] = mapped_column(String(_length("address")))
    birthday: Mapped[date | None] = mapped_column(Date())
    source: Mapped[str | None] = mapped_column(String(_length("source")))
    referrer: Mapped[str | None] = mapped_column(String(_length("referrer")))
    segment: Mapped[str | None] = mapped_column(String(_length("segment")))
    consent: Mapped[str] = mapped_column(String(_length("consent")), server_default="unknown")
    temperature: Mapped[str] = mapped_column(String(_length("temperature")))
    stage: Mapped[str] = mapped_column(String(_length("stage")))
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    potential: Mapped[Decimal | None] = mapped_column(Money())
    first_deal_on: Mapped[date | None] = mapped_column(Date())
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by /forget: personal fields are blanked, deal sums stay for the analytics.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Transliterated, case-folded names and phone digits: what fuzzy lookup compares against.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    phone_digits: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClientPhone(Base):
    __tablename__ = "client_phones"
    __table_args__ = (Index(None, "team_id", "digits"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    raw: Mapped[str] = mapped_column(String(_length("phone")))
    digits: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(64))


class ClientContact(Base):
    __tablename__ = "client_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # Every contact after the first: sized as the client's own contact person, phone, email.
    name: Mapped[str] = mapped_column(String(_length("contact_person")))
    position: Mapped[str | None] = mapped_column(String(_length("position")))
    phone: Mapped[str | None] = mapped_column(String(_length("phone")))
    email: Mapped[str | None] = mapped_column(String(_length("email")))
    birthday: Mapped[date | None] = mapped_column(Date())
    social: Mapped[str | None] = mapped_column(String(254))


class ClientTag(Base):
    __tablename__ = "client_tags"
    __table_args__ = (UniqueConstraint("client_id", "tag"), Index(None, "team_id", "tag"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(_length("tags")))


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        Index(None, "client_id", "occurred_at"),
        Index(None, "team_id", "occurred_at"),
        # A card's history: with (team_id, occurred_at) alone SQLite walks the team's by date.
        Index(None, "team_id", "client_id", "occurred_at"),
        Index(None, "author_id", "occurred_at"),
        # /portfolio regularity: counts per author and kind over a period, index-only.
        Index(None, "author_id", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        Index(None, "team_id", "closed_on"),
        Index(None, "manager_id", "closed_on"),
        Index(None, "client_id", "closed_on"),
        # /portfolio sums per client and manager over a period, read from the index alone.
        Index(
            "ix_deals_sales",
            "team_id",
            "closed_on",
            "currency",
            "client_id",
            "manager_id",
            "amount",
            "profit",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )
    amount: Mapped[Decimal] = mapped_column(Money())
    margin_percent: Mapped[Decimal | None] = mapped_column(Percent())
    profit: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    closed_on: Mapped[date] = mapped_column(Date())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Campaign(Base):
    """`/campaign VIP 07.03 "8 March offer"`: one follow-up per matching client, for its manager."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    selector: Mapped[str] = mapped_column(String(CAMPAIGN_SELECTOR_CHARS))
    due_on: Mapped[date] = mapped_column(Date())
    title: Mapped[str] = mapped_column(String(CAMPAIGN_TITLE_CHARS))
    clients_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Followup(Base):
    __tablename__ = "followups"
    __table_args__ = (
        # A manager's worklist: pending follow-ups by due time.
        Index(None, "team_id", "manager_id", "state", "due_at"),
        Index(None, "state", "due_at"),
        # A client's pending follow-ups, campaign ones included: what a contact closes.
        Index(None, "client_id", "state"),
        # At most one pending follow-up per client: "the next contact".
        Index(
            "uq_followups_client_pending",
            "client_id",
            unique=True,
            # Campaign follow-ups come on top of the client's own next contact.
            sqlite_where=text("state = 'pending' AND kind != 'campaign'"),
            postgresql_where=text("state = 'pending' AND kind != 'campaign'"),
        ),
        # A team's next contacts by date: the Mini App table's first page (migration 0012).
        Index(
            "ix_followups_team_next_due",
            "team_id",
            "due_at",
            sqlite_where=text("state = 'pending' AND kind != 'campaign'"),
            postgresql_where=text("state = 'pending' AND kind != 'campaign'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16), server_default="call")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_on: Mapped[date] = mapped_column(Date())
    date_only: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "team_id", "created_at"),
        Index(None, "actor_id", "created_at"),
        Index(None, "team_id", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    action: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditFoundClient(Base):
    """Which clients an audited lookup (a `/find`) found, recorded when it ran: `/forget` blanks
    the query of every search that found the person, however it was spelled."""

    __tablename__ = "audit_found_clients"

    audit_id: Mapped[int] = mapped_column(
        ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True
    )
    # Erasure looks the rows up by client.
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CalendarFeed(Base):
    """A member's private calendar feed (`/calendar`): one row per member, its token kept only
    as a SHA-256 hash. The token is 256 random bits, so the hash needs no salt and cannot be
    guessed back; a copy of the database (a backup, a read-only leak) yields no working feed
    URL. `revoked_at` set: the feed answers 404 until the member turns it on again."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("member_id"), UniqueConstraint("token_hash"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """A message the bot owes someone: written first, sent by the sweep, marked when delivered.

    `dedup_key` makes planning idempotent across restarts and instances
    (`followup:<id>:<due epoch>`); the lease lets several running copies share the work without
    sending a row twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "followup_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(200))
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # What a digest or notice needs beyond ids (the local date of a digest, a nudge's step).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    late: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SentMessage(Base):
    """A bot message about clients, by its Telegram (chat, message id): a reply to it logs for
    that client. Recorded when a push, a digest or a card is sent; ids only, never text.

    The outbox keeps one message id per row (a long digest goes out in parts) and none for a
    card, which is an update's reply; Telegram's reply_markup in `reply_to_message` is gone once
    a push's buttons are used, and a client may leave it out. So the link is kept here, for
    SENT_MESSAGES_KEEP days (bot/runtime/instances.py prunes it)."""

    __tablename__ = "sent_messages"
    __table_args__ = (Index(None, "sent_at"),)

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # push, nudge, card, digest
    # The clients it is about, in the order shown: one, or a digest's list.
    client_ids: Mapped[list[int]] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FsmRecord(Base):
    """Conversation state of the step-by-step commands, so it survives a restart."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessedUpdate(Base):
    """Telegram update ids already taken by some instance: a redelivered update is handled once."""

    __tablename__ = "processed_updates"
    __table_args__ = (Index(None, "received_at"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


def text_limit(model: type[Base], field: str) -> int | None:
    """The column's declared length: the one place input limits for text fields come from."""
    length = getattr(model.__table__.c[field].type, "length", None)
    return int(length) if length else None


class SalesMonth(Base):
    """Roll-up of `deals`: one row per client, closing manager, currency and calendar month of
    `closed_on` (a local date already, so no time zone enters), kept in the transaction of every
    deal write (storage/repositories/rollups.py). `/portfolio` reads whole months here and only
    the days of a month a period cuts from `deals`. Money in minor units, like `deals`."""

    __tablename__ = "sales_months"
    __table_args__ = (
        # A period of the team: months in a range, read from the index alone.
        Index(
            "ix_sales_months_period",
            "team_id",
            "currency",
            "month",
            "client_id",
            "manager_id",
            "revenue",
            "profit",
            "profit_base",
            "deals",
            "last_on",
        ),
    )

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    manager_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # year × 12 + month − 1
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    revenue: Mapped[Decimal] = mapped_column(Money())
    profit: Mapped[Decimal] = mapped_column(Money())  # over the deals whose profit is known
    profit_base: Mapped[Decimal] = mapped_column(Money())  # revenue of those deals
    deals: Mapped[int] = mapped_column(Integer)
    first_on: Mapped[date] = mapped_column(Date())
    last_on: Mapped[date] = mapped_column(Date())


class ActivityDay(Base):
    """Roll-up of `activities` the reports count (calls, meetings, proposals): one row per author,
    kind and UTC day. Keyed by the UTC day, not the team's: a team moving to another zone keeps
    it right, and a period's edges (its first and last local day, cut by the zone offset) come
    from `activities`."""

    __tablename__ = "activity_days"
    __table_args__ = (Index(None, "team_id", "day"),)

    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(Integer)
