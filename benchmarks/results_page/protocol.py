"""How much work a mode does: the profiles of ``--quick`` and the full reproduction, and
the ``--max-epochs`` cap (which runs it applies to, and the sentence a capped section
carries)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aelab.studies.sweep import Vary, parse_vary


@dataclass(frozen=True)
class Profile:
    """How much work a mode does. ``None`` epochs = each preset's own."""

    name: str
    preset_epochs: int | None
    study_epochs: int
    sweep_epochs: int
    claim_epochs: int
    best_epochs: int
    code_sizes: tuple[int, ...]
    sparsity: dict[str, Vary]  # mechanism -> its weights or k
    noise_levels: tuple[float, ...]
    best_candidates: tuple[str, ...]
    train_limit: int = 0
    test_limit: int = 0
    val_size: int | None = None
    probe_train_limit: int = 10000
    max_epochs: int | None = None  # --max-epochs: caps every run's epochs (R1, best excepted)
    cap_presets: bool = True  # False (--full-presets): section 1 keeps the presets' epochs


def capped(profile: Profile, max_epochs: int) -> Profile:
    """``profile`` with every epoch count capped at ``max_epochs`` (the presets' own epochs
    are capped per preset in section 1, where R1 keeps its full epochs). The best-model search
    keeps its epochs: its target is defined "within 50 epochs"."""
    p, cap = profile, max_epochs
    return dataclasses.replace(
        p,
        max_epochs=cap,
        preset_epochs=None if p.preset_epochs is None else min(p.preset_epochs, cap),
        study_epochs=min(p.study_epochs, cap),
        sweep_epochs=min(p.sweep_epochs, cap),
        claim_epochs=min(p.claim_epochs, cap),
    )


def cap_exempt(preset: str) -> bool:
    """R1 keeps its full epochs under --max-epochs: its comparison with the Keras figures
    (measured at 50 epochs) means nothing at fewer, and it is cheap (~30 s for 50 epochs)."""
    return preset.startswith("r1-")


def cap_note(profile: Profile) -> str | None:
    """The sentence every section carries when epochs are capped."""
    if profile.max_epochs is None:
        return None
    return (
        f"> **Epochs capped at {profile.max_epochs}** (`--max-epochs {profile.max_epochs}`): "
        "the runs in this section did NOT train for the references' full epochs (R1 excepted: "
        "it keeps its full epochs so that it can be compared with Keras): the other numbers "
        "are short-training results, not reproductions of the references' results.\n"
    )


FULL = Profile(
    name="full",
    preset_epochs=None,
    study_epochs=20,
    sweep_epochs=10,
    claim_epochs=10,
    best_epochs=50,
    code_sizes=(2, 4, 8, 16, 32, 64, 128),
    sparsity={
        "l1": parse_vary("model.sparsity.weight=1e-6,1e-5,1e-4,1e-3"),
        "kl": parse_vary("model.sparsity.weight=1e-4,1e-3,1e-2,1e-1"),
        "topk": parse_vary("model.sparsity.k=2,4,8,16"),
    },
    noise_levels=(0.1, 0.3, 0.5, 0.7),
    best_candidates=(
        "conv-stride",
        "conv-stride-b64",
        "conv-stride-b64-wide",
        "conv-stride-b64-wider",
    ),
)
QUICK = Profile(
    name="quick",
    preset_epochs=1,
    study_epochs=1,
    sweep_epochs=1,
    claim_epochs=1,
    best_epochs=1,
    code_sizes=(4, 32),
    sparsity={
        "l1": parse_vary("model.sparsity.weight=1e-5,1e-3"),
        "kl": parse_vary("model.sparsity.weight=1e-2"),
        "topk": parse_vary("model.sparsity.k=8"),
    },
    noise_levels=(0.3,),
    best_candidates=("conv-stride",),
    train_limit=2000,
    test_limit=500,
    val_size=500,
    probe_train_limit=2000,
)
