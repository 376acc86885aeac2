"""Phone-first capture: a contact shared from the address book offers a new client (or opens the
one with that phone), a forwarded message becomes a note about the client the member picks.

One batch, one answer
---------------------
Telegram sends each shared contact, and each forwarded message, as a message of its own, all at
once. The first starts a batch in the conversation state and is answered like any reply, after
the commit; whatever arrives within `BATCH_WINDOW` joins the batch and edits that answer. The
edit needs the answer's real id, which only Telegram knows once it has sent it: the answer is
written with a step (`then=`, bot/telegram/replies.py) that the middleware runs after sending it,
in a short unit of work of its own, and that records the id in the batch (`mid`). Nothing is sent
inside the transaction: a rolled-back or retried update sends nothing of its own, and no other
member's write waits on Telegram (SQLite's write gate).

The updates of one batch run one after another: the service holds the member (an advisory lock
on PostgreSQL, SQLite's write gate) and reads the state afresh, so each sees what the previous
one committed. One arriving while the answer is on its way (no `mid` yet) joins the batch
silently; the step that records the id then edits the answer to show the whole batch. If
Telegram did not take the answer, that step sends the whole batch again as a new answer when
anything joined it meanwhile (once; a lone item, or a second refusal, drops the batch and the
next arrival starts anew). A batch whose id was never recorded (the process stopped in between,
the step failed, the update was retried) is left after `ANSWER_WAIT`: the next arrival starts a
new answer that also shows what joined the old one silently (`shown` counts what its answer
showed), so nothing that arrived goes without a word. With the conversation state in Redis it
is written just after the commit, after the advisory lock has ended: the member is then also
held by a Redis lock until that write is done (bot/telegram/fsm_storage.py `_MemberGuard`).

Another open question (a bare `/call` asking which client) stays open, as when a command is
sent in the middle of it; the batch lives beside it in the step data. `/cancel` drops both.
A forwarded text while `/note` asks for the note's text is that note.
"""

from __future__ import annotations

import copy
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import EditMessageReplyMarkup, EditMessageText
from aiogram.types import (
    CallbackQuery,
    Contact,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
)

from bot.errors import ErrorCode
from bot.i18n import _
from bot.parsing.new_client import is_email, is_phone
from bot.services import matching
from bot.services.capture import ContactStatus, ForwardedText, SharedContact
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.matching import MatchKind
from bot.telegram.callbacks import (
    CAPTURE_BATCH_MAX,
    ContactAct,
    ForwardedNote,
    NoteAct,
    SharedContacts,
)
from bot.telegram.filters import answer_text, refuses_by_event
from bot.telegram.replies import AfterSent, Replies, Then
from bot.telegram.views import capture as view
from bot.telegram.views.clients import added_text
from bot.telegram.views.common import Viewer, card_keyboard, card_text
from bot.telegram.views.flow import which_client
from handlers.flow import Steps
from storage.enums import Role

# Contacts or forwards this close to the previous one join its answer; later ones start anew
# (an edit far up the chat would go unseen).
BATCH_WINDOW = timedelta(seconds=60)
# A batch whose answer has no recorded id this long after it began: the step recording it never
# ran (a stop between sending and recording); arrivals start a new answer rather than join one
# nobody will edit.
ANSWER_WAIT = timedelta(seconds=20)
CONTACTS = "capture_contacts"
FORWARDS = "capture_forwards"
# More phones from a shared card's vCard than any real person has are not phones to keep.
_MAX_PHONES = 5


class CaptureSteps(StatesGroup):
    note_client = State()  # «Another client»: the name is typed next


# -- filters (coroutines: see bot/telegram/filters.py) --------------------------------------


@refuses_by_event
async def has_contact(message: Message) -> bool:
    return message.contact is not None


@refuses_by_event
async def is_forward(message: Message, actor: Actor | None = None) -> bool:
    # Without the actor it answers True for any forward: a False from the message alone (not a
    # forward) is final, as refuses_by_event requires.
    # A forwarded file without a caption may be the owner's table for /import: that router's.
    if message.forward_origin is None:
        return False
    importer = actor is not None and actor.member.role == Role.OWNER
    return message.document is None or bool(message.caption) or not importer


# -- the batch in the step data -------------------------------------------------------------


async def _data(state: FSMContext) -> dict[str, Any]:
    """The step data as a copy of its own: the storage compares what is written with what it
    holds, and a batch changed in place would look unchanged."""
    return copy.deepcopy(await state.get_data())


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _open_batch(data: dict[str, Any], key: str, now: datetime) -> dict[str, Any] | None:
    """The batch a new arrival joins: unanswered and recent."""
    batch = data.get(key)
    if not isinstance(batch, dict) or batch.get("done"):
        return None
    if now - _moment(batch.get("at", 0)) > BATCH_WINDOW:
        return None
    if not batch.get("mid") and now - _moment(batch.get("since", 0)) > ANSWER_WAIT:
        return None
    return batch


def _new_batch(item: dict[str, Any], now: datetime, earlier: Any = None) -> dict[str, Any]:
    """A batch starting with what an earlier batch never showed, then `item`. No "mid" yet: the
    answer's id is recorded once Telegram has created it (_answered); "shown": how many of the
    items the answer on its way shows (those after joined while it was)."""
    # A contact shared again is shown once, as the newest.
    phones = {matching.phone_digits(p) for p in item.get("p") or ()}
    carried = [
        old
        for old in _unshown(earlier)
        if not phones.intersection(matching.phone_digits(p) for p in old.get("p") or ())
    ]
    items = [*carried, item]
    return {
        "tok": secrets.token_hex(4),
        "at": _epoch(now),
        "since": _epoch(now),
        "items": items,
        "shown": len(items),
    }


def _unshown(batch: Any) -> list[dict[str, Any]]:
    """What joined a batch silently, while its answer was on its way, and was never shown: the
    step that would have shown it did not run (the process stopped, the step failed, the
    update's commit was retried) or Telegram refused the answer again. It goes into the next
    batch instead of being dropped without a word."""
    if not isinstance(batch, dict) or batch.get("mid") or batch.get("done"):
        return []
    items = batch.get("items")
    if not isinstance(items, list):
        return []
    return items[int(batch.get("shown", 1)) :][: CAPTURE_BATCH_MAX - 1]


async def _batch_view(
    key: str, actor: Actor, services: Services, batch: dict[str, Any]
) -> tuple[str, Any]:
    if key == CONTACTS:
        return view.contacts_view(_lines(batch), batch["tok"])
    return await _question(actor, services, batch)


def _answered(key: str, token: str) -> Then:
    """The step after a batch's answer is sent: its id goes into the batch, and whatever joined
    the batch meanwhile is shown by editing it. If Telegram did not take the answer and others
    joined meanwhile, the whole batch is sent again as a new answer, once."""

    async def record(after: AfterSent) -> None:
        await after.services.capture.hold(after.actor)
        data = await _data(after.state)
        batch = data.get(key)
        if not isinstance(batch, dict) or batch.get("tok") != token or batch.get("mid"):
            return  # cancelled, or replaced by a new batch, meanwhile
        if after.message is None:
            if len(batch["items"]) > int(batch.get("shown", 1)) and not batch.get("resent"):
                # Joined while the refused answer was on its way: each got no answer of its
                # own, so the batch is shown whole, as a new answer.
                batch.update(resent=True, shown=len(batch["items"]))
                batch["since"] = _epoch(after.services.clock.now())
                shown = await _batch_view(key, after.actor, after.services, batch)
                after.replies.answer(*shown, then=record)
                data[key] = batch
            else:
                # Never shown: the next arrival starts a new answer instead of joining this one.
                del data[key]
            await after.state.set_data(data)
            return
        batch["mid"] = after.message.message_id
        if len(batch["items"]) > int(batch.get("shown", 1)) and not batch.get("done"):
            shown = await _batch_view(key, after.actor, after.services, batch)
            _edit(after.replies, after.message.chat.id, batch, *shown)
        batch["shown"] = len(batch["items"])
        data[key] = batch
        await after.state.set_data(data)

    return record


def _batch_of(data: dict[str, Any], key: str, token: str) -> dict[str, Any] | None:
    """The batch a button was made for, if it is still the one kept."""
    batch = data.get(key)
    if isinstance(batch, dict) and batch.get("tok") == token and not batch.get("done"):
        return batch
    return None


def _viewer(actor: Actor, services: Services) -> Viewer:
    return Viewer(actor.zone, services.today(actor))


async def _pressed(
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
    key: str,
    token: str,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The step data and the batch a button was made for, with the member held first; None,
    the press answered, when the batch is gone."""
    await services.capture.hold(actor)
    data = await _data(state)
    batch = _batch_of(data, key, token)
    if batch is None:
        replies.answer_callback(_("This button is no longer active."))
        return None
    return data, batch


# -- shared contacts ------------------------------------------------------------------------


_VCARD_FOLD = re.compile(r"\r?\n[ \t]")


def _vcard_values(vcard: str | None, field: str) -> list[str]:
    """The values of `TEL` or `EMAIL` lines of a vCard (folded lines joined, `item1.` groups
    and parameters ignored)."""
    if not vcard:
        return []
    values = []
    for line in _VCARD_FOLD.sub("", vcard).splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        name = key.split(";", 1)[0].rsplit(".", 1)[-1].strip().upper()
        if name == field and value.strip():
            values.append(value.strip())
    return values


def shared_contact(contact: Contact) -> SharedContact:
    """What is reliable in a shared contact: the phone Telegram sends (and the card's other
    phones that look like phones); an email only when the card has exactly one."""
    phones: list[str] = []
    digits: set[str] = set()
    for raw in [contact.phone_number or "", *_vcard_values(contact.vcard, "TEL")]:
        raw = raw.strip()
        if raw.startswith("tel:"):
            raw = raw[4:]
        if not is_phone(raw) or len(phones) >= _MAX_PHONES:
            continue
        key = matching.phone_digits(raw)
        if key not in digits:
            digits.add(key)
            phones.append(raw)
    emails = {e.casefold() for e in _vcard_values(contact.vcard, "EMAIL") if is_email(e)}
    name = " ".join(
        " ".join(part.split()) for part in (contact.first_name, contact.last_name or "") if part
    ).strip()
    return SharedContact(
        name=name or (phones[0] if phones else "?"),
        phones=tuple(phones),
        email=emails.pop() if len(emails) == 1 else None,
    )


def _item(
    contact: SharedContact, status: ContactStatus, client_id: int = 0, name: str = ""
) -> dict[str, Any]:
    return {
        "n": contact.name,
        "p": list(contact.phones),
        "e": contact.email,
        "s": status.value,
        "cid": client_id,
        "cn": name,
    }


def _contact_of(item: dict[str, Any]) -> SharedContact:
    return SharedContact(str(item["n"]), tuple(item.get("p") or ()), item.get("e"))


def _lines(batch: dict[str, Any]) -> list[view.ContactLine]:
    return [
        view.ContactLine(
            name=str(item["n"]),
            phone=(item.get("p") or [None])[0],
            status=str(item["s"]),
            client_id=int(item.get("cid") or 0),
            client_name=str(item.get("cn") or ""),
        )
        for item in batch["items"]
    ]


async def contact_shared(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    assert message.contact is not None
    await services.capture.hold(actor)
    if await state.get_state() == Steps.add.state:
        # `/add` asked for the new client: the shared contact is the answer, offered below.
        await state.set_state(None)
    contact = shared_contact(message.contact)
    check = await services.capture.check_contact(actor, contact)
    client = check.client
    item = _item(contact, check.status, client.id if client else 0, client.name if client else "")
    data = await _data(state)
    now = services.clock.now()
    batch = _open_batch(data, CONTACTS, now)
    if batch is None:
        batch = _new_batch(item, now, data.get(CONTACTS))
        then = _answered(CONTACTS, batch["tok"])
        if client is not None and len(batch["items"]) == 1:
            # One contact of the member's own client: the answer is that client's card.
            card = await services.clients.card(actor, client.id)
            replies.answer(
                card_text(card, _viewer(actor, services), actor.team.currency),
                card_keyboard(client.id, card.next_followup),
                then=then,
            )
        else:
            replies.answer(*view.contacts_view(_lines(batch), batch["tok"]), then=then)
    else:
        items: list[dict[str, Any]] = batch["items"]
        known = {matching.phone_digits(p) for other in items for p in other.get("p") or ()}
        batch["at"] = _epoch(now)
        if contact.phones and known.intersection(matching.phone_digits(p) for p in contact.phones):
            # The same person shared twice: the answer already has them.
            data[CONTACTS] = batch
            await state.set_data(data)
            return
        if len(items) >= CAPTURE_BATCH_MAX:
            replies.answer(view.batch_full(CAPTURE_BATCH_MAX))
            return
        items.append(item)
        if batch.get("mid"):
            _edit(replies, message.chat.id, batch, *view.contacts_view(_lines(batch), batch["tok"]))
        # Else the answer is on its way: the step recording its id shows this one too.
    data[CONTACTS] = batch
    await state.set_data(data)


def _edit(replies: Replies, chat_id: int, batch: dict[str, Any], text: str, markup: Any) -> None:
    replies.add(
        EditMessageText(
            chat_id=chat_id, message_id=int(batch["mid"]), text=text, reply_markup=markup
        )
    )


async def add_contacts(
    query: CallbackQuery,
    callback_data: SharedContacts,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    await services.capture.hold(actor)
    data = await _data(state)
    batch = _batch_of(data, CONTACTS, callback_data.tok)
    items: list[dict[str, Any]] = batch["items"] if batch else []
    chosen = (
        [i for i, item in enumerate(items) if item["s"] == ContactStatus.NEW]
        if callback_data.act == ContactAct.ALL
        else [callback_data.i]
    )
    if (
        batch is None
        or not chosen
        or any(i >= len(items) or items[i]["s"] != ContactStatus.NEW for i in chosen)
    ):
        replies.answer_callback(_("This button is no longer active."))
        return
    outcomes = await services.capture.add_contacts(
        actor, [_contact_of(items[i]) for i in chosen], _("shared contact")
    )
    for index, outcome in zip(chosen, outcomes, strict=True):
        if outcome.added is not None:
            added = outcome.added.client
            items[index].update(s=view.ADDED, cid=added.id, cn=added.name)
        else:
            found = outcome.check.client
            items[index].update(
                s=outcome.check.status.value,
                cid=found.id if found else 0,
                cn=found.name if found else "",
            )
    if not any(item["s"] == ContactStatus.NEW for item in items):
        batch["done"] = True
    data[CONTACTS] = batch
    await state.set_data(data)
    replies.answer_callback()
    added_one = [o.added for o in outcomes if o.added is not None]
    if len(items) == 1 and added_one:
        replies.edit(added_text(added_one[0], _viewer(actor, services)))
        return
    replies.edit(*view.contacts_view(_lines(batch), batch["tok"]))


async def drop_contacts(
    query: CallbackQuery,
    callback_data: SharedContacts,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    pressed = await _pressed(actor, services, state, replies, CONTACTS, callback_data.tok)
    if pressed is None:
        return
    data, batch = pressed
    del data[CONTACTS]
    await state.set_data(data)
    replies.answer_callback()
    some_added = any(item["s"] == view.ADDED for item in batch["items"])
    replies.edit(view.cancelled_rest() if some_added else view.cancelled())


# -- forwarded messages ---------------------------------------------------------------------


def _origin(message: Message) -> tuple[str | None, list[str]]:
    """Who wrote the forwarded message, as shown, and the names a client may be found by (not
    the member's own: forwarding what one wrote to a client names no client)."""
    origin = message.forward_origin
    me = message.from_user.id if message.from_user else None
    if isinstance(origin, MessageOriginUser):
        name = origin.sender_user.full_name
        return name, [] if origin.sender_user.id == me else [name]
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name, [origin.sender_user_name]
    if isinstance(origin, MessageOriginChat):
        names = [n for n in (origin.author_signature, origin.sender_chat.title) if n]
        return (names[-1] if names else None), names
    if isinstance(origin, MessageOriginChannel):
        names = [n for n in (origin.author_signature, origin.chat.title) if n]
        return (names[-1] if names else None), names
    return None, []


def _written_at(message: Message) -> datetime:
    origin = message.forward_origin
    moment = origin.date if origin is not None else message.date
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _summary(batch: dict[str, Any]) -> view.Forwarded:
    items = batch["items"]
    moments = [_moment(item["d"]) for item in items]
    senders = list(dict.fromkeys(str(item["w"]) for item in items if item.get("w")))
    return view.Forwarded(len(items), senders, min(moments), max(moments))


def _texts(batch: dict[str, Any]) -> list[ForwardedText]:
    return [ForwardedText(str(item["t"]), _moment(item["d"])) for item in batch["items"]]


async def _question(actor: Actor, services: Services, batch: dict[str, Any]) -> tuple[str, Any]:
    names = list(dict.fromkeys(n for item in batch["items"] for n in item.get("q") or ()))
    suggestions = await services.capture.suggest(actor, names)
    return view.forward_question(
        _summary(batch), suggestions, batch["tok"], _viewer(actor, services)
    )


async def forwarded(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    text = (message.text or message.caption or "").strip()
    if not text:
        replies.answer(view.no_text_forward())
        return
    services.capture.check_note(text)
    await services.capture.hold(actor)
    written = _written_at(message)
    shown, names = _origin(message)
    data = await _data(state)
    if await state.get_state() == Steps.details.state and data.get("cmd") == "note":
        # `/note` asked for the note's text: this is it, with its own date.
        client_id = data.get("cid")
        if not isinstance(client_id, int):
            raise DomainError(ErrorCode.PICK_EXPIRED)
        single = {"items": [{"t": text, "d": _epoch(written), "w": shown}]}
        client = await services.capture.save_notes(actor, client_id, _texts(single))
        await state.clear()
        replies.answer(view.notes_saved(client.name, _summary(single), _viewer(actor, services)))
        return
    item = {"t": text, "d": _epoch(written), "w": shown, "q": names}
    now = services.clock.now()
    batch = _open_batch(data, FORWARDS, now)
    if batch is None:
        batch = _new_batch(item, now, data.get(FORWARDS))
        question = await _question(actor, services, batch)
        replies.answer(*question, then=_answered(FORWARDS, batch["tok"]))
    else:
        if len(batch["items"]) >= CAPTURE_BATCH_MAX:
            replies.answer(view.batch_full(CAPTURE_BATCH_MAX))
            return
        batch["items"].append(item)
        batch["at"] = _epoch(now)
        if batch.get("mid"):
            _edit(replies, message.chat.id, batch, *await _question(actor, services, batch))
        # Else the answer is on its way: the step recording its id shows this one too.
    data[FORWARDS] = batch
    await state.set_data(data)


async def _save(
    actor: Actor, services: Services, state: FSMContext, batch: dict[str, Any], client_id: int
) -> str:
    client = await services.capture.save_notes(actor, client_id, _texts(batch))
    data = await _data(state)
    data.pop(FORWARDS, None)
    await state.set_data(data)
    if await state.get_state() == CaptureSteps.note_client.state:
        await state.set_state(None)
    return view.notes_saved(client.name, _summary(batch), _viewer(actor, services))


async def note_to(
    query: CallbackQuery,
    callback_data: ForwardedNote,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    pressed = await _pressed(actor, services, state, replies, FORWARDS, callback_data.tok)
    if pressed is None:
        return
    batch = pressed[1]
    if not callback_data.cid:
        replies.answer_callback(_("This button is no longer active."))
        return
    text = await _save(actor, services, state, batch, callback_data.cid)
    replies.answer_callback()
    replies.edit(text)
    question = batch.get("mid")
    if question and replies.message_id != question and replies.chat_id is not None:
        # Picked among several after «Another client»: the question's buttons go too.
        replies.add(EditMessageReplyMarkup(chat_id=replies.chat_id, message_id=int(question)))


async def note_other(
    query: CallbackQuery,
    callback_data: ForwardedNote,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    if await _pressed(actor, services, state, replies, FORWARDS, callback_data.tok) is None:
        return
    await state.set_state(CaptureSteps.note_client)
    replies.answer_callback()
    replies.answer(which_client())


async def note_drop(
    query: CallbackQuery,
    callback_data: ForwardedNote,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    pressed = await _pressed(actor, services, state, replies, FORWARDS, callback_data.tok)
    if pressed is None:
        return
    data = pressed[0]
    del data[FORWARDS]
    await state.set_data(data)
    if await state.get_state() == CaptureSteps.note_client.state:
        await state.set_state(None)
    replies.answer_callback()
    replies.edit(view.cancelled())


async def note_client_named(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await services.capture.hold(actor)
    data = await _data(state)
    batch = data.get(FORWARDS)
    if not isinstance(batch, dict) or batch.get("done"):
        await state.set_state(None)
        raise DomainError(ErrorCode.PICK_EXPIRED)
    typed = message.text or ""
    resolution = await services.clients.resolve(actor, typed)
    if resolution.kind is MatchKind.UNIQUE:
        text = await _save(actor, services, state, batch, resolution.best.id)
        if message.chat.id is not None and batch.get("mid"):
            replies.add(
                EditMessageReplyMarkup(chat_id=message.chat.id, message_id=int(batch["mid"]))
            )
        replies.answer(text)
        return
    if resolution.kind is MatchKind.SEVERAL:
        picks = [(m.candidate.id, m.candidate.name) for m in resolution.matches]
        replies.answer(*view.pick_for_notes(picks, batch["tok"]))
        return
    replies.answer(view.no_client_for_notes(typed))


def build_router() -> Router:
    router = Router(name="capture")
    router.message.register(contact_shared, has_contact)
    router.message.register(forwarded, is_forward)
    router.message.register(note_client_named, StateFilter(CaptureSteps.note_client), answer_text)
    router.callback_query.register(
        add_contacts, SharedContacts.filter(F.act.in_({ContactAct.ALL, ContactAct.ONE}))
    )
    router.callback_query.register(drop_contacts, SharedContacts.filter(F.act == ContactAct.DROP))
    router.callback_query.register(note_to, ForwardedNote.filter(F.act == NoteAct.TO))
    router.callback_query.register(note_other, ForwardedNote.filter(F.act == NoteAct.OTHER))
    router.callback_query.register(note_drop, ForwardedNote.filter(F.act == NoteAct.DROP))
    return router
