"""The shared path of every client command: split the arguments, find the client (or ask which),
ask for what is missing step by step, then run it. Used by several routers; not a router itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import ErrorCode
from bot.i18n import _
from bot.parsing.commands import parse_call, parse_deal, parse_schedule, split_meeting_done
from bot.parsing.errors import ParseError
from bot.parsing.tokens import scan, tail
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.matching import MatchKind, Resolution
from bot.telegram.callbacks import CardAct, CardAction
from bot.telegram.render import (
    Viewer,
    card_keyboard,
    card_text,
    echo,
    logged_text,
    pick_keyboard,
    temperature_label,
)
from bot.telegram.replies import Replies
from storage.enums import FollowupKind, Temperature

# Stands in for the client's name once the client is known, so the same parsers read the rest.
PLACEHOLDER = "_client_"
CLIENT_COMMANDS = ("call", "note", "meet", "next", "deal", "client", "hot", "warm", "cold")
NEEDS_DETAILS = ("call", "note", "meet", "next", "deal")


class Steps(StatesGroup):
    client = State()
    details = State()
    add = State()
    find = State()


@dataclass
class Flow:
    replies: Replies
    actor: Actor
    services: Services
    state: FSMContext

    async def send(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        self.replies.answer(text, markup)

    # -- entry points -----------------------------------------------------------------------

    async def start(self, cmd: str, args: str) -> None:
        """A command as typed: `/call Ivanov done`, or bare `/call` to go step by step."""
        args = args.strip()
        if not args:
            await self.state.set_state(Steps.client)
            await self.state.set_data({"cmd": cmd})
            await self.send(
                _("Which client? Send a name, part of it, or phone digits. /cancel to stop.")
            )
            return
        split = self._split(cmd, args)
        if split is None:
            # No outcome word (/call) or free text after the name (/note): the name is the
            # longest run of leading words that matches a client.
            tokens = scan(args)
            words = [token.text for token in tokens]
            resolution, used = await self.services.clients.resolve_leading(self.actor, words)
            rest = tail(args, tokens, used)
            if cmd == "call" and rest and resolution.kind is not MatchKind.NONE:
                raise DomainError(ErrorCode.OUTCOME_UNKNOWN, word=rest.split()[0])
            name = args if resolution.kind is MatchKind.NONE else ""
            await self._resolved(cmd, name, resolution, rest)
            return
        name, rest = split
        resolution = await self.services.clients.resolve(self.actor, name)
        await self._resolved(cmd, name, resolution, rest)

    async def client_named(self, text: str) -> None:
        """The answer to "which client?" in the step-by-step mode."""
        data = await self.state.get_data()
        cmd = data.get("cmd", "client")
        resolution = await self.services.clients.resolve(self.actor, text)
        await self._resolved(cmd, text, resolution, "")

    async def picked(self, cmd: str, client_id: int, pick_id: str) -> None:
        data = await self.state.get_data()
        offered = data.get("cids") or []
        if data.get("pick") != pick_id or data.get("cmd") != cmd or client_id not in offered:
            raise DomainError(ErrorCode.PICK_EXPIRED)
        await self.state.clear()
        await self.execute(cmd, client_id, data.get("rest", ""))

    async def details_given(self, text: str) -> None:
        data = await self.state.get_data()
        cmd, client_id = data.get("cmd"), data.get("cid")
        if cmd not in NEEDS_DETAILS or not isinstance(client_id, int):
            await self.state.clear()
            raise DomainError(ErrorCode.PICK_EXPIRED)
        await self.execute(cmd, client_id, text)

    # -- internals --------------------------------------------------------------------------

    def _split(self, cmd: str, args: str) -> tuple[str, str] | None:
        """(name, the rest) of the arguments, or None when only the client base can tell."""
        if cmd == "note":
            return None
        if cmd == "call":
            parsed = parse_call(args, self._now(), max_amount=self._max_amount())
            if parsed.outcome is None:
                return None
            name = parsed.name
        elif cmd in ("meet", "next"):
            held = split_meeting_done(args) if cmd == "meet" else None
            name = held[0] if held else parse_schedule(args, self._now()).name
        elif cmd == "deal":
            try:
                name = parse_deal(args, max_amount=self._max_amount()).name
            except ParseError as exc:
                if exc.code is not ErrorCode.AMOUNT_MISSING:
                    raise
                name = args
        else:
            return args, ""
        if not name:
            raise ParseError(ErrorCode.NAME_MISSING)
        return name, tail(args, scan(args), len(name.split()))

    async def _resolved(self, cmd: str, name: str, resolution: Resolution, rest: str) -> None:
        if resolution.kind is MatchKind.UNIQUE:
            await self.state.clear()
            await self.execute(cmd, resolution.best.id, rest)
            return
        if resolution.kind is MatchKind.SEVERAL:
            pick_id = secrets.token_hex(3)
            await self.state.set_state(None)
            await self.state.set_data(
                {
                    "cmd": cmd,
                    "rest": rest,
                    "pick": pick_id,
                    "cids": [m.candidate.id for m in resolution.matches],
                }
            )
            await self.send(
                _("Several clients match. Which one?"), pick_keyboard(cmd, pick_id, resolution)
            )
            return
        await self.state.clear()
        await self.send(
            _("No client matches «{name}». To add a new one: <code>/add {name}</code>").format(
                name=echo(name)
            )
        )

    async def _ask_details(self, cmd: str, client_id: int, client_name: str) -> None:
        await self.state.set_state(Steps.details)
        await self.state.set_data({"cmd": cmd, "cid": client_id})
        prompts = {
            "call": _(
                "How did the call with <b>{name}</b> go? Write <code>done</code>, "
                "<code>no answer</code>, <code>callback in 2 weeks</code>, <code>refused</code> "
                "or <code>deal 150000</code>."
            ),
            "note": _("Send the note about <b>{name}</b>."),
            "meet": _(
                "When is the meeting with <b>{name}</b>? For example <code>tomorrow 15:00</code>. "
                "If it has already happened, write <code>done</code>."
            ),
            "next": _(
                "When is the next contact with <b>{name}</b>? For example <code>friday</code>, "
                "<code>15.12 10:00</code>, <code>in 2 weeks</code>."
            ),
            "deal": _(
                "What is the deal amount with <b>{name}</b>? "
                "For example <code>150000 margin 30%</code>."
            ),
        }
        markup = None
        if cmd == "call":
            b = InlineKeyboardBuilder()
            b.button(text=_("✅ Talked"), callback_data=CardAction(act=CardAct.DONE, cid=client_id))
            b.button(
                text=_("📵 No answer"),
                callback_data=CardAction(act=CardAct.NO_ANSWER, cid=client_id),
            )
            markup = b.as_markup()
        await self.send(
            prompts[cmd].format(name=escape(client_name)) + "\n" + _("/cancel to stop."), markup
        )

    async def execute(self, cmd: str, client_id: int, rest: str) -> None:
        services, actor = self.services, self.actor
        rest = rest.strip()
        if cmd in NEEDS_DETAILS and not rest:
            client = await services.clients.get_visible(actor, client_id)
            await self._ask_details(cmd, client.id, client.name)
            return
        await self.state.clear()
        viewer = self.viewer()
        text = f"{PLACEHOLDER} {rest}"
        if cmd == "call":
            parsed = parse_call(text, self._now(), max_amount=self._max_amount())
            if parsed.outcome is None:
                raise DomainError(ErrorCode.OUTCOME_UNKNOWN, word=rest.split()[0])
            result = await services.activities.log_call(actor, client_id, parsed)
            await self.send(logged_text(result, viewer))
        elif cmd == "note":
            client = await services.activities.add_note(actor, client_id, rest)
            await self.send(
                _("📝 Note about <b>{name}</b> saved.").format(name=escape(client.name))
            )
        elif cmd in ("meet", "next"):
            held = split_meeting_done(text) if cmd == "meet" else None
            if held is not None:
                result = await services.activities.log_meeting(actor, client_id, held[1])
                await self.send(logged_text(result, viewer))
                return
            schedule = parse_schedule(text, self._now())
            if schedule.when is None:
                raise ParseError(ErrorCode.DATE_INVALID)
            kind = FollowupKind.MEETING if cmd == "meet" else FollowupKind.CALL
            result = await services.activities.schedule(
                actor, client_id, schedule.when, kind=kind, reason=schedule.comment
            )
            await self.send(logged_text(result, viewer))
        elif cmd == "deal":
            deal = parse_deal(text, max_amount=self._max_amount())
            result = await services.activities.add_deal(
                actor, client_id, deal.amount, deal.margin, deal.comment
            )
            await self.send(logged_text(result, viewer))
        elif cmd in ("hot", "warm", "cold"):
            updated = await services.clients.set_temperature(actor, client_id, Temperature(cmd))
            await self.send(_temperature_changed(updated.name, cmd))
        else:
            card = await services.clients.card(actor, client_id)
            await self.send(
                card_text(card, viewer, actor.team.currency),
                card_keyboard(client_id, card.next_followup),
            )

    def viewer(self) -> Viewer:
        return Viewer(self.actor.zone, self._now().date())

    def _now(self) -> datetime:
        return self.services.ctx.local_now(self.actor)

    def _max_amount(self) -> Decimal:
        return self.services.ctx.limits.max_amount


def _temperature_changed(name: str, temperature: str) -> str:
    return _("<b>{name}</b> is now {temperature}.").format(
        name=escape(name), temperature=temperature_label(temperature)
    )
