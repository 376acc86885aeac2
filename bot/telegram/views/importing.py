"""What the owner sees while importing a table: the column mapping with its buttons, progress,
the duplicates question and the final report (with a CSV of every problem when many)."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.fields import FIELDS_BY_NAME
from bot.i18n import N_, _, fmt_number, ngettext
from bot.services.importing.mapping import FIELDS, SKIP
from bot.services.importing.service import ImportResult
from bot.services.tabular import Sheet, write_csv
from bot.telegram.callbacks import ImportAct, ImportAction

# Columns shown with a button each; a wider table keeps the rest as guessed.
MAX_COLUMN_BUTTONS = 40
_HEADER_CHARS = 24

REASONS = {
    "name": N_("no name"),
    "phone": N_("not a phone number"),
    "email": N_("not an email address"),
    "date": N_("not a date"),
    "manager": N_("no such team member"),
    "too_long": N_("too long"),
    "temperature": N_("temperature must be hot, warm or cold"),
    "amount": N_("not an amount"),
    "consent": N_("consent must be yes, no or empty"),
}


def field_label(field: str) -> str:
    return _(FIELDS_BY_NAME[field].label) if field in FIELDS_BY_NAME else _("skip")


def _header(text: str, index: int) -> str:
    shown = text.strip() or _("column {number}").format(number=index + 1)
    return shown if len(shown) <= _HEADER_CHARS else shown[: _HEADER_CHARS - 1] + "…"


def mapping_text(
    file_name: str,
    rows: int,
    headers: list[str],
    mapping: list[str],
    approximate: bool = False,
    manager_name: str | None = None,
) -> str:
    title = (
        ngettext(
            "📄 <b>{file}</b>: about {rows} row. Where each column goes:",
            "📄 <b>{file}</b>: about {rows} rows. Where each column goes:",
            rows,
        )
        if approximate
        else ngettext(
            "📄 <b>{file}</b>: {rows} row. Where each column goes:",
            "📄 <b>{file}</b>: {rows} rows. Where each column goes:",
            rows,
        )
    )
    lines = [title.format(file=escape(file_name[:60]), rows=fmt_number(rows))]
    # As many lines as buttons: 150 columns listed would pass Telegram's 4096 characters.
    shown = list(zip(headers, mapping, strict=True))[:MAX_COLUMN_BUTTONS]
    for index, (header, field) in enumerate(shown):
        target = f"<b>{escape(field_label(field))}</b>" if field else f"<i>{_('skip')}</i>"
        lines.append(f"{index + 1}. {escape(_header(header, index))} → {target}")
    if len(headers) > len(shown):
        lines.append(
            ngettext(
                "…and {count} more column, kept as guessed.",
                "…and {count} more columns, kept as guessed.",
                len(headers) - len(shown),
            ).format(count=fmt_number(len(headers) - len(shown)))
        )
    lines.append("")
    if manager_name:
        lines.append(
            _("Rows without a manager go to <b>{name}</b>.").format(name=escape(manager_name))
        )
    lines.append(
        _("Tap a column to change where it goes, then «Import». Nothing is saved before that.")
    )
    return "\n".join(lines)


def mapping_keyboard(
    tok: str, headers: list[str], mapping: list[str], manager_name: str | None = None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    shown = list(zip(headers, mapping, strict=True))[:MAX_COLUMN_BUTTONS]
    for index, (header, field) in enumerate(shown):
        builder.button(
            text=f"{index + 1}. {_header(header, index)} → {field_label(field)}",
            callback_data=ImportAction(act=ImportAct.COL, tok=tok, col=index),
        )
    extra = 0
    if manager_name:
        extra = 1
        builder.button(
            text=_("👤 No manager → {name}").format(name=manager_name[:_HEADER_CHARS]),
            callback_data=ImportAction(act=ImportAct.MGR, tok=tok),
        )
    builder.button(text=_("✅ Import"), callback_data=ImportAction(act=ImportAct.GO, tok=tok))
    builder.button(text=_("✖ Cancel"), callback_data=ImportAction(act=ImportAct.STOP, tok=tok))
    builder.adjust(*([1] * (len(shown) + extra)), 2)
    return builder.as_markup()


def mapping_view(
    tok: str,
    file_name: str,
    rows: int,
    headers: list[str],
    mapping: list[str],
    manager_name: str | None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The mapping screen: where each column goes, with a button per column."""
    text = mapping_text(file_name, rows, headers, mapping, manager_name=manager_name)
    return text, mapping_keyboard(tok, headers, mapping, manager_name)


def field_choice_text(header: str, index: int) -> str:
    return _("Where does column {number} «{header}» go?").format(
        number=index + 1, header=escape(_header(header, index))
    )


def field_keyboard(tok: str, index: int, current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field in (*FIELDS, SKIP):
        mark = "• " if field == current else ""
        builder.button(
            text=mark + field_label(field),
            callback_data=ImportAction(act=ImportAct.SET, tok=tok, col=index, fld=field or "-"),
        )
    builder.button(text=_("← Back"), callback_data=ImportAction(act=ImportAct.BACK, tok=tok))
    builder.adjust(3)
    return builder.as_markup()


def import_help_text(max_mb: int, max_rows: int) -> str:
    return _(
        "Send me your client table as a file: <b>.xlsx</b> or <b>.csv</b> (UTF-8 or "
        "Windows-1251, comma or semicolon); at most {mb} MB, rows at most: {rows}.\n"
        "The first row with column names is the header: Название, Контакт, Телефон, Email, "
        "Город, День рождения, Менеджер, Следующий звонок, Теги… I will guess where each "
        "column goes and show it before anything is saved."
    ).format(mb=max_mb, rows=fmt_number(max_rows))


def photo_hint_text() -> str:
    return _(
        "That is a picture; I can only read tables. Send the client base as a file: "
        "<b>.xlsx</b> or <b>.csv</b> (in Telegram: 📎 → File)."
    )


def progress_text(stage: str, done: int, total: int) -> str:
    if stage == "read":
        return _("⏳ Checking the file… rows read: {done}.").format(done=fmt_number(done))
    percent = done * 100 // total if total else 100
    return _("⏳ Importing… clients written: {done} of {total} ({percent}%).").format(
        done=fmt_number(done), total=fmt_number(total), percent=percent
    )


def interrupted_text() -> str:
    return _(
        "⚠️ The import was interrupted: the bot is restarting. Nothing was saved. "
        "Please send the file again in a minute."
    )


def duplicates_text(result: ImportResult) -> str:
    return _(
        "Duplicates found: {count}. These rows have the same phone, email or name and city as a "
        "client already in the base or an earlier row of the file. What do I do with them?\n"
        "«Merge» fills the empty fields of the existing client and adds phones and tags; "
        "it never overwrites what is there."
    ).format(count=fmt_number(result.duplicates))


def duplicates_keyboard(tok: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Skip duplicates"), callback_data=ImportAction(act=ImportAct.SKIP, tok=tok)
    )
    builder.button(
        text=_("Merge duplicates"), callback_data=ImportAction(act=ImportAct.MERGE, tok=tok)
    )
    builder.button(text=_("✖ Cancel"), callback_data=ImportAction(act=ImportAct.STOP, tok=tok))
    builder.adjust(2, 1)
    return builder.as_markup()


def reason_label(reason: str) -> str:
    return _(REASONS[reason]) if reason in REASONS else reason


def report_text(result: ImportResult, listed: int) -> str:
    lines = [
        _("✅ Import finished. Rows read: {rows}. Clients added: {imported}.").format(
            rows=fmt_number(result.rows), imported=fmt_number(result.imported)
        )
    ]
    if result.merged:
        lines.append(
            _("Duplicates merged into existing clients: {count}.").format(
                count=fmt_number(result.merged)
            )
        )
    if result.duplicates_skipped:
        lines.append(
            _("Duplicates skipped: {count}.").format(count=fmt_number(result.duplicates_skipped))
        )
    if result.skipped_rows:
        lines.append(
            _("Rows skipped because of problems: {count}.").format(
                count=fmt_number(result.skipped_rows)
            )
        )
        lines.append("")
        for problem in result.problems[:listed]:
            value = f" «{escape(problem.value[:40])}»" if problem.value else ""
            lines.append(
                _("row {row}, {column}: {reason}").format(
                    row=problem.row,
                    column=escape(problem.column[:_HEADER_CHARS]) or "—",
                    reason=reason_label(problem.reason),
                )
                + value
            )
        if len(result.problems) > listed:
            lines.append(
                _("…and {count} more: every problem is in the attached file.").format(
                    count=fmt_number(len(result.problems) - listed)
                )
            )
    lines.append("")
    lines.append(_("Every new client has a first call planned. See /today and /list."))
    return "\n".join(lines)


def problems_csv(result: ImportResult) -> bytes:
    sheet = Sheet(
        _("Problems"),
        [_("Row"), _("Column"), _("Problem"), _("Value")],
        ([p.row, p.column, reason_label(p.reason), p.value] for p in result.problems),
    )
    return write_csv(sheet)
