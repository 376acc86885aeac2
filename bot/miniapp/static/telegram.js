// Telegram's web-app object, or a stand-in when the page runs outside Telegram (the
// playground's login link, the browser tests): the page must work either way.

const tg = window.Telegram && window.Telegram.WebApp ? window.Telegram.WebApp : null;

/** initData signed by Telegram; "" outside Telegram (and in a browser tab that loaded the
 * script without being opened by Telegram). */
export function initData() {
  return tg && typeof tg.initData === "string" ? tg.initData : "";
}

/** Telegram's client language ("ru", "en", …) when known: the server's choice wins. */
export function clientLanguage() {
  const user = tg && tg.initDataUnsafe ? tg.initDataUnsafe.user : null;
  return (user && user.language_code) || navigator.language || "";
}

const THEME_KEYS = [
  "bg_color",
  "text_color",
  "hint_color",
  "link_color",
  "button_color",
  "button_text_color",
  "secondary_bg_color",
  "header_bg_color",
  "section_bg_color",
  "accent_text_color",
  "destructive_text_color",
  "section_separator_color",
];

/** Telegram's colours become CSS variables (--tg-bg-color …); style.css falls back to its own
 * light and dark palettes (prefers-color-scheme) where a colour is missing. */
export function applyTheme() {
  const root = document.documentElement;
  if (!tg) {
    return;
  }
  const params = tg.themeParams || {};
  for (const key of THEME_KEYS) {
    const name = `--tg-${key.replaceAll("_", "-")}`;
    if (params[key]) {
      root.style.setProperty(name, params[key]);
    } else {
      root.style.removeProperty(name);
    }
  }
  root.dataset.scheme = tg.colorScheme === "dark" ? "dark" : "light";
}

export function start() {
  applyTheme();
  if (!tg) {
    return;
  }
  tg.onEvent("themeChanged", applyTheme);
  tg.ready();
  tg.expand();
}

/** Telegram's back button in the header when inside Telegram; otherwise the page shows its own. */
export function showBack(onBack) {
  if (!tg || !tg.BackButton) {
    return false;
  }
  tg.BackButton.offClick(backHandler);
  backHandler = onBack;
  tg.BackButton.onClick(backHandler);
  tg.BackButton.show();
  return true;
}

export function hideBack() {
  if (tg && tg.BackButton) {
    tg.BackButton.offClick(backHandler);
    tg.BackButton.hide();
  }
}

let backHandler = () => {};

export function insideTelegram() {
  return initData() !== "";
}

/** A light tap of feedback on phones that support it; nothing elsewhere. */
export function haptic(kind) {
  if (tg && tg.HapticFeedback) {
    tg.HapticFeedback.notificationOccurred(kind);
  }
}
