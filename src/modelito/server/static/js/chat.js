// The Chat view: streamed answers with every token coloured by the model's probability; click a
// token for its alternatives after every stage of the sampler, click an alternative to branch.
import { api, sse } from "./api.js";
import { color, esc, pct } from "./format.js";
import { onLang, t } from "./i18n.js";
import { attributionText, lensColumn } from "./inside.js";
import { chosen } from "./params.js";

const $ = (s) => document.querySelector(s);
let messages = []; // {role, content, steps?, stages?, finish?}
let shown = null; // the arguments of the token details on display, to draw them again in another language

export function initChat() {
  $("#chatform").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#input").value.trim();
    if (!text) return;
    messages.push({ role: "user", content: text });
    $("#input").value = "";
    answer(messages.length);
  });
  $("#input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#chatform").requestSubmit(); }
  });
  $("#regen").addEventListener("click", () => {
    if (messages.length && messages[messages.length - 1].role === "assistant") answer(messages.length - 1);
  });
  $("#clear").addEventListener("click", () => {
    messages = []; shown = null; renderHistory(); $("#details").innerHTML = "";
  });
  $("#showprompt").addEventListener("click", showPrompt);
  onLang(() => { renderHistory(); if (shown) showDetails(...shown); });
}

function chatMessages(upto) {
  const system = $("#system").value.trim();
  const out = system ? [{ role: "system", content: system }] : [];
  messages.slice(0, upto).forEach((m) => out.push({ role: m.role, content: m.content }));
  return out;
}

/** Generate the assistant's turn after the first `upto` messages, continuing from `prefix` steps if given. */
async function answer(upto, prefixSteps = []) {
  const turn = { role: "assistant", content: prefixSteps.map((s) => s.text).join(""), steps: prefixSteps.slice(),
                 stages: [], finish: null };
  const request = { messages: chatMessages(upto), params: chosen, prefix: prefixSteps.map((s) => s.token_id) };
  messages = messages.slice(0, upto);
  messages.push(turn);
  renderHistory();
  const start = turn.content;
  try {
    for await (const ev of sse("/api/generate", request)) {
      if (ev.step && ev.sequence === 0) { turn.steps.push(ev.step); turn.content += ev.text; }
      if (ev.result) {
        const seq = ev.result.sequences[0];
        turn.stages = ev.result.stage_names;
        turn.content = start + seq.text;
        turn.finish = seq.finish_reason;
      }
      renderHistory();
    }
  } catch (e) {
    turn.steps = [];
    turn.content = t("error") + ": " + e.message;
    renderHistory();
  }
}

function branch(turnIndex, stepIndex, k) {
  const m = messages[turnIndex];
  const step = m.steps[stepIndex];
  const alt = step.top[k];
  const taken = { ...alt, rank: k + 1, entropy: step.entropy, top: step.top };
  answer(turnIndex, m.steps.slice(0, stepIndex).concat([taken]));
}

function renderHistory() {
  const history = $("#history");
  history.innerHTML = "";
  messages.forEach((m, i) => {
    const box = document.createElement("div");
    box.className = "msg";
    box.innerHTML = `<span class="role">${m.role === "user" ? t("you") : t("assistant")}</span>`;
    if (m.steps) {
      m.steps.forEach((s, k) => box.appendChild(token(m, i, s, k)));
    } else {
      box.appendChild(document.createTextNode(m.content));
    }
    history.appendChild(box);
  });
}

function token(m, i, s, k) {
  const span = document.createElement("span");
  // The end of turn is not text: show it as a marker, with the probability the model gave it.
  const isEnd = m.finish === "eos" && k === m.steps.length - 1;
  span.className = isEnd ? "tok end" : "tok";
  // Every streamed step and a language switch draw the history anew: keep the open token marked.
  if (shown && shown[0] === s) span.classList.add("sel");
  span.tabIndex = 0;
  span.style.background = color(s.logprob);
  span.textContent = isEnd ? `⏎ ${t("end")} ${pct(s.logprob)}` : s.text;
  span.title = (isEnd ? t("end_title") + " · " : "") + `${t("model")} ${pct(s.logprob)} · ${t("sampler")} ${pct(s.sampling_logprob)}`;
  const open = () => {
    document.querySelectorAll(".tok.sel").forEach((x) => x.classList.remove("sel"));
    span.classList.add("sel");
    showDetails(s, m.stages, i, k);
  };
  span.addEventListener("click", open);
  span.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return span;
}

function showDetails(step, stageNames, turn, index) {
  shown = [step, stageNames, turn, index];
  const panel = $("#details");
  const entropy = step.entropy === null ? "—" : step.entropy.toFixed(2);
  let h = `<b>${esc(JSON.stringify(step.text))}</b> · ${t("model")} ${pct(step.logprob)} · ${t("sampler")} ` +
    `${pct(step.sampling_logprob)} · ${t("rank")} ${step.rank || "?"} · ${t("entropy")} ${entropy}`;
  // A remote engine gives no stage table: its alternatives show what it returned, model or sampler.
  const remote = !stageNames.length;
  const names = remote ? [t("model"), t("sampler")] : stageNames.map((n) => (n === "model" ? t("model") : n));
  h += `<p class="small">${remote ? t("remote_note") : t("branch")}</p><table><tr><th class="l">${t("token")}</th>` +
    names.map((n) => `<th>${esc(n)}</th>`).join("") + "</tr>";
  step.top.forEach((c, k) => {
    const columns = remote ? [c.logprob, c.sampling_logprob] : c.stages;
    h += `<tr class="alt" tabindex="0" data-k="${k}"><td class="l">${esc(JSON.stringify(c.text))}</td>` +
      columns.map((lp) => `<td class="${lp === null ? "gone" : ""}">${pct(lp)}</td>`).join("") + "</tr>";
  });
  h += "</table>" + lensColumn(step);
  if (!remote) h += `<p><button class="btn" id="whybtn">${t("why")}</button></p><div id="whyout"></div>`;
  panel.innerHTML = h;
  if (remote) return;
  $("#whybtn").addEventListener("click", async () => {
    const out = $("#whyout");
    out.textContent = "…";
    const prefix = messages[turn].steps.slice(0, index).map((s) => s.token_id);
    try {
      out.innerHTML = attributionText(await api("/api/attribute", { messages: chatMessages(turn), prefix,
                                                                      target: step.token_id }));
    } catch (e) { out.textContent = t("error") + ": " + e.message; }
  });
  panel.querySelectorAll(".alt").forEach((row) => {
    const go = () => branch(turn, index, +row.dataset.k);
    row.addEventListener("click", go);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  });
}

async function showPrompt() {
  const pre = $("#prompttext");
  if (!pre.hidden) { pre.hidden = true; return; }
  const msgs = chatMessages(messages.length);
  if (!msgs.length) msgs.push({ role: "user", content: $("#input").value || "…" });
  try {
    pre.textContent = (await api("/api/template", { messages: msgs })).prompt;
  } catch (e) {
    pre.textContent = e.message;
  }
  pre.hidden = false;
}
