"""User-facing text of the command line, in English and Spanish. `--lang` or the locale chooses."""

from __future__ import annotations

import locale
import os

from ..words import WORDS

MESSAGES = {
    "loading": ("loading {model} ...", "cargando {model} ..."),
    "loaded": ("{model}: {why}", "{model}: {why}"),
    "random": ("RANDOM WEIGHTS: the text means nothing", "PESOS ALEATORIOS: el texto no significa nada"),
    "not_found_hint": ("Without a network, try the model that ships with modelito: -m {offline}",
                       "Sin red, prueba el modelo que viene con modelito: -m {offline}"),
    "finish": ("[{reason} · {tokens} tokens · {tps:.1f} tokens/s]", "[{reason} · {tokens} tokens · {tps:.1f} tokens/s]"),
    "defaults_head": ("Generation parameters of {model}:", "Parámetros de generación de {model}:"),
    "from_model": ("from the model's generation_config", "del generation_config del modelo"),
    "from_user": ("your flag", "tu opción"),
    "from_default": ("transformers' default", "valor por defecto de transformers"),
    "from_cli": ("the command line's default", "valor por defecto de la línea de órdenes"),
    "from_modelito": ("modelito's default (off)", "valor por defecto de modelito (desactivado)"),
    "chat_welcome": ("Chatting with {model}. /help for commands, Ctrl-C stops an answer, Ctrl-D leaves.",
                     "Conversando con {model}. /help para ver los comandos, Ctrl-C corta una respuesta, Ctrl-D sale."),
    "chat_help": (
        "/system TEXT  set the system message (restarts the conversation)\n/reset  forget the conversation\n"
        "/set NAME VALUE  change a parameter (e.g. /set temperature 0.2)\n/probs on|off  show probabilities\n"
        "/save FILE  save the conversation as JSON\n/history  show the messages\n/help  this help",
        "/system TEXTO  fija el mensaje de sistema (reinicia la conversación)\n/reset  olvida la conversación\n"
        "/set NOMBRE VALOR  cambia un parámetro (p. ej. /set temperature 0.2)\n/probs on|off  muestra probabilidades\n"
        "/save FICHERO  guarda la conversación en JSON\n/history  muestra los mensajes\n/help  esta ayuda"),
    "interrupted": ("[stopped; the conversation keeps what was said before]",
                    "[cortado; la conversación conserva lo dicho antes]"),
    "unknown_command": ("unknown command {cmd}: /help lists them", "orden desconocida {cmd}: /help las enumera"),
    "saved": ("saved {path}", "guardado {path}"),
    "set": ("{name} = {value}", "{name} = {value}"),
    "reset": ("conversation forgotten", "conversación olvidada"),
    "not_utf8": ("the argument {arg!r} is not valid UTF-8 text: write it in UTF-8 (set your terminal to UTF-8)",
                 "el argumento {arg!r} no es texto UTF-8 válido: escríbelo en UTF-8 (configura el terminal en UTF-8)"),
    "serving": ("modelito: serving {model} on {url} (Ctrl-C stops it)",
                "modelito: sirviendo {model} en {url} (Ctrl-C lo detiene)"),
    "log_failed": ("modelito: warning: the run was not logged: {error}",
                   "modelito: aviso: la ejecución no se registró: {error}"),
    "run_saved": ("run {id} logged", "ejecución {id} registrada"),
    "rerun_same": ("run {id} reproduced: the same {n} tokens", "ejecución {id} reproducida: los mismos {n} tokens"),
    "rerun_diff": ("run {id} NOT reproduced: tokens differ from step {step}",
                   "ejecución {id} NO reproducida: los tokens difieren desde el paso {step}"),
    "no_runs": ("no runs logged yet", "todavía no hay ejecuciones registradas"),
    "strategy": ("strategy: {strategy}", "estrategia: {strategy}"),
}


def detect_lang() -> str:
    """'es' when the environment's language is Spanish, else 'en'."""
    for name in ("MODELITO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "es" if value.lower().startswith("es") else "en"
    try:
        code = locale.getlocale()[0] or ""
    except ValueError:
        code = ""
    return "es" if code.lower().startswith("es") else "en"


class Text:
    """`text("key", **values)`: a message of the command line's, or a phrase of the views' (`words.py`)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.index = 1 if lang == "es" else 0

    def __call__(self, key: str, **values: object) -> str:
        return (MESSAGES.get(key) or WORDS[key])[self.index].format(**values)
