"""Replies to the bot's own messages, as Telegram delivers them: the replied message comes back
in `reply_to_message` with the bot as its sender (and its buttons, unless they were removed or
the member's app left them out), and a quoted piece of it in `quote`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import Chat, Message, TextQuote, Update, User

from tests.support.harness import BotHarness, Person, Reply


class BotMessages:
    """Every message the in-memory Bot API created for the bot, as Telegram returned it."""

    def __init__(self, h: BotHarness) -> None:
        self.messages: list[Message] = []
        h.session.on_result = self._seen

    def _seen(self, method: TelegramMethod[Any], result: Any) -> None:
        if isinstance(result, Message):
            self.messages.append(result)

    def last(self, chat_id: int, marker: str) -> Message:
        found = [m for m in self.messages if m.chat.id == chat_id and marker in (m.text or "")]
        assert found, f"no message with {marker!r} in chat {chat_id}"
        return found[-1]


async def reply(
    h: BotHarness,
    person: Person,
    to: Message,
    text: str | None = None,
    *,
    quote: str | None = None,
    with_buttons: bool = True,
    from_bot: bool = True,
    **content: Any,
) -> list[Reply]:
    """`person` replies to `to` with `text` (or other `content`: a sticker, a photo)."""
    bot = h.app.bot
    sender = (
        User(id=bot.id, is_bot=True, first_name="Salesbot")
        if from_bot
        else User(id=person.id, is_bot=False, first_name=person.first_name)
    )
    replied = to.model_copy(
        update={"from_user": sender, "reply_markup": to.reply_markup if with_buttons else None}
    )
    h.session.clear()
    message = Message(
        message_id=next(h._ids),
        date=datetime.now(UTC),
        chat=Chat(id=person.id, type="private"),
        from_user=User(
            id=person.id, is_bot=False, first_name=person.first_name, language_code=person.language
        ),
        text=text,
        reply_to_message=replied,
        quote=TextQuote(text=quote, position=max((to.text or "").find(quote), 0))
        if quote
        else None,
        **content,
    )
    await h.app.dispatcher.feed_update(bot, Update(update_id=next(h._ids), message=message))
    return h.replies()
