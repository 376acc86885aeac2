"""The shared path of every client command: split the arguments, find the client (or ask which),
ask for what is missing step by step, then run it. Used by several routers; not a router itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup

from bot.errors import ErrorCode
from bot.parsing.commands import (
    CallCommand,
    parse_call,
    parse_deal,
    parse_schedule,
    split_meeting_done,
)
from bot.parsing.errors import ParseError
from bot.parsing.tokens import scan, tail
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.matching import MatchKind, Resolution
from bot.services.reply_log import CARD
from bot.telegram.replies import About, Replies
from bot.telegram.views import flow as view
from bot.telegram.views.common import Viewer, card_keyboard, card_text, logged_text
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
    # `/call Ivanov done` is parsed once, to split off the name; `execute` reuses it for the
    # same rest ("done") instead of parsing "_client_ done" again. (rest, parsed)
    _call: tuple[str, CallCommand] | None = field(default=None, init=False, repr=False)

    async def send(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        self.replies.answer(text, markup)

    # -- entry points -----------------------------------------------------------------------

    async def start(self, cmd: str, args: str) -> None:
        """A command as typed: `/call Ivanov done`, or bare `/call` to go step by step."""
        args = args.strip()
        if not args:
            await self.state.set_state(Steps.client)
            await self.state.set_data({"cmd": cmd})
            await self.send(view.which_client())
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
            call = parse_call(args, self._now(), max_amount=self._max_amount())
            if call.outcome is None:
                return None
            name = call.name
            if name:
                rest = tail(args, scan(args), len(name.split()))
                self._call = (rest.strip(), call)
                return name, rest
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
            await self.send(*view.several_clients(cmd, pick_id, resolution))
            return
        await self.state.clear()
        await self.send(view.no_client(name))

    async def _ask_details(self, cmd: str, client_id: int) -> None:
        services, actor = self.services, self.actor
        followup_id = 0
        if cmd == "call":
            client, followup = await services.activities.call_question(actor, client_id)
            followup_id = followup.id if followup is not None else 0
        else:
            client = await services.clients.get_visible(actor, client_id)
        await self.state.set_state(Steps.details)
        await self.state.set_data({"cmd": cmd, "cid": client.id})
        await self.send(*view.details_question(cmd, client.id, client.name, followup_id))

    async def execute(self, cmd: str, client_id: int, rest: str) -> None:
        services, actor = self.services, self.actor
        rest = rest.strip()
        if cmd in NEEDS_DETAILS and not rest:
            await self._ask_details(cmd, client_id)
            return
        await self.state.clear()
        viewer = self.viewer()
        text = f"{PLACEHOLDER} {rest}"
        if cmd == "call":
            if self._call is not None and self._call[0] == rest:
                parsed = self._call[1]
            else:
                parsed = parse_call(text, self._now(), max_amount=self._max_amount())
            if parsed.outcome is None:
                raise DomainError(ErrorCode.OUTCOME_UNKNOWN, word=rest.split()[0])
            result = await services.activities.log_call(actor, client_id, parsed)
            await self.send(logged_text(result, viewer))
        elif cmd == "note":
            client = await services.activities.add_note(actor, client_id, rest)
            await self.send(view.note_saved(client.name))
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
            await self.send(view.temperature_changed(updated.name, cmd))
        else:
            card = await services.clients.card(actor, client_id)
            # Remembered once sent: a reply to the card logs for its client.
            self.replies.answer(
                card_text(card, viewer, actor.team.currency),
                card_keyboard(client_id, card.next_followup),
                about=About(CARD, (client_id,)),
            )

    def viewer(self) -> Viewer:
        return Viewer(self.actor.zone, self._now().date())

    def _now(self) -> datetime:
        return self.services.local_now(self.actor)

    def _max_amount(self) -> Decimal:
        return self.services.limits.max_amount
