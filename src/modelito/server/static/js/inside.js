// The Inside view (logit lens, attention, attribution over a text) and the same looks at a generated
// token, from the chat's details panel.
import { api } from "./api.js";
import { esc, visible } from "./format.js";
import { t } from "./i18n.js";

const $ = (s) => document.querySelector(s);
const shade = (p) => `hsl(210,70%,${97 - Math.round(45 * Math.min(Math.max(p, 0), 1))}%)`;

function request() {
  const text = $("#insidetext").value;
  return $("#insidechat").checked ? { messages: [{ role: "user", content: text }] } : { prompt: text };
}

function layerName(layer, last) {
  return layer === last ? t("output") : layer === 0 ? t("embeddings") : `${t("layer")} ${layer}`;
}

/** The layers x positions grid: each cell the layer's most likely next token, shaded by its probability. */
export function lensGrid(d) {
  const tokens = d.tokens.tokens.map((x) => visible(x.text || x.piece));
  const last = d.top_ids.length - 1;
  let h = `<table class="grid-lens"><tr><th></th>${tokens.map((x) => `<th class="l">${esc(x)}</th>`).join("")}</tr>`;
  for (let layer = last; layer >= 0; layer--) {
    h += `<tr><th class="l">${esc(layerName(layer, last))}</th>` + d.top_texts[layer].map((cell, p) => {
      const title = cell.map((x, k) => `${JSON.stringify(x)} ${(100 * d.top_probs[layer][p][k]).toFixed(1)}%`).join("\n");
      return `<td style="background:${shade(d.top_probs[layer][p][0])}" title="${esc(title)}">${esc(visible(cell[0]))}</td>`;
    }).join("") + "</tr>";
  }
  return h + "</table>";
}

function attentionMap(d, head) {
  const tokens = d.tokens.tokens.map((x) => visible(x.text || x.piece));
  const heads = d.weights;
  const weight = (q, k) => (head === "mean" ? heads.reduce((s, w) => s + w[q][k], 0) / heads.length : heads[+head][q][k]);
  let h = `<table class="map"><tr><th></th>${tokens.map((x) => `<th class="l vertical">${esc(x)}</th>`).join("")}</tr>`;
  tokens.forEach((x, q) => {
    h += `<tr><th class="l">${esc(x)}</th>` + tokens.map((y, k) => {
      const v = weight(q, k);
      return `<td style="background:${shade(v)}" title="${esc(x)} → ${esc(y)}: ${(100 * v).toFixed(1)}%"></td>`;
    }).join("") + "</tr>";
  });
  return h + "</table>";
}

export function attributionText(d) {
  const top = Math.max(...d.scores, 1e-9);
  const spans = d.tokens.tokens.map((x, i) => `<span class="tok" style="background:${shade(d.scores[i] / top)}" ` +
    `title="${(100 * d.scores[i]).toFixed(1)}%">${esc(x.text || x.piece)}</span>`).join("");
  return `<p class="small">${t("target")}: <b>${esc(JSON.stringify(d.target_text))}</b> · ${t("attr_hint")}</p><p>${spans}</p>`;
}

async function showAttention(out, layer, head) {
  const d = await api("/api/attention", { ...request(), layer: layer === undefined ? undefined : +layer });
  const layers = [...Array(d.layers).keys()].map((l) => `<option value="${l}"${l === d.layer ? " selected" : ""}>` +
    `${t("layer")} ${l + 1}</option>`).join("");
  const heads = `<option value="mean">${t("mean_heads")}</option>` + d.weights.map((_, k) =>
    `<option value="${k}"${String(k) === head ? " selected" : ""}>${t("head")} ${k + 1}</option>`).join("");
  out.innerHTML = `<p class="small">${t("attn_hint")}</p><label class="small">${t("layer")} <select id="attnlayer" class="inline">${layers}</select></label> ` +
    `<label class="small">${t("head")} <select id="attnhead" class="inline">${heads}</select></label><div>${attentionMap(d, head || "mean")}</div>`;
  $("#attnlayer").addEventListener("change", (e) => showAttention(out, e.target.value, $("#attnhead").value));
  $("#attnhead").addEventListener("change", (e) => showAttention(out, $("#attnlayer").value, e.target.value));
}

async function run(out, fn) {
  out.textContent = "…";
  try { await fn(); } catch (e) { out.textContent = t("error") + ": " + e.message; }
}

export function initInside() {
  const out = $("#insideout");
  $("#lensrun").addEventListener("click", () => run(out, async () => {
    out.innerHTML = `<p class="small">${t("lens_hint")}</p>` + lensGrid(await api("/api/lens", request()));
  }));
  $("#attnrun").addEventListener("click", () => run(out, () => showAttention(out)));
  $("#attrrun").addEventListener("click", () => run(out, async () => {
    const target = $("#attrtarget").value;
    out.innerHTML = attributionText(await api("/api/attribute", { ...request(), target: target || null }));
  }));
}

/** A generated token's lens column: every layer's guess at that step, the layer where it was decided. */
export function lensColumn(step) {
  if (!step.lens || !step.lens.length) return "";
  const last = step.lens.length - 1;
  let decided = null;
  for (let l = last; l >= 0 && step.lens[l].top_id === step.token_id; l--) decided = l;
  const rows = step.lens.slice().reverse().map((g) => `<tr${g.layer === decided ? ' class="decided"' : ""}>` +
    `<th class="l">${esc(layerName(g.layer, last))}</th><td class="l">${esc(JSON.stringify(g.top_text))}</td>` +
    `<td>${(100 * g.top_prob).toFixed(0)}%</td><td>${(100 * g.chosen_prob).toFixed(1)}%</td></tr>`).join("");
  const when = decided === null ? t("not_decided") : `${t("decided_at")} ${layerName(decided, last)}`;
  return `<p class="small"><b>${t("lens_title")}</b> · ${esc(when)}</p><table class="grid-lens"><tr><th></th>` +
    `<th class="l">${t("top_guess")}</th><th></th><th>${t("chosen")}</th></tr>${rows}</table>`;
}
