"""What Telegram's Bot API accepts from a bot and hands to it: the one place these numbers live.

Outside `bot/telegram` because services (the export's file size, the import's download) and
parsing (tags inside button data) need them too, and those import nothing of aiogram.
Lengths of text are in UTF-16 code units, after HTML entities are parsed (see
`bot.telegram.paging.measure`).
"""

from __future__ import annotations

TEXT_LIMIT = 4096  # a message
CAPTION_LIMIT = 1024  # a photo's or document's caption
ALERT_LIMIT = 200  # the text of a callback answer (a toast or an alert)
CALLBACK_DATA_BYTES = 64  # a button's callback data, in UTF-8 bytes

MB = 1024 * 1024
UPLOAD_MAX_BYTES = 50 * MB  # a file a bot sends (sendDocument, sendPhoto)
DOWNLOAD_MAX_BYTES = 20 * MB  # a file a bot gets (getFile) from the public Bot API server
