"""Writes examples/curso_modelito.ipynb: the course notebook, cell for cell, with modelito.

    python examples/build_notebook.py

The notebook is kept as this script so that its source reviews like code; the .ipynb it writes is
committed too (unexecuted), for Jupyter and Colab. `make test` executes it on the offline models.
"""

from __future__ import annotations

import json
from pathlib import Path

CELLS: list[tuple[str, str]] = [
    ("md", """# Introducción a los *generative large language models* con modelito

Este cuaderno recorre la sesión práctica del curso con **modelito**: cada lección es una llamada, y cada
resultado se muestra como HTML (colores por probabilidad; pulsa un token para ver sus alternativas).

Funciona con los modelos del curso (Qwen2.5-0.5B e -Instruct, desde el Hub) o **sin red**, con los dos
modelos diminutos que trae modelito: cambia `SIN_RED` a `True` (o define `MODELITO_OFFLINE=1`)."""),
    ("code", """import os
import modelito

modelito.set_language("es")   # "es": fichas y tablas en español; "en": in English

SIN_RED = os.environ.get("MODELITO_OFFLINE") == "1"   # True: los modelos que vienen con modelito
INSTRUCT = "modelito-tiny-instruct" if SIN_RED else "Qwen/Qwen2.5-0.5B-Instruct"
BASE = "modelito-tiny" if SIN_RED else "Qwen/Qwen2.5-0.5B"
CLASIFICADOR = None if SIN_RED else "lxyuan/distilbert-base-multilingual-cased-sentiments-student"
DEVICE = "auto"   # CUDA si hay GPU, si no la CPU (el cuaderno original pedía cambiarlo a mano)"""),
    ("md", """## Primeros pasos: la ficha del modelo

`describir_modelo` del cuaderno original leía `max_position_embeddings` con un `try/except` desnudo.
`modelito.describe` lee solo la configuración (la arquitectura se construye en el dispositivo `meta`,
sin descargar pesos) y lo explica todo: parámetros exactos, contexto, vocabulario del modelo y del
tokenizador (y por qué difieren), memoria por tipo de dato y los valores de generación por defecto."""),
    ("code", "modelito.describe(INSTRUCT)"),
    ("md", """## Cómo se convierte el texto en tokens

La tabla del cuaderno, con más información: el trozo tal como lo guarda el vocabulario (`ĠespaÃ±ol`:
`Ġ` es el espacio y `Ã±` los dos bytes de la ñ), el texto que representa y su posición en el texto."""),
    ("code", """lm = modelito.load(INSTRUCT, device=DEVICE)
lm.tokenize("Hola modelito, hablas español?")"""),
    ("md", """## La plantilla de chat

Cada modelo *instruction-tuned* tiene su plantilla. Una `Conversation` guarda los **mensajes** y los pasa
por la plantilla del tokenizador cada vez; el cuaderno original concatenaba cadenas (`historial`), lo
que repetía el mensaje de sistema y añadía espacios que el modelo nunca vio al entrenarse."""),
    ("code", """conv = lm.chat(system="You are a helpful assistant.").user("Hola modelito, hablas español?")
print(conv.prompt())
conv.tokens()"""),
    ("code", """# Sin mensaje de sistema, algunas plantillas escriben el suyo (Qwen2.5: "You are Qwen, created by Alibaba Cloud...")
lm.chat().user("Hola").template().added_system"""),
    ("md", "## Nuestro primer mensaje, en *streaming*"),
    ("code", """mensajes = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hola modelito, hablas español?"}]
for evento in lm.stream(mensajes, max_new_tokens=50):
    print(evento.text, end="", flush=True)
resultado = evento.result"""),
    ("md", """## No generativos, generativos base e *instruction-tuned*

Un modelo base continúa el texto; uno *instruct* contesta. La misma frase a los dos:"""),
    ("code", """base = modelito.load(BASE, device=DEVICE)
print("BASE     :", base.generate("Hola modelito, hablas español?", max_new_tokens=40).text)
print("INSTRUCT :", lm.generate([{"role": "user", "content": "Hola modelito, hablas español?"}], max_new_tokens=40).text)"""),
    ("code", """print("BASE     :", base.generate("Caminando por la calle me encontré a", max_new_tokens=40).text)
print("INSTRUCT :", lm.generate([{"role": "user", "content": "Completa esta frase: Caminando por la calle me encontré a"}],
                               max_new_tokens=40).text)"""),
    ("md", """### Clasificar sentimiento, con y sin LLM

El cuaderno pedía al modelo que contestara POSITIVO, NEGATIVO o NEUTRAL y leía lo que escribía. Las
probabilidades de los tokens pueden ser parte del algoritmo: `lm.classify` puntúa cada etiqueta completa
como respuesta (probabilidad de toda su secuencia de tokens) y normaliza. Al lado, el clasificador no
generativo del curso, por el *pipeline* `text-classification` de transformers."""),
    ("code", """frase = "En esa fiesta había un ambiente muy turbio"
lm.classify(frase, labels=["POSITIVO", "NEGATIVO", "NEUTRAL"])"""),
    ("code", """if CLASIFICADOR:
    display(modelito.Classifier(CLASIFICADOR).classify(frase))
else:
    print("Sin red no hay clasificador del Hub: con SIN_RED = False se carga", "lxyuan/distilbert-...")"""),
    ("md", """## Estrategias y parámetros de generación

¿Muestrea este modelo por defecto? La ficha lo dice en una frase, y `lm.params` muestra de dónde sale
cada valor (tuyo, del `generation_config` del modelo, o el valor por defecto de transformers)."""),
    ("code", """print(lm.info().explain_defaults(modelito.language()))
lm.params(max_new_tokens=50).sources"""),
    ("md", """### Las probabilidades de cada token

**Ojo con el cuaderno original:** `inspeccionar_probabilidades` aplicaba `softmax` a `output_scores`, que
son las puntuaciones *después* de la penalización por repetición, la temperatura, top-k y top-p. Es la
probabilidad **del muestreo**, no la del modelo (por eso aparecían tantos 100 %). Además buscaba los
tokens volviendo a tokenizar el texto decodificado, que no siempre da los mismos tokens. modelito guarda
los dos números de cada token elegido, y la tabla etapa por etapa: pulsa un token."""),
    ("code", """resultado = lm.generate([{"role": "user", "content": "¿Cuál es el mejor mes del año? Responde con una sola palabra!"}],
                        max_new_tokens=20, top_n=10, seed=0)
resultado"""),
    ("code", """paso = resultado.steps[0]
print(f"{paso.text!r}: modelo {paso.prob:.1%}, muestreo {paso.sampling_prob:.1%}")
for c in paso.top[:5]:
    print(f"  {c.text!r:>12} modelo {c.prob:6.1%}  muestreo {c.sampling_prob:6.1%}")"""),
    ("md", """### El mensaje de sistema

Los tres experimentos del cuaderno, en una llamada (y con la probabilidad de cada respuesta bajo cada
mensaje de sistema):"""),
    ("code", """lm.compare("Hola modelito, hablas español?", max_new_tokens=40, seed=0,
           systems=["jajksashajksdah", "Always answer with the word: 'banana'",
                    "You are an unhelpful assistant that gives stupid answers"])"""),
    ("md", """### Temperatura y top-k

Varias configuraciones sobre el mismo prompt van en **un solo lote**, con un único *prefill*. La tabla
final dice lo probable que es cada texto con cada configuración ("imposible" si top-k lo habría
eliminado)."""),
    ("code", """completa = [{"role": "user", "content": "Completa la frase: caminando por la calle me encontré"}]
lm.compare(completa, max_new_tokens=40,
           settings=[{"temperature": 0.7, "seed": 1}, {"temperature": 1.5, "seed": 1}, {"top_k": 2, "seed": 1}])"""),
    ("md", "### Varias respuestas: `num_return_sequences`"),
    ("code", """varias = lm.generate(completa, num_return_sequences=3, temperature=0.7, max_new_tokens=50, seed=0)
print("\\n-----\\n".join(s.text for s in varias.sequences))"""),
    ("md", """### *Greedy decoding*

Elegir siempre el token más probable. Es lo mismo que muestrear con `top_k=1`, o con una temperatura
casi nula: compruébalo."""),
    ("code", """chiste = [{"role": "user", "content": "Cuéntame un chiste"}]
greedy = lm.generate(chiste, do_sample=False, max_new_tokens=60)
top1 = lm.generate(chiste, do_sample=True, top_k=1, max_new_tokens=60, seed=1)
frio = lm.generate(chiste, do_sample=True, temperature=0.001, max_new_tokens=60, seed=2)
print(greedy.text)
print("¿iguales?", greedy.sequences[0].token_ids == top1.sequences[0].token_ids == frio.sequences[0].token_ids)"""),
    ("md", """### *Beam search*

El cuaderno decía que no se puede usar *streamer* con `num_beams != 1`: el texto no, pero la búsqueda sí.
`resultado.beam_tree` guarda cada paso: los haces vivos, sus mejores continuaciones, cuáles se
conservaron, cuáles se podaron y qué hipótesis terminaron con qué puntuación."""),
    ("code", """haces = lm.generate(chiste, num_beams=5, do_sample=False, max_new_tokens=60, num_return_sequences=2)
for s in haces.sequences:
    print(f"{s.score:+.3f}  {s.text}")
for paso in haces.beam_tree.steps[:3]:
    print(paso.depth, [(c.text, round(c.score, 2), c.status) for c in paso.candidates[:6]])"""),
    ("md", """### *Contrastive search*

Entre los `top_k` tokens más probables, elige el que maximiza (1 − α)·p − α·(máxima similitud coseno de su
estado oculto con los del contexto): penaliza repetirse. transformers 5 ya no lo trae en su núcleo;
modelito sí, y guarda por qué ganó cada token."""),
    ("code", """contraste = lm.generate(chiste, penalty_alpha=0.6, top_k=4, do_sample=False, max_new_tokens=40)
print(contraste.text)
contraste.steps[0].contrastive"""),
]


# The English version: the same code, the markdown translated (in the order of the cells above).
ENGLISH_MARKDOWN: list[str] = [
    """# Introduction to generative large language models, with modelito

This notebook walks the course's practical session with **modelito**: each lesson is one call, and each
result shows as HTML (tokens coloured by probability; click a token to see its alternatives).

It runs with the course's models (Qwen2.5-0.5B and -Instruct, from the Hub) or **offline**, with the two
tiny models that ship with modelito: set `SIN_RED` to `True` (or `MODELITO_OFFLINE=1`).""",
    """## First steps: the model card

The original `describir_modelo` read `max_position_embeddings` inside a bare `try/except`.
`modelito.describe` reads only the configuration (the architecture is built on the `meta` device, no
weights downloaded) and explains everything: exact parameters, context, the model's and the tokenizer's
vocabularies (and why they differ), memory per dtype, and the generation defaults.""",
    """## How text becomes tokens

The notebook's table, with more: the piece as the vocabulary stores it (`ĠespaÃ±ol`: `Ġ` is the space
and `Ã±` the two bytes of ñ), the text it stands for, and where it sits in the text.""",
    """## The chat template

Every instruction-tuned model has its template. A `Conversation` keeps the **messages** and renders them
through the tokenizer's template each time; the original notebook concatenated strings (`historial`),
which repeated the system message and added spaces the model never saw in training.""",
    """## Our first message, streamed""",
    """## Non-generative, base and instruction-tuned models

A base model continues the text; an instruct model answers. The same sentence to both:""",
    """### Sentiment, with and without an LLM

The notebook asked the model to answer POSITIVO, NEGATIVO or NEUTRAL and read what it wrote. Token
probabilities can be part of the algorithm: `lm.classify` scores each whole label as the answer (the
probability of its whole token sequence) and normalises. Next to it, the course's non-generative
classifier, through transformers' `text-classification` pipeline.""",
    """## Generation strategies and parameters

Does this model sample by default? The card says it in a sentence, and `lm.params` shows where each
value comes from (you, the model's `generation_config`, or transformers' default).""",
    """### The probability of each token

**Careful with the original notebook:** `inspeccionar_probabilidades` applied `softmax` to
`output_scores`, which are the scores *after* the repetition penalty, temperature, top-k and top-p. That is
the **sampler's** probability, not the model's (hence all those 100 %). It also found tokens by
re-tokenising the decoded text, which does not always give the same tokens. modelito keeps both numbers
for each chosen token, and the stage-by-stage table: click a token.""",
    """### The system message

The notebook's three experiments, in one call (with each answer's probability under each system
message):""",
    """### Temperature and top-k

Several settings on one prompt run as **one batch**, with a single prefill. The final table says how likely
each text is under each setting ("impossible" when top-k would have removed it).""",
    """### Several answers: `num_return_sequences`""",
    """### Greedy decoding

Always pick the most likely token. It is the same as sampling with `top_k=1`, or with a temperature close to
zero: check it.""",
    """### Beam search

The notebook said a streamer cannot be used with `num_beams != 1`: the text cannot stream, but the search
can. `result.beam_tree` keeps every step: the live beams, their best continuations, which were kept, which
were pruned, and which hypotheses finished with what score.""",
    """### Contrastive search

Among the `top_k` most likely tokens, pick the one maximising (1 − α)·p − α·(highest cosine similarity of its
hidden state with the context's): it penalises repeating oneself. transformers 5 no longer ships it in its
core; modelito does, and records why each token won.""",
]


def notebook(lang: str = "es") -> dict:
    english = iter(ENGLISH_MARKDOWN)
    cells = []
    for i, (kind, source) in enumerate(CELLS):
        if kind == "md" and lang == "en":
            source = next(english)
        if kind == "code" and lang == "en":  # the code is shared; only the display language differs
            source = source.replace('set_language("es")', 'set_language("en")')
        cell = {"cell_type": "markdown" if kind == "md" else "code", "id": f"cell-{i}", "metadata": {},
                "source": source.splitlines(True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                        "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


NOTEBOOKS = {"es": "curso_modelito.ipynb", "en": "course_modelito_en.ipynb"}

if __name__ == "__main__":
    for lang, name in NOTEBOOKS.items():
        path = Path(__file__).with_name(name)
        path.write_text(json.dumps(notebook(lang), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
