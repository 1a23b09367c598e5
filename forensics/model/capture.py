"""The one forward pass that gives the verdict and what the explanation methods need.

Our attention function is registered with transformers (`AttentionInterface`) and used by
every block; when nothing is captured it is plain SDPA. When capturing, it keeps only what the
caller's `fuse` makes of each block's per-head attention (the head-fused maps), never the
per-head (B, heads, T, T) tensors, unless the gradient methods ask for them.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, ViTForImageClassification

# Our attention function, registered with transformers under this name.
ATTENTION_IMPLEMENTATION = "forensics_capture"

# How the forward pass reduces each block's per-head attention before keeping it: the caller
# (the explainer) decides; this module only records. (B, heads, T, T) -> {name: (B, T, T)}.
HeadFuser = Callable[[torch.Tensor], dict[str, torch.Tensor]]


class AttentionCapture:
    """Collects, per block, what `fuse` makes of the attention probabilities, as float32.

    Only fused maps are kept, never the per-head (B, heads, T, T) tensors, unless
    `keep_probs` (the gradient method needs them, with their gradients).
    """

    def __init__(self, fuse: HeadFuser | None, keep_probs: bool = False, layers: int | None = None):
        self.fuse_fn = fuse
        self.probs: list[torch.Tensor] | None = [] if keep_probs else None
        self.layers = layers
        self._kept: dict[str, torch.Tensor] = {}  # fusion -> (B, L, T, T), filled block by block
        self._block = 0
        self._scratch: tuple[torch.Tensor, torch.Tensor] | None = None  # see `scratch`

    def block_maps(self, names, batch: int, tokens: int, device=None) -> dict[str, torch.Tensor]:
        """This block's (B, T, T) places in the kept (B, L, T, T) maps of each fusion in `names`,
        allocated at the first block: the fused maps are written where they are kept, never
        stacked afterwards."""
        if not self._kept:
            self._kept = {name: torch.empty(batch, self.layers, tokens, tokens, device=device) for name in names}
        block, self._block = self._block, self._block + 1
        return {name: kept[:, block] for name, kept in self._kept.items()}

    def scratch(self, tokens: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Two (T, T) buffers, the scores and the float32 probabilities of one head, reused by
        every head of every block of this pass. A fresh 1.3 MB tensor per head cost more than
        its softmax on the CPU: the allocator hands such blocks back to the system when freed,
        so each new one starts with page faults (bench/RESULTS.md, 2026-12-07)."""
        if self._scratch is None or self._scratch[0].shape[0] != tokens or self._scratch[0].dtype != dtype:
            self._scratch = (torch.empty(tokens, tokens, dtype=dtype), torch.empty(tokens, tokens))
        return self._scratch

    def fuse(self, probs: torch.Tensor) -> dict[str, torch.Tensor]:  # (B, heads, T, T) -> (B, T, T) each
        if self.fuse_fn is None:
            return {}
        with torch.no_grad():
            return {name: m.float() for name, m in self.fuse_fn(probs).items()}

    def add_block(self, fused: dict[str, torch.Tensor]) -> None:
        """Keep one block's fused (B, T, T) maps (`fuse`'s result; nothing when there is no fuser)."""
        if fused:
            first = next(iter(fused.values()))
            for name, place in self.block_maps(fused, first.shape[0], first.shape[-1], first.device).items():
                place.copy_(fused[name])

    def stacked(self) -> dict[str, torch.Tensor]:
        return self._kept  # fusion -> (B, L, T, T)


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
    if not query.is_cuda and attention_mask is None and hasattr(capture.fuse_fn, "fold"):
        return _one_head_at_a_time(capture, query, key, value, scaling)
    # A GPU has the memory bandwidth: the whole batch in one kernel each (also any fuser that
    # cannot fold one head at a time, and a masked attention, which a ViT never passes).
    probs = _attention_probs(query, key, attention_mask, scaling)
    capture.add_block(capture.fuse(probs))
    return torch.matmul(probs.to(value.dtype), value).transpose(1, 2).contiguous(), None


def _one_head_at_a_time(capture: AttentionCapture, query, key, value, scaling):
    """The CPU capture path, one (577, 577) map at a time (1.3 MB): its softmax, its product with
    the values and its fold into the kept fused maps all run while it is in cache. The same
    numbers as the whole-batch maths (tests/test_rollout.py), and faster: a batch-8 analysis at
    0.87-0.99 of plain classification's speed where whole (heads, 577, 577) maps per image gave
    0.78-0.91 (bench/RESULTS.md, 2026-12-07)."""
    batch, heads, tokens, head_dim = query.shape
    out = torch.empty(batch, heads, tokens, head_dim, dtype=value.dtype)
    kept = capture.block_maps(capture.fuse_fn.fusions, batch, tokens)
    scores, probs = capture.scratch(tokens, query.dtype)
    with torch.no_grad():
        for i in range(batch):
            scaled = query[i] * scaling
            into = {name: m[i] for name, m in kept.items()}
            for h in range(heads):
                torch.mm(scaled[h], key[i, h].t(), out=scores)
                torch.softmax(scores, dim=-1, out=probs)
                torch.mm(probs.to(value.dtype), value[i, h], out=out[i, h])
                capture.fuse_fn.fold(into, probs, first=h == 0)
            capture.fuse_fn.finish(into, heads)
    return out.transpose(1, 2).contiguous(), None


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
    final_cls: torch.Tensor | None = None  # (B, hidden) float32 final layer-normed CLS: the classifier's input


def forward(model: ViTForImageClassification, pixel_values: torch.Tensor, *,
            fuse: HeadFuser | None = None, keep_hidden: bool = False,
            gradients: bool = False) -> ForwardResult:
    """One forward pass -> logits, each block's attention reduced by `fuse`, optionally the tokens.

    gradients: also back-propagate the AI-generated logit to every block's attention (for the
    gradient method); this pass then runs with autograd instead of inference mode.
    """
    device = next(model.parameters()).device
    capture = (AttentionCapture(fuse, keep_probs=gradients, layers=model.config.num_hidden_layers)
               if (fuse is not None or gradients) else None)
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
                         probs, grads, final_cls=hidden[:, 0, :].detach().float())
