// Talking to the server: JSON calls and server-sent event streams, with the API key when one is set.
import { currentLang } from "./i18n.js";

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("modelito-key");
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

/* A server started with --api-key asks for it once; the page keeps it for this browser. */
async function call(path, init) {
  let r = await fetch(path, { ...init, headers: headers() });
  if (r.status === 401) {
    const key = window.prompt(currentLang() === "es" ? "Clave de la API de este servidor:" : "This server's API key:");
    if (key) {
      localStorage.setItem("modelito-key", key);
      r = await fetch(path, { ...init, headers: headers() });
    }
  }
  return r;
}

/** GET (no body) or POST a JSON body; the parsed answer, or an Error with the server's message. */
export async function api(path, body) {
  const r = await call(path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error ? data.error.message : r.statusText);
  return data;
}

/** POST a JSON body and yield each server-sent event's data as it arrives. */
export async function* sse(path, body) {
  const r = await call(path, { method: "POST", body: JSON.stringify(body) });
  if (!r.ok) {
    const data = await r.json();
    throw new Error(data.error ? data.error.message : r.statusText);
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let i;
    while ((i = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") return;
      const event = JSON.parse(data);
      if (event.error) throw new Error(event.error.message);
      yield event;
    }
  }
}
