"""The API's refusals as JSON: a stable code and the sentence the chat says for it.

Service and parser refusals keep their `ErrorCode` and its sentence from the chat's table
(bot/telegram/error_texts.py), without the HTML; the API's own codes (authentication,
membership, malformed requests) have theirs here.
"""

from __future__ import annotations

import re
from html import unescape

from aiohttp import web

from bot.errors import ErrorCode
from bot.i18n import N_, _
from bot.miniapp import auth
from bot.telegram.error_texts import error_text

NOT_MEMBER = "not_member"
ACCESS_CLOSED = "access_closed"
BAD_REQUEST = "bad_request"
NOT_FOUND = "not_found"
INTERNAL = "internal"

_TAG = re.compile(r"<[^>]+>")

# The chat's sentences for a stranger and a removed member (bot/telegram/middlewares.py): the
# same msgids, so the page says what the chat says.
_OWN_TEXTS: dict[str, str] = {
    auth.AUTH_MISSING: N_("Open this page from the bot's menu button in Telegram."),
    auth.AUTH_INVALID: N_(
        "Telegram's signature on this page does not check out. Close it and open it again "
        "from the bot's menu button."
    ),
    auth.AUTH_EXPIRED: N_(
        "This page was opened too long ago. Close it and open it again from the bot's menu button."
    ),
    auth.LOGIN_EXPIRED: N_(
        "This login link has already been used or has expired. Type !app in the playground "
        "for a new one."
    ),
    auth.SESSION_EXPIRED: N_("Your session has ended. Type !app in the playground for a new link."),
    NOT_MEMBER: N_(
        "This is a private sales assistant of a team. To join, ask the owner "
        "for an invitation link."
    ),
    ACCESS_CLOSED: N_(
        "Your access to this team has been closed. Ask the owner if this is a mistake."
    ),
    BAD_REQUEST: N_("The request could not be understood. Reload the page and try again."),
    NOT_FOUND: N_("There is no such page."),
    INTERNAL: N_("Something went wrong on our side. Please try again in a minute."),
}

_STATUS: dict[str, int] = {
    auth.AUTH_MISSING: 401,
    auth.AUTH_INVALID: 401,
    auth.AUTH_EXPIRED: 401,
    auth.LOGIN_EXPIRED: 401,
    auth.SESSION_EXPIRED: 401,
    NOT_MEMBER: 403,
    ACCESS_CLOSED: 403,
    BAD_REQUEST: 400,
    NOT_FOUND: 404,
    INTERNAL: 500,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.EXPORT_NOT_ALLOWED: 403,
    ErrorCode.PORTFOLIO_OWN_ONLY: 403,
    ErrorCode.CLIENT_NOT_FOUND: 404,
    ErrorCode.CLIENT_ERASED: 404,
    # Try again shortly: the classes are being computed (bot/services/class_cache.py).
    ErrorCode.CLASSES_NOT_READY: 503,
}


class ApiError(Exception):
    """A refusal of the API's own (not a service's): `code` is one of `_OWN_TEXTS`."""

    def __init__(self, code: str, *, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def plain(text: str) -> str:
    """The chat's HTML sentence as plain text: `<code>x</code>` becomes «x»."""
    text = text.replace("<code>", "«").replace("</code>", "»")
    return unescape(_TAG.sub("", text))


def own_text(code: str) -> str:
    return _(_OWN_TEXTS[code])


def respond(
    code: str, *, params: dict[str, object] | None = None, field: str | None = None
) -> web.Response:
    """The JSON refusal in the current locale."""
    if code in _OWN_TEXTS:
        message = own_text(code)
    else:
        message = plain(error_text(ErrorCode(code), params or {}))
    body = {"error": {"code": str(code), "message": message, "field": field}}
    return web.json_response(body, status=_STATUS.get(code, 400), headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store"}
