"""How InvDN is run on images: one typed setting for every command and task that denoises or
generates, validated once where it is built (the command line, a rule, a test)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from invdn.inference.modes import Mode

PAPER_MC_SAMPLES = 16  # paper §4.5: the MC self-ensemble of 16 draws
PAPER_EPS = 2.0e-4  # paper §4.6: z' = z + eps v in noise generation
PRECISIONS = ("float32", "bf16")


@dataclass(frozen=True)
class InferenceConfig:
    """Inference settings.

    Attributes:
        mode: ``single`` (one z draw), ``mc`` (mean of ``mc_samples`` draws, paper §4.5), ``x8`` (the 8
            flips/transposes, one draw each) or ``x8_mc`` (8 x ``mc_samples``).
        mc_samples: draws of ``mc`` and ``x8_mc`` (ignored by ``single`` and ``x8``).
        seed: seed of the per-image z generators (``modes.image_generator``), so results do not depend
            on batch size or order.
        device: torch device name (``cpu``, ``cuda``, ``cuda:1``).
        precision: ``float32`` or ``bf16`` (autocast).
        eps: perturbation of z in noise generation (paper §4.6).

    Raises:
        ValueError: an unknown mode or precision, mc_samples < 1, or eps < 0.
    """

    mode: Mode = Mode.SINGLE
    mc_samples: int = PAPER_MC_SAMPLES
    seed: int = 0
    device: str = "cpu"
    precision: str = "float32"
    eps: float = PAPER_EPS

    def __post_init__(self):
        object.__setattr__(self, "mode", Mode(self.mode))
        if self.mc_samples < 1:
            raise ValueError(f"mc_samples must be >= 1, got {self.mc_samples}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.eps < 0:
            raise ValueError(f"eps must be >= 0, got {self.eps}")

    @property
    def draws(self) -> int:
        """z draws per geometric variant: ``mc_samples`` for mc / x8_mc, else 1."""
        return self.mode.draws(self.mc_samples)

    def to_dict(self) -> dict:
        return {**asdict(self), "mode": self.mode.value, "mc_samples": self.draws}
