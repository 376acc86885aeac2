"""`/transfer <from> <to> [clients...]` (owner and head), or step by step without arguments."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.errors import ErrorCode
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.team import SUMMARY_NAMES
from bot.telegram.callbacks import TransferPick, TransferStep
from bot.telegram.filters import answer_text
from bot.telegram.replies import Replies
from bot.telegram.views import transfer as view
from bot.telegram.views.team import transferred_text
from storage.dto import MemberDTO


class TransferSteps(StatesGroup):
    source = State()
    target = State()
    clients = State()


async def _ask_source(
    replies: Replies, services: Services, actor: Actor, state: FSMContext
) -> None:
    holders = await services.team.holders(actor)
    if not holders:
        await state.clear()
        replies.answer(view.nobody_holds_clients())
        return
    await state.set_state(TransferSteps.source)
    await state.set_data({"offered": [m.id for m in holders]})
    replies.answer(*view.ask_source(holders))


async def _ask_target(
    replies: Replies, services: Services, actor: Actor, state: FSMContext, source: MemberDTO
) -> None:
    count = await services.team.client_count(actor, source.id)
    if not count:
        await state.clear()
        raise DomainError(ErrorCode.TRANSFER_EMPTY, name=source.full_name)
    receivers = await services.team.receivers(actor, source.id)
    await state.set_state(TransferSteps.target)
    await state.set_data({"src": source.id, "offered": [m.id for m in receivers]})
    replies.answer(*view.ask_target(source, count, receivers))


async def _ask_clients(
    replies: Replies, state: FSMContext, source: MemberDTO, target: MemberDTO
) -> None:
    await state.set_state(TransferSteps.clients)
    await state.set_data({"src": source.id, "dst": target.id})
    replies.answer(*view.ask_clients(source, target))


async def _run(
    replies: Replies,
    services: Services,
    actor: Actor,
    state: FSMContext,
    source_id: int,
    target_id: int,
    client_ids: list[int] | None,
) -> None:
    result = await services.team.transfer(actor, source_id, target_id, client_ids)
    await state.clear()
    replies.answer(transferred_text(result, SUMMARY_NAMES))


async def transfer(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    args = (command.args or "").strip()
    if not args:
        await _ask_source(replies, services, actor, state)
        return
    try:
        request = await services.team.parse_transfer(actor, args)
    except DomainError as exc:
        if exc.code is not ErrorCode.TRANSFER_TARGET_MISSING:
            raise
        source = await services.team.resolve_member(actor, args)
        await _ask_target(replies, services, actor, state, source)
        return
    await _run(
        replies,
        services,
        actor,
        state,
        request.source.id,
        request.target.id,
        request.client_ids,
    )


async def source_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    source = await services.team.resolve_member(actor, message.text or "")
    await _ask_target(replies, services, actor, state, source)


async def target_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    data = await state.get_data()
    target = await services.team.resolve_member(actor, message.text or "")
    source = await _member(services, actor, data.get("src"))
    if not target.is_active:
        raise DomainError(ErrorCode.MEMBER_REMOVED, name=target.full_name)
    if target.id == source.id:
        raise DomainError(ErrorCode.TRANSFER_SAME, name=target.full_name)
    await _ask_clients(replies, state, source, target)


async def clients_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    data = await state.get_data()
    source = await _member(services, actor, data.get("src"))
    target_id = data.get("dst")
    if not isinstance(target_id, int):
        await state.clear()
        raise DomainError(ErrorCode.PICK_EXPIRED)
    ids = await services.team.resolve_clients_of(actor, source, message.text or "")
    await _run(replies, services, actor, state, source.id, target_id, ids)


async def _offered(button: TransferPick, state: FSMContext, step: State) -> dict[str, Any]:
    """The open question's data when this button belongs to it (an old or forged one is
    refused)."""
    data = await state.get_data()
    if await state.get_state() != step.state or button.mid not in data.get("offered", []):
        raise DomainError(ErrorCode.PICK_EXPIRED)
    return data


async def source_picked(
    query: CallbackQuery,
    callback_data: TransferPick,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    await _offered(callback_data, state, TransferSteps.source)
    source = await _member(services, actor, callback_data.mid)
    replies.answer_callback()
    await _ask_target(replies, services, actor, state, source)
    replies.edit_markup()


async def target_picked(
    query: CallbackQuery,
    callback_data: TransferPick,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await _offered(callback_data, state, TransferSteps.target)
    source = await _member(services, actor, data.get("src"))
    target = await _member(services, actor, callback_data.mid)
    replies.answer_callback()
    await _ask_clients(replies, state, source, target)
    replies.edit_markup()


async def all_picked(
    query: CallbackQuery,
    callback_data: TransferPick,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    """«All of them»: every client of the source goes to the target just chosen."""
    data = await state.get_data()
    if await state.get_state() != TransferSteps.clients.state or callback_data.mid != data.get(
        "dst"
    ):
        raise DomainError(ErrorCode.PICK_EXPIRED)
    source_id = data.get("src")
    if not isinstance(source_id, int):
        raise DomainError(ErrorCode.PICK_EXPIRED)
    await _run(replies, services, actor, state, source_id, callback_data.mid, None)
    replies.answer_callback()
    replies.edit_markup()


async def _member(services: Services, actor: Actor, member_id: object) -> MemberDTO:
    if not isinstance(member_id, int):
        raise DomainError(ErrorCode.PICK_EXPIRED)
    line = await services.team.line(actor, member_id)
    return line.member


def build_router() -> Router:
    router = Router(name="transfer")
    router.message.register(transfer, Command("transfer"))
    router.message.register(source_answer, StateFilter(TransferSteps.source), answer_text)
    router.message.register(target_answer, StateFilter(TransferSteps.target), answer_text)
    router.message.register(clients_answer, StateFilter(TransferSteps.clients), answer_text)
    for step, handler in (
        (TransferStep.FROM, source_picked),
        (TransferStep.TO, target_picked),
        (TransferStep.ALL, all_picked),
    ):
        router.callback_query.register(handler, TransferPick.filter(F.step == step))
    return router
