"""GradSign (Zhang & Jia, "GradSign: Model Performance Inference with Theoretical Insights", ICLR 2022).

Algorithm 1 of the paper: for n samples (x_i, y_i) and every weight theta_k,

    g[i, k] = sign( d loss(x_i, y_i) / d theta_k )      (each sample's own gradient)
    GradSign = sum_k | sum_i g[i, k] |

over the weights of every conv and linear layer, with the cross-entropy loss, at the random init.
Reference code: cmu-catalyst/GradSign, ``get_grad_conflict`` (naswot-code/gradsign.py): it loops over
the samples one at a time (``net(inputs[[i]])``) with the network in train mode, so each sample's
BatchNorm normalises with that sample's own statistics (per channel, over its spatial positions), and
sums with ``np.nansum``. :func:`gradsign_loop` is that loop, kept for tests and the benchmark.

The registered proxy is the batched equivalent, one forward and one backward pass for all n samples:

* BatchNorm as for a batch of one: every BN is swapped for instance normalisation with the BN's affine
  parameters (:func:`~nasearch.proxies.utils.per_sample_batchnorm`), which makes the samples
  independent in the batched pass, exactly as in the loop;
* per-sample loss gradients: the loss is the SUM of the per-sample cross-entropies, so the gradient
  w.r.t. each layer's output holds, for sample i, exactly the gradient of sample i's own loss;
* per-sample weight gradients, layer by layer, from the layer's saved input and its output gradient:
  linear ``G[i] = dy[i]^T x[i]``; conv: the weight gradient of the same conv applied with groups=n
  to the batch folded into channels (one image of n * C_in channels), which is exactly the stack of
  per-sample weight gradients; autograd itself computes only activation gradients (no parameter
  requires grad, the input does). Each layer's signs are summed over the samples as soon as its gradient is known, so
  the per-sample gradients of the whole network never coexist in memory.

In ``channels_last`` (the engine hands the proxy that layout when ``ProxySpec.layout`` says so; issue
36) the same pass runs on NHWC memory: per-sample BN through the BatchNorm kernel on the batch folded
into the channels (``utils._folded_instance_norm``), and the per-sample weight gradients of stride-1
1x1 convs as one batched matrix product on views of the NHWC tensors (:func:`_per_sample_grad_1x1_nhwc`);
every other conv takes the grouped-convolution path through a copy (NHWC k x k products over a widened
output grid, ``experiments/channels_last/per_sample_kernels.py``, are exact, but in the whole pass they
cost more than the grouped path: ``experiments/channels_last/README.md``). In float64 both
layouts give the loop's sign matrix exactly (``tests/unit/test_layout.py``).

Deviations: none in what is computed. In float64 the batched sign matrix equals the loop's (tested on
5 cells, 100% of entries). In float32 (what the proxy runs) near-zero gradients are at the mercy of
round-off: for the all-``nor_conv_3x3`` cell the float32 LOOP itself disagrees with the float64 loop
on ~0.5% of the sign entries, and the batched pass (different conv blocking, instance norm) flips a
similar ~0.5% relative to the float32 loop; the scores agree within ~1e-4 relative (tested < 0.1%);
shallow/cheap cells agree on > 99.99% of the entries. Measured on 1 CPU thread, batch 64: the batched
pass costs 0.9-1.3x one plain batched forward+backward and is 1.7-2.9x faster than the loop;
``torch.func.vmap(grad(...))`` with per-sample BN gave the same score but took 1.7-3x longer than this
path. Running statistics of BN are not
updated by the batched pass (nothing reads them). Exact-zero gradients (weights feeding only ``none``
edges) have sign 0 in both.

Cross-machine tolerance (gradsign, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 1.7e-4 (median 1.2e-5) between the default and the SSE4.1/default-ATen
kernels, 2.0e-4 against the committed study's machine (worst cell index 8072); tolerance 1e-3.
On TransNAS-Bench-101's 256-pixel networks (batch 8) it moves far more: up to 5.9e-2 across kernels on
20 networks of the micro study (``experiments/cross_machine/transnas.md``), where that study's test
takes its tolerance from.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import first_batch, is_channels_last, per_sample_batchnorm, weight_layers

Consumer = Callable[[int, torch.Tensor], None]
"""Called with (layer index in module order, per-sample weight gradients of shape (n, *weight.shape))."""


def _numeric_padding(module: nn.Conv2d) -> list[int]:
    """The conv's padding as numbers; ``'same'`` only where it is symmetric (odd effective kernel)."""
    if module.padding_mode != "zeros":
        raise NotImplementedError(f"per-sample gradients of convs with padding_mode={module.padding_mode!r}")
    if not isinstance(module.padding, str):
        return list(module.padding)
    if module.padding == "valid":
        return [0, 0]
    total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
    if any(t % 2 for t in total):
        raise NotImplementedError("per-sample gradients of convs with asymmetric padding='same'")
    return [t // 2 for t in total]


def _per_sample_grad_1x1_nhwc(module: nn.Conv2d, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor | None:
    """Per-sample weight gradients of a 1x1, stride-1, ungrouped conv from ``channels_last`` tensors:
    ``G[i] = dy[i]^T x[i]`` over the positions, one batched GEMM on views of the NHWC memory; None for
    any other conv. Measured on one CPU thread (``experiments/channels_last/per_sample_kernels.md``):
    1.1-1.5x the ordinary (summed) weight gradient, the cheapest per-sample kernel for 1x1 convs. (For
    k x k convs the NHWC products measured there cost more than the grouped path in the whole pass.)"""
    if module.kernel_size != (1, 1) or module.groups != 1 or module.stride != (1, 1) or _numeric_padding(module) != [0, 0]:
        return None
    n, c_in, h, w = x.shape
    c_out = dy.shape[1]
    xs = x.permute(0, 2, 3, 1).reshape(n, h * w, c_in)  # a view of the NHWC memory
    dys = dy.permute(0, 2, 3, 1).reshape(n, h * w, c_out)
    return torch.bmm(dys.transpose(1, 2), xs).view(n, c_out, c_in, 1, 1)


def _per_sample_grad(module: nn.Module, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Per-sample gradient of a conv/linear weight from the layer input ``x`` and output grad ``dy``.
    ``channels_last`` tensors of a 1x1 stride-1 conv take :func:`_per_sample_grad_1x1_nhwc`; every other
    case the grouped-convolution path below (which also serves ``channels_last`` input, through a copy)."""
    n = x.shape[0]
    if isinstance(module, nn.Linear):
        return torch.einsum("no,ni->noi", dy, x)
    assert isinstance(module, nn.Conv2d)
    if is_channels_last(x) and module.kernel_size == (1, 1):
        # the gradient may arrive in another layout (the folded instance norm's backward leaves the
        # batch inside the channels: memory order H, W, N, C): one copy of C-vectors brings it to NHWC
        got = _per_sample_grad_1x1_nhwc(module, x, dy.contiguous(memory_format=torch.channels_last))
        if got is not None:
            return got
    padding = _numeric_padding(module)
    # Fold the batch into the channels: a conv with groups=n*g over a batch of one image whose
    # channels are the n samples' channels (g: the layer's own groups, e.g. a depthwise conv's). Its
    # weight gradient, (n * C_out, C_in / g, kh, kw), is the per-sample weight gradients stacked; the
    # backend's grouped weight-gradient kernel computes it at about the cost of the ordinary (summed)
    # weight gradient, with no im2col buffer.
    c_out, c_in = dy.shape[1], x.shape[1]
    weight_shape = (n * c_out, c_in // module.groups, *module.kernel_size)
    grad = torch.ops.aten.convolution_backward(
        dy.reshape(1, n * c_out, *dy.shape[2:]),
        x.reshape(1, n * c_in, *x.shape[2:]),
        module.weight.new_empty(weight_shape),
        None,
        list(module.stride),
        padding,
        list(module.dilation),
        False,
        [0, 0],
        n * module.groups,
        [False, True, False],
    )[1]
    return grad.reshape(n, *module.weight.shape)


def per_sample_weight_grads(
    net: nn.Module, images: torch.Tensor, labels: torch.Tensor, consume: Consumer
) -> None:
    """One batched pass; ``consume`` receives, layer by layer, each conv/linear layer's per-sample
    weight gradients as if every sample passed through ``net`` alone (train-mode BN on one sample).

    Layers the loss does not reach are not reported. ``net`` is restored on return (BN modules and
    ``requires_grad`` flags).
    """
    layers = weight_layers(net)
    saved: dict[int, torch.Tensor] = {}
    handles = []

    def forward_hook(idx: int, module: nn.Module) -> Callable:
        def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            saved[idx] = inputs[0].detach()

            def grad_hook(dy: torch.Tensor) -> None:
                consume(idx, _per_sample_grad(module, saved.pop(idx), dy))

            if out.requires_grad:
                out.register_hook(grad_hook)

        return hook

    params = list(net.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        for idx, layer in enumerate(layers):
            handles.append(layer.register_forward_hook(forward_hook(idx, layer)))
        x = images.detach().clone().requires_grad_(True)
        with per_sample_batchnorm(net), torch.enable_grad():
            logits = net(x)
            loss = F.cross_entropy(logits, labels, reduction="sum")
            loss.backward(inputs=[x])
    finally:
        for h in handles:
            h.remove()
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        saved.clear()


def gradsign_sign_sums(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Batched: ``sum_i sign(g[i, k])`` for every conv/linear weight k, concatenated in module order
    (float32 holding integers in [-n, n])."""
    layers = weight_layers(net)
    sums: list[torch.Tensor | None] = [None] * len(layers)

    def consume(idx: int, g: torch.Tensor) -> None:
        sums[idx] = torch.sign(g).sum(0).flatten()

    per_sample_weight_grads(net, images, labels, consume)
    return torch.cat(
        [torch.zeros(m.weight.numel(), device=m.weight.device) if s is None else s for m, s in zip(layers, sums)]
    )


def gradsign_sign_matrix(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Batched: the full sign matrix ``g``, shape (n, number of conv/linear weights), int8."""
    layers = weight_layers(net)
    n = images.shape[0]
    mats: list[torch.Tensor | None] = [None] * len(layers)

    def consume(idx: int, g: torch.Tensor) -> None:
        mats[idx] = torch.sign(g).reshape(n, -1).to(torch.int8)

    per_sample_weight_grads(net, images, labels, consume)
    return torch.cat(
        [
            torch.zeros(n, m.weight.numel(), dtype=torch.int8, device=m.weight.device) if s is None else s
            for m, s in zip(layers, mats)
        ],
        dim=1,
    )


def gradsign_loop_sign_matrix(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Reference: one sample at a time through ``net`` in its current mode (the GradSign code's loop);
    the sign matrix, shape (n, number of conv/linear weights), int8. Leaves ``.grad`` set."""
    layers = weight_layers(net)
    rows = []
    for i in range(images.shape[0]):
        net.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(images[i : i + 1]), labels[i : i + 1])
        loss.backward()
        rows.append(
            torch.cat(
                [
                    (torch.zeros(m.weight.numel(), device=m.weight.device) if m.weight.grad is None else m.weight.grad.flatten())
                    for m in layers
                ]
            )
            .sign()
            .to(torch.int8)
        )
    net.zero_grad(set_to_none=True)
    return torch.stack(rows)


def gradsign_loop(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Reference implementation (not registered): the loop over samples of the paper's code."""
    signs = gradsign_loop_sign_matrix(net, images, labels)
    return float(signs.sum(0, dtype=torch.int64).abs().sum())


def gradsign_batched(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The batched score (what the registered proxy returns). Per-layer sums stay on the network's
    device and are read back once (no host synchronisation per layer); they are added in the hooks'
    order in float64, as before."""
    parts: list[torch.Tensor] = []

    def consume(idx: int, g: torch.Tensor) -> None:
        parts.append(torch.sign(g).sum(0).abs().sum())

    per_sample_weight_grads(net, images, labels, consume)
    return float(sum(torch.stack(parts).double().tolist())) if parts else 0.0


@register_proxy(
    "gradsign",
    paper="Zhang & Jia, GradSign: Model Performance Inference with Theoretical Insights, ICLR 2022",
    work="per_sample",
    higher_is_better=True,
    needs_labels=True,
    bn=True,
    tolerance=1e-3,  # cross-machine, relative (experiments/cross_machine)
)
def gradsign(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, labels = first_batch(batches)
    return gradsign_batched(net, images, labels)
