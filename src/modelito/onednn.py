"""Float32 linear layers on a CPU through oneDNN: the same weights, about twice the speed when decoding.

Decoding multiplies one row (or a few: beams, a class's batch) by every weight matrix, so its speed
is how fast the weights stream from memory. For those shapes PyTorch's default float32 CPU path
(MKL's gemm) runs on one core and reaches about 13 GB/s on this project's 2-core machines, and less
with 2 to 8 rows; oneDNN's matmul on the very same dense [out, in] weight reaches 26 to 30 GB/s
with one row and about 19 with five (benchmarks/decode.py, docs/architecture.md). Nothing is copied
or re-laid out: a Linear only changes class, and its forward calls oneDNN when the product runs
without gradients (decoding, scoring); with gradients (attribution) it is the plain Linear.
Half precision already goes through oneDNN, and a GPU is untouched. Other CPUs (a laptop's ARM chip)
may differ, so the model's largest layer is timed both ways at load and oneDNN used only if faster.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

SMALL = 1 << 18  # below about 512 x 512 the call's fixed cost outweighs the gain (measured: 18 us vs 3 us)


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear(x, weight, bias) computed by oneDNN's matmul (no post-op), on the dense weight as it is."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class OneDNNLinear(torch.nn.Linear):
    """A torch.nn.Linear whose gradient-free float32 CPU product runs in oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or x.dtype != torch.float32 or x.device.type != "cpu":
            return super().forward(x)
        return onednn_linear(x, self.weight, self.bias)


def use_onednn(model: torch.nn.Module) -> int:
    """Turn the model's large float32 CPU Linear layers into OneDNNLinear, in place, when this torch
    has oneDNN, its product agrees with F.linear here and is faster on the largest layer. Returns how
    many layers changed."""
    layers = [m for m in model.modules() if type(m) is torch.nn.Linear and m.weight.device.type == "cpu"
              and m.weight.dtype == torch.float32 and m.weight.numel() >= SMALL]
    if not layers or not _agrees() or not _faster(max(layers, key=lambda m: m.weight.numel())):
        return 0
    for layer in layers:
        layer.__class__ = OneDNNLinear
    return len(layers)


def _agrees() -> bool:
    """oneDNN is there and gives F.linear's numbers (up to float32 rounding) for rows, batches and views."""
    if not torch.backends.mkldnn.is_available() or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return False
    generator = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(640, 512, generator=generator), torch.randn(640, generator=generator)
    x = torch.randn(2, 7, 512, generator=generator)[:, -3:]  # a view, as logits_to_keep passes
    try:
        with torch.inference_mode():
            ours = onednn_linear(x, weight, bias)
    except RuntimeError:  # built without it, or another signature
        return False
    return ours.shape == (2, 3, 640) and torch.allclose(ours, F.linear(x, weight, bias), rtol=1e-4, atol=1e-4)


def _faster(layer: torch.nn.Linear, repeats: int = 3) -> bool:
    """oneDNN multiplies one row by this layer's weight faster than torch's default path, on this machine."""
    x = torch.randn(1, 1, layer.in_features)

    def best(product) -> float:
        product()  # the first call pays one-off costs (oneDNN builds its kernel for the shape)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            times.append(time.perf_counter() - start)
        return min(times)

    with torch.inference_mode():
        onednn = best(lambda: onednn_linear(x, layer.weight, layer.bias))
        default = best(lambda: F.linear(x, layer.weight, layer.bias))
    return onednn < default
