"""A run's model as a standalone program (TorchScript or ONNX): named input tensors in, the task head's
decode-ready scores out (CRF emissions, logits), never the decoded labels (the CRF's Viterbi decoding, the
argmax), which stay with fusionlab.

The program is traced on a tiny batch that the datamodule serves from example sentences and generated
images (no dataset is read). Its inputs are exactly the batch tensors the method and the head read, found by
one eager pass; an axis whose size differs between two example batches (sentences, tokens, words) stays
dynamic; the text encoder runs padded (``pack_tokens`` off: packing's shapes depend on the data). Every
program is run on the second batch, of other sizes and with images where the first had none,
and kept only if it reproduces the PyTorch model there. A method is refused, naming why, when it reads
something that is not a tensor (MASE's scene graph and MuSE's word captions read the sentences' words), when
the exporter fails on it, or when its program does not reproduce it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from fusionlab.data.inputs import to_example
from fusionlab.encoders.text import TextEncoder
from fusionlab.train import Assembly

FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}
# Two batches of example inputs of different sizes: the first is traced, the second checks the program.
# ``image``: an index into the generated images, or None (no image: its mask is False).
EXAMPLES = ([{"text": "Kalo Miren visits the old harbour", "head": "0:2", "tail": "4:6", "image": 0},
             {"text": "a quiet day", "head": "0:1", "tail": "2:3", "image": None}],
            [{"text": "news from Kalo", "head": "2:3", "tail": "0:1", "image": None},
             {"text": "Miren and Kalo met in the city hall on a rainy Sunday", "head": "0:1", "tail": "2:3",
              "image": 1},
             {"text": "look", "head": "0:1", "tail": "0:1", "image": 0}])
IMAGE_COLOURS = ((200, 40, 40), (30, 90, 220))
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


class ExportError(ValueError):
    """A run that cannot be exported as asked (the message says why and what can be)."""


class _Reads(dict):
    """A batch that records which keys the model reads (or asks about)."""

    def __init__(self, batch: dict):
        super().__init__(batch)
        self.read: list[str] = []

    def _note(self, key) -> None:
        if key not in self.read:
            self.read.append(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)


class Scores(nn.Module):
    """The head's outputs from the input tensors, given positionally in ``names`` order."""

    def __init__(self, model: nn.Module, names: list[str]):
        super().__init__()
        self.method, self.head, self.names = model.method, model.head, names  # not the LightningModule: no trainer

    def forward(self, *tensors: torch.Tensor):
        batch = dict(zip(self.names, tensors))
        return self.head(self.method(batch).states, batch)


def example_batches(parts: Assembly, images: Path) -> list[dict]:
    """The batches the datamodule serves for ``EXAMPLES`` (prediction inputs: no dataset read), with solid
    colour images written under ``images``."""
    paths = []
    for index, colour in enumerate(IMAGE_COLOURS):
        paths.append(images / f"example_{index}.png")
        Image.new("RGB", (32, 32), colour).save(paths[-1])
    batches = []
    for records in EXAMPLES:
        examples = [parts.task.data.unlabeled(to_example(
            {**record, "image": None if record["image"] is None else str(paths[record["image"]])}, "example input"))
            for record in records]
        batches.append(next(iter(parts.datamodule.loader(parts.datamodule.serve(examples)))))
    return batches


def model_inputs(parts: Assembly, batch: dict) -> list[str]:
    """The batch keys the model's forward pass reads, each a tensor (or refused, naming it)."""
    reads = _Reads(batch)
    with torch.no_grad():
        parts.model.head(parts.model.method(reads).states, reads)
    for key in reads.read:
        if not isinstance(batch.get(key), torch.Tensor):
            raise ExportError(f"fusion {parts.model.run_config['fusion']['name']} reads batch[{key!r}] (a "
                              f"{type(batch.get(key)).__name__}), which a traced program cannot take as a tensor")
    return reads.read


def _outputs(result) -> list[torch.Tensor]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def dynamic_axes(names: list[str], traced: dict, checked: dict) -> dict[str, dict[int, str]]:
    """Per input, the axes whose size differs between the two example batches."""
    return {name: {axis: "batch" if axis == 0 else f"{name}_{axis}"
                   for axis, (a, b) in enumerate(zip(traced[name].shape, checked[name].shape)) if a != b}
            for name in names}


def _trace(module: nn.Module, arguments: tuple, names: list[str], outputs: list[str], axes: dict,
           fmt: str, path: Path) -> None:
    if fmt == "torchscript":
        torch.jit.save(torch.jit.trace(module, arguments, check_trace=False), str(path))
        return
    require_onnx()
    dynamic = (tuple({axis: torch.export.Dim.AUTO for axis in axes[name]} for name in names),)  # one *tensors
    with contextlib.redirect_stdout(sys.stderr):  # the exporter reports progress on stdout
        torch.onnx.export(module, arguments, str(path), input_names=names, output_names=outputs, dynamo=True,
                          dynamic_shapes=dynamic, verbose=False)


def write_program(parts: Assembly, fmt: str, folder: Path) -> dict:
    """Trace the model into ``folder`` as ``fmt`` (torchscript | onnx), check it, and describe it: its file,
    inputs (name, dtype, shape with the dynamic axes named) and outputs."""
    if fmt not in FORMATS:
        raise ExportError(f"to={fmt}: expected hub or one of {', '.join(FORMATS)}")
    parts.model.eval()
    for encoder in parts.model.modules():  # a program takes padded batches: packing's shapes depend on the data
        if isinstance(encoder, TextEncoder):
            encoder.pack_tokens = False
    with tempfile.TemporaryDirectory() as images:
        traced_batch, checked_batch = example_batches(parts, Path(images))
    names = model_inputs(parts, traced_batch)
    module = Scores(parts.model, names).eval()
    arguments, checked = tuple(traced_batch[n] for n in names), {n: checked_batch[n] for n in names}
    axes, path = dynamic_axes(names, traced_batch, checked_batch), folder / FORMATS[fmt]
    with torch.no_grad():
        expected = _outputs(module(*checked.values()))
        outputs = [f"scores_{i}" for i in range(len(expected))]
        try:
            _trace(module, arguments, names, outputs, axes, fmt, path)
        except Exception as error:  # the exporters raise many kinds; the cause stays chained
            raise ExportError(f"fusion {parts.model.run_config['fusion']['name']} does not export to {fmt}: the "
                              f"exporter failed ({root_cause(error)})") from error
    for name, want, have in zip(outputs, expected, run_program(path, checked)):
        try:
            torch.testing.assert_close(torch.as_tensor(have), want, **TOLERANCE)
        except AssertionError as error:
            path.unlink()
            raise ExportError(f"fusion {parts.model.run_config['fusion']['name']} does not export to {fmt}: output "
                              f"{name} of the program differs from the PyTorch model on a batch of other sizes than "
                              f"the traced one ({str(error).splitlines()[-1]}), so {path.name} is not kept") from None
    return {"file": path.name, "format": fmt, "outputs": outputs,
            "inputs": [{"name": n, "dtype": str(traced_batch[n].dtype).removeprefix("torch."),
                        "shape": [axes[n].get(axis, size) for axis, size in enumerate(traced_batch[n].shape)]}
                       for n in names]}


def root_cause(error: BaseException) -> str:
    """The innermost exception an exporter's error chains, as ``Type: its first line``."""
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {(str(error).strip() or 'no message').splitlines()[0]}"


def run_program(path: Path, inputs: dict[str, torch.Tensor]) -> list:
    """An exported program's outputs on named inputs (TorchScript by torch.jit.load, ONNX by onnxruntime)."""
    if path.suffix == ".pt":
        with torch.no_grad():
            return _outputs(torch.jit.load(str(path))(*inputs.values()))
    require_onnx()
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})


def require_onnx() -> None:
    """Refuse ONNX export without its packages (the ``export`` extra), naming them."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ExportError(f"to=onnx needs the packages onnx, onnxscript and onnxruntime ({error}): "
                          f"pip install 'fusionlab[export]'") from None
