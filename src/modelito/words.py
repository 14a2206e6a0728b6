"""The words records and their plain-text views say, in English and Spanish.

`print(record)` and notebooks speak English unless `modelito.set_language("es")`; the command line
passes its `--lang` (or the locale's) to `rendering.as_text`, so a class in Spanish reads its tables,
its model card and why a device was chosen in Spanish. The page has its own table (`server/static/js/i18n.js`). It sits with
the records at the bottom of the module graph, so records, the library and views can all use it.
"""

from __future__ import annotations

LANGS = ("en", "es")

WORDS: dict[str, tuple[str, str]] = {
    # Why a model runs where it runs (lm.notes)
    "device_cuda": ("device cuda: a CUDA GPU is available", "dispositivo cuda: hay una GPU CUDA"),
    "device_cpu": ("device cpu: no CUDA GPU is available", "dispositivo cpu: no hay ninguna GPU CUDA"),
    "device_asked": ("device {device}: asked for", "dispositivo {device}: el pedido"),
    "dtype_cpu": ("dtype float32: the default on a CPU (half precision is slow or unsupported there)",
                  "tipo float32: el de por defecto en una CPU (allí la media precisión es lenta o no se admite)"),
    "dtype_own": ("dtype {dtype}: the model's own dtype", "tipo {dtype}: el del propio modelo"),
    "dtype_asked": ("dtype {dtype}: asked for", "tipo {dtype}: el pedido"),
    "onednn": ("float32 linear layers run through oneDNN (faster decoding on a CPU): {n}",
               "capas lineales float32 que pasan por oneDNN (decodifica más rápido en una CPU): {n}"),
    "remote": ("remote engine {kind} at {url}; its log-probabilities: {logprobs}",
               "motor remoto {kind} en {url}; sus log-probabilidades: {logprobs}"),
    # Results and steps
    "random_result": ("[{model}: RANDOM WEIGHTS, the text means nothing]",
                      "[{model}: PESOS ALEATORIOS, el texto no significa nada]"),
    "random_short": ("RANDOM WEIGHTS", "PESOS ALEATORIOS"),
    "greedy": ("greedy", "voraz"),
    "sampling": ("sampling · seed {seed}", "muestreo · semilla {seed}"),
    "beam": ("beam search ({beams} beams, length penalty {penalty:g})",
             "búsqueda en haz ({beams} haces, penalización por longitud {penalty:g})"),
    "contrastive": ("contrastive search (top_k {top_k}, penalty_alpha {alpha:g})",
                    "búsqueda contrastiva (top_k {top_k}, penalty_alpha {alpha:g})"),
    "stages": ("stages", "etapas"),
    "remote_engine": ("remote engine: {kind} at {url} · log-probabilities: {logprobs}",
                      "motor remoto: {kind} en {url} · log-probabilidades: {logprobs}"),
    "note": ("note: {text}", "nota: {text}"),
    "sequence_head": ("--- sequence {i} ({reason}, {n} tokens{score})", "--- secuencia {i} ({reason}, {n} tokens{score})"),
    "one_head": ("--- ({reason}, {n} tokens{score})", "--- ({reason}, {n} tokens{score})"),
    "score_part": (", score {score:.3f}", ", puntuación {score:.3f}"),
    "steps_head": ("step  token            model  sampler rank  top alternatives (model %; ✗ removed by the sampler)",
                   "paso  token            modelo muestreo rango alternativas (% del modelo; ✗ eliminada por el muestreo)"),
    "more_steps": ("... {n} more steps", "... {n} pasos más"),
    "usage": ("{prompt} prompt tokens, {generated} generated · first token {ttft:.2f}s · {tps:.1f} tokens/s · {device} {dtype}",
              "{prompt} tokens de prompt, {generated} generados · primer token {ttft:.2f}s · {tps:.1f} tokens/s · "
              "{device} {dtype}"),
    "contrastive_step": ("[contrastive: candidate {k} of {n}, degeneration penalty {penalty:.2f}]",
                         "[contrastiva: candidata {k} de {n}, penalización por degeneración {penalty:.2f}]"),
    # Tokens
    "tokens_head": ("{n} tokens, {cpt:.2f} characters per token · {tokenizer}",
                    "{n} tokens, {cpt:.2f} caracteres por token · {tokenizer}"),
    "piece": ("piece (as stored)", "pieza (guardada)"),
    "text": ("text", "texto"),
    "span": ("span", "posición"),
    "special": ("special", "especial"),
    "split_char": ("⟨split character⟩", "⟨carácter partido⟩"),
    "same_char": ("↑ same character", "↑ mismo carácter"),
    "chars_per_token": ("{n} tokens ({cpt:.2f} chars/token)", "{n} tokens ({cpt:.2f} caract./token)"),
    # Model card
    "parameters": ("parameters", "parámetros"),
    "million": ("million", "millones"),
    "architecture": ("architecture", "arquitectura"),
    "shape": ("{layers} layers, {heads} attention heads, {kv} key-value heads, hidden size {hidden}",
              "{layers} capas, {heads} cabezas de atención, {kv} cabezas clave-valor, dimensión oculta {hidden}"),
    "context": ("context", "contexto"),
    "context_tokens": ("{n:,} tokens ({field})", "{n:,} tokens ({field})"),
    "unknown": ("unknown", "desconocido"),
    "stored_as": ("stored as", "guardado como"),
    "loaded_as": ("; loaded as {dtype} on {device}", "; cargado como {dtype} en {device}"),
    "vocabulary": ("vocabulary", "vocabulario"),
    "vocab_sizes": ("model {model:,}, tokenizer {tokenizer:,}: {why}", "modelo {model:,}, tokenizador {tokenizer:,}: {why}"),
    "vocab_padded": ("the model's output layer has {n:,} more rows than the tokenizer has tokens: the matrix is "
                     "padded (to a size that multiplies fast on GPUs, and to leave room for new tokens); those rows "
                     "are never produced by the tokenizer",
                     "la capa de salida del modelo tiene {n:,} filas más que tokens el tokenizador: la matriz está "
                     "rellenada (a un tamaño que se multiplica rápido en GPU, y para dejar sitio a tokens nuevos); "
                     "el tokenizador nunca produce esas filas"),
    "vocab_unreachable": ("the tokenizer has {n:,} tokens the model cannot produce (its output layer is smaller)",
                          "el tokenizador tiene {n:,} tokens que el modelo no puede producir (su capa de salida es menor)"),
    "vocab_same": ("the model and the tokenizer have the same vocabulary",
                   "el modelo y el tokenizador tienen el mismo vocabulario"),
    "memory": ("memory", "memoria"),
    "weights_only": ("(weights only)", "(solo los pesos)"),
    "special_tokens": ("special tokens", "tokens especiales"),
    "none": ("none", "ninguno"),
    "chat_template": ("chat template", "plantilla de chat"),
    "yes": ("yes", "sí"),
    "no_template": ("no (a base model: give it text to continue)", "no (un modelo base: dale texto para continuar)"),
    "generation": ("generation", "generación"),
    "greedy_default": ("This model decodes greedily by default (always the most likely token)",
                       "Este modelo decodifica de forma voraz por defecto (siempre el token más probable)"),
    "greedy_with": (", with {extra}.", ", con {extra}."),
    "samples_default": ("This model samples by default: {parts}.", "Este modelo muestrea por defecto: {parts}."),
    "top_k_default": ("top k 50 (transformers' default)", "top k 50 (valor por defecto de transformers)"),
    "engine": ("engine", "motor"),
    "engine_at": ("{engine} at {url}", "{engine} en {url}"),
    "context_unsaid": ("not said", "no lo dice"),
    "logprobs": ("log-probabilities", "log-probabilidades"),
    "takes": ("parameters it takes", "parámetros que acepta"),
    # Scores and comparisons
    "score_head": ("{model} · {n} tokens scored · total log-probability {logprob:.2f} · perplexity {ppl:.2f}",
                   "{model} · {n} tokens puntuados · log-probabilidad total {logprob:.2f} · perplejidad {ppl:.2f}"),
    "first_token": ("(first token: nothing predicts it)", "(primer token: nada lo predice)"),
    "score_columns": ("step  token            model  rank  the model expected",
                      "paso  token            modelo rango lo que esperaba el modelo"),
    "comparison_head": ("Comparison of {kind} · prompt: {prompt!r}", "Comparación de {kind} · prompt: {prompt!r}"),
    "models": ("models", "modelos"),
    "settings": ("settings", "ajustes"),
    "systems": ("systems", "mensajes de sistema"),
    "cross_head": ("log-probability of each text (rows) under each {kind} (columns):",
                   "log-probabilidad de cada texto (filas) según cada {kind} (columnas):"),
    "model": ("model", "modelo"),
    "setting": ("setting", "ajuste"),
    "system": ("system", "mensaje de sistema"),
    "impossible": ("impossible", "imposible"),
    # Classification
    "answer_when_asked": ("answer when asked: {text!r} -> {label}", "respuesta al preguntarle: {text!r} -> {label}"),
    "not_a_label": ("not a label", "no es una etiqueta"),
    "accuracy": ("{method}: accuracy {acc:.1%} on {n} examples", "{method}: exactitud {acc:.1%} en {n} ejemplos"),
    "generated_accuracy": ("generated answers: accuracy {acc:.1%}, not a label {invalid:.1%}",
                           "respuestas generadas: exactitud {acc:.1%}, no son etiqueta {invalid:.1%}"),
    "class_columns": ("precision  recall     f1  support", "precisión exhaust.     f1  ejemplos"),
    "confusion": ("confusion (rows: true, columns: predicted)", "confusión (filas: real, columnas: predicha)"),
    # Conversations
    "conversation": ("Conversation with {model} ({n} messages)", "Conversación con {model} ({n} mensajes)"),
    "added_system": ("(the template adds a system message: {text!r})",
                     "(la plantilla añade un mensaje de sistema: {text!r})"),
    "prompt_read": ("The prompt the model reads:", "El prompt que lee el modelo:"),
    # The deeper looks
    "lens_method": ("logit lens (nostalgebraist 2020): each layer's residual stream through the final norm and the "
                    "unembedding",
                    "logit lens (nostalgebraist 2020): el flujo residual de cada capa a través de la norma final y "
                    "la proyección al vocabulario (unembedding)"),
    "attention_method": ("attention probabilities of the model's eager attention (rows: queries, summing to 1)",
                         "probabilidades de atención de la atención eager del modelo (filas: consultas, suman 1)"),
    "attribution_method": ("gradient × input (L2 norm over the hidden size), normalised to sum to 1 (Ecco, inseq)",
                           "gradiente × entrada (norma L2 sobre la dimensión oculta), normalizado para sumar 1 "
                           "(Ecco, inseq)"),
    "lens_cell": ("each cell: the layer's most likely next token and its probability",
                  "cada celda: el siguiente token más probable según la capa y su probabilidad"),
    "lens_last": (" (the last {shown} positions of {n})", " (las últimas {shown} posiciones de {n})"),
    "layer": ("layer", "capa"),
    "decided": ("decided", "decidido"),
    "attention_head": ("{layers} layers x {heads} heads; per token, what the last layer attends to most (mean over "
                       "heads); Attention.mean(layer) for the others",
                       "{layers} capas x {heads} cabezas; por token, a qué atiende más la última capa (media de las "
                       "cabezas); Attention.mean(layer) para las demás"),
    # Notebook HTML only
    "random_html": ("RANDOM WEIGHTS: this text means nothing", "PESOS ALEATORIOS: este texto no significa nada"),
    "token_title": ("model {model} · sampler {sampler} · rank {rank} · entropy {entropy}",
                    "modelo {model} · muestreo {sampler} · rango {rank} · entropía {entropy}"),
    "entropy_nats": ("entropy {entropy} nats", "entropía {entropy} nats"),
    "entropy_strip": ("entropy per token", "entropía por token"),
    "sequence_n": ("sequence {i} · ", "secuencia {i} · "),
    "n_tokens": ("{n} tokens", "{n} tokens"),
    "score_html": (" · score {score:.3f}", " · puntuación {score:.3f}"),
    "usage_html": ("{prompt} prompt tokens · {generated} generated · {tps:.1f} tokens/s · {device} {dtype} · colour: "
                   "the model's probability; click a token for its alternatives",
                   "{prompt} tokens de prompt · {generated} generados · {tps:.1f} tokens/s · {device} {dtype} · "
                   "color: la probabilidad del modelo; pulsa un token para ver sus alternativas"),
    "sampler": ("sampler", "muestreo"),
    "rank": ("rank", "rango"),
    "entropy": ("entropy", "entropía"),
    "token": ("token", "token"),
    "score_title": ("model {model} · rank {rank} · entropy {entropy}", "modelo {model} · rango {rank} · entropía {entropy}"),
    "expected": ("expected: {alts}", "esperaba: {alts}"),
    "colour_note": ("colour: the model's probability", "color: la probabilidad del modelo"),
    "precision": ("precision", "precisión"),
    "recall": ("recall", "exhaustividad"),
    "support": ("support", "ejemplos"),
    "output": ("output", "salida"),
    "embeddings": ("embeddings", "embeddings"),
    "lens_shade": ("shade: the probability of the top guess; hover for the top {n}",
                   "tono: la probabilidad de la primera opción; pasa el ratón para ver las {n} primeras"),
    "mean_heads": ("mean of heads", "media de las cabezas"),
    "head": ("head", "cabeza"),
    "share_shade": ("shade: each token's share", "tono: la parte de cada token"),
    "target": ("target: {text!r} (log-probability {logprob:.2f})", "objetivo: {text!r} (log-probabilidad {logprob:.2f})"),
}


class Words:
    """`words("key", **values)`: the phrase in this language, filled in."""

    def __init__(self, lang: str = "en") -> None:
        if lang not in LANGS:
            raise ValueError(f"lang={lang!r} is not a language of the views: use one of {', '.join(LANGS)}.")
        self.index = LANGS.index(lang)

    def __call__(self, key: str, **values: object) -> str:
        return WORDS[key][self.index].format(**values)


class Phrase(str):
    """An English sentence that can say itself in Spanish too: `note.said("es")`.

    It is a str (the English), so records keep plain strings for the API and JSON."""

    key: str
    values: dict[str, object]

    def __new__(cls, key: str, **values: object) -> Phrase:
        phrase = super().__new__(cls, WORDS[key][0].format(**values))
        phrase.key, phrase.values = key, values
        return phrase

    def said(self, lang: str = "en") -> str:
        return Words(lang)(self.key, **self.values)


def said(text: str, lang: str = "en") -> str:
    """`text` in `lang` when it is a Phrase; other text as it is."""
    return text.said(lang) if isinstance(text, Phrase) else text
