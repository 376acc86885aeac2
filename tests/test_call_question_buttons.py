"""The "✅ Talked" / "📵 No answer" buttons under the question a bare `/call Ivanov` asks: they
log the call once, like a card's, and refuse an old question once the next contact has moved."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Activity
from tests.support.harness import BotHarness, Person, Reply

OWNER = Person(601, "Olga")


def button(reply: Reply, label: str) -> str:
    return next(data for text, data in reply.buttons if label in text)


async def calls(harness: BotHarness) -> list[str]:
    async with harness.uow_factory() as uow:
        return list(await uow.session.scalars(select(Activity.outcome).order_by(Activity.id)))


async def test_talked_under_the_question_logs_the_call_once(harness: BotHarness):
    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Ivanov Petr")
    question = (await harness.send(OWNER, "/call Ivanov"))[-1]
    assert "How did the call" in question.text
    logged = await harness.press(OWNER, button(question, "Talked"))
    assert "Call with <b>Ivanov Petr</b>" in logged[-1].text
    assert harness.markup_removed()
    assert await calls(harness) == ["done"]
    # The same button again: the next contact it was made for has moved on.
    await harness.press(OWNER, button(question, "Talked"))
    assert "already handled" in harness.alerts()[-1]
    assert await calls(harness) == ["done"]


async def test_no_answer_under_the_question_logs_the_retry(harness: BotHarness):
    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Ivanov Petr")
    question = (await harness.send(OWNER, "/call Ivanov"))[-1]
    logged = await harness.press(OWNER, button(question, "No answer"))
    assert "retry after no answer" in logged[-1].text
    assert await calls(harness) == ["no_answer"]


async def test_buttons_of_a_client_without_a_next_contact_log_the_call(harness: BotHarness):
    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Ivanov Petr")
    await harness.send(OWNER, "/call Ivanov refused")
    question = (await harness.send(OWNER, "/call Ivanov"))[-1]
    logged = await harness.press(OWNER, button(question, "Talked"))
    assert "Call with <b>Ivanov Petr</b>" in logged[-1].text
    assert await calls(harness) == ["refused", "done"]
