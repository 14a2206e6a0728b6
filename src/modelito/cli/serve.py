"""`modelito serve`: the OpenAI-compatible server and the playground page, for one model."""

from __future__ import annotations

import os
import sys

from ..errors import ModelitoError
from .common import add_model, load_model


def register(commands, lang: str) -> None:
    serve = commands.add_parser("serve", help="OpenAI-compatible API and the web playground at /",
                                description="Serves one model to browsers and OpenAI clients. Binds to localhost "
                                            "unless --host says otherwise. Example: modelito serve -m "
                                            "modelito-tiny-instruct, then open http://127.0.0.1:8000/")
    add_model(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", default=os.environ.get("MODELITO_API_KEY"),
                       help="require this key on every API request (default: $MODELITO_API_KEY)")
    serve.add_argument("--max-tokens", type=int, default=512, help="the most tokens one request may generate")
    serve.add_argument("--classifier", default=None, help="a text-classification model to show next to the LLM "
                       "in the Classify view (e.g. lxyuan/distilbert-base-multilingual-cased-sentiments-student)")
    serve.set_defaults(run=run_serve)


def run_serve(args, text) -> int:
    try:
        import uvicorn

        from ..server.app import create_app
    except ImportError as err:
        raise ModelitoError(f"the server needs its extras: pip install 'modelito[server]' ({err.name} is missing)") from err
    if args.max_tokens < 1:
        raise ModelitoError(f"--max-tokens {args.max_tokens}: give at least 1")
    lm = load_model(args, text)
    classifier = None
    if args.classifier:
        from ..classify import Classifier

        classifier = Classifier(args.classifier, device=args.device)
    app = create_app(lm, api_key=args.api_key, max_tokens_cap=args.max_tokens, classifier=classifier)
    print(f"modelito: serving {lm.name} on http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
