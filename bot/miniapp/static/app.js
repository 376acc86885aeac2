// The page: authenticate, load the member, the texts and the options, then route by the
// address's fragment: #/base, #/client/<id>, #/portfolio.

import { api, ApiError, login } from "./api.js";
import { renderBase } from "./base.js";
import { renderCard } from "./card.js";
import { h, replace } from "./dom.js";
import { setTeam, setTexts, t } from "./i18n.js";
import { renderPortfolio } from "./portfolio.js";
import { leaving, nav, session, showError } from "./state.js";
import { hideBack, start } from "./telegram.js";

const view = document.getElementById("view");
const tabs = document.getElementById("tabs");

async function boot() {
  start();
  try {
    await login();
    // All four at once: none needs another's answer, and each round trip is a phone's wait.
    const [me, texts, options, fields] = await Promise.all([
      api.me(),
      api.texts(),
      api.options(),
      api.fields(),
    ]);
    session.me = me;
    setTexts(texts);
    setTeam(me.team, me.member);
    session.options = options;
    session.fields = fields.fields;
  } catch (error) {
    // Before the texts arrive there is no page wording: the server's sentence, already in the
    // member's language, is all there is (and a bare code when even that is missing).
    const message =
      error instanceof ApiError ? error.message || error.code : String(error && error.message);
    replace(view, h("div", { class: "notice error", role: "alert" }, message));
    return;
  }
  document.title = t("app.title");
  for (const link of tabs.querySelectorAll("a")) {
    link.textContent = t(`tab.${link.dataset.tab}`);
  }
  tabs.hidden = false;
  window.addEventListener("hashchange", route);
  route();
}

let current = 0;
let shown = "";

async function route() {
  const hash = location.hash || "#/base";
  if (leaving.guard && hash !== shown && !leaving.guard()) {
    history.replaceState(null, "", shown); // stay on the card, edits and all
    return;
  }
  leaving.guard = null;
  if (shown && !shown.startsWith("#/client/")) {
    nav.previous = shown;
  }
  shown = hash;
  const token = ++current;
  const stillCurrent = () => token === current;
  const [, page, arg] = /^#\/(\w+)(?:\/(.+))?/.exec(hash) || [null, "base", null];
  for (const link of tabs.querySelectorAll("a")) {
    const active = link.dataset.tab === page || (page === "client" && link.dataset.tab === "base");
    if (active) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
  if (page !== "client") {
    hideBack();
  }
  replace(view, h("div", { class: "loading", "aria-busy": "true" }, t("app.loading")));
  try {
    if (page === "client" && /^\d+$/.test(arg || "")) {
      await renderCard(view, Number(arg), stillCurrent);
    } else if (page === "portfolio") {
      await renderPortfolio(view, stillCurrent);
    } else {
      await renderBase(view, stillCurrent);
    }
  } catch (error) {
    if (stillCurrent()) {
      showError(view, error, route);
    }
  }
  if (stillCurrent()) {
    window.scrollTo(0, 0);
  }
}

boot();
