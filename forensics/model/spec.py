"""The pinned model's facts, in one place (as timm's `PretrainedCfg`).

The training transform, the loader's checks, the provenance in every export and the page's
model card are all derived from a `ModelSpec`; a second detector later is one more spec.
Every fact here was checked against the hub at the pinned revision (see ../shared/DESIGN.md
in the project history and docs/METHODS.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from PIL import Image

from ..core.preprocess import GRID, INPUT_SIZE, PATCH_SIZE, Transform

_INTERPOLATION = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


@dataclass(frozen=True)
class ModelSpec:
    """What a detector is, where its weights come from, and how its input is made."""

    name: str                          # short name for people
    repo_id: str                       # Hugging Face hub id
    revision: str                      # the pinned commit
    weights_file: str
    weights_sha256: str
    weights_bytes: int
    licence: str
    citation: str
    short_citation: str                # "Park & Owens, CVPR 2025": beside the name on the page
    paper_url: str
    training_data: str                 # what it was trained on, one line
    # Architecture (transformers' ViTConfig keys) and input geometry.
    architecture: dict = field(default_factory=dict)
    input_size: int = INPUT_SIZE
    patch_size: int = PATCH_SIZE
    # The transform the authors trained with: shortest edge -> resize, centre crop, mean/std.
    resize: int = 440
    crop: int = INPUT_SIZE
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    threshold: float = 0.5             # the authors' cut-off on sigmoid(logit)
    # What the detector cannot tell, in plain sentences with their sources: every export and the
    # page show these before the verdict's colour.
    limits: tuple[tuple[str, str], ...] = ()   # (key, sentence): "training", "benchmark", "input", "re-encoding"

    def __post_init__(self):
        # The patch geometry (core.preprocess) is that of a ViT-16 at 384: a spec that differs
        # needs that geometry made a parameter first, not a silent mismatch.
        if (self.input_size, self.patch_size, self.crop) != (INPUT_SIZE, PATCH_SIZE, INPUT_SIZE):
            raise ValueError(f"{self.name}: input {self.input_size}/{self.patch_size}/{self.crop} does not match "
                             f"the {GRID}x{GRID} patch geometry of core.preprocess")
        if self.interpolation not in _INTERPOLATION:
            raise ValueError(f"{self.name}: interpolation must be one of {sorted(_INTERPOLATION)}")

    @property
    def grid(self) -> int:
        return self.input_size // self.patch_size

    def training_transform(self) -> Transform:
        return Transform("training", self.resize, self.crop, _INTERPOLATION[self.interpolation], self.mean, self.std)

    def limit(self, key: str) -> str:
        """One of the spec's limit sentences by key ("" when the spec has none of that kind)."""
        return dict(self.limits).get(key, "")

    def card(self) -> dict:
        """The facts a model card, a report or a record shows (no weights, no code)."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


COMMUNITY_FORENSICS = ModelSpec(
    name="Community Forensics ViT-S/16-384",
    repo_id="buildborderless/CommunityForensics-DeepfakeDet-ViT",
    revision="ac6ee457bea904a373065754107451793b56db00",
    weights_file="model.safetensors",
    weights_sha256="275ba982236ddd6afddf7131f8133e89f537574b964cf8fa5825b4956d741692",
    weights_bytes=87_270_764,
    licence="MIT",
    citation=("Park and Owens, \"Community Forensics: Using Thousands of Generators to Train Fake Image "
              "Detectors\", CVPR 2025 (arXiv:2411.04125)"),
    short_citation="Park & Owens, CVPR 2025",
    paper_url="https://arxiv.org/abs/2411.04125",
    training_data="2.7\u00a0M images from 4,803 generators",
    architecture=dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                      patch_size=16, image_size=384, layer_norm_eps=1e-6, qkv_bias=True, num_labels=1),
    limits=(
        ("training", "Trained on 2.7 million images from 4,803 generators (Park and Owens, \"Community "
                     "Forensics\", CVPR 2025, arXiv:2411.04125); generators and edits unlike that data can fool it "
                     "in either direction."),
        ("benchmark", "Independent tests find such detectors far from perfect: a 2026 benchmark of 16 detectors on "
                      "12 datasets from 291 generators (arXiv:2602.07814) found the best at about 75% mean "
                      "accuracy, and recent generators (Flux Dev, Firefly v4, Midjourney v7) detected only 18-30% "
                      "of the time."),
        ("input", f"It sees only a {INPUT_SIZE}-pixel square: the centre crop of the image resized so its short "
                  "side is 440 pixels (or a region's window); the rest of the image is not examined."),
        ("re-encoding", "Re-encoding moves it: JPEG re-compression, resizing and screenshots (what messengers and "
                        "social feeds do) can change P(AI-generated) and the verdict; the delivery-path sweep "
                        "(checks.robustness) measures this for one image."),
    ),
)
# The spec every Detector uses unless told otherwise.
DEFAULT_SPEC = COMMUNITY_FORENSICS
TRAINING = COMMUNITY_FORENSICS.training_transform()
