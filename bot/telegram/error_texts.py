"""Each error code (bot/errors.py) turned into its sentence: one table, one entry per code.

The sentences live here, in the Telegram layer, not next to the enum: they are presentation
(Telegram's HTML, <code> examples of commands), and the parsers and services that raise the codes
stay free of wording. tests/test_error_codes.py checks that every code has its entry, in English
and Russian with the same placeholders, that no entry names a code that is gone, and that every
raise gives the parameters its sentence needs. There is no generic fallback: a code without a
sentence is a failing test, not a vague answer to a member.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from bot.errors import ErrorCode
from bot.fields import FIELDS_BY_NAME
from bot.i18n import N_, Nn_, Plural, _, fmt_number, ngettext

# Values echoed from the member's input ("«{word}»") are escaped and cut to this many characters.
ECHO_CHARS = 60
# A list of names (`names`): longer than one echoed word, still bounded.
NAMES_CHARS = 400

ERROR_TEXTS: dict[ErrorCode, str | Plural] = {
    ErrorCode.DATE_INVALID: N_(
        "I could not understand the date, or there is no such date. "
        "Examples: <code>tomorrow</code>, <code>in 2 weeks</code>, <code>friday</code>, "
        "<code>15.12</code>, <code>15.12 10:00</code>."
    ),
    ErrorCode.DATE_PAST: N_(
        "That moment has already passed. Give a date in the future, "
        "for example <code>tomorrow 10:00</code>."
    ),
    ErrorCode.DATE_MISSING: N_(
        "When should you call back? For example: <code>/call Ivanov callback in 2 weeks</code>."
    ),
    ErrorCode.AMOUNT_MISSING: N_(
        "What is the amount? For example: <code>/deal Ivanov 150000</code>."
    ),
    ErrorCode.AMOUNT_INVALID: N_(
        "I could not read the amount. Examples: <code>150000</code>, <code>150 000</code>, "
        "<code>150k</code>, <code>1.5m</code>, <code>150 тыс</code>."
    ),
    ErrorCode.AMOUNT_NEGATIVE: N_("The amount must be greater than zero."),
    ErrorCode.AMOUNT_TOO_LARGE: N_(
        "That amount is too large (the limit is {max}). Please check it."
    ),
    ErrorCode.MARGIN_INVALID: N_(
        "The margin must be a percentage between -100% and 100% (<code>margin 30%</code>) "
        "or a profit amount not larger than the deal."
    ),
    ErrorCode.NAME_MISSING: N_("Which client? Write the name after the command."),
    ErrorCode.NAME_TOO_LONG: Nn_(
        "The name is too long: at most {limit} character.",
        "The name is too long: at most {limit} characters.",
    ),
    ErrorCode.NOTE_MISSING: N_(
        "The note is empty. Example: <code>/note Ivanov wants a discount</code>."
    ),
    ErrorCode.NOTE_TOO_LONG: Nn_(
        "The text is too long: at most {limit} character, this one has {length}. "
        "Please shorten it or split it into several notes.",
        "The text is too long: at most {limit} characters, this one has {length}. "
        "Please shorten it or split it into several notes.",
    ),
    ErrorCode.OUTCOME_MISSING: N_(
        "What was the result of the call? Use: <code>done</code>, <code>no answer</code>, "
        "<code>callback &lt;date&gt;</code>, <code>refused</code>, "
        "<code>deal &lt;sum&gt;</code>."
    ),
    ErrorCode.OUTCOME_UNKNOWN: N_(
        "I don't know the result «{word}». Use: <code>done</code>, <code>no answer</code>, "
        "<code>callback &lt;date&gt;</code>, <code>refused</code>, "
        "<code>deal &lt;sum&gt;</code>. Example: <code>/call Ivanov callback tomorrow</code>."
    ),
    ErrorCode.CLIENT_NOT_FOUND: N_("This client was not found among your clients."),
    ErrorCode.NOT_ALLOWED: N_("Only the team owner can do this."),
    ErrorCode.INVITE_ROLE_UNKNOWN: N_(
        "Whom do you invite? <code>/invite manager</code> or <code>/invite head</code>."
    ),
    ErrorCode.INVITE_USED: N_("This invitation link has already been used."),
    ErrorCode.CALENDAR_USAGE: N_(
        "I do not know «{word}» here. Use: <code>/calendar</code> — your follow-ups in your "
        "phone's calendar, <code>/calendar new</code> — a new link (the old one stops "
        "working), <code>/calendar off</code> — turn the feed off."
    ),
    ErrorCode.DUPLICATE_PHONE: N_(
        "A client with this phone number is already in the team's base. "
        "If it should be yours, ask the head of sales to reassign it."
    ),
    ErrorCode.DUPLICATE_EMAIL: N_(
        "A client with this email is already in the team's base. "
        "If it should be yours, ask the head of sales to reassign it."
    ),
    ErrorCode.FIELD_TOO_LONG: Nn_(
        "{field} is too long: at most {limit} character.",
        "{field} is too long: at most {limit} characters.",
    ),
    ErrorCode.PHONE_INVALID: N_("«{value}» does not look like a phone number."),
    ErrorCode.EMAIL_INVALID: N_("«{value}» does not look like an email address."),
    ErrorCode.BIRTHDAY_INVALID: N_(
        "«{value}» is not a date. Example: <code>birthday: 15.03.1980</code>."
    ),
    ErrorCode.TIMEZONE_INVALID: N_(
        "I don't know the time zone «{value}». Examples: <code>Europe/Moscow</code>, "
        "<code>Asia/Yekaterinburg</code>, <code>+3</code>, <code>Новосибирск</code>."
    ),
    ErrorCode.HOURS_INVALID: N_(
        "Working hours look like <code>9-18</code> or <code>09:30-18:30</code>; "
        "the start must be before the end."
    ),
    ErrorCode.LANGUAGE_INVALID: N_("Choose <code>ru</code> or <code>en</code>."),
    ErrorCode.SETTINGS_USAGE: N_(
        "Use: <code>/settings tz Europe/Moscow</code>, <code>/settings hours 9-18</code>, "
        "<code>/settings digest 8:30</code> or <code>/settings lang en</code>."
    ),
    ErrorCode.TEAM_PERIOD_UNKNOWN: N_(
        "There is no team period «{value}». See them all: <code>/settings team</code>."
    ),
    ErrorCode.TEAM_PERIOD_INVALID: N_("The period is a whole number of days from {low} to {high}."),
    ErrorCode.DIGEST_TIME_INVALID: N_(
        "The digest time looks like <code>8:30</code> or <code>9</code> (24-hour clock)."
    ),
    ErrorCode.ALREADY_HANDLED: N_(
        "This was already handled: the client's next contact has changed since. "
        "Open the card again to see it."
    ),
    ErrorCode.CAMPAIGN_USAGE: N_(
        "Use: <code>/campaign &lt;segment or #tag&gt; &lt;date&gt; &lt;title&gt;</code>. "
        "For example: <code>/campaign VIP 07.03 8 March offer</code> — every client "
        "with this segment or tag gets a follow-up for its manager on that day."
    ),
    ErrorCode.CAMPAIGN_NO_CLIENTS: N_(
        "No active client has the segment or tag «{selector}». Nothing was planned."
    ),
    ErrorCode.CAMPAIGN_DUPLICATE: N_(
        "The campaign «{title}» for «{selector}» on {day} has already been launched. "
        "Nothing was added."
    ),
    ErrorCode.CAMPAIGN_TITLE_TOO_LONG: Nn_(
        "The campaign title is too long: at most {limit} character.",
        "The campaign title is too long: at most {limit} characters.",
    ),
    ErrorCode.PICK_EXPIRED: N_("This choice has expired. Please send the command again."),
    ErrorCode.IMPORT_OWNER_ONLY: N_(
        "Only the team owner can import clients. Ask the owner to send the file."
    ),
    ErrorCode.IMPORT_NOT_SPREADSHEET: N_(
        "This is not a table I can read. Send an <b>.xlsx</b> or <b>.csv</b> file."
    ),
    ErrorCode.IMPORT_OLD_FORMAT: N_(
        "This Excel format is not supported. Open the file in Excel and save it as "
        "<b>.xlsx</b> (or <b>.csv</b>), then send it again."
    ),
    ErrorCode.IMPORT_TOO_LARGE: N_(
        "The file is too large: at most {limit} MB. Split it into several files."
    ),
    ErrorCode.IMPORT_TOO_MANY_ROWS: Nn_(
        "The table has more than {limit} row. Split it into several files of up to {limit} row.",
        "The table has more than {limit} rows. Split it into several files of up to {limit} rows.",
    ),
    ErrorCode.IMPORT_EMPTY: N_("The table is empty: I found no rows with data."),
    ErrorCode.IMPORT_NAME_UNMAPPED: N_(
        "Choose the column with the client's name: tap it and pick «Name»."
    ),
    ErrorCode.IMPORT_FIELD_TWICE: N_(
        "Two columns go to the same field. Only phones may come from several columns."
    ),
    ErrorCode.IMPORT_EXPIRED: N_("This import has expired. Please send the file again."),
    ErrorCode.IMPORT_ALREADY_DONE: N_("This file has already been imported: see the report above."),
    ErrorCode.IMPORT_DOWNLOAD_FAILED: N_(
        "I could not download the file from Telegram. Please send it again."
    ),
    # What one file may unpack to (bot/services/importing/guard.py): each says which
    # limit was hit and what to do.
    ErrorCode.IMPORT_UNPACKED_TOO_LARGE: N_(
        "This .xlsx unpacks to more than {limit} MB, more than I read from one file. "
        "Split the table into several files, or save it as .csv and send that."
    ),
    ErrorCode.IMPORT_PART_TOO_LARGE: N_(
        "A sheet of this .xlsx unpacks to more than {limit} MB, more than I read from one "
        "file. Split the table into several files, or save it as .csv and send that."
    ),
    ErrorCode.IMPORT_COMPRESSION: N_(
        "This .xlsx is compressed more than {limit} to 1, far tighter than a real table "
        "ever is, so I did not unpack it. Open it in Excel and save it again, or save it "
        "as .csv."
    ),
    ErrorCode.IMPORT_SHEET_ROWS: Nn_(
        "The sheet has more than {limit} row, empty ones included. Delete the empty rows "
        "below the table or split it into several files, or save it as .csv.",
        "The sheet has more than {limit} rows, empty ones included. Delete the empty rows "
        "below the table or split it into several files, or save it as .csv.",
    ),
    ErrorCode.IMPORT_TOO_MANY_COLUMNS: Nn_(
        "The table has more than {limit} column. Keep only the columns with client data, "
        "or save it as .csv.",
        "The table has more than {limit} columns. Keep only the columns with client data, "
        "or save it as .csv.",
    ),
    ErrorCode.IMPORT_CELL_TOO_LONG: Nn_(
        "Row {row}, column {column}: the cell is longer than {limit} character. Shorten "
        "it or clear it, then send the file again.",
        "Row {row}, column {column}: the cell is longer than {limit} characters. Shorten "
        "it or clear it, then send the file again.",
    ),
    ErrorCode.IMPORT_SHARED_TOO_LONG: Nn_(
        "The file holds a text longer than {limit} character, more than a cell may hold. "
        "Shorten it, or save the table as .csv and send that.",
        "The file holds a text longer than {limit} characters, more than a cell may hold. "
        "Shorten it, or save the table as .csv and send that.",
    ),
    ErrorCode.IMPORT_SHARED_STRINGS: Nn_(
        "The file holds more than {limit} different text. Split the table into several "
        "files, or save it as .csv.",
        "The file holds more than {limit} different texts. Split the table into several "
        "files, or save it as .csv.",
    ),
    ErrorCode.IMPORT_SHARED_CHARS: Nn_(
        "The texts in this file add up to more than {limit} character. Split the table "
        "into several files, or save it as .csv.",
        "The texts in this file add up to more than {limit} characters. Split the table "
        "into several files, or save it as .csv.",
    ),
    ErrorCode.IMPORT_XML_DEPTH: Nn_(
        "This .xlsx is not built the way Excel builds one: its markup is nested more than "
        "{limit} level deep. Open it in Excel and save it again, or save it as .csv.",
        "This .xlsx is not built the way Excel builds one: its markup is nested more than "
        "{limit} levels deep. Open it in Excel and save it again, or save it as .csv.",
    ),
    ErrorCode.IMPORT_XML_TOKEN: N_(
        "This .xlsx holds a piece of markup longer than {limit} KB, which a real table "
        "never has. Open it in Excel and save it again, or save it as .csv."
    ),
    ErrorCode.IMPORT_WORKER_MEMORY: N_(
        "Reading this file needs more memory than I give one file, so I stopped. Nothing "
        "was saved. Split the table into several files, or save it as .csv."
    ),
    ErrorCode.IMPORT_WORKER_TIMEOUT: Nn_(
        "Reading this file took longer than {limit} second, so I stopped. Nothing was "
        "saved. Split the table into several files, or save it as .csv.",
        "Reading this file took longer than {limit} seconds, so I stopped. Nothing was "
        "saved. Split the table into several files, or save it as .csv.",
    ),
    ErrorCode.IMPORT_WORKER_FAILED: N_(
        "I could not finish reading this file. Nothing was saved. If it is a very large "
        "table, split it into several files or save it as .csv; otherwise send it again."
    ),
    ErrorCode.IMPORT_CSV_ENCODING: N_(
        "I cannot tell the encoding of this .csv. Save it again as «CSV UTF-8» and send it."
    ),
    ErrorCode.CLIENT_ERASED: N_(
        "This client's personal data was erased at the owner's request; there is nothing to show."
    ),
    ErrorCode.EXPORT_NOT_ALLOWED: N_(
        "Only the owner, or a member the owner granted it (<code>/grant export Name</code>), "
        "can export the client base."
    ),
    ErrorCode.EXPORT_EMPTY: N_("No clients match: there is nothing to export."),
    ErrorCode.EXPORT_OWN_ONLY: N_("You can export only your own clients: <code>/export</code>."),
    ErrorCode.EXPORT_FAILED: N_("The file could not be built. Please try again a bit later."),
    ErrorCode.EXPORT_TOO_LARGE: N_(
        "The file would be larger than the {limit} MB Telegram lets a bot send. Export a part: "
        "<code>/export Petrov</code>, <code>/export segment VIP</code>, or XLSX instead "
        "of CSV."
    ),
    ErrorCode.EXPORT_USAGE: N_(
        "Use: <code>/export</code> (all clients), <code>/export Petrov</code>, "
        "<code>/export segment VIP</code>, <code>/export #vip</code>; add <code>csv</code> "
        "for CSV and <code>with activities</code> for the history."
    ),
    ErrorCode.GRANT_USAGE: N_(
        "Use: <code>/grant export Petrov</code> or <code>/revoke export Petrov</code>."
    ),
    ErrorCode.GRANT_OWNER: N_("{name} is an owner: owners can always export."),
    ErrorCode.PERIOD_INVALID: N_(
        "I could not read the period «{value}». Examples: <code>today</code>, "
        "<code>week</code>, <code>month</code>, <code>23.11</code>, <code>01.11-23.11</code>."
    ),
    ErrorCode.CONSENT_USAGE: N_(
        "Use: <code>/consent Ivanov yes</code>, <code>no</code> or <code>unknown</code>."
    ),
    ErrorCode.FORGET_USAGE: N_(
        "Whose personal data should be erased? <code>/forget Ivanov</code> (owner only)."
    ),
    ErrorCode.NOT_ALLOWED_TEAM: N_("Only the owner or the head of sales can do this."),
    ErrorCode.MEMBER_NOT_FOUND: N_("No team member matches «{value}». See the team: /team"),
    ErrorCode.MEMBER_AMBIGUOUS: N_(
        "Several team members match «{value}»: {names}. Write the name more fully "
        "or use the @username."
    ),
    ErrorCode.MEMBER_REMOVED: N_("{name} is no longer in the team."),
    ErrorCode.MEMBER_ALREADY_REMOVED: N_("{name} has already been removed from the team."),
    ErrorCode.REMOVE_SELF: N_("You cannot remove yourself from the team."),
    ErrorCode.REMOVE_OWNER: N_(
        "The owner cannot be removed. Hand the ownership over first: "
        "<code>/owner &lt;member&gt;</code>."
    ),
    ErrorCode.ROLE_OWNER_BY_TRANSFER: N_(
        "The owner's role changes only by handing the ownership over: "
        "<code>/owner &lt;member&gt;</code>."
    ),
    ErrorCode.ROLE_SAME: N_("Nothing changed: the member already has this role."),
    ErrorCode.OWNER_SELF: N_("This member is already the owner."),
    ErrorCode.LAST_OWNER: N_("The team must keep an active owner; nothing was changed."),
    ErrorCode.TRANSFER_SAME: N_("Those clients already belong to {name}. Choose another member."),
    ErrorCode.TRANSFER_EMPTY: N_("{name} has no clients to transfer."),
    ErrorCode.TRANSFER_NOT_THEIRS: N_("«{value}» is not a client of {name}. Nothing was moved."),
    ErrorCode.TRANSFER_CLIENT_UNKNOWN: N_(
        "No client of {name} matches «{value}». Nothing was moved."
    ),
    ErrorCode.TRANSFER_CLIENT_AMBIGUOUS: N_(
        "«{value}» matches several clients of {name}: {names}. Write the name more fully. "
        "Nothing was moved."
    ),
    ErrorCode.TRANSFER_TARGET_MISSING: N_(
        "To whom? <code>/transfer &lt;from&gt; &lt;to&gt; [clients, ...]</code>, "
        "for example <code>/transfer Max Nina</code>."
    ),
    ErrorCode.CLASSES_NOT_READY: N_(
        "The ABC-XYZ classes are still being computed. Try the class filter again in a few seconds."
    ),
    ErrorCode.PORTFOLIO_OWN_ONLY: N_(
        "You can see only your own numbers: send <code>/portfolio</code> without a name."
    ),
    ErrorCode.PORTFOLIO_MEMBER_UNKNOWN: N_(
        "I don't know «{name}» in your team. Use: <code>/portfolio</code>, "
        "<code>/portfolio quarter</code>, <code>/portfolio year Petrov</code>, "
        "<code>/portfolio 01.09-30.11</code>."
    ),
    ErrorCode.PORTFOLIO_MEMBER_AMBIGUOUS: N_(
        "Several team members match «{name}». Type more of the name, or pick with the buttons."
    ),
    ErrorCode.PORTFOLIO_PERIOD_INVALID: N_(
        "I could not read the period. Use <code>month</code>, <code>quarter</code>, "
        "<code>year</code> or dates like <code>01.09-30.11</code>."
    ),
    ErrorCode.PERIOD_TOO_LONG: N_("The period is too long: at most three years."),
    ErrorCode.CLIENT_NOT_YOURS: N_(
        "«{name}» is no longer among your clients: the client was reassigned. Nothing was saved."
    ),
    ErrorCode.WEEKLY_USAGE: N_(
        "Use: <code>/settings weekly monday 9:00</code> (a day and a time), "
        "<code>/settings weekly digest</code> (at each one's morning digest time), "
        "<code>/settings weekly heads on</code> or <code>off</code>, "
        "<code>/settings weekly off</code> or <code>on</code>."
    ),
    ErrorCode.WEEKLY_TIME_INVALID: N_(
        "«{value}» is not a time: write it like <code>9:00</code> or <code>17</code> "
        "(24-hour clock)."
    ),
}

# `field_too_long` names the field by its label (bot/fields.py), not by its column name.
FIELD_LABELS: dict[str, str] = {name: field.label for name, field in FIELDS_BY_NAME.items()}


def error_text(code: ErrorCode, params: dict[str, object]) -> str:
    p = {key: escape(str(value)[:ECHO_CHARS]) for key, value in params.items()}
    if "max" in params:
        p["max"] = fmt_number(Decimal(str(params["max"])))
    if "names" in params:
        p["names"] = escape(str(params["names"])[:NAMES_CHARS])
    if code is ErrorCode.FIELD_TOO_LONG:
        label = FIELD_LABELS.get(str(params.get("field")))
        p["field"] = _(label) if label is not None else p.get("field", "")
    text = ERROR_TEXTS[code]
    if isinstance(text, Plural):
        # The sentence counts by its limit ("at most 1 character", "at most 200 characters").
        return ngettext(text.singular, text.plural, _count(params.get("limit"))).format(**p)
    return _(text).format(**p)


def _count(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
