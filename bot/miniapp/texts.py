"""Every word of the Mini App's page, as gettext msgids: `GET /app/api/texts` sends them translated
into the member's language, so the page hard-codes none.

Keys are stable (the page looks words up by them); values are msgids in the catalogues. Texts
with placeholders use Python's `{name}` format, which the page fills in. Counted texts are
`Nn_` pairs: the API sends each plural form of the member's language, which the page picks with
`Intl.PluralRules`. Labels of values (temperatures, stages, fields, sections) are the chat's own
words, taken from its views.
"""

from __future__ import annotations

from typing import Any

from bot.fields import CLIENT_FIELDS
from bot.i18n import N_, Nn_, Plural, _, current_locale, ngettext
from bot.services.portfolio.service import HEALTH_BUCKETS
from bot.telegram.views.common import (
    consent_label,
    outcome_label,
    role_label,
    stage_label,
    temperature_label,
)
from bot.telegram.views.portfolio import SECTIONS, health_label, kind_label, section_title
from storage.enums import ActivityKind, ActivityOutcome, Consent, Role, Stage, Temperature

TEXTS: dict[str, str] = {
    # The frame: tabs, loading, errors
    "app.title": N_("Sales base"),
    "tab.base": N_("Base"),
    "tab.portfolio": N_("Portfolio"),
    "app.loading": N_("Loading…"),
    "app.retry": N_("Try again"),
    "app.offline": N_("No connection to the bot. Check the network and try again."),
    "app.back": N_("Back"),
    "app.close": N_("Close"),
    "app.more": N_("Show more"),
    # Shown where a value is missing.
    "app.none": N_("—"),
    # The base table
    "base.search": N_("Name, contact or phone"),
    "base.filters": N_("Filters"),
    "base.filters.reset": N_("Reset filters"),
    "base.filter.manager": N_("Manager"),
    "base.filter.manager.all": N_("All managers"),
    "base.filter.temperature": N_("Temperature"),
    "base.filter.stage": N_("Stage"),
    "base.filter.tag": N_("Tag"),
    "base.filter.segment": N_("Segment"),
    "base.filter.overdue": N_("Overdue"),
    "base.filter.no_next": N_("No next contact"),
    "base.filter.abc": N_("ABC class"),
    "base.filter.xyz": N_("XYZ class"),
    "base.filter.archived": N_("Show lost leads"),
    "base.filter.any": N_("Any"),
    "base.sort": N_("Sort by"),
    "base.sort.next": N_("Next contact, soonest first"),
    "base.sort.-next": N_("Next contact, latest first"),
    "base.sort.last": N_("Last contact, longest ago first"),
    "base.sort.-last": N_("Last contact, most recent first"),
    "base.sort.revenue": N_("Revenue, smallest first"),
    "base.sort.-revenue": N_("Revenue, largest first"),
    "base.sort.name": N_("Name"),
    "base.col.name": N_("Client"),
    "base.col.manager": N_("Manager"),
    "base.col.next": N_("Next contact"),
    "base.col.last": N_("Last contact"),
    "base.col.revenue": N_("Revenue last month"),
    "base.col.class": N_("Class"),
    "base.classes_computing": N_("classes are being computed"),
    "base.empty": N_("No clients match."),
    "base.no_next": N_("not planned"),
    "base.overdue": N_("overdue"),
    "base.never": N_("never"),
    "base.page": N_("{first}–{last} of {total}"),
    "base.prev": N_("Previous"),
    "base.next": N_("Next"),
    # The card
    "card.title": N_("Client card"),
    "card.edit": N_("Edit"),
    "card.save": N_("Save"),
    "card.cancel": N_("Cancel"),
    "card.saved": N_("Saved."),
    "card.unsaved": N_("You have unsaved changes. Leave without saving?"),
    "card.add_phone": N_("Add a phone"),
    "card.add_tag": N_("Add a tag"),
    "card.remove": N_("Remove"),
    "card.clear": N_("Clear"),
    "card.history": N_("History"),
    "card.history.empty": N_("Nothing logged yet."),
    "card.deals": N_("Deals"),
    "card.next": N_("Next contact"),
    "card.next.none": N_("No next contact is planned."),
    "card.next.set": N_("Set the next contact"),
    "card.next.date": N_("Date"),
    "card.next.time": N_("Time (optional)"),
    "card.next.reason": N_("What for (optional)"),
    "card.next.saved": N_("The next contact is planned."),
    "card.note.add": N_("Add a note"),
    "card.note.placeholder": N_("What happened, what was agreed"),
    "card.note.saved": N_("The note is saved."),
    "card.amount": N_("Amount"),
    "card.margin": N_("Margin"),
    "card.by": N_("by {name}"),
    "card.exports_in_chat": N_("Exports are made in the chat: /export."),
    # The portfolio
    "portfolio.period": N_("Period"),
    "portfolio.period.month": N_("Month"),
    "portfolio.period.quarter": N_("Quarter"),
    "portfolio.period.year": N_("Year"),
    "portfolio.member": N_("Whose numbers"),
    "portfolio.team": N_("Whole team"),
    "portfolio.revenue": N_("Revenue"),
    "portfolio.profit": N_("Profit"),
    "portfolio.deals": N_("Deals"),
    "portfolio.clients": N_("Clients"),
    "portfolio.ros": N_("ROS"),
    "portfolio.dynamics": N_("Change against the previous period"),
    "portfolio.previous": N_("Previous period"),
    "portfolio.penetration": N_("Penetration"),
    "portfolio.potential": N_("Potential"),
    "portfolio.matrix.tap": N_("Tap a cell to see its clients."),
    "portfolio.matrix.empty": N_("No clients in this cell."),
    "portfolio.quality.trend": N_("Share of A clients by period"),
    "portfolio.activity.weeks": N_("Activity per week"),
    "portfolio.angels": N_("Growing clients"),
    "portfolio.demons": N_("Falling clients"),
    "portfolio.gained": N_("Clients gained"),
    "portfolio.lost": N_("Clients lost"),
    "portfolio.moves": N_("Moved to another cell"),
    "portfolio.ltv": N_("LTV"),
    "portfolio.no_data": N_("No sales in this period yet."),
    "portfolio.same_as_chat": N_("The same numbers as /portfolio in the chat."),
}

PLURALS: dict[str, Plural] = {
    "base.total": Nn_("{count} client", "{count} clients"),
    "portfolio.clients_count": Nn_("{count} client", "{count} clients"),
    "card.deals_count": Nn_("{count} deal", "{count} deals"),
}

# A number of each CLDR category of the language: its ngettext answer is that category's form.
_SAMPLES: dict[str, dict[str, int]] = {
    "ru": {"one": 1, "few": 2, "many": 5, "other": 5},
    "en": {"one": 1, "other": 2},
}


def language() -> str:
    return current_locale()


def plural_forms(plural: Plural) -> dict[str, str]:
    samples = _SAMPLES.get(current_locale(), _SAMPLES["en"])
    return {
        category: ngettext(plural.singular, plural.plural, n) for category, n in samples.items()
    }


def translated() -> dict[str, Any]:
    return {
        "language": current_locale(),
        "texts": {key: _(msgid) for key, msgid in TEXTS.items()},
        "plurals": {key: plural_forms(plural) for key, plural in PLURALS.items()},
        "labels": labels(),
    }


def labels() -> dict[str, dict[str, str]]:
    return {
        "role": {role.value: role_label(role) for role in Role},
        "temperature": {t.value: temperature_label(t) for t in Temperature},
        "stage": {s.value: stage_label(s) for s in Stage},
        "consent": {c.value: consent_label(c) for c in Consent},
        "activity": {k.value: outcome_label(k, None) for k in ActivityKind},
        "outcome": {o.value: outcome_label(ActivityKind.CALL, o) for o in ActivityOutcome},
        "kind": {k: kind_label(k) for k in ("call", "meeting", "proposal", "deal")},
        "field": {f.name: _(f.card_title) for f in CLIENT_FIELDS},
        "section": {s: section_title(s) for s in SECTIONS},
        "health": {b: health_label(b) for b in HEALTH_BUCKETS},
    }
