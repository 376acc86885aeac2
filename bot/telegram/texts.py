"""Message texts that more than one handler uses, and error codes turned into sentences."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from bot.fields import FIELDS_BY_NAME
from bot.i18n import _, fmt_number, ngettext
from bot.telegram.paging import split_text

# Handlers split long replies with this; it lives with Telegram's limits in bot.telegram.paging.
__all__ = ["error_text", "split_text"]


def _count(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def error_text(code: str, params: dict[str, object]) -> str:
    # Values may be user input ("«{word}»"): escaped and kept short.
    p = {key: escape(str(value)[:60]) for key, value in params.items()}
    if "max" in params:
        p["max"] = fmt_number(Decimal(str(params["max"])))
    if "names" in params:
        # A list of names: longer than one echoed word, still bounded.
        p["names"] = escape(str(params["names"])[:400])
    # The number a limit's sentence counts by ("at most 1 character", "at most 200 characters").
    limit = _count(params.get("limit"))
    texts = {
        "date_invalid": _(
            "I could not understand the date, or there is no such date. "
            "Examples: <code>tomorrow</code>, <code>in 2 weeks</code>, <code>friday</code>, "
            "<code>15.12</code>, <code>15.12 10:00</code>."
        ),
        "date_past": _(
            "That moment has already passed. Give a date in the future, "
            "for example <code>tomorrow 10:00</code>."
        ),
        "date_missing": _(
            "When should you call back? For example: <code>/call Ivanov callback in 2 weeks</code>."
        ),
        "amount_missing": _("What is the amount? For example: <code>/deal Ivanov 150000</code>."),
        "amount_invalid": _(
            "I could not read the amount. Examples: <code>150000</code>, <code>150 000</code>, "
            "<code>150k</code>, <code>1.5m</code>, <code>150 тыс</code>."
        ),
        "amount_negative": _("The amount must be greater than zero."),
        "amount_too_large": _("That amount is too large (the limit is {max}). Please check it."),
        "margin_invalid": _(
            "The margin must be a percentage between -100% and 100% (<code>margin 30%</code>) "
            "or a profit amount not larger than the deal."
        ),
        "name_missing": _("Which client? Write the name after the command."),
        "name_too_long": ngettext(
            "The name is too long: at most {limit} character.",
            "The name is too long: at most {limit} characters.",
            limit,
        ),
        "note_missing": _(
            "The note is empty. Example: <code>/note Ivanov wants a discount</code>."
        ),
        "note_too_long": ngettext(
            "The text is too long: at most {limit} character, this one has {length}. "
            "Please shorten it or split it into several notes.",
            "The text is too long: at most {limit} characters, this one has {length}. "
            "Please shorten it or split it into several notes.",
            limit,
        ),
        "outcome_missing": _(
            "What was the result of the call? Use: <code>done</code>, <code>no answer</code>, "
            "<code>callback &lt;date&gt;</code>, <code>refused</code>, "
            "<code>deal &lt;sum&gt;</code>."
        ),
        "outcome_unknown": _(
            "I don't know the result «{word}». Use: <code>done</code>, <code>no answer</code>, "
            "<code>callback &lt;date&gt;</code>, <code>refused</code>, "
            "<code>deal &lt;sum&gt;</code>. Example: <code>/call Ivanov callback tomorrow</code>."
        ),
        "client_not_found": _("This client was not found among your clients."),
        "not_allowed": _("Only the team owner can do this."),
        "invite_role_unknown": _(
            "Whom do you invite? <code>/invite manager</code> or <code>/invite head</code>."
        ),
        "invite_used": _("This invitation link has already been used."),
        "duplicate_phone": _(
            "A client with this phone number is already in the team's base. "
            "If it should be yours, ask the head of sales to reassign it."
        ),
        "duplicate_email": _(
            "A client with this email is already in the team's base. "
            "If it should be yours, ask the head of sales to reassign it."
        ),
        "field_too_long": ngettext(
            "{field} is too long: at most {limit} character.",
            "{field} is too long: at most {limit} characters.",
            limit,
        ),
        "phone_invalid": _("«{value}» does not look like a phone number."),
        "email_invalid": _("«{value}» does not look like an email address."),
        "birthday_invalid": _(
            "«{value}» is not a date. Example: <code>birthday: 15.03.1980</code>."
        ),
        "timezone_invalid": _(
            "I don't know the time zone «{value}». Examples: <code>Europe/Moscow</code>, "
            "<code>Asia/Yekaterinburg</code>, <code>+3</code>, <code>Новосибирск</code>."
        ),
        "hours_invalid": _(
            "Working hours look like <code>9-18</code> or <code>09:30-18:30</code>; "
            "the start must be before the end."
        ),
        "language_invalid": _("Choose <code>ru</code> or <code>en</code>."),
        "settings_usage": _(
            "Use: <code>/settings tz Europe/Moscow</code>, <code>/settings hours 9-18</code>, "
            "<code>/settings digest 8:30</code> or <code>/settings lang en</code>."
        ),
        "team_period_unknown": _(
            "There is no team period «{value}». See them all: <code>/settings team</code>."
        ),
        "team_period_invalid": _("The period is a whole number of days from {low} to {high}."),
        "digest_time_invalid": _(
            "The digest time looks like <code>8:30</code> or <code>9</code> (24-hour clock)."
        ),
        "already_handled": _(
            "This was already handled: the client's next contact has changed since. "
            "Open the card again to see it."
        ),
        "campaign_usage": _(
            "Use: <code>/campaign &lt;segment or #tag&gt; &lt;date&gt; &lt;title&gt;</code>. "
            "For example: <code>/campaign VIP 07.03 8 March offer</code> — every client "
            "with this segment or tag gets a follow-up for its manager on that day."
        ),
        "campaign_no_clients": _(
            "No active client has the segment or tag «{selector}». Nothing was planned."
        ),
        "campaign_duplicate": _(
            "The campaign «{title}» for «{selector}» on {day} has already been launched. "
            "Nothing was added."
        ),
        "campaign_title_too_long": ngettext(
            "The campaign title is too long: at most {limit} character.",
            "The campaign title is too long: at most {limit} characters.",
            limit,
        ),
        "pick_expired": _("This choice has expired. Please send the command again."),
        "import_owner_only": _(
            "Only the team owner can import clients. Ask the owner to send the file."
        ),
        "import_not_spreadsheet": _(
            "This is not a table I can read. Send an <b>.xlsx</b> or <b>.csv</b> file."
        ),
        "import_old_format": _(
            "This Excel format is not supported. Open the file in Excel and save it as "
            "<b>.xlsx</b> (or <b>.csv</b>), then send it again."
        ),
        "import_too_large": _(
            "The file is too large: at most {limit} MB. Split it into several files."
        ),
        "import_too_many_rows": ngettext(
            "The table has more than {limit} row. Split it into several files of up to "
            "{limit} row.",
            "The table has more than {limit} rows. Split it into several files of up to "
            "{limit} rows.",
            limit,
        ),
        "import_empty": _("The table is empty: I found no rows with data."),
        "import_name_unmapped": _(
            "Choose the column with the client's name: tap it and pick «Name»."
        ),
        "import_field_twice": _(
            "Two columns go to the same field. Only phones may come from several columns."
        ),
        "import_expired": _("This import has expired. Please send the file again."),
        "import_already_done": _("This file has already been imported: see the report above."),
        "import_download_failed": _(
            "I could not download the file from Telegram. Please send it again."
        ),
        # What one file may unpack to (bot/services/importing/guard.py): each says which
        # limit was hit and what to do.
        "import_unpacked_too_large": _(
            "This .xlsx unpacks to more than {limit} MB, more than I read from one file. "
            "Split the table into several files, or save it as .csv and send that."
        ),
        "import_part_too_large": _(
            "A sheet of this .xlsx unpacks to more than {limit} MB, more than I read from one "
            "file. Split the table into several files, or save it as .csv and send that."
        ),
        "import_compression": _(
            "This .xlsx is compressed more than {limit} to 1, far tighter than a real table "
            "ever is, so I did not unpack it. Open it in Excel and save it again, or save it "
            "as .csv."
        ),
        "import_sheet_rows": ngettext(
            "The sheet has more than {limit} row, empty ones included. Delete the empty rows "
            "below the table or split it into several files, or save it as .csv.",
            "The sheet has more than {limit} rows, empty ones included. Delete the empty rows "
            "below the table or split it into several files, or save it as .csv.",
            limit,
        ),
        "import_too_many_columns": ngettext(
            "The table has more than {limit} column. Keep only the columns with client data, "
            "or save it as .csv.",
            "The table has more than {limit} columns. Keep only the columns with client data, "
            "or save it as .csv.",
            limit,
        ),
        "import_cell_too_long": ngettext(
            "Row {row}, column {column}: the cell is longer than {limit} character. Shorten "
            "it or clear it, then send the file again.",
            "Row {row}, column {column}: the cell is longer than {limit} characters. Shorten "
            "it or clear it, then send the file again.",
            limit,
        ),
        "import_shared_too_long": ngettext(
            "The file holds a text longer than {limit} character, more than a cell may hold. "
            "Shorten it, or save the table as .csv and send that.",
            "The file holds a text longer than {limit} characters, more than a cell may hold. "
            "Shorten it, or save the table as .csv and send that.",
            limit,
        ),
        "import_shared_strings": ngettext(
            "The file holds more than {limit} different text. Split the table into several "
            "files, or save it as .csv.",
            "The file holds more than {limit} different texts. Split the table into several "
            "files, or save it as .csv.",
            limit,
        ),
        "import_shared_chars": ngettext(
            "The texts in this file add up to more than {limit} character. Split the table "
            "into several files, or save it as .csv.",
            "The texts in this file add up to more than {limit} characters. Split the table "
            "into several files, or save it as .csv.",
            limit,
        ),
        "import_xml_depth": ngettext(
            "This .xlsx is not built the way Excel builds one: its markup is nested more than "
            "{limit} level deep. Open it in Excel and save it again, or save it as .csv.",
            "This .xlsx is not built the way Excel builds one: its markup is nested more than "
            "{limit} levels deep. Open it in Excel and save it again, or save it as .csv.",
            limit,
        ),
        "import_xml_token": _(
            "This .xlsx holds a piece of markup longer than {limit} KB, which a real table "
            "never has. Open it in Excel and save it again, or save it as .csv."
        ),
        "import_worker_memory": _(
            "Reading this file needs more memory than I give one file, so I stopped. Nothing "
            "was saved. Split the table into several files, or save it as .csv."
        ),
        "import_worker_timeout": ngettext(
            "Reading this file took longer than {limit} second, so I stopped. Nothing was "
            "saved. Split the table into several files, or save it as .csv.",
            "Reading this file took longer than {limit} seconds, so I stopped. Nothing was "
            "saved. Split the table into several files, or save it as .csv.",
            limit,
        ),
        "import_worker_failed": _(
            "I could not finish reading this file. Nothing was saved. If it is a very large "
            "table, split it into several files or save it as .csv; otherwise send it again."
        ),
        "import_csv_encoding": _(
            "I cannot tell the encoding of this .csv. Save it again as «CSV UTF-8» and send it."
        ),
        "client_erased": _(
            "This client's personal data was erased at the owner's request; "
            "there is nothing to show."
        ),
        "export_not_allowed": _(
            "Only the owner, or a member the owner granted it (<code>/grant export Name</code>), "
            "can export the client base."
        ),
        "export_empty": _("No clients match: there is nothing to export."),
        "export_own_only": _("You can export only your own clients: <code>/export</code>."),
        "export_failed": _("The file could not be built. Please try again a bit later."),
        "export_too_large": _(
            "The file would be larger than the {limit} MB Telegram lets a bot send. Export a part: "
            "<code>/export Petrov</code>, <code>/export segment VIP</code>, or XLSX instead "
            "of CSV."
        ),
        "export_usage": _(
            "Use: <code>/export</code> (all clients), <code>/export Petrov</code>, "
            "<code>/export segment VIP</code>, <code>/export #vip</code>; add <code>csv</code> "
            "for CSV and <code>with activities</code> for the history."
        ),
        "grant_usage": _(
            "Use: <code>/grant export Petrov</code> or <code>/revoke export Petrov</code>."
        ),
        "grant_owner": _("{name} is an owner: owners can always export."),
        "period_invalid": _(
            "I could not read the period «{value}». Examples: <code>today</code>, "
            "<code>week</code>, <code>month</code>, <code>23.11</code>, <code>01.11-23.11</code>."
        ),
        "consent_usage": _(
            "Use: <code>/consent Ivanov yes</code>, <code>no</code> or <code>unknown</code>."
        ),
        "forget_usage": _(
            "Whose personal data should be erased? <code>/forget Ivanov</code> (owner only)."
        ),
        "not_allowed_team": _("Only the owner or the head of sales can do this."),
        "member_not_found": _("No team member matches «{value}». See the team: /team"),
        "member_ambiguous": _(
            "Several team members match «{value}»: {names}. Write the name more fully "
            "or use the @username."
        ),
        "member_removed": _("{name} is no longer in the team."),
        "member_already_removed": _("{name} has already been removed from the team."),
        "remove_self": _("You cannot remove yourself from the team."),
        "remove_owner": _(
            "The owner cannot be removed. Hand the ownership over first: "
            "<code>/owner &lt;member&gt;</code>."
        ),
        "role_owner_by_transfer": _(
            "The owner's role changes only by handing the ownership over: "
            "<code>/owner &lt;member&gt;</code>."
        ),
        "role_same": _("Nothing changed: the member already has this role."),
        "owner_self": _("This member is already the owner."),
        "last_owner": _("The team must keep an active owner; nothing was changed."),
        "transfer_same": _("Those clients already belong to {name}. Choose another member."),
        "transfer_empty": _("{name} has no clients to transfer."),
        "transfer_not_theirs": _("«{value}» is not a client of {name}. Nothing was moved."),
        "transfer_client_unknown": _("No client of {name} matches «{value}». Nothing was moved."),
        "transfer_client_ambiguous": _(
            "«{value}» matches several clients of {name}: {names}. Write the name more fully. "
            "Nothing was moved."
        ),
        "transfer_target_missing": _(
            "To whom? <code>/transfer &lt;from&gt; &lt;to&gt; [clients, ...]</code>, "
            "for example <code>/transfer Max Nina</code>."
        ),
        "portfolio_own_only": _(
            "You can see only your own numbers: send <code>/portfolio</code> without a name."
        ),
        "portfolio_member_unknown": _(
            "I don't know «{name}» in your team. Use: <code>/portfolio</code>, "
            "<code>/portfolio quarter</code>, <code>/portfolio year Petrov</code>, "
            "<code>/portfolio 01.09-30.11</code>."
        ),
        "portfolio_member_ambiguous": _(
            "Several team members match «{name}». Type more of the name, or pick with the buttons."
        ),
        "portfolio_period_invalid": _(
            "I could not read the period. Use <code>month</code>, <code>quarter</code>, "
            "<code>year</code> or dates like <code>01.09-30.11</code>."
        ),
        "period_too_long": _("The period is too long: at most three years."),
    }
    if code == "field_too_long" and str(params.get("field")) in FIELDS_BY_NAME:
        p["field"] = _(FIELDS_BY_NAME[str(params.get("field"))].label)
    template = texts.get(code)
    if template is None:
        return _("Something went wrong. Nothing was saved; please try again.")
    return template.format(**p)
