"""Loading the detector safely, and the one forward pass that gives verdict and attention.

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
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, ViTConfig, ViTForImageClassification
from transformers.utils import logging as hf_logging

PINNED_REPO = "buildborderless/CommunityForensics-DeepfakeDet-ViT"
PINNED_REVISION = "ac6ee457bea904a373065754107451793b56db00"
PINNED_WEIGHTS_SHA256 = "275ba982236ddd6afddf7131f8133e89f537574b964cf8fa5825b4956d741692"
PINNED_WEIGHTS_BYTES = 87_270_764
WEIGHTS_FILE = "model.safetensors"
MODEL_FILES = ("config.json", WEIGHTS_FILE, "preprocessor_config.json")
ENV_MODEL = "FORENSICS_MODEL"
# The one wording of the demo warning: every screen and export shows this (upper-cased in banners).
DEMO_WARNING = "Untrained demo weights \u2014 not a forensic result"

HOW_TO_PROVIDE_WEIGHTS = (
    "Ways to provide the weights: (1) allow network access to huggingface.co once, and the "
    "pinned model is downloaded and cached; (2) point to a local folder holding config.json and "
    f"model.safetensors with --model DIR or the {ENV_MODEL} environment variable; (3) start with "
    "--demo to explore the interface with untrained weights (results are meaningless).")

# Our attention function, registered with transformers under this name.
ATTENTION_IMPLEMENTATION = "forensics_capture"


class ModelUnavailableError(RuntimeError):
    """The weights could not be found, fetched, verified or loaded; the message says what to do."""


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


def vit_small_config(**overrides) -> ViTConfig:
    """The exact architecture of the Community Forensics checkpoint (ViT-S/16 at 384, one logit)."""
    params = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                  patch_size=16, image_size=384, layer_norm_eps=1e-6, qkv_bias=True, num_labels=1)
    params.update(overrides)
    return ViTConfig(**params)


# ---------------------------------------------------------------------------------------------
# Finding the weights

def resolve_source(source: str | os.PathLike | None, revision: str | None) -> tuple[Path, str, str | None]:
    """-> (local folder with the files, source label, hub revision or None)."""
    if source is None:
        source = os.environ.get(ENV_MODEL) or PINNED_REPO
    source = str(source)
    path = Path(source).expanduser()
    if path.is_dir():
        return path, source, None
    if _looks_like_path(source):
        raise ModelUnavailableError(f"No model folder at '{source}'. " + HOW_TO_PROVIDE_WEIGHTS)
    if revision is None and source == PINNED_REPO:
        revision = PINNED_REVISION
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

def load_model(folder: Path, *, source: str, revision: str | None) -> tuple[ViTForImageClassification, ModelInfo]:
    """Load a ViT classifier from `folder`; strict about files, tensors and the pinned hash."""
    config_path, weights_path = folder / "config.json", folder / WEIGHTS_FILE
    if not config_path.is_file():
        raise ModelUnavailableError(f"'{source}' has no config.json. " + HOW_TO_PROVIDE_WEIGHTS)
    if not weights_path.is_file():
        pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt*")]
        extra = f" It holds {', '.join(pickled)}: pickle checkpoints are never loaded." if pickled else ""
        raise ModelUnavailableError(f"'{source}' has no {WEIGHTS_FILE}.{extra} " + HOW_TO_PROVIDE_WEIGHTS)

    digest = sha256_file(weights_path)
    pinned = digest == PINNED_WEIGHTS_SHA256
    if source == PINNED_REPO and revision == PINNED_REVISION and not pinned:
        size = weights_path.stat().st_size
        raise ModelUnavailableError(
            f"The downloaded {WEIGHTS_FILE} does not match the pinned release: sha256 {digest} "
            f"({size:,} bytes), expected {PINNED_WEIGHTS_SHA256} ({PINNED_WEIGHTS_BYTES:,} bytes). "
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
    """The real architecture with seeded random weights, for exploring the interface."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ViTForImageClassification(vit_small_config())
    model.set_attn_implementation(ATTENTION_IMPLEMENTATION)
    model.eval().requires_grad_(False)
    info = ModelInfo(source=f"demo(seed={seed})", revision=None, weights_sha256=None, pinned=False,
                     demo=True, num_parameters=sum(p.numel() for p in model.parameters()))
    return model, info


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ---------------------------------------------------------------------------------------------
# The forward pass, capturing head-fused attention

# How the forward pass reduces each block's per-head attention before keeping it: the caller
# (the explainer) decides; this module only records. (B, heads, T, T) -> {name: (B, T, T)}.
HeadFuser = Callable[[torch.Tensor], dict[str, torch.Tensor]]


class AttentionCapture:
    """Collects, per block, what `fuse` makes of the attention probabilities, as float32.

    Only fused maps are kept, never the per-head (B, heads, T, T) tensors, unless
    `keep_probs` (the gradient method needs them, with their gradients).
    """

    def __init__(self, fuse: HeadFuser | None, keep_probs: bool = False):
        self.fuse_fn = fuse
        self.maps: dict[str, list[torch.Tensor]] = {}
        self.probs: list[torch.Tensor] | None = [] if keep_probs else None

    def fuse(self, probs: torch.Tensor) -> dict[str, torch.Tensor]:  # (B, heads, T, T) -> (B, T, T) each
        if self.fuse_fn is None:
            return {}
        with torch.no_grad():
            return {name: m.float() for name, m in self.fuse_fn(probs).items()}

    def add_block(self, fused: dict[str, torch.Tensor]) -> None:
        for name, m in fused.items():
            self.maps.setdefault(name, []).append(m)

    def stacked(self) -> dict[str, torch.Tensor]:
        return {name: torch.stack(maps, dim=1) for name, maps in self.maps.items()}  # (B, L, T, T) each


def _attention_probs(query, key, attention_mask, scaling) -> torch.Tensor:
    # Scaling the (T, 64) queries, not the (T, T) scores: one pass over 577x577 fewer per head.
    scores = torch.matmul(query * scaling, key.transpose(2, 3))  # (B, heads, T, T)
    if attention_mask is not None:
        scores = scores + attention_mask
    return scores.softmax(dim=-1, dtype=torch.float32)


def capturing_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                        forensics_capture: AttentionCapture | None = None, **kwargs):
    """transformers attention function: eager maths when capturing, SDPA otherwise."""
    # query/key/value: (B, heads, T, head_dim)
    capture = forensics_capture
    if capture is None:
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                             dropout_p=dropout, scale=scaling)
        return out.transpose(1, 2).contiguous(), None
    if capture.probs is not None:  # gradient method: keep the per-head maps in the graph
        probs = _attention_probs(query, key, attention_mask, scaling)
        probs.retain_grad()
        capture.probs.append(probs)
        capture.add_block(capture.fuse(probs))
        return torch.matmul(probs.to(value.dtype), value).transpose(1, 2).contiguous(), None
    if query.is_cuda:  # a GPU has the memory bandwidth: the whole batch in one kernel each
        probs = _attention_probs(query, key, attention_mask, scaling)
        capture.add_block(capture.fuse(probs))
        return torch.matmul(probs.to(value.dtype), value).transpose(1, 2).contiguous(), None
    # On a CPU one image at a time: its (heads, 577, 577) maps (8 MB) stay in cache; a batch of
    # them spills to memory and made batch-8 capture 1.75x SDPA instead of 1.17x (bench/).
    outs, fused = [], []
    for i in range(query.shape[0]):
        mask = attention_mask[i:i + 1] if attention_mask is not None and attention_mask.shape[0] > 1 else attention_mask
        probs = _attention_probs(query[i:i + 1], key[i:i + 1], mask, scaling)
        fused.append(capture.fuse(probs))
        outs.append(torch.matmul(probs.to(value.dtype), value[i:i + 1]))  # (1, heads, T, head_dim)
    capture.add_block({name: torch.cat([d[name] for d in fused]) for name in fused[0]})
    return torch.cat(outs).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION_IMPLEMENTATION, capturing_attention)


@dataclass
class ForwardResult:
    logits: torch.Tensor                # (B,) float32
    attention: dict[str, torch.Tensor]  # fuser's name -> (B, L, T, T) float32
    hidden: torch.Tensor | None         # (B, T, hidden) final layer-normed tokens, when asked
    # With gradients=True: per block, the per-head attention (B, heads, T, T) and the gradient
    # of the AI-generated logit with respect to it, both detached.
    attention_probs: list[torch.Tensor] | None = None
    attention_grads: list[torch.Tensor] | None = None


def forward(model: ViTForImageClassification, pixel_values: torch.Tensor, *,
            fuse: HeadFuser | None = None, keep_hidden: bool = False,
            gradients: bool = False) -> ForwardResult:
    """One forward pass -> logits, each block's attention reduced by `fuse`, optionally the tokens.

    gradients: also back-propagate the AI-generated logit to every block's attention (for the
    gradient method); this pass then runs with autograd instead of inference mode.
    """
    device = next(model.parameters()).device
    capture = AttentionCapture(fuse, keep_probs=gradients) if (fuse is not None or gradients) else None
    autocast = torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else nullcontext()
    pixels = pixel_values.to(device)
    grad_mode = torch.enable_grad() if gradients else torch.inference_mode()
    with grad_mode, autocast:
        if gradients:
            pixels = pixels.clone().requires_grad_(True)  # the weights are frozen: grow a graph from the input
        hidden = model.vit(pixels, forensics_capture=capture).last_hidden_state
        logits = model.classifier(hidden[:, 0, :]).float().squeeze(-1)  # (B,)
    probs = grads = None
    if gradients:
        logits.sum().backward()  # each image's logit depends on its own attention only
        probs = [p.detach() for p in capture.probs]
        grads = [p.grad for p in capture.probs]
        capture.probs = None
    attention = capture.stacked() if capture else {}
    return ForwardResult(logits.detach(), attention, hidden.detach().float() if keep_hidden else None,
                         probs, grads)
