// The smaller views: Tokenizer, Compare, Beam search, Classify, Model card.
import { api, sse } from "./api.js";
import { esc, visible } from "./format.js";
import { currentLang, onLang, t } from "./i18n.js";
import { chosen } from "./params.js";

const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
const PALETTE = ["#fde2e2", "#e2f0fd", "#e5fde2", "#fdf6e2", "#efe2fd"];

// ---------- Tokenizer: live, as you type ----------
let tokenTimer = null;
export async function tokenize() {
  try {
    const d = await api("/api/tokenize", { text: $("#tokinput").value });
    const chips = d.tokens.filter((x) => x.text || !x.partial).map((x) =>
      `<span class="chip ${x.special ? "sp" : ""}" style="${x.special ? "" : "background:" + PALETTE[x.group % 5]}" ` +
      `title="id ${x.id} · ${esc(x.piece)}">${esc(x.special ? x.piece : visible(x.text))}</span>`).join("");
    const rows = d.tokens.map((x) => `<tr><td>${x.id}</td><td class="l">${esc(x.piece)}</td>` +
      `<td class="l">${esc(JSON.stringify(x.text))}</td><td>${x.start}:${x.end}</td></tr>`).join("");
    $("#tokout").innerHTML = `<p>${d.count} ${t("count")} · ${d.chars_per_token.toFixed(2)} ${t("cpt")}</p><p>${chips}</p>` +
      `<table><tr><th>id</th><th class="l">${t("piece")}</th><th class="l">${t("text")}</th><th>${t("span")}</th></tr>${rows}</table>`;
  } catch (e) {
    $("#tokout").textContent = e.message;
  }
}

export function initTokenizer() {
  $("#tokinput").addEventListener("input", () => { clearTimeout(tokenTimer); tokenTimer = setTimeout(tokenize, 150); });
  // A hidden view's output would stay in the old language until its next run: drop it (opening the view
  // tokenizes again).
  onLang(() => { if (!$("#tokens").hidden) tokenize(); else $("#tokout").innerHTML = ""; });
}

// ---------- Compare settings ----------
function parseSetting(text) {
  const out = {};
  text.split(",").map((x) => x.trim()).filter(Boolean).forEach((part) => {
    const [k, v] = part.split("=").map((x) => x.trim());
    out[k] = v === "true" ? true : v === "false" ? false : isNaN(Number(v)) ? v : Number(v);
  });
  return out;
}

export function initCompare() {
  $("#cmprun").addEventListener("click", async () => {
    const settings = $$(".cmpset").map((i) => i.value.trim()).filter(Boolean).map(parseSetting);
    const out = $("#cmpout");
    out.textContent = "…";
    try {
      const d = await api("/api/compare", { messages: [{ role: "user", content: $("#cmpprompt").value }], settings,
                                             common: chosen });
      let h = '<div class="row">' + d.results.map((r, i) =>
        `<div class="col msg"><span class="role">${esc(d.labels[i])}</span>${esc(r.text)}</div>`).join("") + "</div>";
      h += `<p class="small">${t("under")}</p><table><tr><th></th>` +
        d.labels.map((l) => `<th class="l">${esc(l)}</th>`).join("") + "</tr>" +
        d.cross_logprobs.map((row, i) => `<tr><th class="l">${esc(d.labels[i])}</th>` +
          row.map((v) => `<td>${v === null ? t("impossible") : v.toFixed(2)}</td>`).join("") + "</tr>").join("") + "</table>";
      out.innerHTML = h;
    } catch (e) {
      out.textContent = t("error") + ": " + e.message;
    }
  });
}

// ---------- Beam search: the tree grows as it searches ----------
export function initBeam() {
  $("#beamrun").addEventListener("click", async () => {
    const out = $("#beamout");
    out.innerHTML = "";
    const nodes = {};
    const list = document.createElement("ol");
    list.className = "tree";
    out.appendChild(list);
    const params = { num_beams: +$("#beamn").value, do_sample: false, max_new_tokens: +$("#beamlen").value, top_n: 3 };
    try {
      for await (const ev of sse("/api/generate", { messages: [{ role: "user", content: $("#beamprompt").value }], params })) {
        if (ev.beam_step) list.appendChild(beamStep(ev.beam_step, nodes));
        if (ev.result) {
          const answers = document.createElement("div");
          answers.innerHTML = ev.result.sequences.map((s) =>
            `<div class="msg"><span class="role">${s.score.toFixed(3)}</span>${esc(s.text)}</div>`).join("");
          out.prepend(answers);
        }
      }
    } catch (e) {
      out.textContent = t("error") + ": " + e.message;
    }
  });
}

function beamStep(step, nodes) {
  const li = document.createElement("li");
  li.innerHTML = `<b>${t("step")} ${step.depth + 1}</b> ` + step.candidates.map((c) => {
    nodes[c.id] = c;
    const path = [];
    for (let n = c; n; n = n.parent === null ? null : nodes[n.parent]) path.unshift(n.text);
    const normalised = c.normalised_score !== null ? " → " + c.normalised_score.toFixed(3) : "";
    return `<div class="${c.status}" title="${esc(t(c.status))}">${esc(t(c.status))} ${c.score.toFixed(2)}${normalised}: ` +
      `${esc(path.join(""))}</div>`;
  }).join("");
  return li;
}

// ---------- Classify: the LLM by label scoring, next to a classifier ----------
export function initClassify() {
  $("#clsrun").addEventListener("click", async () => {
    const out = $("#clsout");
    out.textContent = "…";
    try {
      const labels = $("#clslabels").value.split(",").map((x) => x.trim()).filter(Boolean);
      const d = await api("/api/classify", { text: $("#clstext").value, labels });
      out.innerHTML = d.results.map((r) => `<div class="col panel"><b>${esc(t("by_" + r.by))} (${esc(r.model)})</b>: ${esc(r.label)}<table>` +
        r.labels.map((l, i) => `<tr><td class="l">${esc(l)}</td><td>${(100 * r.probs[i]).toFixed(1)}%</td>` +
          `<td class="l"><div style="background:#8ab;height:10px;width:${Math.round(200 * r.probs[i])}px"></div></td></tr>`).join("") +
        "</table>" + (r.generated !== null ? `<p class="small">${t("asked")}: ${esc(JSON.stringify(r.generated))} → ` +
          `${esc(r.generated_label || t("nolabel"))}</p>` : "") + "</div>").join("");
    } catch (e) {
      out.textContent = t("error") + ": " + e.message;
    }
  });
}

// ---------- Model card ----------
export let card = null;

export async function loadCard() {
  card = await api("/api/card");
  $("#model").textContent = card.name;
  $("#random").hidden = !card.random_weights;
  onLang(renderCard);
}

function renderCard() {
  if (!card) return;
  $("#random").textContent = t("random");
  if (card.engine) {  // a remote engine: what it says about itself
    const rows = [["card_engine", `${card.engine} · ${card.url}`], ["card_context", card.context_length ?? "—"],
                  ["card_logprobs", t("lp_" + card.logprobs)], ["card_takes", card.takes.join(", ")], why()];
    $("#cardout").innerHTML = "<table>" + rows.map(([k, v]) =>
      `<tr><th class="l">${esc(t(k))}</th><td class="l">${esc(String(v))}</td></tr>`).join("") + "</table>";
    return;
  }
  const loaded = card.loaded && card.loaded.dtype ? `${card.loaded.dtype} · ${card.loaded.device}` : "";
  const rows = [
    ["card_parameters", `${card.parameters.toLocaleString()} (${(card.parameters / 1e6).toFixed(1)} ${t("million")})`],
    ["card_architecture", card.architecture],
    ["card_shape", `${card.layers} · ${card.attention_heads} · ${card.key_value_heads} · ${card.hidden_size}`],
    ["card_context", card.context_length],
    ["card_stored", card.dtype],
    ["card_loaded", loaded],
    why(),
    ["card_vocabulary", vocabulary(card)],
    ["card_template", card.has_chat_template ? t("yes") : t("no")],
    ["card_generation", generation(card.generation_defaults)],
  ];
  $("#cardout").innerHTML = "<table>" + rows.map(([k, v]) =>
    `<tr><th class="l">${esc(t(k))}</th><td class="l">${esc(String(v))}</td></tr>`).join("") + "</table>";
}

/** Why the model runs on this device, in this dtype (and through oneDNN, or at a remote engine). */
function why() {
  return ["card_why", (card.why || []).map((note) => note[currentLang()] || note.en).join("; ")];
}

/** Why the model's and the tokenizer's vocabularies differ, in the page's language. */
function vocabulary(c) {
  const diff = c.model_vocab_size - c.tokenizer_vocab_size;
  const sizes = `${t("model")} ${c.model_vocab_size.toLocaleString()} · ${t("tokenizer_lc")} ${c.tokenizer_vocab_size.toLocaleString()}`;
  const why = diff > 0 ? t("vocab_padded").replace("{n}", diff.toLocaleString())
    : diff < 0 ? t("vocab_unreachable").replace("{n}", (-diff).toLocaleString()) : t("vocab_same");
  return `${sizes}: ${why}`;
}

/** The model's generation defaults (its generation_config), in the page's language. */
function generation(d) {
  const knobs = ["temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size", "max_new_tokens"]
    .filter((k) => k in d).map((k) => `${k} ${d[k]}`);
  const head = d.do_sample ? t("gen_samples") : t("gen_greedy");
  return knobs.length ? `${head}: ${knobs.join(", ")}.` : `${head}.`;
}
