// The playground: tabs, language, and each view's set-up. No build step, no CDN: plain ES modules.
import { api } from "./api.js";
import { initChat } from "./chat.js";
import { initInside } from "./inside.js";
import { currentLang, setLang, t } from "./i18n.js";
import { loadParams } from "./params.js";
import { initBeam, initClassify, initCompare, initTokenizer, loadCard, tokenize } from "./views.js";

const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];

$("#lang").value = currentLang();
$("#lang").addEventListener("change", (e) => setLang(e.target.value));

$$("nav button").forEach((b) => b.addEventListener("click", () => {
  $$("nav button").forEach((x) => x.setAttribute("aria-selected", x === b));
  $$("main section").forEach((s) => { s.hidden = s.id !== b.dataset.view; });
  if (b.dataset.view === "tokens") tokenize();
}));

initChat();
initTokenizer();
initCompare();
initBeam();
initClassify();
initInside();
setLang(currentLang());

async function status() {
  try {
    const s = await api("/api/status");
    $("#status").textContent = s.rows || s.waiting
      ? `${t("rows")} ${s.rows}/${s.max_batch} · ${t("waiting")} ${s.waiting} · ${s.tokens_per_second.toFixed(0)} ${t("tps")}`
      : "";
  } catch (e) { /* the next poll will tell */ }
}

Promise.all([loadCard(), loadParams()]).catch((e) => { $("#cardout").textContent = e.message; });
setInterval(status, 3000);
