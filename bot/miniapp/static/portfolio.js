// The portfolio: /portfolio's seven control points for a period and a member, from the very
// numbers the chat uses (GET portfolio, each client list's first rows), the ABC-XYZ matrix whose
// cells list their clients (GET portfolio/cell), the rest of a list a page at a time (GET
// portfolio/list), and the charts drawn here from the same figures as the chat's PNGs: the
// quality trend and the weeks' activity come from GET portfolio/series, asked for once the main
// numbers are on the screen.

import { api } from "./api.js";
import { barChart, hbarChart, lineChart, PALETTE } from "./charts.js";
import { h, replace } from "./dom.js";
import { day, label, money, number, percent, t, tn, wholeMoney, NONE } from "./i18n.js";
import { errorBox, session } from "./state.js";

const ROWS = ["A", "B", "C"];
const COLUMNS = ["X", "Y", "Z"];
const KINDS = ["call", "meeting", "proposal", "deal"];
const HEALTH = ["month", "half_year", "year", "older", "never"];

export const portfolioState = { period: null, manager: null, cell: null };

// A list of clients shows this many rows at first (the portfolio's `top`), and asks the server
// for this many more per "Show more": a team's plan can hold every client with a potential, tens
// of thousands, and a phone draws a screenful.
const ROWS_AT_ONCE = 20;
const ROWS_PER_MORE = 50;

export async function renderPortfolio(view, stillCurrent) {
  const report = await api.portfolio(portfolioState.period, portfolioState.manager, ROWS_AT_ONCE);
  if (!stillCurrent()) {
    return;
  }
  portfolioState.period = report.period.key;
  const reload = () =>
    renderPortfolio(view, stillCurrent).catch((error) => replace(view, errorBox(error, reload)));
  const slots = {
    quality: chartSlot("quality-chart-slot"),
    activity: chartSlot("activity-chart-slot"),
  };
  replace(
    view,
    controls(report, reload),
    summary(report),
    planSection(report),
    matrixSection(report, view),
    qualitySection(report, slots.quality),
    activitySection(report, slots.activity),
    rosSection(report),
    turnoverSection(report),
    ltvSection(report),
    gainedLostSection(report),
    healthSection(report),
  );
  if (portfolioState.cell) {
    const button = view.querySelector(`button.cell[data-cell="${portfolioState.cell}"]`);
    if (button) button.click();
  }
  // Not awaited: the numbers are on the screen, the charts follow when their series arrive.
  loadSeries(report, slots, stillCurrent);
}

function managerOf(report) {
  return report.manager && report.manager.id ? report.manager.id : null;
}

function chartSlot(id) {
  return h("div", { id, class: "chart-slot", "aria-busy": "true" }, loadingHint());
}

function loadingHint() {
  return h("p", { class: "hint" }, t("app.loading"));
}

/** The quality trend and the weeks' activity, into the slots their sections left; nothing when
 * the member has moved on (another period, member or screen: the slots are gone then). */
async function loadSeries(report, slots, stillCurrent) {
  const live = () => stillCurrent() && slots.quality.isConnected;
  let series;
  try {
    series = await api.series(report.period.key, managerOf(report));
  } catch (error) {
    if (live()) {
      const retry = () => {
        for (const slot of Object.values(slots)) replace(slot, loadingHint());
        loadSeries(report, slots, stillCurrent);
      };
      replace(slots.quality, errorBox(error, retry));
      replace(slots.activity);
    }
    return;
  }
  if (!live()) {
    return;
  }
  replace(slots.quality, qualityChart(series.quality_series));
  replace(slots.activity, activityChart(series.activity_weeks));
  for (const slot of Object.values(slots)) slot.removeAttribute("aria-busy");
}

/** The next rows of one of the report's lists, from the same report (GET portfolio/list). */
function listRows(report, section) {
  return (offset, limit) =>
    api.list(report.period.key, managerOf(report), section, offset, limit);
}

// --- controls: whose numbers, which period --------------------------------------------------

function controls(report, reload) {
  const period = report.period;
  const parts = [];
  if (report.choices && report.choices.length) {
    const select = h(
      "select",
      { id: "member" },
      session.me.can.portfolio_team ? h("option", { value: "" }, t("portfolio.team")) : null,
      report.choices.map((m) => h("option", { value: String(m.id) }, m.name)),
    );
    select.value = report.manager && report.manager.id ? String(report.manager.id) : "";
    select.addEventListener("change", () => {
      portfolioState.manager = select.value ? Number(select.value) : null;
      portfolioState.cell = null;
      reload();
    });
    parts.push(
      h("div", { class: "field" }, h("label", { for: "member" }, t("portfolio.member")), select),
    );
  }
  const kind = h(
    "select",
    { id: "period-kind", "aria-label": t("portfolio.period") },
    [
      ["M", "month"],
      ["Q", "quarter"],
      ["Y", "year"],
    ].map(([k, name]) => h("option", { value: k }, t(`portfolio.period.${name}`))),
  );
  kind.value = "MQY".includes(period.key[0]) ? period.key[0] : "M";
  kind.addEventListener("change", () => {
    portfolioState.period = currentKey(kind.value, report.today);
    portfolioState.cell = null;
    reload();
  });
  const go = (key) => () => {
    portfolioState.period = key;
    portfolioState.cell = null;
    reload();
  };
  parts.push(
    h("div", { class: "field" }, h("label", { for: "period-kind" }, t("portfolio.period")), kind),
    h(
      "div",
      { class: "pager" },
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "period-prev",
          onclick: go(period.previous),
          "aria-label": t("portfolio.previous"),
        },
        "‹",
      ),
      h("strong", { id: "period-label" }, period.label),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "period-next",
          disabled: !period.next,
          onclick: go(period.next),
          "aria-label": t("base.next"),
        },
        "›",
      ),
    ),
  );
  return h(
    "section",
    { class: "panel" },
    h(
      "h1",
      {},
      report.manager && report.manager.name
        ? `${t("tab.portfolio")}: ${report.manager.name}`
        : t("tab.portfolio"),
    ),
    h("div", { class: "grid-2" }, parts.slice(0, -1)),
    parts[parts.length - 1],
    h("p", { class: "hint" }, `${day(report.period.start)} — ${day(report.period.end)}`),
    h("p", { class: "hint" }, t("portfolio.same_as_chat")),
  );
}

/** The current period of a kind, in the team's calendar: the server's `today`. */
function currentKey(kind, today) {
  const [year, month] = today.split("-").map(Number);
  if (kind === "Y") return `Y${year}`;
  if (kind === "Q") return `Q${year}${Math.floor((month - 1) / 3) + 1}`;
  return `M${year}${String(month).padStart(2, "0")}`;
}

// --- pieces ---------------------------------------------------------------------------------

/** An amount as /portfolio writes it (whole units); the exact sum, to the kopeck, rides along in
 * data-amount and in the title a long press shows. */
function cash(value) {
  return h(
    "span",
    { class: "amount", "data-amount": value ?? "", title: money(value) },
    wholeMoney(value),
  );
}

function point(caption, value, id) {
  return h(
    "div",
    { class: "point", id },
    h("div", { class: "value" }, value),
    h("div", { class: "label" }, caption),
  );
}

function section(id, title, ...children) {
  return h(
    "section",
    { id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    children,
  );
}

function clientLink(line) {
  return h("a", { href: `#/client/${line.id}` }, line.name);
}

/** `lines`: the rows the answer carried; `total`: the whole list's length; `more(offset,
 * limit)`: the server's next rows ({items, total}), asked for on "Show more". */
function clientTable(lines, columns, id, total = lines.length, more = null) {
  if (!lines.length) {
    return h("p", { class: "hint", id }, NONE);
  }
  const row = (line) =>
    h(
      "tr",
      { dataset: { id: line.id } },
      h("td", {}, clientLink(line)),
      columns.map(([, value]) => h("td", { class: "num" }, value(line))),
    );
  const body = h("tbody", {}, lines.map(row));
  const table = h(
    "div",
    { class: "scroll-x" },
    h(
      "table",
      { class: "plain", id },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, t("base.col.name")),
          columns.map(([caption]) => h("th", { class: "num" }, caption)),
        ),
      ),
      body,
    ),
  );
  if (!more || lines.length >= total) {
    return table;
  }
  let shown = lines.length;
  const note = h("div", { "aria-live": "polite" });
  const button = h(
    "button",
    { type: "button", class: "secondary more", id: `${id}-more` },
    t("app.more"),
  );
  const next = async () => {
    button.disabled = true;
    replace(note);
    try {
      const answer = await more(shown, ROWS_PER_MORE);
      for (const line of answer.items) body.appendChild(row(line));
      shown += answer.items.length;
      if (!answer.items.length || shown >= answer.total) {
        button.remove();
        return;
      }
    } catch (error) {
      replace(note, errorBox(error, next));
    }
    button.disabled = false;
  };
  button.addEventListener("click", next);
  return h("div", {}, table, button, note);
}

function groupTable(groups, columns, id) {
  if (!groups.length) {
    return h("p", { class: "hint", id }, NONE);
  }
  return h(
    "div",
    { class: "scroll-x" },
    h(
      "table",
      { class: "plain", id },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, ""),
          columns.map(([caption]) => h("th", { class: "num" }, caption)),
        ),
      ),
      h(
        "tbody",
        {},
        groups.map((g) =>
          h(
            "tr",
            {},
            h("td", {}, g.label || NONE),
            columns.map(([, value]) => h("td", { class: "num" }, value(g))),
          ),
        ),
      ),
    ),
  );
}

// --- the sections ---------------------------------------------------------------------------

function summary(report) {
  const total = report.total;
  return section(
    "summary",
    label("section", "0"),
    report.total.deals ? null : h("p", { class: "hint" }, t("portfolio.no_data")),
    h(
      "div",
      { class: "points" },
      point(t("portfolio.revenue"), cash(total.revenue), "total-revenue"),
      point(t("portfolio.profit"), cash(total.profit), "total-profit"),
      point(t("portfolio.deals"), number(total.deals), "total-deals"),
      point(t("portfolio.ros"), percent(total.ros), "total-ros"),
      point(t("portfolio.dynamics"), percent(total.dynamics, 0), "total-dynamics"),
    ),
  );
}

function planSection(report) {
  return section(
    "plan",
    label("section", "1"),
    clientTable(
      report.plan,
      [
        [t("portfolio.revenue"), (l) => cash(l.revenue)],
        [t("portfolio.potential"), (l) => cash(l.potential)],
        [t("portfolio.penetration"), (l) => percent(l.penetration)],
      ],
      "plan-table",
      report.plan_total,
      listRows(report, "plan"),
    ),
  );
}

function matrixSection(report, view) {
  const counts = report.matrix.counts;
  const revenue = report.matrix.revenue;
  const max = Math.max(1, ...Object.values(counts));
  const list = h("div", { id: "cell-clients", "aria-live": "polite" });
  const cells = [h("div", { class: "head" }, "")];
  for (const column of COLUMNS) cells.push(h("div", { class: "head" }, column));
  for (const row of ROWS) {
    cells.push(h("div", { class: "head" }, row));
    for (const column of COLUMNS) {
      const key = row + column;
      const n = counts[key] || 0;
      const level = n ? Math.min(4, 1 + Math.floor((3 * n) / max)) : 0;
      const button = h(
        "button",
        {
          type: "button",
          class: "cell",
          dataset: { cell: key, level: String(level) },
          "aria-pressed": "false",
          "aria-label": `${key}: ${tn("portfolio.clients_count", n)}, ${wholeMoney(revenue[key])}`,
        },
        h("span", { class: "n" }, number(n)),
        h("span", {}, cash(revenue[key])),
      );
      button.addEventListener("click", () => openCell(report, key, button, list, view));
      cells.push(button);
    }
  }
  return section(
    "matrix-section",
    label("section", "2"),
    h("div", { class: "matrix", id: "matrix", role: "group" }, cells),
    h("p", { class: "hint" }, t("portfolio.matrix.tap")),
    list,
    h("h2", {}, t("portfolio.moves")),
    clientTable(
      report.moves,
      [[t("base.col.class"), (l) => `${l.prev_cell || NONE} → ${l.cell || NONE}`]],
      "moves-table",
      report.moves_total,
      listRows(report, "moves"),
    ),
  );
}

async function openCell(report, key, button, list, view) {
  for (const other of view.querySelectorAll("button.cell"))
    other.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-pressed", "true");
  portfolioState.cell = key;
  replace(list, h("p", { class: "hint" }, t("app.loading")));
  try {
    const rows = (offset, limit) =>
      api.cell(report.period.key, managerOf(report), key, offset, limit);
    const answer = await rows(0, ROWS_AT_ONCE);
    if (portfolioState.cell !== key || !list.isConnected) {
      return; // another cell was tapped meanwhile, or the page moved on
    }
    replace(
      list,
      h("h2", { id: "cell-title" }, `${key}: ${tn("portfolio.clients_count", answer.total)}`),
      answer.items.length
        ? clientTable(
            answer.items,
            [[t("portfolio.revenue"), (l) => cash(l.revenue)]],
            "cell-table",
            answer.total,
            rows,
          )
        : h("p", { class: "hint", id: "cell-table" }, t("portfolio.matrix.empty")),
    );
  } catch (error) {
    replace(list, errorBox(error));
  }
}

function qualitySection(report, slot) {
  const shares = ["A", "B", "C", "X", "Y", "Z"];
  const rows = report.quality.map((q) =>
    h(
      "tr",
      {},
      h("td", {}, q.manager.name),
      h("td", { class: "num" }, number(q.clients)),
      shares.map((cls) =>
        h("td", { class: "num" }, percent(q.now[cls]), trend(q.now[cls], q.prev[cls])),
      ),
    ),
  );
  const table = report.quality.length
    ? h(
        "div",
        { class: "scroll-x" },
        h(
          "table",
          { class: "plain", id: "quality-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, t("base.col.manager")),
              h("th", { class: "num" }, t("portfolio.clients")),
              shares.map((c) => h("th", { class: "num" }, c)),
            ),
          ),
          h("tbody", {}, rows),
        ),
      )
    : h("p", { class: "hint" }, NONE);
  return section("quality", label("section", "3"), table, slot);
}

function qualityChart(lines) {
  const series = lines.map((line) => ({ name: line.manager.name, points: line.points }));
  return series.length
    ? h(
        "figure",
        { class: "chart", id: "quality-chart" },
        h("h3", {}, t("portfolio.quality.trend")),
        lineChart(series, { title: t("portfolio.quality.trend") }),
        h(
          "figcaption",
          { class: "legend" },
          series.map((line, i) =>
            h(
              "span",
              {},
              h("i", { style: `background:${PALETTE[i % PALETTE.length]}` }),
              line.name,
            ),
          ),
        ),
      )
    : null;
}

function trend(now, prev) {
  if (now === null || now === undefined || prev === null || prev === undefined) return "";
  const diff = Number(now) - Number(prev);
  return diff > 0.05 ? " ↑" : diff < -0.05 ? " ↓" : "";
}

const colour = (kind) => PALETTE[KINDS.indexOf(kind)];

function activitySection(report, slot) {
  const table = report.activity.length
    ? h(
        "div",
        { class: "scroll-x" },
        h(
          "table",
          { class: "plain", id: "activity-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, t("base.col.manager")),
              KINDS.map((k) => h("th", { class: "num" }, label("kind", k))),
            ),
          ),
          h(
            "tbody",
            {},
            report.activity.map((line) =>
              h(
                "tr",
                {},
                h("td", {}, line.manager.name),
                KINDS.map((k) => h("td", { class: "num" }, number(line.counts[k] || 0))),
              ),
            ),
          ),
        ),
      )
    : h("p", { class: "hint" }, NONE);
  return section("activity", label("section", "4"), table, slot);
}

function activityChart(weeks) {
  return weeks && weeks.weeks.length
    ? h(
        "figure",
        { class: "chart", id: "activity-chart" },
        h("h3", {}, t("portfolio.activity.weeks")),
        barChart(
          weeks.weeks.map((w) => shortDay(w)),
          weeks.counts,
          KINDS,
          { title: t("portfolio.activity.weeks"), colourOf: colour },
        ),
        h(
          "figcaption",
          { class: "legend" },
          KINDS.map((k) =>
            h("span", {}, h("i", { style: `background:${colour(k)}` }), label("kind", k)),
          ),
        ),
      )
    : null;
}

function shortDay(ymd) {
  const [, m, d] = ymd.split("-");
  return `${Number(d)}.${m}`;
}

function rosSection(report) {
  const columns = [
    [t("portfolio.revenue"), (g) => cash(g.revenue)],
    [t("portfolio.profit"), (g) => cash(g.profit)],
    [t("portfolio.ros"), (g) => percent(g.ros)],
  ];
  const clientColumns = [
    [t("portfolio.profit"), (l) => cash(l.profit)],
    [t("portfolio.revenue"), (l) => cash(l.revenue)],
  ];
  return section(
    "ros",
    label("section", "5"),
    groupTable(report.managers, columns, "ros-managers"),
    h("h2", {}, t("base.filter.segment")),
    groupTable(report.segments, columns, "ros-segments"),
    h("h2", {}, t("portfolio.angels")),
    clientTable(
      report.angels,
      clientColumns,
      "angels",
      report.angels_total,
      listRows(report, "angels"),
    ),
    h("h2", {}, t("portfolio.demons")),
    clientTable(
      report.demons,
      clientColumns,
      "demons",
      report.demons_total,
      listRows(report, "demons"),
    ),
  );
}

function turnoverSection(report) {
  const columns = [
    [t("portfolio.revenue"), (g) => cash(g.revenue)],
    [t("portfolio.previous"), (g) => cash(g.prev_revenue)],
    [t("portfolio.dynamics"), (g) => percent(g.dynamics, 0)],
  ];
  return section(
    "turnover",
    label("section", "6"),
    groupTable(report.managers, columns, "turnover-managers"),
    h("h2", {}, t("base.filter.segment")),
    groupTable(report.segments, columns, "turnover-segments"),
  );
}

function ltvSection(report) {
  const groups = [{ ...report.total, label: t("portfolio.team") }, ...report.managers].filter(
    (g) => g.ltv,
  );
  // S × C × P × T: the formula's letters, as the chat writes them.
  const decimal = (value) => (isBlank(value) ? NONE : number(Number(value).toFixed(2)));
  const columns = [
    [t("portfolio.ltv"), (g) => cash(g.ltv.value)],
    ["S", (g) => cash(g.ltv.s)],
    ["C", (g) => decimal(g.ltv.c)],
    ["P", (g) => decimal(g.ltv.p)],
    ["T", (g) => decimal(g.ltv.t)],
  ];
  return section("ltv", label("section", "7"), groupTable(groups, columns, "ltv-table"));
}

function isBlank(value) {
  return value === null || value === undefined || value === "";
}

function gainedLostSection(report) {
  const columns = [[t("portfolio.revenue"), (l) => cash(l.revenue)]];
  const lostColumns = [[t("portfolio.previous"), (l) => cash(l.prev_revenue)]];
  return section(
    "gained-lost",
    label("section", "8"),
    h("h2", {}, t("portfolio.gained")),
    clientTable(
      report.gained,
      columns,
      "gained",
      report.gained_total,
      listRows(report, "gained"),
    ),
    h("h2", {}, t("portfolio.lost")),
    clientTable(
      report.lost,
      lostColumns,
      "lost",
      report.lost_total,
      listRows(report, "lost"),
    ),
  );
}

function healthSection(report) {
  const rows = HEALTH.map((bucket) => ({
    label: label("health", bucket),
    value: report.health[bucket] || 0,
  }));
  return section(
    "health",
    label("section", "9"),
    h(
      "figure",
      { class: "chart", id: "health-chart" },
      hbarChart(rows, { title: label("section", "9"), colour: PALETTE[0] }),
    ),
  );
}
