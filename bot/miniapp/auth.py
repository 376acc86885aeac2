"""Who is asking: Telegram's signed `initData`, or a playground session from a one-time login.

initData is checked as Telegram documents it (core.telegram.org/bots/webapps, "Validating data
received via the Mini App"): the data-check string is every field but `hash`, sorted by key, as
`key=value` lines joined by "\\n"; secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token);
the field `hash` must equal hex(HMAC_SHA256(key=secret_key, msg=data_check_string)).

The bot token, the initData and the login codes never appear in an error or a log line: an
`AuthError` carries a code only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

# Codes of the API's own refusals (docs/miniapp.md).
AUTH_MISSING = "auth_missing"
AUTH_INVALID = "auth_invalid"
AUTH_EXPIRED = "auth_expired"
LOGIN_EXPIRED = "login_expired"
SESSION_EXPIRED = "session_expired"

# Telegram's initData is a few hundred bytes; anything far longer is not it.
MAX_INIT_DATA_CHARS = 8192
# A clock a little ahead of Telegram's must not refuse a fresh initData.
CLOCK_SKEW = timedelta(minutes=5)


class AuthError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """The Telegram account the request comes from."""

    id: int
    language_code: str | None = None


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The `hash` Telegram would put beside `fields` (tests and the benchmark forge valid ones)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(secret_key(bot_token), check.encode(), hashlib.sha256).hexdigest()


def verify_init_data(
    init_data: str, bot_token: str, *, now: datetime, max_age: timedelta
) -> WebAppUser:
    """The user of a genuine, fresh initData; AuthError otherwise."""
    if not init_data or len(init_data) > MAX_INIT_DATA_CHARS:
        raise AuthError(AUTH_INVALID)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AuthError(AUTH_INVALID) from None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a repeated key: not what Telegram signs
        raise AuthError(AUTH_INVALID)
    received = fields.pop("hash", "")
    expected = sign(fields, bot_token)
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise AuthError(AUTH_INVALID)
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), tz=now.tzinfo)
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        raise AuthError(AUTH_INVALID) from None
    if now - signed_at > max_age or signed_at - now > CLOCK_SKEW:
        raise AuthError(AUTH_EXPIRED)
    language = user.get("language_code")
    return WebAppUser(user_id, language if isinstance(language, str) else None)


@dataclass(slots=True)
class _Grant:
    telegram_id: int
    expires: datetime


class Logins:
    """One-time login codes (printed by the console playground) and the sessions they open.

    In memory: the playground is one process, and a restart printing a new code is the expected
    way back in. A code is taken once; a session ends after `session_ttl`."""

    def __init__(
        self,
        *,
        code_ttl: timedelta = timedelta(minutes=10),
        session_ttl: timedelta = timedelta(hours=12),
    ) -> None:
        self.code_ttl = code_ttl
        self.session_ttl = session_ttl
        self._codes: dict[str, _Grant] = {}
        self._sessions: dict[str, _Grant] = {}

    def issue(self, telegram_id: int, now: datetime) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(telegram_id, now + self.code_ttl)
        return code

    def redeem(self, code: str, now: datetime) -> str:
        """A session token for a valid code, which is used up; AuthError otherwise."""
        grant = self._codes.pop(code, None) if isinstance(code, str) else None
        self._forget_expired(now)
        if grant is None or grant.expires <= now:
            raise AuthError(LOGIN_EXPIRED)
        token = secrets.token_urlsafe(32)
        self._sessions[token] = _Grant(grant.telegram_id, now + self.session_ttl)
        return token

    def session_user(self, token: str, now: datetime) -> WebAppUser:
        grant = self._sessions.get(token)
        if grant is None or grant.expires <= now:
            self._sessions.pop(token, None)
            raise AuthError(SESSION_EXPIRED)
        return WebAppUser(grant.telegram_id)

    def _forget_expired(self, now: datetime) -> None:
        for store in (self._codes, self._sessions):
            for key in [key for key, grant in store.items() if grant.expires <= now]:
                del store[key]
