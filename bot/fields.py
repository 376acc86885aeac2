"""Every field of a client, described once: what it is called, how long it may be, how a table's
header names it, how the export writes it, whether the card shows it and whether `/forget` erases
it.

Import (`bot.services.importing`), export (`bot.services.export`, `storage.repositories.export`),
the card (`bot.telegram.views.common`), `/add` (`bot.parsing.new_client`), erasure
(`storage.repositories.privacy`) and the column lengths of `storage.models` all read this table.
Adding a field is one entry here plus an Alembic migration for its column.

Labels are `N_()` markers, translated with `_()` where they are shown; nothing here imports
aiogram or the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_


class Kind(StrEnum):
    """What a value is, which decides how it is read from a cell and shown."""

    ID = "id"
    NAME = "name"  # the client's name: cleaned, the card's title
    PERSON = "person"  # a person's name: cleaned as the client's name is
    TEXT = "text"
    EMAIL = "email"
    URL = "url"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"
    CONSENT = "consent"
    TEMPERATURE = "temperature"
    STAGE = "stage"
    PHONES = "phones"  # rows of client_phones, several per client
    TAGS = "tags"  # rows of client_tags
    MANAGER = "manager"  # the member in charge (manager_id)
    FOLLOWUP = "followup"  # the pending follow-up: the next contact
    NOTE = "note"  # an activity of kind note


# Kinds stored in a column of `clients` under the field's own name.
COLUMN_KINDS = frozenset(
    {
        Kind.ID,
        Kind.NAME,
        Kind.PERSON,
        Kind.TEXT,
        Kind.EMAIL,
        Kind.URL,
        Kind.DATE,
        Kind.DATETIME,
        Kind.MONEY,
        Kind.CONSENT,
        Kind.TEMPERATURE,
        Kind.STAGE,
    }
)


@dataclass(frozen=True, slots=True)
class ClientField:
    name: str  # the column of `clients` (for column kinds), the import target, the error param
    kind: Kind
    label: str  # N_(): import buttons, "too long" refusals, card lines, export titles
    # Characters: the column's declared length (storage.models reads it here) and the longest
    # value `/add` and `/import` accept.
    max_length: int | None = None
    # Table headers that name the field, Russian and English, written as
    # bot.services.importing.mapping.normalize_header leaves them. None: never imported.
    headers: tuple[str, ...] | None = None
    # `/add … key: value` keys, case-folded. Empty: `/add` takes it otherwise or not at all.
    add_keys: tuple[str, ...] = ()
    exported: bool = True
    export_title: str | None = None  # N_(); the column title when it is not the label
    on_card: bool = True
    card_label: str | None = None  # N_(); the card's wording when it is not the label
    # Personal data: blanked (a column) or deleted (phones, tags, notes) by `/forget`.
    personal: bool = False
    # Text that names the person: searched for in free text (the audit log, outbox, half-typed
    # commands) and cut out of it by `/forget`.
    identifying: bool = False

    @property
    def is_column(self) -> bool:
        return self.kind in COLUMN_KINDS

    @property
    def imported(self) -> bool:
        return self.headers is not None

    @property
    def merged(self) -> bool:
        """An import completes an existing card's empty column with it. Not the temperature
        (the manager's judgement of the client) and not consent (its own rule: only over
        "unknown")."""
        return (
            self.is_column
            and self.imported
            and self.kind not in (Kind.NAME, Kind.TEMPERATURE, Kind.CONSENT)
        )

    @property
    def title(self) -> str:
        """The export column's title (an N_ marker)."""
        return self.export_title or self.label

    @property
    def card_title(self) -> str:
        return self.card_label or self.label


# In the order of the export's columns, of the card's lines and of the import's buttons.
CLIENT_FIELDS: tuple[ClientField, ...] = (
    ClientField("id", Kind.ID, N_("ID"), on_card=False),
    ClientField(
        "name",
        Kind.NAME,
        N_("Name"),
        max_length=200,
        headers=(
            "название",
            "наименование",
            "компания",
            "клиент",
            "организация",
            "контрагент",
            "фио",
            "фио клиента",
            "имя",
            "name",
            "company",
            "client",
            "customer",
            "organization",
            "organisation",
            "full name",
        ),
        # The card's title; /forget replaces it with a neutral name rather than blanking it.
        on_card=False,
        identifying=True,
    ),
    ClientField(
        "contact_person",
        Kind.PERSON,
        N_("Contact"),
        max_length=200,
        headers=(
            "контакт",
            "контактное лицо",
            "контактное лицо фио",
            "лпр",
            "contact",
            "contact person",
            "contact name",
        ),
        add_keys=("contact", "контакт", "лпр"),
        personal=True,
        identifying=True,
    ),
    ClientField(
        "position",
        Kind.TEXT,
        N_("Position"),
        max_length=200,
        headers=("должность", "позиция", "position", "job title", "title", "role"),
        add_keys=("position", "должность"),
        # On the card beside the contact it belongs to ("Anna, director").
        on_card=False,
        personal=True,
    ),
    ClientField(
        "phone",
        Kind.PHONES,
        N_("Phone"),
        max_length=64,
        headers=(
            "телефон",
            "тел",
            "моб",
            "мобильный",
            "мобильный телефон",
            "рабочий телефон",
            "номер телефона",
            "phone",
            "tel",
            "telephone",
            "mobile",
            "phone number",
            "cell",
        ),
        add_keys=("phone", "телефон", "тел"),
        export_title=N_("Phones"),
        personal=True,
        identifying=True,
    ),
    ClientField(
        "email",
        Kind.EMAIL,
        N_("Email"),
        max_length=254,
        headers=("email", "e mail", "почта", "электронная почта", "эл почта", "mail"),
        add_keys=("email", "почта"),
        personal=True,
        identifying=True,
    ),
    ClientField(
        "website",
        Kind.URL,
        N_("Website"),
        max_length=254,
        headers=("сайт", "веб сайт", "website", "web site", "site", "url", "web"),
        add_keys=("site", "сайт"),
        personal=True,
        identifying=True,
    ),
    ClientField(
        "city",
        Kind.TEXT,
        N_("City"),
        max_length=120,
        headers=("город", "населенный пункт", "city", "town"),
        add_keys=("city", "город"),
        personal=True,
    ),
    ClientField(
        "address",
        Kind.TEXT,
        N_("Address"),
        max_length=400,
        headers=("адрес", "address", "юридический адрес", "фактический адрес"),
        add_keys=("address", "адрес"),
        personal=True,
        identifying=True,
    ),
    ClientField(
        "birthday",
        Kind.DATE,
        N_("Birthday"),
        headers=("день рождения", "др", "дата рождения", "birthday", "date of birth", "dob"),
        add_keys=("birthday", "др", "день рождения"),
        personal=True,
    ),
    ClientField(
        "source",
        Kind.TEXT,
        N_("Source"),
        max_length=200,
        headers=("источник", "откуда", "канал", "source", "lead source", "channel"),
        add_keys=("source", "источник"),
        personal=True,
    ),
    ClientField(
        "referrer",
        Kind.PERSON,
        N_("Referred by"),
        max_length=200,
        headers=("рекомендатель", "кто рекомендовал", "по рекомендации", "referrer", "referred by"),
        add_keys=("referrer", "рекомендатель", "от"),
        personal=True,
    ),
    ClientField(
        "segment",
        Kind.TEXT,
        N_("Segment"),
        max_length=100,
        headers=("сегмент", "тип", "тип клиента", "категория", "segment", "type", "category"),
        add_keys=("segment", "сегмент"),
    ),
    ClientField(
        "tags",
        Kind.TAGS,
        N_("Tags"),
        max_length=32,
        headers=("теги", "тег", "метки", "tags", "tag", "labels"),
        personal=True,
    ),
    ClientField(
        "consent",
        Kind.CONSENT,
        N_("Consent"),
        max_length=8,
        headers=("согласие", "согласие на обработку", "согласие пд", "consent", "gdpr consent"),
        add_keys=("consent", "согласие"),
        card_label=N_("Consent to data processing"),
    ),
    ClientField(
        "temperature",
        Kind.TEMPERATURE,
        N_("Temperature"),
        max_length=8,
        # Not "статус": in most tables that is the pipeline stage, not the temperature.
        headers=("температура", "temperature", "warmth"),
        # The card's first line shows it with the stage.
        on_card=False,
    ),
    ClientField("stage", Kind.STAGE, N_("Stage"), max_length=16, on_card=False),
    ClientField(
        "potential",
        Kind.MONEY,
        N_("Potential"),
        headers=("потенциал", "potential", "потенциал закупок", "budget", "бюджет"),
        add_keys=("potential", "потенциал"),
    ),
    ClientField("first_deal_on", Kind.DATE, N_("First deal"), on_card=False),
    ClientField(
        "manager",
        Kind.MANAGER,
        N_("Manager"),
        headers=(
            "менеджер",
            "ответственный",
            "ответственный менеджер",
            "manager",
            "responsible",
            "owner",
            "sales rep",
            "account manager",
        ),
    ),
    ClientField(
        "next_call",
        Kind.FOLLOWUP,
        N_("Next call"),
        headers=(
            "следующий звонок",
            "следующий контакт",
            "дата следующего контакта",
            "дата звонка",
            "перезвонить",
            "next call",
            "next contact",
            "follow up",
            "next follow up",
        ),
        export_title=N_("Next contact"),
        # Its own line closes the card's fields, with a warning when none is planned.
        on_card=False,
    ),
    ClientField("last_contact_at", Kind.DATETIME, N_("Last contact"), on_card=False),
    ClientField("created_at", Kind.DATETIME, N_("Created"), on_card=False),
    ClientField(
        "note",
        Kind.NOTE,
        N_("Note"),
        headers=(
            "комментарий",
            "примечание",
            "заметка",
            "заметки",
            "описание",
            "comment",
            "note",
            "notes",
            "remarks",
            "description",
        ),
        add_keys=("note", "заметка", "комментарий"),
        # Notes are the card's and the export's activities, not a field of their own.
        exported=False,
        on_card=False,
        personal=True,
    ),
)

FIELDS_BY_NAME: dict[str, ClientField] = {field.name: field for field in CLIENT_FIELDS}
IMPORTED: tuple[ClientField, ...] = tuple(f for f in CLIENT_FIELDS if f.imported)
EXPORTED: tuple[ClientField, ...] = tuple(f for f in CLIENT_FIELDS if f.exported)
ON_CARD: tuple[ClientField, ...] = tuple(f for f in CLIENT_FIELDS if f.on_card)
# Columns `/forget` blanks (the name it replaces instead), and those whose text it hunts.
ERASED_COLUMNS: tuple[str, ...] = tuple(f.name for f in CLIENT_FIELDS if f.personal and f.is_column)
IDENTIFYING_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in CLIENT_FIELDS if f.identifying and f.is_column
)
# `/add key: value` key -> field name.
ADD_KEYS: dict[str, str] = {key: f.name for f in CLIENT_FIELDS for key in f.add_keys}


def client_field(name: str) -> ClientField:
    return FIELDS_BY_NAME[name]


def max_length(name: str) -> int | None:
    return FIELDS_BY_NAME[name].max_length
