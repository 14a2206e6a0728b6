"""`modelito classify` and `modelito evaluate`: an instruct LLM (label scoring) next to a classifier."""

from __future__ import annotations

import argparse

from ..errors import ModelitoError
from ..rendering import as_text
from .common import add_model, load_model, print_json

SENTIMENT = ["POSITIVO", "NEGATIVO", "NEUTRAL"]


def register(commands, lang: str) -> None:
    cls = commands.add_parser("classify", help="classify a text with an LLM (label scoring) and/or a classifier",
                              description="Example: modelito classify -m modelito-tiny-instruct 'En esa fiesta había "
                                          "un ambiente muy turbio' --classifier lxyuan/distilbert-base-multilingual-"
                                          "cased-sentiments-student")
    cls.add_argument("text")
    _common(cls)
    cls.set_defaults(run=run_classify)
    ev = commands.add_parser("evaluate", help="accuracy, per-class precision/recall/F1 and confusion on a labelled CSV",
                             description="Example: modelito evaluate -m modelito-tiny-instruct --csv "
                                         "sentimp21_es.csv --text-column full_text --label-column final_label "
                                         "--label-map=-1=NEGATIVO,0=NEUTRAL,1=POSITIVO")
    ev.add_argument("--csv", required=True)
    ev.add_argument("--text-column", default="text")
    ev.add_argument("--label-column", default="label")
    ev.add_argument("--label-map", default=None, help="CSV value=label pairs, e.g. -1=NEGATIVO,0=NEUTRAL,1=POSITIVO")
    ev.add_argument("--limit", type=int, default=None, help="only the first N rows")
    _common(ev)
    ev.set_defaults(run=run_evaluate)


def _common(p: argparse.ArgumentParser) -> None:
    add_model(p)
    p.add_argument("--labels", default=",".join(SENTIMENT), help="comma-separated (default: %(default)s)")
    p.add_argument("--instruction", default=None, help="prompt template with {text} (and {labels}, {options})")
    p.add_argument("--classifier", default=None, help="also (or only, with --no-llm) a text-classification model")
    p.add_argument("--no-llm", action="store_true", help="only the classifier")


def _runners(args, text):
    labels = [l.strip() for l in args.labels.split(",") if l.strip()]
    runners = []
    if not args.no_llm:
        lm = load_model(args, text)
        runners.append((f"label scoring ({lm.name})", labels,
                        lambda t: lm.classify(t, labels, args.instruction)))
    if args.classifier:
        from ..classify import Classifier

        clf = Classifier(args.classifier, device=args.device)
        runners.append((f"classifier ({clf.name})", list(clf.labels), clf.classify))
    if not runners:
        raise ModelitoError("nothing to run: drop --no-llm, or give --classifier MODEL")
    return runners


def run_classify(args, text) -> int:
    results = [run(args.text) for _, _, run in _runners(args, text)]
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        print("\n\n".join(as_text(r, text.lang) for r in results))
    return 0


def run_evaluate(args, text) -> int:
    from ..classify import evaluate, read_labelled_csv

    label_map = None
    if args.label_map:
        pairs = [p.rsplit("=", 1) for p in args.label_map.split(",")]
        if any(len(p) != 2 for p in pairs):
            raise ModelitoError(f"--label-map {args.label_map!r}: write VALUE=LABEL pairs separated by commas")
        label_map = {k.strip(): v.strip() for k, v in pairs}
    rows = read_labelled_csv(args.csv, args.text_column, args.label_column, label_map)[: args.limit]
    reports = []
    for method, labels, run in _runners(args, text):
        missing = {l for _, l in rows} - set(labels)
        if missing:
            raise ModelitoError(f"{method}: the CSV's labels {sorted(missing)} are not among {labels} (use --label-map)")
        reports.append(evaluate(run, rows, labels, method))
    print_json([r.to_dict() for r in reports]) if args.json else print("\n\n".join(as_text(r, text.lang) for r in reports))
    return 0
