"""`modelito serve`: the OpenAI-compatible server and the playground page, for one model."""

from __future__ import annotations

import logging
import os
import socket
import sys

from ..errors import ModelitoError
from .common import add_model, load_model


def register(commands, lang: str) -> None:
    serve = commands.add_parser("serve", help="OpenAI-compatible API and the web playground at /",
                                description="Serves one model to browsers and OpenAI clients. Binds to localhost "
                                            "unless --host says otherwise. Example: modelito serve -m "
                                            "modelito-tiny-instruct, then open http://127.0.0.1:8000/")
    add_model(serve)
    serve.add_argument("--remote", default=None, metavar="URL", help="put the page and modelito's API in front of a "
                       "remote engine (vLLM, llama.cpp, any OpenAI-compatible server): http://host:8000/v1[#model]")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", default=os.environ.get("MODELITO_API_KEY"),
                       help="require this key on every API request (default: $MODELITO_API_KEY)")
    serve.add_argument("--max-tokens", type=int, default=512, help="the most tokens one request may generate "
                       "(default: %(default)s); a request that does not say gets min(256, this)")
    serve.add_argument("--max-batch", type=int, default=16, help="requests decoding together in one running "
                       "batch (default: %(default)s); 1 serves one request at a time")
    serve.add_argument("--max-waiting", type=int, default=64, help="requests that may wait for a place in the "
                       "batch (default: %(default)s); beyond, a 429 says to try again")
    serve.add_argument("--classifier", default=None, help="a text-classification model to show next to the LLM "
                       "in the Classify view (e.g. lxyuan/distilbert-base-multilingual-cased-sentiments-student)")
    serve.set_defaults(run=run_serve)


def run_serve(args, text) -> int:
    try:
        import uvicorn

        from ..server.app import create_app
    except ImportError as err:  # a damaged environment: the server's packages are in the base install
        raise ModelitoError(f"the server's package {err.name} is missing: reinstall modelito "
                            f"({sys.executable} -m pip install fastapi uvicorn)") from err
    for flag, value, low in (("--max-tokens", args.max_tokens, 1), ("--max-batch", args.max_batch, 1),
                             ("--max-waiting", args.max_waiting, 0)):
        if value < low:
            raise ModelitoError(f"{flag} {value}: give at least {low}")
    check_port(args.host, args.port)  # before loading a model for nothing
    if args.remote:
        args.model = args.remote
    lm = load_model(args, text)
    classifier = None
    if args.classifier:
        from ..classify import Classifier

        classifier = Classifier(args.classifier, device=args.device)
    app = create_app(lm, api_key=args.api_key, max_tokens_cap=args.max_tokens, classifier=classifier,
                     max_batch=args.max_batch, max_waiting=args.max_waiting)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    check_port(args.host, args.port)  # again: another program may have taken it while the model loaded
    print(text("serving", model=lm.name, url=f"http://{args.host}:{args.port}/"), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def check_port(host: str, port: int) -> None:
    """A clear error, before anything else is printed, when the address cannot be served."""
    if not 0 < port < 65536:
        raise ModelitoError(f"--port {port}: give a port from 1 to 65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as err:
        raise ModelitoError(f"--host {host}: not an address of this machine ({err.strerror})") from err
    except OSError as err:
        raise ModelitoError(f"cannot serve on {host}:{port}: {err.strerror}. Another program (another modelito "
                            f"serve?) may be using it: choose another port with --port.") from err
