// Every string the page shows, in English and Spanish. A test checks both tables have the same keys.
export const T = {
  en: {
    lang: "Language", chat: "Chat", params: "Parameters", tokenizer: "Tokenizer", compare: "Compare",
    beam: "Beam search", classify: "Classify", card: "Model card",
    system: "System message", message: "Message", send: "Send", regenerate: "Regenerate", prompt: "Prompt",
    clear: "Clear", clickhint: "Click a token to see what else the model considered.",
    paramshint: "Empty fields use the defaults shown (the model's, transformers' or modelito's). Changed values are highlighted.",
    cmphint: "Up to four settings, e.g. temperature=0.3, top_k=5",
    run: "Run", beams: "Beams", maxtokens: "Max new tokens", text: "Text", labels: "Labels",
    model: "model", sampler: "sampler", rank: "rank", entropy: "entropy", token: "token",
    branch: "Click an alternative to continue from it.", random: "RANDOM WEIGHTS: the text means nothing",
    you: "you", assistant: "assistant", end: "end", end_title: "end of the answer (the end-of-turn token)",
    asked: "answer when asked", nolabel: "not a label",
    kept: "kept", pruned: "pruned", finished: "finished", ended: "ended", step: "step",
    under: "log-probability of each text (rows) under each setting (columns)", impossible: "impossible",
    count: "tokens", cpt: "characters per token", piece: "piece (as stored)", span: "span", error: "Error",
    default_choice: "default", src_user: "yours", src_model: "model", "src_transformers default": "transformers",
    src_default: "modelito", src_server: "server", src_engine: "engine",
    group_strategy: "Strategy", group_temperature: "Temperature", group_truncation: "Truncation",
    group_penalties: "Penalties", group_adaptive: "Adaptive and order", group_length: "Length and stopping", group_trace: "What the trace records",
    card_parameters: "Parameters", card_architecture: "Architecture", card_shape: "Layers · heads · key-value heads · hidden",
    card_context: "Context", card_stored: "Stored as", card_loaded: "Running as", card_vocabulary: "Vocabulary",
    card_memory: "Memory (weights)", card_why: "Why it runs so", card_template: "Chat template", card_generation: "Generation defaults",
    yes: "yes", no: "no", million: "million", rows: "decoding", waiting: "waiting", tps: "tokens/s",
    tokenizer_lc: "tokenizer", by_llm: "label scoring", by_classifier: "classifier",
    vocab_padded: "the model's output layer has {n} more rows than the tokenizer has tokens: padded to a size that multiplies fast, never produced",
    vocab_unreachable: "the tokenizer has {n} tokens the model cannot produce", vocab_same: "the same vocabulary",
    card_engine: "Remote engine", card_logprobs: "Its log-probabilities", card_takes: "Parameters it takes",
    lp_raw: "raw (the model's)", lp_processed: "processed (the sampler's)", lp_exact: "exact (modelito's whole trace)",
    lp_unknown: "unknown (raw or processed: the engine does not say)",
    remote_note: "A remote engine returns these log-probabilities only: no stage table, no entropy. Branching needs a local model.",
    inside: "Inside", aschat: "as a chat message (the answer comes next)", lensrun: "Logit lens", attnrun: "Attention",
    attrrun: "Attribution", target: "target", target_hint: "the next token to explain (empty: the most likely)", output: "output", embeddings: "embeddings", layer: "layer", head: "head",
    insidehint: "What each layer would predict; what each token attends to; which tokens made the next one likely.",
    lens_hint: "Each cell: the most likely next token if the model stopped at that layer (the residual stream through the final norm and the unembedding); shade: its probability; hover for more.",
    attn_hint: "Each row a token, each column what it attends to (the model's attention probabilities).",
    attr_hint: "shade: each token's share of the target's log-probability (gradient × input)",
    mean_heads: "mean of heads", lens_title: "Logit lens at this step", not_decided: "not decided before the output",
    decided_at: "decided at", top_guess: "top guess", chosen: "chosen", why: "Which words made it? (attribution)",
    gen_samples: "samples by default", gen_greedy: "decodes greedily by default (always the most likely token)",
  },
  es: {
    lang: "Idioma", chat: "Chat", params: "Parámetros", tokenizer: "Tokenizador", compare: "Comparar",
    beam: "Búsqueda en haz", classify: "Clasificar", card: "Ficha del modelo",
    system: "Mensaje de sistema", message: "Mensaje", send: "Enviar", regenerate: "Regenerar", prompt: "Prompt",
    clear: "Borrar", clickhint: "Pulsa un token para ver qué más consideró el modelo.",
    paramshint: "Los campos vacíos usan los valores mostrados (del modelo, de transformers o de modelito). Los cambiados se resaltan.",
    cmphint: "Hasta cuatro configuraciones, p. ej. temperature=0.3, top_k=5",
    run: "Ejecutar", beams: "Haces", maxtokens: "Máximo de tokens nuevos", text: "Texto", labels: "Etiquetas",
    model: "modelo", sampler: "muestreo", rank: "rango", entropy: "entropía", token: "token",
    branch: "Pulsa una alternativa para continuar desde ella.", random: "PESOS ALEATORIOS: el texto no significa nada",
    you: "tú", assistant: "asistente", end: "fin", end_title: "fin de la respuesta (el token de fin de turno)",
    asked: "respuesta al preguntarle", nolabel: "no es una etiqueta",
    kept: "conservado", pruned: "podado", finished: "terminado", ended: "acabado", step: "paso",
    under: "log-probabilidad de cada texto (filas) con cada configuración (columnas)", impossible: "imposible",
    count: "tokens", cpt: "caracteres por token", piece: "pieza (tal como se guarda)", span: "posición", error: "Error",
    default_choice: "por defecto", src_user: "tuyo", src_model: "modelo", "src_transformers default": "transformers",
    src_default: "modelito", src_server: "servidor", src_engine: "motor",
    group_strategy: "Estrategia", group_temperature: "Temperatura", group_truncation: "Truncado",
    group_penalties: "Penalizaciones", group_adaptive: "Adaptativos y orden", group_length: "Longitud y parada", group_trace: "Qué registra la traza",
    card_parameters: "Parámetros", card_architecture: "Arquitectura", card_shape: "Capas · cabezas · cabezas clave-valor · dimensión",
    card_context: "Contexto", card_stored: "Guardado como", card_loaded: "Ejecutándose como", card_vocabulary: "Vocabulario",
    card_memory: "Memoria (pesos)", card_why: "Por qué se ejecuta así", card_template: "Plantilla de chat", card_generation: "Generación por defecto",
    yes: "sí", no: "no", million: "millones", rows: "generando", waiting: "en cola", tps: "tokens/s",
    tokenizer_lc: "tokenizador", by_llm: "puntuación de etiquetas", by_classifier: "clasificador",
    vocab_padded: "la capa de salida del modelo tiene {n} filas más que tokens el tokenizador: se rellena hasta un tamaño que multiplica rápido, nunca se producen",
    vocab_unreachable: "el tokenizador tiene {n} tokens que el modelo no puede producir", vocab_same: "el mismo vocabulario",
    card_engine: "Motor remoto", card_logprobs: "Sus log-probabilidades", card_takes: "Parámetros que acepta",
    lp_raw: "del modelo (sin procesar)", lp_processed: "del muestreo (procesadas)", lp_exact: "exactas (la traza completa de modelito)",
    lp_unknown: "desconocidas (el motor no dice si están procesadas)",
    remote_note: "Un motor remoto solo devuelve estas log-probabilidades: sin tabla de etapas ni entropía. Para ramificar hace falta un modelo local.",
    inside: "Por dentro", aschat: "como mensaje de chat (a continuación, la respuesta)", lensrun: "Lente de logits",
    attnrun: "Atención", attrrun: "Atribución", target: "objetivo", target_hint: "el token siguiente que explicar (vacío: el más probable)", output: "salida", embeddings: "embeddings", layer: "capa",
    head: "cabeza", insidehint: "Qué predeciría cada capa; a qué atiende cada token; qué tokens hicieron probable el siguiente.",
    lens_hint: "Cada celda: el siguiente token más probable si el modelo se detuviera en esa capa (el flujo residual por la norma final y la desincrustación); color: su probabilidad; pasa el ratón para ver más.",
    attn_hint: "Cada fila un token, cada columna a qué atiende (las probabilidades de atención del modelo).",
    attr_hint: "color: la parte de cada token en la log-probabilidad del objetivo (gradiente × entrada)",
    mean_heads: "media de las cabezas", lens_title: "Lente de logits en este paso", not_decided: "sin decidir antes de la salida",
    decided_at: "decidido en", top_guess: "primera opción", chosen: "elegido", why: "¿Qué palabras lo causaron? (atribución)",
    gen_samples: "muestrea por defecto", gen_greedy: "decodifica de forma voraz por defecto (siempre el token más probable)",
  },
};

let lang = (localStorage.getItem("modelito-lang") || navigator.language || "en").slice(0, 2) === "es" ? "es" : "en";
const listeners = [];

export const t = (key) => T[lang][key] ?? key;
export const currentLang = () => lang;

/** Call `fn` now and whenever the language changes. */
export function onLang(fn) { listeners.push(fn); fn(lang); }

export function setLang(value) {
  lang = value;
  localStorage.setItem("modelito-lang", lang);
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i]").forEach((e) => { e.textContent = t(e.dataset.i); });
  document.querySelectorAll("[data-i-label]").forEach((e) => e.setAttribute("aria-label", t(e.dataset.iLabel)));
  document.querySelectorAll("[data-i-placeholder]").forEach((e) => { e.placeholder = t(e.dataset.iPlaceholder); });
  listeners.forEach((fn) => fn(lang));
}
