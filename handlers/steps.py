"""Answers to the step-by-step questions (which client, what happened, when)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.filters import answer_text
from bot.telegram.replies import Replies
from handlers.clients import add_client, show_found
from handlers.flow import Flow, Steps

# Commands are never answers: `/today` in the middle of a question runs `/today`.


async def client_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await Flow(replies, actor, services, state).client_named(message.text or "")


async def details_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await Flow(replies, actor, services, state).details_given(message.text or "")


async def add_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await add_client(Flow(replies, actor, services, state), message.text or "")


async def find_answer(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await show_found(message.text or "", actor, services, state, replies)


def build_router() -> Router:
    router = Router(name="steps")
    router.message.filter(answer_text)
    router.message.register(client_answer, StateFilter(Steps.client))
    router.message.register(details_answer, StateFilter(Steps.details))
    router.message.register(add_answer, StateFilter(Steps.add))
    router.message.register(find_answer, StateFilter(Steps.find))
    return router
