// What every view reads once the page has started: the member (GET me), the filters' choices
// (GET options), the card's fields (GET fields), and the base's filters kept while a card is
// open, so that Back returns to the same list.
import { ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

export const session = { me: null, options: null, fields: null };

export const baseState = { filters: {}, offset: 0, scroll: 0 };

/** Set by a screen with unsaved edits: returns false to stay (the member cancelled leaving). */
export const leaving = { guard: null };

/** The screen shown before this one: a card opened from the portfolio goes back there. */
export const nav = { previous: "#/base" };

export function showError(target, error, retry) {
  replace(target, errorBox(error, retry));
}

/** The server's sentence (or the page's own when the server could not be reached), and a Try
 * again button where trying again may help: no connection, or the server's own failure. */
export function errorBox(error, retry) {
  if (!(error instanceof ApiError)) {
    // A bug of the page, not an answer of the server: the console (and the tests) must see it.
    console.error(error);
  }
  const message = error instanceof ApiError && error.message ? error.message : t("app.offline");
  const transient = error instanceof ApiError && (error.status === 0 || error.status >= 500);
  return h(
    "div",
    { class: "notice error", role: "alert" },
    h("p", {}, message),
    retry && transient
      ? h(
          "button",
          { type: "button", class: "secondary", id: "retry", onclick: retry },
          t("app.retry"),
        )
      : null,
  );
}
