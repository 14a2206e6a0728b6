// The Parameters view, built from the server's schema (/api/params): one control per generation
// parameter, grouped, each with its one-line explanation and the default it falls back to.
import { api } from "./api.js";
import { esc } from "./format.js";
import { currentLang, onLang, t } from "./i18n.js";

/** The values the user chose (modelito's names); what is not here takes the default shown. */
export const chosen = {};
let schema = null;

export async function loadParams() {
  schema = await api("/api/params");
  onLang(render);
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join("\n") : String(value);
}

function control(p) {
  const id = "p-" + p.name;
  if (p.kind === "bool" || p.kind === "choice") {
    const options = p.kind === "bool" ? [true, false] : p.choices;
    return `<select id="${id}"><option value="">${esc(t("default_choice"))}: ${esc(shown(p.value))}</option>` +
      options.map((o) => `<option value="${esc(JSON.stringify(o))}">${esc(String(o))}</option>`).join("") + "</select>";
  }
  if (p.kind === "strings") return `<textarea id="${id}" rows="1" placeholder="${esc(shown(p.value))}"></textarea>`;
  if (p.kind === "order") return `<input id="${id}" placeholder="${esc(p.choices.join(", "))}">`;
  if (p.kind === "bias") return `<input id="${id}" placeholder='{"token id": bias}'>`;
  const bounds = (p.low !== null ? ` min="${p.low}"` : "") + (p.high !== null ? ` max="${p.high}"` : "");
  return `<input id="${id}" type="number" step="${p.step ?? "any"}"${bounds} placeholder="${esc(shown(p.value))}">`;
}

function read(p, el) {
  if (el.value === "") return undefined;
  if (p.kind === "bool" || p.kind === "choice") return JSON.parse(el.value);
  if (p.kind === "strings") return el.value.split("\n").filter(Boolean);
  if (p.kind === "order") return el.value.split(",").map((x) => x.trim()).filter(Boolean);
  if (p.kind === "bias") { try { return JSON.parse(el.value); } catch (e) { return el.value; } }
  return Number(el.value);
}

function render() {
  if (!schema) return;
  const root = document.querySelector("#paramgroups");
  root.innerHTML = "";
  for (const group of schema.groups) {
    const members = schema.params.filter((p) => p.group === group);
    if (!members.length) continue;
    const box = document.createElement("div");
    box.className = "group";
    box.innerHTML = `<h3>${esc(t("group_" + group))}</h3><div class="grid"></div>`;
    for (const p of members) box.querySelector(".grid").appendChild(field(p));
    root.appendChild(box);
  }
}

function field(p) {
  const f = document.createElement("div");
  f.className = "field";
  const doc = currentLang() === "es" ? p.doc_es : p.doc;
  f.innerHTML = `<label for="p-${p.name}">${esc(p.name)}<span class="src" title="${esc(p.source)}">${esc(t("src_" + p.source))}</span></label>` +
    control(p) + `<div class="doc">${esc(doc)}</div>`;
  const el = f.querySelector("#p-" + p.name);
  if (p.name in chosen) {
    const value = chosen[p.name];
    el.value = p.kind === "bool" || p.kind === "choice" || p.kind === "bias" ? JSON.stringify(value)
      : p.kind === "order" ? value.join(", ") : shown(value);
    f.classList.add("chg");
  }
  el.addEventListener("change", () => {
    const value = read(p, el);
    if (value === undefined) delete chosen[p.name]; else chosen[p.name] = value;
    f.classList.toggle("chg", value !== undefined);
  });
  return f;
}
