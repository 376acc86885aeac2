"""The console playground: the real Dispatcher and database, with a terminal instead of Telegram.

Type commands as in Telegram; press an inline button by typing `!1`, `!2`, ...
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from datetime import UTC, datetime
from html import unescape
from typing import Any, TextIO

from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User

CONSOLE_USER_ID = 100_000_001
_TAG = re.compile(r"<[^>]+>")


def html_to_console(text: str) -> str:
    return unescape(_TAG.sub("", text))


class ConsolePrinter:
    """Prints what the bot sends and remembers the last keyboard so `!N` can press it."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.buttons: list[tuple[str, str]] = []
        self.keyboard_message_id: int | None = None
        self.keyboard_text = ""  # the HTML of the message the buttons belong to

    def __call__(self, method: TelegramMethod[Any]) -> None:
        if isinstance(method, SendMessage | EditMessageText):
            text = method.text or ""
            print("\n" + html_to_console(text), file=self.out)
            if isinstance(method, EditMessageText) and method.reply_markup is None:
                self.buttons = []
            self._remember(method.reply_markup, getattr(method, "message_id", None), text)
        elif isinstance(method, EditMessageReplyMarkup) and method.reply_markup is None:
            self.buttons = []
        elif isinstance(method, AnswerCallbackQuery) and method.text:
            print(f"\n({method.text})", file=self.out)
        elif isinstance(method, SendDocument):
            name = getattr(method.document, "filename", None) or "file"
            size = len(getattr(method.document, "data", b""))
            print(f"\n[document: {name}, {size // 1024} KB]", file=self.out)

    def _remember(self, markup: Any, message_id: int | None, text: str) -> None:
        if not isinstance(markup, InlineKeyboardMarkup):
            return
        self.keyboard_text = text
        self.buttons = [
            (button.text, button.callback_data or "")
            for row in markup.inline_keyboard
            for button in row
            if button.callback_data
        ]
        self.keyboard_message_id = message_id
        for index, (label, _data) in enumerate(self.buttons, start=1):
            print(f"   [!{index}] {label}", file=self.out)


class ConsoleChat:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, printer: ConsolePrinter, language: str):
        self.dispatcher = dispatcher
        self.bot = bot
        self.printer = printer
        self.user = User(
            id=CONSOLE_USER_ID, is_bot=False, first_name="Console", language_code=language
        )
        self.chat = Chat(id=CONSOLE_USER_ID, type="private")
        self._ids = itertools.count(1)

    def _message(
        self, text: str, message_id: int | None = None, *, from_bot: bool = False
    ) -> Message:
        return Message(
            message_id=message_id or next(self._ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=None if from_bot else self.user,
            text=text,
        )

    async def say(self, line: str) -> None:
        update_id = next(self._ids)
        press = re.fullmatch(r"!(\d+)", line.strip())
        if press:
            index = int(press.group(1)) - 1
            if not 0 <= index < len(self.printer.buttons):
                print("(no such button)", file=self.printer.out)
                return
            _label, data = self.printer.buttons[index]
            query = CallbackQuery(
                id=str(update_id),
                from_user=self.user,
                chat_instance="console",
                # The message the button sits on, as Telegram would send it back (plain text:
                # our own HTML is enough for the bot to quote it).
                message=self._message(
                    html_to_console(self.printer.keyboard_text) or "…",
                    self.printer.keyboard_message_id or 1,
                    from_bot=True,
                ),
                data=data,
            )
            update = Update(update_id=update_id, callback_query=query)
        else:
            update = Update(update_id=update_id, message=self._message(line))
        await self.dispatcher.feed_update(self.bot, update)


async def run_console(
    dispatcher: Dispatcher, bot: Bot, printer: ConsolePrinter, language: str
) -> None:
    chat = ConsoleChat(dispatcher, bot, printer, language)
    print("Type /start, then /help. Buttons: !1, !2 ... Exit: Ctrl+D or /quit.", file=printer.out)
    while True:
        try:
            line = await asyncio.to_thread(input, "\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print(file=printer.out)
            return
        if line.strip() in ("/quit", "/exit"):
            return
        if line.strip():
            await chat.say(line)
