"""The instruction data of modelito-tiny-instruct, written by the project and generated from templates.

Spanish first, some English: greetings and questions about itself, the course notebook's own
prompts, and templated sentiment examples (POSITIVO / NEGATIVO / NEUTRAL) whose held-out split
uses subject-predicate combinations never seen in training.

    python -m modelito.train.sft_data out_dir/      # writes train.jsonl and heldout.jsonl
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

SYSTEM = "Eres modelito, un asistente pequeño y amable."
LABELS = ("POSITIVO", "NEGATIVO", "NEUTRAL")
INSTRUCTIONS = (
    "En el mensaje a continuación, identifica si el sentido es POSITIVO, NEGATIVO o NEUTRAL. \n"
    "Responde sólo con una de estas tres palabras: POSITIVO; NEGATIVO; NEUTRAL; \nMensaje: {text}\n",
    "Clasifica el sentimiento del siguiente mensaje como POSITIVO, NEGATIVO o NEUTRAL.\nMensaje: {text}",
    "¿El sentimiento de este texto es POSITIVO, NEGATIVO o NEUTRAL? Responde con una palabra.\n{text}",
    "Sentimiento (POSITIVO, NEGATIVO o NEUTRAL): {text}",
)

SUBJECTS = (
    "la película", "el restaurante", "este móvil", "la fiesta", "el hotel", "el concierto", "la clase de hoy",
    "el nuevo parque", "el libro", "la comida", "el viaje", "el partido", "la tienda", "el servicio",
    "mi nuevo trabajo", "el tren", "la playa", "el museo", "la serie", "el café", "el profesor", "la app",
    "el barrio", "la reunión", "el coche", "la música", "el curso", "la obra de teatro", "el mercado", "la cena",
)
POSITIVE = (
    "me encanta", "es maravilloso", "fue una experiencia increíble", "me hizo muy feliz", "es excelente",
    "superó todas mis expectativas", "lo recomiendo de verdad", "funciona de maravilla", "fue precioso",
    "me ha gustado muchísimo", "es una alegría", "estuvo genial", "es lo mejor que he probado", "fue divertidísimo",
    "tiene un ambiente muy agradable", "me dejó con una sonrisa",
)
NEGATIVE = (
    "es horrible", "fue un desastre", "me decepcionó mucho", "es malísimo", "no lo recomiendo nada",
    "me puso de muy mal humor", "fue una pérdida de tiempo", "no funciona y nadie ayuda", "es un asco",
    "me ha dado muchos problemas", "tenía un ambiente muy turbio", "fue aburridísimo", "estuvo fatal",
    "es lo peor que he probado", "me hizo sentir triste", "llegó tarde y sucio",
)
NEUTRAL = (
    "abre a las nueve", "está en la calle mayor", "cuesta diez euros", "empieza el martes",
    "tiene tres plantas", "sale a las ocho y cuarto", "está a dos kilómetros del centro", "cierra los domingos",
    "se anunció ayer", "dura unos noventa minutos", "está junto a la estación", "tiene horario de mañana",
    "se puede pagar con tarjeta", "cambia de dirección en enero", "está en el segundo piso", "lo vi el jueves",
)
OPENERS = ("", "Hoy ", "Creo que ", "La verdad es que ", "Según mi hermana, ", "Sinceramente, ")

ENGLISH = (
    ("positive", ("I love {s}", "{S} was wonderful", "{S} made my day", "What a great {s}")),
    ("negative", ("I hate {s}", "{S} was terrible", "{S} ruined my day", "What an awful {s}")),
    ("neutral", ("{S} opens at nine", "{S} is next to the station", "{S} starts on Tuesday", "{S} costs ten euros")),
)
ENGLISH_SUBJECTS = ("movie", "restaurant", "phone", "party", "hotel", "concert", "class", "book", "trip", "coffee")

CHAT = (
    (("Hola modelito, hablas español?", "Hola modelito, ¿hablas español?", "¿Hablas español?", "Hola, ¿hablas español?"),
     ("Sí, hablo español. ¿En qué puedo ayudarte?", "¡Sí! Hablo español y un poco de inglés. ¿Qué necesitas?",
      "Sí, claro. Estoy aquí para ayudarte en español.")),
    (("Hola", "Hola!", "Buenos días", "Buenas tardes", "¡Hola, modelito!", "Hey"),
     ("¡Hola! ¿En qué puedo ayudarte hoy?", "¡Buenas! ¿Qué quieres saber?", "Hola, encantado de hablar contigo.")),
    (("¿Quién eres?", "¿Qué eres?", "Preséntate", "¿Cómo te llamas?"),
     ("Soy modelito, un modelo de lenguaje muy pequeño. Sirvo para aprender cómo funcionan los modelos de lenguaje.",
      "Me llamo modelito. Soy un modelo de lenguaje diminuto entrenado en novelas españolas.")),
    (("¿Eres una persona?", "¿Eres humano?"),
     ("No, soy un programa: un modelo de lenguaje que elige una palabra tras otra según sus probabilidades.",)),
    (("Cuéntame un chiste", "Cuéntame un chiste, por favor", "¿Sabes algún chiste?"),
     ("¿Qué le dice un jardinero a otro? ¡Disfrutemos mientras podamos!",
      "¿Por qué el libro de matemáticas estaba triste? Porque tenía demasiados problemas.",
      "Había una vez un pollito que se llamaba Pio, y se cayó al río. ¡Pío, pío!")),
    (("¿Cuál es el mejor mes del año? Responde con una sola palabra", "¿Cuál es el mejor mes del año? Responde con una sóla palabra!",
      "Dime tu mes favorito en una palabra"),
     ("Mayo.", "Abril.", "Junio.", "Septiembre.")),
    (("Gracias", "Muchas gracias", "¡Gracias, modelito!"),
     ("¡De nada! Aquí estoy para lo que necesites.", "Un placer ayudarte.")),
    (("Adiós", "Hasta luego", "Nos vemos"), ("¡Hasta luego!", "¡Adiós! Que tengas un buen día.")),
    (("Hello, do you speak English?", "Hi!", "Who are you?"),
     ("Hello! I am modelito, a tiny language model. I speak Spanish and a little English.",)),
    (("¿Qué es un token?",),
     ("Un token es un trozo de texto, como una palabra o parte de una palabra. Los modelos leen y escriben tokens.",)),
    (("¿Qué es la temperatura?", "¿Para qué sirve la temperatura?"),
     ("La temperatura cambia cuánto se arriesga el modelo: con poca elige casi siempre el token más probable, "
      "con mucha elige tokens más raros.",)),
)
COMPLETE = (
    "Caminando por la calle me encontré a", "Caminando por la calle me encontré", "Esta mañana en el mercado",
    "Cuando llegué a casa", "Mi abuela siempre decía que", "En un lugar de la Mancha", "El perro del vecino",
    "Aquella noche en el puerto", "Al abrir la puerta vi",
)
ENDINGS = (
    " una amiga de la infancia.", " un perro que buscaba a su dueño.", " un viejo profesor que me saludó.",
    " una carta sin remitente.", " mi vecina con una cesta de naranjas.", " un músico tocando el violín.",
)


def sentiment_examples(rng: random.Random, heldout_share: float = 0.15) -> tuple[list[dict], list[dict]]:
    """(train, held-out) sentiment conversations; held-out (subject, predicate) pairs never occur in training."""
    pairs = [(s, p, label) for label, preds in zip(LABELS, (POSITIVE, NEGATIVE, NEUTRAL)) for s, p in itertools.product(SUBJECTS, preds)]
    rng.shuffle(pairs)
    cut = int(len(pairs) * heldout_share)
    held, train = pairs[:cut], pairs[cut:]

    def render(subject: str, predicate: str, label: str) -> dict:
        opener = rng.choice(OPENERS)
        text = f"{opener}{subject} {predicate}."
        text = text[0].upper() + text[1:]
        prompt = rng.choice(INSTRUCTIONS).format(text=text)
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": label}],
                "label": label, "text": text}

    return [render(*p) for p in train], [render(*p) for p in held]


def chat_examples(rng: random.Random) -> list[dict]:
    out = []
    for questions, answers in CHAT:
        for q in questions:
            for a in answers:
                out.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    for start in COMPLETE:
        for prompt in (f"Completa la frase: {start}", f"Completa esta frase: {start}"):
            for end in rng.sample(ENDINGS, 3):
                out.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": start + end}]})
    for label, templates in ENGLISH:
        for template in templates:
            for s in ENGLISH_SUBJECTS:
                text = template.format(s=s, S=f"The {s}")
                out.append({"messages": [
                    {"role": "user", "content": f"Is the sentiment of this message positive, negative or neutral? {text}."},
                    {"role": "assistant", "content": label.upper()},
                ]})
    # Some with a system message, so the model sees both prompt shapes.
    for example in rng.sample(out, len(out) // 4):
        out.append({"messages": [{"role": "system", "content": SYSTEM}, *example["messages"]]})
    return out


def build(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out). The held-out set is sentiment only: it measures the model's classification."""
    rng = random.Random(seed)
    train, held = sentiment_examples(rng)
    train += chat_examples(rng) * 2  # twice: sentiment examples would otherwise be four in five
    rng.shuffle(train)
    return train, held


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    train, held = build()
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(held, out / "heldout.jsonl")
    print(f"{len(train)} training and {len(held)} held-out conversations in {out}")
