"""Small checkpoints in the real on-disk format, built in tests (nothing is downloaded).

Each folder holds what the hub repo holds: config.json, model.safetensors and a
preprocessor_config.json, written by `save_pretrained` (or, for the legacy layout, with
the tensor names an older transformers release used).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import ViTForImageClassification

from forensics.model.loading import vit_small_config

# What the hub's preprocessor_config.json publishes (CLIP mean/std, bicubic).
HUB_PREPROCESSOR = {
    "do_resize": True, "size": {"shortest_edge": 440}, "resample": 3,
    "do_center_crop": True, "crop_size": {"height": 384, "width": 384},
    "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "ViTImageProcessor",
}


def tiny_config():
    """Same 24x24 patch grid at 384 px, tiny width and depth."""
    return vit_small_config(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)


def build_model(config, seed: int = 0) -> ViTForImageClassification:
    torch.manual_seed(seed)
    model = ViTForImageClassification(config).eval()
    with torch.no_grad():  # sharper-than-init attention so rollout has structure to find
        for layer in model.vit.layers:
            layer.attention.q_proj.weight.mul_(8.0)
            layer.attention.k_proj.weight.mul_(8.0)
        model.classifier.bias.fill_(0.3)
    return model


def legacy_name(name: str) -> str:
    """Current transformers tensor name -> the name an older release saved."""
    name = name.replace("vit.layers.", "vit.encoder.layer.")
    for new, old in (("attention.q_proj", "attention.attention.query"),
                     ("attention.k_proj", "attention.attention.key"),
                     ("attention.v_proj", "attention.attention.value"),
                     ("attention.o_proj", "attention.output.dense"),
                     ("mlp.fc1", "intermediate.dense"),
                     ("mlp.fc2", "output.dense")):
        name = name.replace(new, old)
    return name


def save_checkpoint(model, folder: Path, *, legacy: bool = False, preprocessor: bool = True) -> Path:
    """save_pretrained (config + safetensors), then the weights rewritten in an explicit layout:
    transformers 5 itself saves legacy names, so the current layout is written by hand."""
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    rename = legacy_name if legacy else (lambda name: name)
    state = {rename(k): v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if preprocessor:
        (folder / "preprocessor_config.json").write_text(json.dumps(HUB_PREPROCESSOR, indent=2))
    return folder
