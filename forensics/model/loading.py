"""Loading the detector safely.

Loading always ends in a local directory (a hub snapshot or the user's folder) holding
`config.json` + `model.safetensors`; the same code path serves the pinned weights, other
hub ids, local folders and the checkpoints tests build. Only safetensors are read, no code
from the hub is run, and the pinned weights are checked against their SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers import ViTConfig, ViTForImageClassification
from transformers.utils import logging as hf_logging

from ..core.errors import ModelUnavailableError
from .capture import ATTENTION_IMPLEMENTATION

from .spec import DEFAULT_SPEC, ModelSpec

# The pinned release, from the spec (names kept for scripts written against them).
PINNED_REPO = DEFAULT_SPEC.repo_id
PINNED_REVISION = DEFAULT_SPEC.revision
WEIGHTS_FILE = DEFAULT_SPEC.weights_file
MODEL_FILES = ("config.json", WEIGHTS_FILE, "preprocessor_config.json")
ENV_MODEL = "FORENSICS_MODEL"
# The one wording of the demo warning: every screen and export shows this (upper-cased in banners).
DEMO_WARNING = "Untrained demo weights \u2014 not a forensic result"

HOW_TO_PROVIDE_WEIGHTS = (
    "Ways to provide the weights: (1) allow network access to huggingface.co once, and the "
    "pinned model is downloaded and cached; (2) point to a local folder holding config.json and "
    f"model.safetensors with --model DIR or the {ENV_MODEL} environment variable; (3) start with "
    "--demo to explore the interface with untrained weights (results are meaningless).")


@dataclass(frozen=True)
class ModelInfo:
    """Where the weights came from, recorded with every result."""

    source: str                   # hub id or local folder as given
    revision: str | None          # hub commit; None for a local folder
    weights_sha256: str | None
    pinned: bool                  # weights match the pinned release byte for byte
    demo: bool = False            # untrained demo weights: results mean nothing
    num_parameters: int = 0

    @property
    def label(self) -> str:
        if self.demo:
            return DEMO_WARNING.lower()
        return f"{self.source}@{self.revision}" if self.revision else self.source


def vit_small_config(spec: ModelSpec = DEFAULT_SPEC, **overrides) -> ViTConfig:
    """The exact architecture of the spec's checkpoint (ViT-S/16 at 384, one logit)."""
    params = dict(spec.architecture)
    params.update(overrides)
    return ViTConfig(**params)


# ---------------------------------------------------------------------------------------------
# Finding the weights

def resolve_source(source: str | os.PathLike | None, revision: str | None,
                   spec: ModelSpec | None = None) -> tuple[Path, str, str | None]:
    """-> (local folder with the files, source label, hub revision or None)."""
    spec = spec or DEFAULT_SPEC
    if source is None:
        source = os.environ.get(ENV_MODEL) or spec.repo_id
    source = str(source)
    path = Path(source).expanduser()
    if path.is_dir():
        return path, source, None
    if _looks_like_path(source):
        raise ModelUnavailableError(f"No model folder at '{source}'. " + HOW_TO_PROVIDE_WEIGHTS)
    if revision is None and source == spec.repo_id:
        revision = spec.revision
    return _download(source, revision), source, revision


def _looks_like_path(source: str) -> bool:
    # A hub id is "owner/name"; anything else that does not exist is a mistyped folder.
    return source.startswith((".", "/", "~")) or source.count("/") != 1 or "\\" in source


def _download(repo_id: str, revision: str | None) -> Path:
    """The hub snapshot's folder: from the local cache when there, else fetched once."""
    from huggingface_hub import constants, snapshot_download
    patterns = list(MODEL_FILES)
    try:  # cached: no network at all (a pinned commit cannot change)
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or cache unreadable): try the network
        pass
    where = f"the model '{repo_id}' (revision {revision or 'main'})"
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelUnavailableError(f"{where} is not in the local cache and HF_HUB_OFFLINE is set. "
                                    + HOW_TO_PROVIDE_WEIGHTS)
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:  # fail in a second rather than after the hub client's retries
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        raise ModelUnavailableError(f"Could not reach {host} to download {where} ({exc}). "
                                    + HOW_TO_PROVIDE_WEIGHTS) from None
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # noqa: BLE001 - 404, gated, timeouts...: all end the same way for the user
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
        raise ModelUnavailableError(f"Could not get {where} from the Hugging Face hub ({reason}). "
                                    + HOW_TO_PROVIDE_WEIGHTS) from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_or_blank(path: Path) -> str:
    """sha256_file, or "" when the file cannot be read: an unreadable input is still evidence."""
    try:
        return sha256_file(path)
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Loading

def load_model(folder: Path, *, source: str, revision: str | None,
               spec: ModelSpec | None = None) -> tuple[ViTForImageClassification, ModelInfo]:
    """Load a ViT classifier from `folder`; strict about files, tensors and the spec's pinned hash."""
    spec = spec or DEFAULT_SPEC
    config_path, weights_path = folder / "config.json", folder / WEIGHTS_FILE
    if not config_path.is_file():
        raise ModelUnavailableError(f"'{source}' has no config.json. " + HOW_TO_PROVIDE_WEIGHTS)
    if not weights_path.is_file():
        pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt*")]
        extra = f" It holds {', '.join(pickled)}: pickle checkpoints are never loaded." if pickled else ""
        raise ModelUnavailableError(f"'{source}' has no {WEIGHTS_FILE}.{extra} " + HOW_TO_PROVIDE_WEIGHTS)

    digest = sha256_file(weights_path)
    pinned = digest == spec.weights_sha256
    if source == spec.repo_id and revision == spec.revision and not pinned:
        size = weights_path.stat().st_size
        raise ModelUnavailableError(
            f"The downloaded {WEIGHTS_FILE} does not match the pinned release: sha256 {digest} "
            f"({size:,} bytes), expected {spec.weights_sha256} ({spec.weights_bytes:,} bytes). "
            "Refusing to use it. Delete it from the Hugging Face cache and try again.")

    model_type = json.loads(config_path.read_text()).get("model_type")
    if model_type != "vit":
        raise ModelUnavailableError(
            f"'{source}' holds a {model_type!r} model, not a ViT classifier; this tool explains "
            "the Community Forensics detector architecture only.")

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar per load is noise beside the CLI's own
    try:
        model, loading = ViTForImageClassification.from_pretrained(
            folder, use_safetensors=True, output_loading_info=True,
            attn_implementation=ATTENTION_IMPLEMENTATION, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailableError(f"Could not load the weights in '{source}': {exc}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    problems = {k: v for k, v in loading.items() if v}
    if problems:
        detail = "; ".join(f"{k}: {sorted(map(str, v))[:5]}" for k, v in problems.items())
        raise ModelUnavailableError(f"The checkpoint in '{source}' does not fit the architecture ({detail}).")
    if model.config.num_labels != 1:
        raise ModelUnavailableError(f"'{source}' has {model.config.num_labels} outputs; expected one logit.")
    model.eval().requires_grad_(False)
    info = ModelInfo(source=source, revision=revision, weights_sha256=digest, pinned=pinned,
                     num_parameters=sum(p.numel() for p in model.parameters()))
    return model, info


def build_demo_model(seed: int = 0) -> tuple[ViTForImageClassification, ModelInfo]:
    """The real architecture with seeded random weights, for exploring the interface.

    Built without weights (on the meta device) and filled once, as transformers initialises a
    ViT: weights and the CLS and position embeddings from N(0, initializer_range), biases 0,
    layer norms 1 and 0. Each tensor has its own generator seeded from `seed` and its place,
    so the weights are the same whichever thread fills them; transformers' own construction
    initialised every weight twice and took 0.43 s on 2 cores, this 0.2 s."""
    with torch.device("meta"):
        model = ViTForImageClassification(vit_small_config())
    model = model.to_empty(device="cpu")
    std = model.config.initializer_range

    def fill(place: int, name: str, tensor: torch.Tensor) -> None:
        with torch.no_grad():
            if tensor.dim() >= 2 or name.endswith(("cls_token", "position_embeddings")):
                tensor.normal_(0.0, std, generator=torch.Generator().manual_seed(seed * 1_000_003 + place))
            elif "layernorm" in name and name.endswith("weight"):
                tensor.fill_(1.0)
            else:
                tensor.zero_()

    with ThreadPoolExecutor(torch.get_num_threads()) as pool:  # the generators run one thread each
        for done in [pool.submit(fill, place, name, tensor)
                     for place, (name, tensor) in enumerate(model.named_parameters())]:
            done.result()
    model.set_attn_implementation(ATTENTION_IMPLEMENTATION)
    model.eval().requires_grad_(False)
    info = ModelInfo(source=f"demo(seed={seed})", revision=None, weights_sha256=None, pinned=False,
                     demo=True, num_parameters=sum(p.numel() for p in model.parameters()))
    return model, info


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
