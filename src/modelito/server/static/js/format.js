// Small formatting helpers shared by the views.

export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

/** A log-probability as a percentage; a removed token (null, -inf) as a dash. */
export function pct(lp) {
  if (lp === null || lp === undefined || lp < -1e30) return "—";
  const p = Math.exp(lp) * 100;
  return p >= 9.5 ? p.toFixed(0) + "%" : p >= 0.095 ? p.toFixed(1) + "%" : "<0.1%";
}

/** Red (unlikely) to green (likely), light enough for dark text. */
export function color(lp) {
  const p = lp === null ? 0 : Math.exp(lp);
  return `hsl(${Math.round(120 * p)},70%,${88 - Math.round(8 * p)}%)`;
}

/** Spaces, newlines and tabs made visible. */
export const visible = (s) => s.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "→");
