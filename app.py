"""The browser page: drop an image, see the verdict, where the model looked, and per-patch scores.

    python app.py                  # the pinned Community Forensics weights (downloaded once)
    python app.py --model DIR      # local weights: config.json + model.safetensors
    python app.py --demo           # untrained weights, to explore the interface only
    python app.py --store DIR      # the Case tab keeps cases in DIR (else they are ephemeral)
    python app.py --store DIR --login   # every page and API call needs an account (forensics user add)
    python app.py --probe adapted/probe.json   # the analyst's probe's P beside the model's (forensics adapt)

Host and port also follow Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, the model
FORENSICS_MODEL, so a Hugging Face Space starts it with no arguments. The page itself lives
in the `webui` package; this file only reads arguments, loads the model and launches.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from forensics import DEMO_WARNING, InputError, ModelUnavailableError
from forensics.cli import add_model_arguments, add_probe_argument, load_detector, load_probe
from forensics.cases import ENV_STORE
from webui import LAUNCH_OPTIONS, CaseRoom, build_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve the forensic explainability page.")
    add_model_arguments(p)
    add_probe_argument(p)
    p.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--store", metavar="DIR", default=os.environ.get(ENV_STORE) or None,
                   help=f"the case store the Case tab keeps cases in (default: ${ENV_STORE}); without it "
                        "a session's cases are ephemeral")
    p.add_argument("--db", metavar="URL", help="the store's database on a server, e.g. "
                   "postgresql+psycopg://user@host/db (default: $FORENSICS_DB, else DIR/cases.db)")
    p.add_argument("--login", action="store_true",
                   help="require a login for every page and API call (accounts: forensics user add NAME)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cases = CaseRoom(Path(args.store) if args.store else None, args.db, login=args.login)
        if not cases.ephemeral:
            cases.store()  # opened (and upgraded) now: a wrong --store or --db fails here, not on a visit
        auth = cases.auth() if args.login else None
        detector = load_detector(args)
        probe = load_probe(args, detector)  # None without --probe; refused for another model
    except (ModelUnavailableError, InputError) as exc:  # no weights, or an unusable --calibration file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if detector.model_info.demo:
        print(f"WARNING: {DEMO_WARNING}: every probability, verdict and heatmap it shows is meaningless.",
              file=sys.stderr)
    build_app(detector, cases=cases, probe=probe).launch(
        server_name=args.host, server_port=args.port, auth=auth,
        auth_message="Log in with your forensics account." if auth else None, **LAUNCH_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
