"""A trained InvDN as an MLflow model: ``mlflow.pyfunc.load_model("runs:/<id>/model").predict(images)``
denoises, and ``mlflow models serve -m runs:/<id>/model --env-manager local`` serves it.

The logged model holds the weights file (``model.pt``, the one artifact) and names this package
(``invdn-repro``) and torch as its requirements; its code is the installed ``invdn`` package, not a
copy: the logged code is a three-line file that makes an ``InvDNPyfunc`` (MLflow's "models from
code", so loading unpickles nothing). Input and output: (N, H, W, 3) float32 RGB in [0, 1] (channels last, as images are served);
the output is clamped to [0, 1]. Params (MLflow's predict params): ``mode`` (single, mc, x8, x8_mc;
default mc), ``mc_samples`` (default 16, paper §4.5), ``seed`` (default 0): image n of a batch draws
its z from ``image_generator(seed, str(n))``, so a result depends on the image's place in the batch.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np

from invdn.inference.config import PAPER_MC_SAMPLES

DEFAULT_PARAMS = {"mode": "mc", "mc_samples": PAPER_MC_SAMPLES, "seed": 0}
EXAMPLE_SIZE = 16  # the input example: one 16 x 16 crop, small in the logged model


class InvDNPyfunc(mlflow.pyfunc.PythonModel):
    """InvDN weights (artifact ``weights``) denoising (N, H, W, 3) float32 in [0, 1] in an inference mode."""

    # MLflow 3 would validate inputs from predict's type hints (and warns when there are none); the
    # signature's tensor spec validates them here, and predict checks the shape itself
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        from invdn.inference.modes import prepare_for_inference
        from invdn.models import load_model

        self.model = prepare_for_inference(load_model(context.artifacts["weights"])[0])

    def predict(self, context, model_input, params: dict | None = None) -> np.ndarray:
        """(N, H, W, 3) float32 in [0, 1] -> the same shape, denoised and clamped to [0, 1].

        Raises:
            ValueError: not (N, H, W, 3), an unknown mode, or mc_samples < 1.
        """
        import torch

        from invdn.inference.config import InferenceConfig
        from invdn.inference.modes import image_generator, run_mode

        images = np.asarray(model_input, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (N, H, W, 3) float32 RGB in [0, 1], got shape {images.shape}")
        given = {**DEFAULT_PARAMS, **{k: v for k, v in (params or {}).items() if v is not None}}
        settings = InferenceConfig(given["mode"], int(given["mc_samples"]), int(given["seed"]))
        noisy = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        generators = [image_generator(settings.seed, str(n)) for n in range(noisy.shape[0])]
        with torch.no_grad():
            out = run_mode(self.model, noisy, generators, settings.mode, settings.mc_samples)
        return out.clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float32)


MODEL_CODE = """# the model is the installed invdn package's InvDNPyfunc (invdn/tasks/mlmodel.py)
from mlflow.models import set_model
from invdn.tasks.mlmodel import InvDNPyfunc
set_model(InvDNPyfunc())
"""


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    image = Schema([TensorSpec(np.dtype(np.float32), (-1, -1, -1, 3))])
    params = ParamSchema([ParamSpec("mode", "string", DEFAULT_PARAMS["mode"]),
                          ParamSpec("mc_samples", "long", DEFAULT_PARAMS["mc_samples"]),
                          ParamSpec("seed", "long", DEFAULT_PARAMS["seed"])])
    return ModelSignature(inputs=image, outputs=image, params=params)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"invdn-repro=={version('invdn-repro')}", f"torch=={version('torch')}", f"numpy=={version('numpy')}"]


def log_model(weights: str | Path, example: np.ndarray | None = None, name: str = "model") -> str:
    """Log ``weights`` (a model file) as the pyfunc model ``name`` of the active run; its URI
    (``runs:/<run id>/<name>``). ``example``: the input example, (1, H, W, 3) float32 in [0, 1]
    (default: a mid-grey 16 x 16 crop)."""
    import mlflow

    if example is None:
        example = np.full((1, EXAMPLE_SIZE, EXAMPLE_SIZE, 3), 0.5, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "invdn_model.py"
        code.write_text(MODEL_CODE)
        mlflow.pyfunc.log_model(name=name, python_model=str(code), artifacts={"weights": str(weights)},
                                signature=_signature(), input_example=example, pip_requirements=_requirements())
    return f"runs:/{mlflow.active_run().info.run_id}/{name}"
