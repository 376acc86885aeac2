"""The console playground: the real Dispatcher and database, with a terminal instead of Telegram.

Type commands as in Telegram; press an inline button by typing `!1`, `!2`, ... Buttons belong
to the message they were printed under, as in Telegram: removing one message's buttons leaves
the others pressable. `!N` presses a button of the latest message that still has buttons.
Charts and files are saved to a folder and their paths printed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any, TextIO

from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bot.config import SUPPORTED_LANGUAGES

CONSOLE_USER_ID = 100_000_001
_TAG = re.compile(r"<[^>]+>")
LANGUAGE_NAMES = {"ru": "Russian", "en": "English"}


def html_to_console(text: str) -> str:
    return unescape(_TAG.sub("", text))


def banner(language: str) -> str:
    """The first lines a newcomer reads: how to talk to the bot and which language it answers
    in (DEFAULT_LANGUAGE), with the way to switch."""
    other = next(code for code in SUPPORTED_LANGUAGES if code != language)
    return (
        "Type /start, then /help. Buttons: !1, !2 ... Exit: Ctrl+D or /quit.\n"
        f"The bot answers in {LANGUAGE_NAMES[language]} (DEFAULT_LANGUAGE={language}). "
        f"Switch: /settings lang {other}, "
        f"or start with DEFAULT_LANGUAGE={other} make console."
    )


@dataclass
class Keyboard:
    message_id: int | None
    text: str  # the HTML of the message the buttons sit on
    buttons: list[tuple[str, str]]
    markup: InlineKeyboardMarkup | None = None


class ConsolePrinter:
    """Prints what the bot sends and keeps each message's buttons so `!N` can press them.

    Attach it to a LocalSession (`printer.attach(session)`): it prints every request and learns
    from the answers which message id each keyboard got."""

    def __init__(self, out: TextIO = sys.stdout, files_dir: Path | None = None) -> None:
        self.out = out
        self.files_dir = files_dir
        # message id -> its buttons; the last entry is what `!N` presses.
        self.keyboards: dict[int | None, Keyboard] = {}
        self._unplaced: Keyboard | None = None
        self._files = itertools.count(1)

    def attach(self, session: Any) -> None:
        session.on_request = self
        session.on_result = self.placed

    @property
    def buttons(self) -> list[tuple[str, str]]:
        keyboard = self.current
        return keyboard.buttons if keyboard is not None else []

    @property
    def current(self) -> Keyboard | None:
        return next(reversed(self.keyboards.values()), None)

    def __call__(self, method: TelegramMethod[Any]) -> None:
        if isinstance(method, SendMessage | EditMessageText):
            text = method.text or ""
            print("\n" + html_to_console(text), file=self.out)
            message_id = getattr(method, "message_id", None)
            if isinstance(method, EditMessageText):
                self.keyboards.pop(message_id, None)
            self._remember(method.reply_markup, message_id, text)
        elif isinstance(method, EditMessageReplyMarkup):
            old = self.keyboards.pop(method.message_id, None)
            if method.reply_markup is not None:
                self._remember(method.reply_markup, method.message_id, old.text if old else "")
        elif isinstance(method, AnswerCallbackQuery) and method.text:
            print(f"\n({method.text})", file=self.out)
        elif isinstance(method, SendPhoto):
            self._file("chart", method.photo, method.caption)
        elif isinstance(method, SendDocument):
            self._file("document", method.document, method.caption)

    def placed(self, method: TelegramMethod[Any], result: Any) -> None:
        """Telegram's answer to a sent message: the id its buttons now belong to."""
        keyboard, self._unplaced = self._unplaced, None
        if keyboard is None or not isinstance(method, SendMessage):
            return
        message_id = getattr(result, "message_id", None)
        self.keyboards.pop(keyboard.message_id, None)
        keyboard.message_id = message_id
        self.keyboards[message_id] = keyboard

    def _remember(self, markup: Any, message_id: int | None, text: str) -> None:
        self._unplaced = None
        if not isinstance(markup, InlineKeyboardMarkup):
            return
        buttons = [
            (button.text, button.callback_data or "")
            for row in markup.inline_keyboard
            for button in row
            if button.callback_data
        ]
        if not buttons:
            return
        keyboard = Keyboard(message_id, text, buttons, markup)
        self.keyboards[message_id] = keyboard
        if message_id is None:
            self._unplaced = keyboard
        for index, (label, _data) in enumerate(buttons, start=1):
            print(f"   [!{index}] {label}", file=self.out)

    def _file(self, kind: str, file: Any, caption: str | None) -> None:
        name = getattr(file, "filename", None) or f"{kind}.bin"
        data = getattr(file, "data", b"") if isinstance(file, BufferedInputFile) else b""
        title = f" — {html_to_console(caption)}" if caption else ""
        if self.files_dir is None or not data:
            print(f"\n[{kind}: {name}, {len(data) // 1024} KB]{title}", file=self.out)
            return
        self.files_dir.mkdir(parents=True, exist_ok=True)
        # Numbered: the same chart asked twice (or in an earlier session) is not overwritten.
        path = self.files_dir / f"{next(self._files):03d}-{Path(name).name}"
        while path.exists():
            path = self.files_dir / f"{next(self._files):03d}-{Path(name).name}"
        path.write_bytes(data)
        print(f"\n[{kind}: {path}]{title}", file=self.out)


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
        self,
        text: str,
        message_id: int | None = None,
        *,
        from_bot: bool = False,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Message:
        return Message(
            message_id=message_id or next(self._ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=None if from_bot else self.user,
            text=text,
            reply_markup=markup,
        )

    async def say(self, line: str) -> None:
        update_id = next(self._ids)
        press = re.fullmatch(r"!(\d+)", line.strip())
        if press:
            keyboard = self.printer.current
            index = int(press.group(1)) - 1
            if keyboard is None or not 0 <= index < len(keyboard.buttons):
                print("(no such button)", file=self.printer.out)
                return
            _label, data = keyboard.buttons[index]
            query = CallbackQuery(
                id=str(update_id),
                from_user=self.user,
                chat_instance="console",
                # The message the button sits on, as Telegram sends it back: plain text and
                # its buttons.
                message=self._message(
                    html_to_console(keyboard.text) or "…",
                    keyboard.message_id or 1,
                    from_bot=True,
                    markup=keyboard.markup,
                ),
                data=data,
            )
            update = Update(update_id=update_id, callback_query=query)
        else:
            update = Update(update_id=update_id, message=self._message(line))
        await self.dispatcher.feed_update(self.bot, update)


class TerminalInput:
    """Lines typed at the terminal, read by a daemon thread one prompt at a time: a blocked
    `input()` must not keep the process alive after Ctrl+C (an executor thread would)."""

    def __init__(self, prompt: str) -> None:
        self._prompt = prompt
        self._wanted = threading.Semaphore(0)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, name="console-input", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._wanted.acquire()
            try:
                line: str | None = input(self._prompt)
            except (EOFError, KeyboardInterrupt, ValueError, OSError):
                line = None
            try:
                self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            except RuntimeError:
                # Ctrl+C closed the loop while input() waited: nobody wants the line any more.
                return
            if line is None:
                return

    async def line(self) -> str | None:
        """The next line, None at the end of input."""
        self._wanted.release()
        return await self._lines.get()


MINIAPP_COMMAND = "!app"


def miniapp_lines(link: str) -> str:
    return (
        f"Mini App in a browser (after /start; this link works once, for an hour): {link}\n"
        f"Type {MINIAPP_COMMAND} for a new link."
    )


async def run_console(
    dispatcher: Dispatcher,
    bot: Bot,
    printer: ConsolePrinter,
    language: str,
    miniapp_link: Callable[[], str] | None = None,
) -> None:
    chat = ConsoleChat(dispatcher, bot, printer, language)
    print(banner(language), file=printer.out)
    if miniapp_link is not None:
        print(miniapp_lines(miniapp_link()), file=printer.out)
    # The next prompt appears once the bot has answered the last line.
    terminal = TerminalInput("\nyou> ")
    while True:
        line = await terminal.line()
        if line is None:
            print(file=printer.out)
            return
        if line.strip() in ("/quit", "/exit"):
            return
        if line.strip() == MINIAPP_COMMAND and miniapp_link is not None:
            print(miniapp_lines(miniapp_link()), file=printer.out)
            continue
        if line.strip():
            await chat.say(line)
