"""A member's follow-ups as an iCalendar (RFC 5545) feed, built with `icalendar`.

Times carry the member's time zone (DTSTART;TZID=Europe/Moscow with its VTIMEZONE) rather than
UTC: a follow-up is a wall-clock time the member typed ("15.12 10:00"), the event shows in the
zone it was planned in (a phone abroad says "10:00 Moscow time"), and the VTIMEZONE makes the
file self-contained for clients that do not know the zone's rules (tests read it with only
those rules). Date-only follow-ups are all-day events. The body depends only on the rows and
the member's language and zone (never on "now"), so an unchanged calendar gives the same bytes
and the same ETag (bot/runtime/calendar.py).

UIDs are stable: a client's next contact (one per client at a time) is `next-<client id>@host`
whatever its date, so a moved or replaced next contact replaces the event instead of adding a
second one. SEQUENCE is the id of the follow-up row behind it, which grows with every move;
DTSTAMP and LAST-MODIFIED are when that row was planned. A campaign follow-up has its own UID.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vDuration

from bot.i18n import _, use_locale
from bot.parsing.dates import EARLIEST_DAY, LATEST_DAY
from bot.services.calendar import Feed
from storage.enums import FollowupKind
from storage.repositories.calendar import FeedEvent

PRODID = "-//salesbot//calendar feed//EN"
# Phone calendars may refresh a subscription this often (Apple and Outlook read the hint;
# Google keeps its own pace).
REFRESH = timedelta(hours=1)
DURATIONS = {FollowupKind.MEETING: timedelta(hours=1)}
CALL_DURATION = timedelta(minutes=15)
# The VTIMEZONE covers the zone's changes this long before and after the events.
ZONE_MARGIN = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class FeedLinks:
    """Where events point: the bot's username for t.me deep links (None: no links), and the
    host that makes UIDs globally unique."""

    bot_username: str | None
    uid_host: str

    def card(self, client_id: int) -> str | None:
        if not self.bot_username:
            return None
        return f"https://t.me/{self.bot_username}?start=card_{client_id}"


def render_feed(feed: Feed, language: str, links: FeedLinks) -> bytes:
    """The whole calendar. Pure CPU (0.3 ms an event and more): the caller runs it in a thread."""
    zone = ZoneInfo(feed.member.timezone)
    with use_locale(language):
        name = _("Salesbot: my follow-ups")
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", feed.member.timezone)
        calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(REFRESH))
        for event in feed.events:
            calendar.add_component(_event(event, zone, links))
    timed = [event.due_on for event in feed.events if not event.date_only]
    if timed:
        # VTIMEZONE components come first, as clients that read the file in one pass expect.
        calendar.subcomponents.insert(
            0,
            _zone(feed.member.timezone, *_zone_span(min(timed), max(timed))),
        )
    return bytes(calendar.to_ical())


def _zone_span(first: date, last: date) -> tuple[date, date]:
    """The events' days and a margin around them, held within the days the bot works with: a
    follow-up stored before dates were capped may sit at the calendar's end, where icalendar's
    search for the zone's changes overflows (and 8,000 years of them would be a huge feed)."""
    start = max(_moved(first, -ZONE_MARGIN), EARLIEST_DAY)
    end = min(_moved(last, ZONE_MARGIN), LATEST_DAY)
    # Never empty: a zone with no observance is no valid VTIMEZONE.
    return min(start, LATEST_DAY - 2 * ZONE_MARGIN), max(end, EARLIEST_DAY + 2 * ZONE_MARGIN)


def _moved(day: date, by: timedelta) -> date:
    try:
        return day + by
    except OverflowError:
        return date.max if by > timedelta(0) else date.min


def _zone(tzid: str, first: date, last: date) -> Timezone:
    """The zone's rules over the events' dates (and a year around them), one RDATE value per
    line: icalendar writes each rule's dates as one list, which RFC 5545 allows but ical.js
    (Thunderbird's and many web calendars' parser) reads only the first value of, putting every
    later summer time at winter offset."""
    zone = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    for rule in zone.subcomponents:
        found = rule.get("RDATE")
        if found is None:
            continue
        dates = [moment.dt for group in _as_list(found) for moment in group.dts]
        del rule["RDATE"]
        for moment in dates:
            rule.add("RDATE", moment)
    return zone


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _event(item: FeedEvent, zone: ZoneInfo, links: FeedLinks) -> Event:
    event = Event()
    if item.kind == FollowupKind.CAMPAIGN:
        event.add("uid", f"followup-{item.followup_id}@{links.uid_host}")
        event.add("sequence", 0)
    else:
        event.add("uid", f"next-{item.client_id}@{links.uid_host}")
        event.add("sequence", item.followup_id)
    planned = item.created_at.astimezone(UTC)
    event.add("dtstamp", planned)
    event.add("last-modified", planned)
    client = _plain(item.client_name)
    if item.kind == FollowupKind.MEETING:
        event.add("summary", _("Meeting: {name}").format(name=client))
    else:
        event.add("summary", _("Call: {name}").format(name=client))
    if item.date_only:
        event.add("dtstart", item.due_on)
        # DTEND is exclusive; on the calendar's last day a duration says the same.
        if item.due_on < date.max:
            event.add("dtend", item.due_on + timedelta(days=1))
        else:
            event.add("duration", timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    else:
        event.add("dtstart", item.due_at.astimezone(zone))
        event.add("duration", DURATIONS.get(FollowupKind(item.kind), CALL_DURATION))
        event.add("transp", "OPAQUE" if item.kind == FollowupKind.MEETING else "TRANSPARENT")
    lines = []
    if item.reason:
        lines.append(_("What for: {reason}").format(reason=_plain(item.reason)))
    link = links.card(item.client_id)
    if link is not None:
        lines.append(_("Open the card in Telegram: {link}").format(link=link))
        event.add("url", link)
    if lines:
        event.add("description", "\n".join(lines))
    return event


def _plain(text: str) -> str:
    """Text as RFC 5545 allows it: control characters (which TEXT may not hold) become spaces;
    icalendar escapes commas, semicolons, backslashes and line breaks itself."""
    return "".join(
        " " if unicodedata.category(ch) == "Cc" and ch != "\n" else ch for ch in text
    ).strip()
