// A client's card: every field in one form (the server validates as the commands do and answers
// with the chat's sentence and the field it belongs to), the next contact with a date picker,
// a note, and the history of calls, notes, meetings, proposals and deals.

import { api, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { dateTime, day, label, localDate, localTime, money, percent, t, tn, NONE } from "./i18n.js";
import { errorBox, leaving, nav, session } from "./state.js";
import { haptic, showBack } from "./telegram.js";

// Not lines of the form: the id is the card's own, the next contact and notes have panels.
const OWN_PANELS = new Set(["id", "followup", "note"]);

export async function renderCard(view, clientId, stillCurrent) {
  const card = await api.card(clientId);
  if (!stillCurrent()) {
    return;
  }
  const page = { view, stillCurrent, dirty: false, ownBack: true };
  // Leaving with edits not saved (Back, a tab) asks first.
  leaving.guard = () => !page.dirty || window.confirm(t("card.unsaved"));
  const back = () => {
    location.hash = nav.previous;
  };
  page.back = back;
  page.ownBack = !showBack(back);
  draw(page, card);
}

function draw(page, card, notice) {
  const values = card.values;
  page.dirty = false;
  replace(
    page.view,
    h(
      "div",
      { class: "card-head" },
      page.ownBack
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              id: "back",
              onclick: page.back,
              "aria-label": t("app.back"),
            },
            "‹",
          )
        : null,
      h("h1", { id: "client-name" }, values.name),
    ),
    h(
      "div",
      { class: "badges" },
      values.temperature
        ? h("span", { class: "badge" }, label("temperature", values.temperature))
        : null,
      values.stage ? h("span", { class: "badge" }, label("stage", values.stage)) : null,
      card.manager ? h("span", { class: "badge" }, card.manager.name) : null,
      card.deals && card.deals.count
        ? h(
            "span",
            { class: "badge", id: "deals" },
            `${tn("card.deals_count", card.deals.count)} · ${money(card.deals.revenue)}`,
          )
        : null,
    ),
    h(
      "div",
      { id: "status", "aria-live": "polite" },
      notice ? h("div", { class: "notice", role: "status" }, notice) : null,
    ),
    nextContactPanel(page, card),
    formPanel(page, card),
    notePanel(page, card),
    historyPanel(card),
  );
}

function saved(page, card, notice) {
  haptic("success");
  if (page.stillCurrent()) {
    draw(page, card, notice);
    window.scrollTo(0, 0);
  }
}

function messageOf(exc) {
  return exc instanceof ApiError && exc.message ? exc.message : t("app.offline");
}

// --- the next contact -------------------------------------------------------------------------

function nextContactPanel(page, card) {
  const next = card.next_contact;
  const dateInput = h("input", { type: "date", id: "next-date", required: true });
  const timeInput = h("input", { type: "time", id: "next-time", step: 300 });
  const reason = h("input", { type: "text", id: "next-reason", maxlength: 200 });
  if (next) {
    dateInput.value = next.on || localDate(next.at);
    if (!next.date_only) {
      timeInput.value = localTime(next.at);
    }
    reason.value = next.reason || "";
  }
  const error = h("div", { class: "field-error", id: "next-error", role: "alert" });
  const button = h(
    "button",
    { type: "submit", id: "next-save", disabled: !dateInput.value },
    t("card.next.set"),
  );
  dateInput.addEventListener("input", () => {
    button.disabled = !dateInput.value;
  });
  const form = h(
    "form",
    { class: "panel", id: "next-form", novalidate: true },
    h("h2", {}, t("card.next")),
    h(
      "p",
      { class: next && next.overdue ? "overdue" : "hint", id: "next-current" },
      next
        ? [dateTime(next.at, next.date_only), next.reason ? ` — ${next.reason}` : ""].join("")
        : t("card.next.none"),
    ),
    h(
      "div",
      { class: "row" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "next-date" }, t("card.next.date")),
        dateInput,
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "next-time" }, t("card.next.time")),
        timeInput,
      ),
    ),
    h("div", { class: "field" }, h("label", { for: "next-reason" }, t("card.next.reason")), reason),
    error,
    h("div", { class: "form-actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = { date: dateInput.value };
    if (timeInput.value) body.time = timeInput.value;
    if (reason.value.trim()) body.reason = reason.value.trim();
    button.disabled = true;
    try {
      // The answer updates the card in hand: opening it again would log a second card view.
      const answer = await api.nextContact(card.id, body);
      saved(page, { ...card, next_contact: answer.next_contact }, t("card.next.saved"));
    } catch (exc) {
      button.disabled = false;
      error.textContent = messageOf(exc);
      haptic("error");
    }
  });
  return form;
}

// --- the fields ---------------------------------------------------------------------------------

function isEmpty(value) {
  return (
    value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)
  );
}

function shown(field, value) {
  if (isEmpty(value)) {
    return NONE;
  }
  switch (field.kind) {
    case "datetime":
      return dateTime(value);
    case "date":
      return day(value);
    case "money":
      return money(value);
    case "temperature":
    case "stage":
    case "consent":
      return label(field.kind, value);
    case "manager": {
      const found = (session.options.managers || []).find((m) => m.id === value);
      return found ? found.name : String(value);
    }
    default:
      return Array.isArray(value) ? value.join(", ") : String(value);
  }
}

/** An editable field's control and how to read it back in the shape PATCH takes. */
function control(field, value, onChange) {
  const id = `f-${field.name}`;
  const common = { id, name: field.name, "aria-describedby": `${id}-error` };
  if (field.max_length && !field.multiple) {
    common.maxlength = field.max_length;
  }
  if (field.multiple) {
    return listControl(field, value || [], onChange);
  }
  if (field.choices || field.kind === "manager") {
    const choices =
      field.kind === "manager"
        ? (session.options.managers || []).map((m) => [String(m.id), m.name])
        : field.choices.map((c) => [c, label(field.kind, c)]);
    const select = h(
      "select",
      common,
      choices.map(([key, text]) => h("option", { value: key }, text)),
    );
    select.value = isEmpty(value) ? "" : String(value);
    select.addEventListener("change", onChange);
    return {
      el: select,
      focus: select,
      read: () => (field.kind === "manager" ? Number(select.value) : select.value),
    };
  }
  const types = {
    date: { type: "date" },
    email: { type: "text", inputmode: "email", autocomplete: "off", spellcheck: "false" },
    url: { type: "text", inputmode: "url", autocomplete: "off", spellcheck: "false" },
    money: { type: "text", inputmode: "decimal" },
  };
  const input = h("input", {
    ...common,
    ...(types[field.kind] || { type: "text" }),
    value: value ?? "",
  });
  input.addEventListener("input", onChange);
  return { el: input, focus: input, read: () => input.value.trim() };
}

/** Phones and tags: one input each, a Remove button beside it, an Add button under them. */
function listControl(field, values, onChange) {
  const id = `f-${field.name}`;
  const list = h("div", { id, class: "list-control", "aria-describedby": `${id}-error` });
  const addLabel = field.kind === "tags" ? t("card.add_tag") : t("card.add_phone");
  const item = (value) => {
    const input = h("input", {
      type: field.kind === "phones" ? "tel" : "text",
      value,
      maxlength: field.max_length || undefined,
      "aria-label": field.label,
    });
    input.addEventListener("input", onChange);
    const row = h(
      "div",
      { class: "row list-item" },
      input,
      h(
        "button",
        {
          type: "button",
          class: "secondary grow-0",
          "aria-label": `${t("card.remove")}: ${field.label}`,
          onclick: () => {
            row.remove();
            onChange();
          },
        },
        "×",
      ),
    );
    return row;
  };
  for (const value of values) list.appendChild(item(value));
  const add = h("button", { type: "button", class: "secondary", id: `${id}-add` }, addLabel);
  add.addEventListener("click", () => {
    const row = item("");
    list.appendChild(row);
    row.querySelector("input").focus();
  });
  const el = h("div", {}, list, add);
  return {
    el,
    focus: list,
    read: () =>
      [...list.querySelectorAll("input")].map((input) => input.value.trim()).filter(Boolean),
  };
}

function same(a, b) {
  const norm = (v) => (isEmpty(v) ? "" : Array.isArray(v) ? v.join("\n") : String(v));
  return norm(a) === norm(b);
}

function formPanel(page, card) {
  const controls = new Map();
  const button = h("button", { type: "submit", id: "save", disabled: true }, t("card.save"));
  const general = h("div", { class: "field-error", id: "form-error", role: "alert" });
  const changes = () => {
    const out = {};
    for (const [name, [, ctl]] of controls) {
      const value = ctl.read();
      if (!same(value, card.values[name])) {
        out[name] = isEmpty(value) && !Array.isArray(value) ? null : value;
      }
    }
    return out;
  };
  const onChange = () => {
    page.dirty = Object.keys(changes()).length > 0;
    button.disabled = !page.dirty;
  };
  const rows = session.fields
    .filter((field) => !OWN_PANELS.has(field.kind))
    .map((field) => {
      const value = card.values[field.name];
      if (!field.editable) {
        return h(
          "div",
          { class: "field", dataset: { field: field.name } },
          h("span", { class: "label" }, field.label),
          h("div", { id: `f-${field.name}` }, shown(field, value)),
        );
      }
      const ctl = control(field, value, onChange);
      controls.set(field.name, [field, ctl]);
      return h(
        "div",
        { class: "field", dataset: { field: field.name } },
        h("label", { for: `f-${field.name}` }, field.label),
        ctl.el,
        h("div", { class: "field-error", id: `f-${field.name}-error`, role: "alert" }),
      );
    });
  const form = h(
    "form",
    { class: "panel", id: "card-form", novalidate: true },
    h("h2", {}, t("card.title")),
    rows,
    general,
    h("div", { class: "form-actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const values = changes();
    if (!Object.keys(values).length) {
      return;
    }
    button.disabled = true;
    try {
      saved(page, await api.save(card.id, values), t("card.saved"));
    } catch (exc) {
      button.disabled = false;
      haptic("error");
      const name =
        exc instanceof ApiError && exc.field && controls.has(exc.field) ? exc.field : null;
      if (name) {
        const [, ctl] = controls.get(name);
        document.getElementById(`f-${name}-error`).textContent = messageOf(exc);
        ctl.focus.setAttribute("aria-invalid", "true");
        ctl.focus.scrollIntoView({ block: "center" });
        if (ctl.focus.focus) ctl.focus.focus();
      } else {
        general.textContent = messageOf(exc);
      }
    }
  });
  return form;
}

// --- a note and the history --------------------------------------------------------------------

function notePanel(page, card) {
  const text = h("textarea", {
    id: "note-text",
    rows: 2,
    placeholder: t("card.note.placeholder"),
    "aria-label": t("card.note.add"),
  });
  const error = h("div", { class: "field-error", id: "note-error", role: "alert" });
  const button = h("button", { type: "submit", id: "note-save" }, t("card.note.add"));
  const form = h(
    "form",
    { class: "panel", id: "note-form", novalidate: true },
    h("h2", {}, t("card.note.add")),
    text,
    error,
    h("div", { class: "form-actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const item = await api.note(card.id, text.value);
      saved(page, { ...card, history: [item, ...card.history] }, t("card.note.saved"));
    } catch (exc) {
      button.disabled = false;
      error.textContent = messageOf(exc);
    }
  });
  return form;
}

function historyPanel(card) {
  const list = h("ul", { class: "history", id: "history" }, card.history.map(historyItem));
  const panel = h("section", { id: "history-panel" }, h("h2", {}, t("card.history")), list);
  if (!card.history.length) {
    panel.appendChild(h("p", { class: "hint" }, t("card.history.empty")));
  }
  if (card.history_more) {
    const more = h(
      "button",
      { type: "button", class: "secondary", id: "history-more" },
      t("app.more"),
    );
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await api.history(card.id, list.lastElementChild.dataset.id);
        for (const item of page.items) list.appendChild(historyItem(item));
        if (page.more) more.disabled = false;
        else more.remove();
      } catch (exc) {
        more.replaceWith(errorBox(exc));
      }
    });
    panel.appendChild(more);
  }
  return panel;
}

function historyItem(item) {
  const what = item.outcome ? label("outcome", item.outcome) : label("activity", item.kind);
  const amount = isEmpty(item.amount)
    ? null
    : [
        `${t("card.amount")}: ${money(item.amount)}`,
        isEmpty(item.margin) ? null : `${t("card.margin")}: ${percent(item.margin)}`,
      ]
        .filter(Boolean)
        .join(" · ");
  return h(
    "li",
    { dataset: { id: item.id, kind: item.kind } },
    h(
      "div",
      { class: "when" },
      [dateTime(item.at), item.author ? t("card.by", { name: item.author.name }) : null]
        .filter(Boolean)
        .join(" · "),
    ),
    h("div", {}, h("b", {}, what)),
    amount ? h("div", {}, amount) : null,
    item.text ? h("div", {}, item.text) : null,
  );
}
