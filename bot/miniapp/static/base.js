// The base: the clients the member may see, searched, filtered, sorted and paged by the server
// (POST clients/query); a table on a wide screen, a list of two-line rows on a phone.

import { api } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { dateTime, label, money, number, t, tn } from "./i18n.js";
import { baseState, errorBox, session } from "./state.js";

const PAGE = 50;
// What the filters' summary counts as chosen (the search box is not a filter).
const FILTER_KEYS = [
  "manager",
  "temperature",
  "stage",
  "tag",
  "segment",
  "abc",
  "xyz",
  "overdue",
  "no_next",
  "archived",
  "sort",
];

export async function renderBase(view, stillCurrent) {
  const options = session.options;
  const filters = baseState.filters;
  const results = h("div", { id: "results" });
  const count = h("p", { class: "count hint", id: "count", "aria-live": "polite" });

  const search = h("input", {
    type: "search",
    id: "search",
    value: filters.q || "",
    placeholder: t("base.search"),
    "aria-label": t("base.search"),
    autocomplete: "off",
    enterkeyhint: "search",
  });

  const controls = [];
  const selectOf = (key, caption, values, text) => {
    // Sorting has no "any": without a choice the server sorts by the next contact (by the best
    // match while searching), and the select shows the former.
    const any = key === "manager" ? t("base.filter.manager.all") : t("base.filter.any");
    const select = h(
      "select",
      { id: `filter-${key}`, name: key },
      key === "sort" ? null : h("option", { value: "" }, any),
      values.map((value) => h("option", { value: String(value) }, text(value))),
    );
    select.value = filters[key] ? String(filters[key]) : key === "sort" ? values[0] : "";
    controls.push(select);
    return h(
      "div",
      { class: key === "sort" ? "field wide" : "field" },
      h("label", { for: `filter-${key}` }, caption),
      select,
    );
  };
  const checkOf = (key, caption) => {
    const box = h("input", { type: "checkbox", id: `filter-${key}`, name: key });
    box.checked = Boolean(filters[key]);
    controls.push(box);
    return h("label", { class: "check", for: `filter-${key}` }, box, caption);
  };

  const managers = options.managers || [];
  const fields = h(
    "div",
    { class: "grid-2" },
    managers.length > 1
      ? selectOf(
          "manager",
          t("base.filter.manager"),
          managers.map((m) => m.id),
          (id) => managers.find((m) => m.id === id).name,
        )
      : null,
    selectOf("temperature", t("base.filter.temperature"), options.temperatures, (v) =>
      label("temperature", v),
    ),
    selectOf("stage", t("base.filter.stage"), options.stages, (v) => label("stage", v)),
    options.tags.length
      ? selectOf("tag", t("base.filter.tag"), options.tags, (v) => `#${v}`)
      : null,
    options.segments.length
      ? selectOf("segment", t("base.filter.segment"), options.segments, (v) => v)
      : null,
    selectOf("abc", t("base.filter.abc"), options.abc, (v) => v),
    selectOf("xyz", t("base.filter.xyz"), options.xyz, (v) => v),
    selectOf("sort", t("base.sort"), options.sorts, (v) => t(`base.sort.${v}`)),
  );
  const checks = h(
    "div",
    { class: "grid-2" },
    checkOf("overdue", t("base.filter.overdue")),
    checkOf("no_next", t("base.filter.no_next")),
    checkOf("archived", t("base.filter.archived")),
  );
  const activeCount = () =>
    FILTER_KEYS.filter(
      (key) => filters[key] !== undefined && filters[key] !== "" && filters[key] !== false,
    ).length;
  const summary = h("summary", {});
  const showCount = () => {
    const active = activeCount();
    summary.textContent = active ? `${t("base.filters")} (${active})` : t("base.filters");
  };
  showCount();
  const details = h(
    "details",
    { class: "filters", id: "filters", open: activeCount() > 0 },
    summary,
    fields,
    checks,
    h(
      "div",
      { class: "form-actions" },
      h(
        "button",
        { type: "button", class: "secondary", id: "reset", onclick: reset },
        t("base.filters.reset"),
      ),
    ),
  );

  if (!stillCurrent()) {
    return;
  }
  replace(
    view,
    h(
      "section",
      { class: "panel" },
      h("h1", {}, t("tab.base")),
      h("div", { class: "search", role: "search" }, search),
      details,
    ),
    count,
    results,
  );

  let token = 0;
  async function load() {
    const mine = ++token;
    results.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await api.query(body());
    } catch (error) {
      if (mine === token && stillCurrent()) {
        replace(results, errorBox(error, load));
        results.removeAttribute("aria-busy");
      }
      return;
    }
    if (mine !== token || !stillCurrent()) {
      return;
    }
    results.removeAttribute("aria-busy");
    // A filtered table past the server's counting limit says "5 000+", not a false exact figure.
    const total = page.total_exact === false ? `${number(page.total)}+` : number(page.total);
    count.textContent = tn("base.total", page.total, { count: total });
    replace(
      results,
      page.items.length
        ? table(page.items, page.classes_period, page.classes_ready !== false)
        : emptyNote(),
      pager(page, total),
    );
    if (baseState.scroll) {
      window.scrollTo(0, baseState.scroll);
      baseState.scroll = 0;
    }
  }

  function body() {
    const out = { offset: baseState.offset, limit: PAGE };
    if (filters.q) out.q = filters.q;
    if (filters.manager) out.manager = Number(filters.manager);
    for (const key of ["temperature", "stage", "abc", "xyz"]) {
      if (filters[key]) out[key] = [filters[key]];
    }
    for (const key of ["tag", "segment", "sort"]) {
      if (filters[key]) out[key] = filters[key];
    }
    if (filters.overdue) out.overdue = true;
    if (filters.no_next) out.no_next = true;
    if (filters.archived) out.archived = true;
    return out;
  }

  function changed(event) {
    for (const control of controls) {
      if (control.name === "sort" && control !== event.target && !filters.sort) {
        continue; // the default sort stays unsent: a search keeps its best match first
      }
      filters[control.name] = control.type === "checkbox" ? control.checked : control.value;
    }
    baseState.offset = 0;
    showCount();
    load();
  }

  function reset() {
    for (const key of Object.keys(filters)) {
      if (key !== "q") delete filters[key];
    }
    for (const control of controls) {
      if (control.type === "checkbox") control.checked = false;
      else control.value = control.name === "sort" ? options.sorts[0] : "";
    }
    baseState.offset = 0;
    showCount();
    load();
  }

  for (const control of controls) {
    control.addEventListener("change", changed);
  }
  const typed = debounce(() => {
    filters.q = search.value.trim();
    baseState.offset = 0;
    load();
  }, 250);
  search.addEventListener("input", typed);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search.blur(); // closes the phone's keyboard
    }
  });

  function pager(page, total) {
    if (page.total <= page.limit) {
      return null;
    }
    const from = page.offset + 1;
    const to = page.offset + page.items.length;
    const go = (offset) => () => {
      baseState.offset = Math.max(0, offset);
      load().then(() => window.scrollTo(0, 0));
    };
    return h(
      "nav",
      { class: "pager" },
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "prev-page",
          disabled: page.offset === 0,
          onclick: go(page.offset - page.limit),
          "aria-label": t("base.prev"),
        },
        "‹",
      ),
      h(
        "span",
        { class: "hint" },
        t("base.page", { first: number(from), last: number(to), total }),
      ),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "next-page",
          // Past an inexact total the last page is the one that comes back short.
          disabled: page.total_exact === false ? page.items.length < page.limit : to >= page.total,
          onclick: go(page.offset + page.limit),
          "aria-label": t("base.next"),
        },
        "›",
      ),
    );
  }

  await load();
}

function emptyNote() {
  return h("div", { class: "notice", id: "empty" }, t("base.empty"));
}

/** The revenue and class columns are of `classes` (the last complete month), and say so; right
 * after the server starts, the classes are still being computed (`ready` false): said too. */
function table(items, classes, ready) {
  const of = classes ? ` · ${classes.label}` : "";
  const classOf = ready ? of : ` · ${t("base.classes_computing")}`;
  const head = h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("th", { scope: "col" }, t("base.col.name")),
      h("th", { scope: "col" }, t("base.col.manager")),
      h("th", { scope: "col" }, t("base.col.class") + classOf),
      h("th", { scope: "col" }, t("base.col.next")),
      h("th", { scope: "col" }, t("base.col.last")),
      h("th", { scope: "col", class: "money" }, t("portfolio.revenue") + of),
    ),
  );
  const rows = items.map((item) => row(item, t("portfolio.revenue") + of));
  return h("table", { class: "clients", id: "clients" }, head, h("tbody", {}, rows));
}

function row(item, revenueCaption) {
  const href = `#/client/${item.id}`;
  const open = () => {
    baseState.scroll = window.scrollY;
    location.hash = href;
  };
  const next = item.next_contact;
  const who = [item.contact_person, item.phone].filter(Boolean).join(" · ");
  const tr = h(
    "tr",
    { dataset: { id: item.id }, onclick: open },
    h(
      "td",
      { class: "name" },
      h("a", { href, class: "open", onclick: (event) => event.stopPropagation() }, item.name),
      who ? h("div", { class: "hint" }, who) : null,
    ),
    h("td", { class: "minor" }, item.manager ? item.manager.name : ""),
    h(
      "td",
      { class: "minor" },
      [label("temperature", item.temperature), label("stage", item.stage)]
        .filter(Boolean)
        .join(" · "),
      item.abc ? ` · ${item.abc}${item.xyz || ""}` : "",
    ),
    h(
      "td",
      {
        class: next && next.overdue ? "minor overdue" : "minor",
        "data-label": t("base.col.next"),
      },
      next
        ? [dateTime(next.at, next.date_only), next.overdue ? ` (${t("base.overdue")})` : ""].join(
            "",
          )
        : t("base.no_next"),
    ),
    h(
      "td",
      { class: "minor", "data-label": t("base.col.last") },
      item.last_contact_at ? dateTime(item.last_contact_at) : t("base.never"),
    ),
    h("td", { class: "money minor", "data-label": revenueCaption }, money(item.revenue)),
  );
  return tr;
}
