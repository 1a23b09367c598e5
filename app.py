"""The browser page: drop an image, see the verdict, where the model looked, and per-patch scores.

    python app.py                  # the pinned Community Forensics weights (downloaded once)
    python app.py --model DIR      # local weights: config.json + model.safetensors
    python app.py --demo           # untrained weights, to explore the interface only

Host and port also follow Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, the model
FORENSICS_MODEL, so a Hugging Face Space starts it with no arguments. The page itself lives
in the `webui` package; this file only reads arguments, loads the model and launches.
"""
from __future__ import annotations

import argparse
import sys

from forensics import InputError, ModelUnavailableError
from forensics.cli import add_model_arguments, load_detector
from forensics.model.loading import DEMO_WARNING
from webui import LAUNCH_OPTIONS, build_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve the forensic explainability page.")
    add_model_arguments(p)
    p.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        detector = load_detector(args)
    except (ModelUnavailableError, InputError) as exc:  # no weights, or an unusable --calibration file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if detector.model_info.demo:
        print(f"WARNING: {DEMO_WARNING}: every probability, verdict and heatmap it shows is meaningless.",
              file=sys.stderr)
    build_app(detector).launch(server_name=args.host, server_port=args.port, **LAUNCH_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
