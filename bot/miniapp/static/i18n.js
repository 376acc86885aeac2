// Every word on the page comes from GET /app/api/texts, in the member's language; numbers and
// dates are formatted here with Intl in that language (money from the server's decimal strings,
// which Intl formats digit for digit: no float ever touches an amount).

let language = "en";
let texts = {};
let plurals = {};
let labels = {};
let currency = "RUB";
let timeZone = undefined;

export function setTexts(payload) {
  language = payload.language || "en";
  texts = payload.texts || {};
  plurals = payload.plurals || {};
  labels = payload.labels || {};
  document.documentElement.lang = language;
}

export function setTeam(team, member) {
  currency = (team && team.currency) || "RUB";
  timeZone = (member && member.timezone) || (team && team.timezone) || undefined;
}

/** An empty value: a dash, in every language (a sign, not a word). */
export const NONE = "—";

export function lang() {
  return language;
}

function fill(template, params) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) =>
    params && name in params ? String(params[name]) : whole,
  );
}

/** A text by its key; a missing key shows the key itself, which a test notices. */
export function t(key, params) {
  const template = key in texts ? texts[key] : key;
  return fill(template, params);
}

/** A counted text: CLDR's form for `count` in the member's language. */
export function tn(key, count, params) {
  const forms = plurals[key];
  if (!forms) {
    return t(key, { count: number(count), ...params });
  }
  const rule = new Intl.PluralRules(language).select(count);
  const template = forms[rule] || forms.other || key;
  return fill(template, { count: number(count), ...params });
}

export function label(group, value) {
  if (value === null || value === undefined || value === "") {
    return "";
  }
  const table = labels[group] || {};
  return value in table ? table[value] : String(value);
}

export function number(value) {
  return new Intl.NumberFormat(language).format(value);
}

/** "150000.50" → "150 000,50 ₽" (ru) / "RUB 150,000.50" (en): the string goes to Intl as is,
 * digit for digit. Whole sums lose their ",00", as the chat writes them (bot/i18n.py fmt_money);
 * a loss reads "−RUB 5", as the chat's portfolio writes it. */
export function money(value) {
  if (value === null || value === undefined) {
    return NONE;
  }
  const text = String(value);
  if (text.startsWith("-")) {
    return `−${money(text.slice(1))}`;
  }
  const fraction = text.includes(".") ? text.split(".")[1] : "";
  const whole = /^0*$/.test(fraction);
  return new Intl.NumberFormat(language, {
    style: "currency",
    currency,
    currencyDisplay: "symbol",
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  }).format(text);
}

/** A sum rounded to whole units as the chat's /portfolio shows it (Decimal.quantize(1): half to
 * even), computed on the digits: no float ever touches an amount. */
export function wholeMoney(value) {
  if (value === null || value === undefined) {
    return NONE;
  }
  const text = String(value);
  const negative = text.startsWith("-");
  const [int, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  let units = BigInt(int || "0");
  const first = fraction ? Number(fraction[0]) : 0;
  const rest = /[1-9]/.test(fraction.slice(1));
  if (first > 5 || (first === 5 && (rest || units % 2n === 1n))) {
    units += 1n;
  }
  const shown = units.toString();
  return negative && units !== 0n ? `−${money(shown)}` : money(shown);
}

/** Percentages come unrounded ("12.3456"): `places` decimals on the page, as the chat rounds
 * them (one for shares, none for the turnover's ratio). */
export function percent(value, places = 1) {
  if (value === null || value === undefined) {
    return NONE;
  }
  const text = new Intl.NumberFormat(language, { maximumFractionDigits: places }).format(
    String(value),
  );
  return `${text}%`;
}

/** An instant with its offset, shown in the member's time zone. */
export function dateTime(iso, dateOnly = false) {
  if (!iso) {
    return NONE;
  }
  const options = { timeZone, day: "numeric", month: "short", weekday: "short" };
  const when = new Date(iso);
  if (when.getFullYear() !== new Date().getFullYear()) {
    options.year = "numeric";
  }
  if (!dateOnly) {
    options.hour = "2-digit";
    options.minute = "2-digit";
  }
  return new Intl.DateTimeFormat(language, options).format(when);
}

/** A calendar day "YYYY-MM-DD" (no time zone to apply). */
export function day(ymd) {
  if (!ymd) {
    return NONE;
  }
  const [y, m, d] = ymd.split("-").map(Number);
  return new Intl.DateTimeFormat(language, {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** "YYYY-MM-DD" of an instant in the member's zone: what a date picker shows for it. */
export function localDate(iso) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date(iso));
  return parts;
}

export function localTime(iso) {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}
