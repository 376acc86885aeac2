"""A member sends a table as a document, and the import flow's buttons."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime

from aiogram.types import Chat, Document, Message, Update

from bot.telegram.callbacks import ImportAction
from tests.support.harness import BotHarness, Person, Reply

_files = itertools.count(1)


async def upload(
    h: BotHarness, person: Person, content: bytes, name: str, *, size: int | None = None
) -> list[Reply]:
    """The person sends `content` as a document; LocalSession serves it for download."""
    file_id = f"BQACAgIAAxkBAAI{next(_files):06d}"
    h.session.add_file(file_id, content)
    h.session.clear()
    message = Message(
        message_id=next(h._ids),
        date=datetime.now(UTC),
        chat=Chat(id=person.id, type="private"),
        from_user=h._user(person),
        document=Document(
            file_id=file_id,
            file_unique_id=file_id[-8:],
            file_name=name,
            file_size=len(content) if size is None else size,
        ),
    )
    await h.app.dispatcher.feed_update(h.app.bot, Update(update_id=next(h._ids), message=message))
    return h.replies()


def button(reply: Reply, act: str) -> str:
    for _, data in reply.buttons:
        if data.startswith("im:") and ImportAction.unpack(data).act == act:
            return data
    raise AssertionError(f"no {act} button in {reply.buttons}")


def csv_bytes(rows: list[list[str]], *, delimiter: str = ";", encoding: str = "cp1251") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)
