"""Network building blocks shared by every space's networks, and what is counted on any network.

* :func:`with_generator`: build a network with torch's initialisers drawing from a ``torch.Generator``
  (same generator state, same weights, in any process); every space's ``build_network`` uses it.
* :class:`ReLUConvBN` (a ReLU, a bias-free conv and BN in one ``nn.Sequential``, the run every proxy
  that reads ReLU-Conv-BN blocks looks for) and :func:`_bn` (BN or, with ``bn=False``, the identity:
  the networks data-free proxies such as synflow score).
* :func:`count_parameters`, :func:`count_flops`: parameters and MFLOPs of any network (NATS-Bench's
  counting convention), used by the ``params`` and ``flops`` proxies.

A space's own networks (cells, skeletons, heads) live in that space's module.
"""

from __future__ import annotations

import torch
from torch import nn


def _bn(channels: int, bn: bool) -> nn.Module:
    """BatchNorm (affine, running statistics) or, with ``bn=False``, the identity."""
    return nn.BatchNorm2d(channels, affine=True, track_running_stats=True) if bn else nn.Identity()


def with_generator(generator: torch.Generator | None, build):
    """Run ``build`` with torch's initialisers drawing from ``generator`` (a fork of the global RNG,
    so the caller's global state is untouched); same generator state, same weights, any process.
    Without a generator ``build`` draws from the global RNG. Used by every space's networks."""
    if generator is None:
        return build()
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class ReLUConvBN(nn.Sequential):
    """ReLU, a bias-free conv, BN (NB201's op; also TransNAS-Bench-101's convs and stem)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, bn: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            _bn(c_out, bn),
        )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: int = 32) -> float:
    """MFLOPs of one forward pass of one image, NATS-Bench's convention.

    NATS-Bench counts the multiply-accumulates of every conv and linear layer (conv bias would add one
    per output element) plus the classifier's bias. Pooling, BN, ReLU and the
    additions that sum a node's inputs are not counted. ``none`` edges hold no conv and cost nothing.
    The image goes to the model's device: a model on the ``meta`` device is counted from shapes alone.
    """
    total = 0.0
    hooks = []

    def conv_hook(mod: nn.Conv2d, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        out_elems = out.shape[1] * out.shape[2] * out.shape[3]
        total += out_elems * (mod.in_channels // mod.groups) * kh * kw
        if mod.bias is not None:
            total += out_elems

    def linear_hook(mod: nn.Linear, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += mod.in_features * mod.out_features
        if mod.bias is not None:
            total += mod.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, device=next(model.parameters()).device))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return total / 1e6


__all__ = ["ReLUConvBN", "count_flops", "count_parameters", "with_generator"]
