"""NASWOT (Mellor, Turner, Storkey & Crowley, "Neural Architecture Search without Training", ICML 2021,
final version).

For a batch of N images, every ReLU unit gives each image a binary code c (1 where its input is > 0);
with N_A the number of ReLU units, the kernel is K[i, j] = N_A - Hamming(c_i, c_j), and

    score = log |det K|   (``slogdet``).

Which ReLUs: every ``nn.ReLU`` module of the network, as the reference hooks every module whose type
is ReLU (BayesWatch/nas-without-training, ``counting_forward_hook``, accumulating
``x x^T + (1 - x)(1 - x)^T`` per ReLU, which sums to N_A - Hamming). In NB201 these are the ReLUs that
open every ReLU-Conv-BN op (cell convs and the two convs of each reduction block) and the final
``lastact`` ReLU; the stem has none. A node feeding several conv edges is coded once per edge, as in
the reference. Train mode (BN with batch statistics), one forward pass, random init; labels unused.

Deviations: K accumulated in float64 (the reference uses float32 matmuls cast to float64), each
layer's term computed as ``2 c c^T - s_i - s_j + N_units`` (s = the codes' row sums), which is the
reference's ``x x^T + (1 - x)(1 - x)^T`` rewritten with one matmul instead of two, over column chunks
of 2^23 units so that every float32 count is an exact integer (the reference's counts are exact only
up to 2^24 units per layer); no backward pass (the reference's backward only sets
a flag that makes every hook count).

Cross-machine tolerance (naswot, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``), in the ``channels_last`` layout the engine runs naswot in since issue
36 (``experiments/channels_last``: 0.76x the contiguous time): max 1.3e-7, median 1.2e-8 between the
default kernels and ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (worst cell index 2785);
max 3.6e-7 against the machine that computed the committed study (contiguous layout, other CPU). In the
contiguous layout: 1.1e-7 and 4.9e-8. Only the signs of the activations count, and a sign flips
only for an activation within rounding of 0, and each flip moves the log-determinant by a step, not a
rounding: tolerance 1e-5 (about 100x the worst measured, room for a few flips on other kernels).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch

_EXACT_UNITS = 1 << 23
"""Units per float32 matmul: counts (and the row sums) stay below 2^24, where float32 integers are exact."""


def relu_kernel(net: nn.Module, images: torch.Tensor) -> np.ndarray:
    """K = sum over ReLU modules of codes agreements, shape (N, N), float64."""
    n = images.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=images.device)

    def hook(mod, inputs, out):
        codes = (inputs[0].detach().reshape(n, -1) > 0).float()
        # agreements = c c^T + (1 - c)(1 - c)^T = 2 c c^T - s_i - s_j + units (s = row sums): one
        # matmul instead of two. Every product is 0 or 1 and every partial sum an integer below 2^24
        # (the chunks), so each float32 count is exact and K is the same integer matrix as the
        # two-matmul form, bit for bit, whatever the summation order.
        for start in range(0, codes.shape[1], _EXACT_UNITS):
            chunk = codes[:, start : start + _EXACT_UNITS]
            both = (chunk @ chunk.t()).double()
            ones = chunk.sum(1).double()
            kernel.add_(2.0 * both - ones[:, None] - ones[None, :] + float(chunk.shape[1]))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(images)
    finally:
        for h in handles:
            h.remove()
    return kernel.cpu().numpy()


@register_proxy(
    "naswot",
    layout="channels_last",  # measured: experiments/channels_last/layout.md
    paper="Mellor et al., Neural Architecture Search without Training, ICML 2021",
    work="forward",
    higher_is_better=True,
    tolerance=1e-5,  # cross-machine, relative (experiments/cross_machine)
)
def naswot(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, _ = first_batch(batches)
    _sign, logdet = np.linalg.slogdet(relu_kernel(net, images))
    return finite_or_nan(logdet)
