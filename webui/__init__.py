"""The browser page over the `forensics` package: layout, handlers, HTML cards, views, CSS.

    from webui import build_app, LAUNCH_OPTIONS
    build_app(detector).launch(**LAUNCH_OPTIONS)
    room = CaseRoom(Path("store"), login=True)    # where the Case tab keeps cases (default: ephemeral)
    build_app(detector, cases=room).launch(auth=room.auth(), **LAUNCH_OPTIONS)

app.py (arguments, loading, launch) is the only caller; tests import the handlers directly.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .api import MAX_UPLOAD_BYTES
from .case import CaseRoom
from .layout import build_app

CSS_PATH = Path(__file__).resolve().parent / "page.css"
# The MCP server (requirements.txt installs `mcp`) is on: /gradio_api/mcp/ for AI assistants.
# GRADIO_MCP_SERVER=false, when set, turns it off (Gradio reads it when mcp_server is None).
MCP_SERVER = None if "GRADIO_MCP_SERVER" in os.environ else importlib.util.find_spec("mcp") is not None
# launch() arguments that belong to the app rather than to the deployment (host, port).
LAUNCH_OPTIONS = dict(max_file_size=MAX_UPLOAD_BYTES, state_session_capacity=64, mcp_server=MCP_SERVER,
                      css_paths=[CSS_PATH])

__all__ = ["build_app", "CaseRoom", "LAUNCH_OPTIONS", "CSS_PATH", "MCP_SERVER", "MAX_UPLOAD_BYTES"]
