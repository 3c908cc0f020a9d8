"""Issue 36: every proxy runs in the memory layout its measurement chose, and the engine hands it
exactly that layout."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

from nasearch.proxies import get_proxy, network_proxies
from nasearch.scoring.worker import in_layout

ROOT = Path(__file__).resolve().parents[2]
MEASURED = ROOT / "experiments" / "channels_last" / "layout.csv"


def _measure_module():
    spec = importlib.util.spec_from_file_location("layout_measure", MEASURED.with_name("measure.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_registered_layout_is_the_measured_choice():
    rows = {r["proxy"]: r for r in csv.DictReader(open(MEASURED))}
    for spec in network_proxies():
        assert spec.name in rows, f"proxy {spec.name!r} has no layout measurement in {MEASURED}"
        assert spec.layout == rows[spec.name]["layout"], (spec.name, spec.layout, rows[spec.name]["reason"])
        assert spec.work == rows[spec.name]["work"], spec.name
    assert get_proxy("eznas:net_mean(preact_D)").layout == get_proxy("eznas").layout


def test_the_rule_takes_channels_last_only_when_faster_and_within_half_the_tolerance():
    choose = _measure_module().choose
    assert choose(1.0, 0.6, 1e-5, 1e-4)[0] == "channels_last"
    assert choose(1.0, 0.97, 1e-5, 1e-4)[0] == "contiguous"  # not 5% faster
    assert choose(1.0, 0.6, 6e-5, 1e-4)[0] == "contiguous"  # over half the tolerance
    assert choose(1.0, 0.6, float("nan"), 1e-4)[0] == "contiguous"
    assert choose(1.0, 0.6, 0.0, 1e-4, "structure")[0] == "contiguous"  # no pass: noise decides nothing


def test_in_layout_converts_network_and_images_and_copies_the_batches():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    x, y = torch.randn(2, 3, 8, 8), torch.tensor([0, 1])
    net2, [(x2, y2)] = in_layout(net, [(x, y)], "channels_last")
    assert x2.is_contiguous(memory_format=torch.channels_last) and not x2.is_contiguous()
    assert net2[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x2, x) and x2.data_ptr() != x.data_ptr() and y2.data_ptr() != y.data_ptr()
    net3, [(x3, _)] = in_layout(torch.nn.Conv2d(3, 4, 3), [(x, y)], "contiguous")
    assert x3.is_contiguous() and x3.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradsign_per_sample_gradients_match_the_loop_in_either_layout(layout):
    """The channels_last fast path (NHWC batched products, the folded instance norm) computes the same
    per-sample sign matrix as one sample at a time through the network (float64: exact)."""
    from nasearch.proxies.gradsign import gradsign_loop_sign_matrix, gradsign_sign_matrix
    from nasearch.space import get_space

    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    net = space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)).double().train()
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    want = gradsign_loop_sign_matrix(net, x, y)
    net2, [(x2, y2)] = in_layout(net, [(x, y)], layout)
    got = gradsign_sign_matrix(net2, x2, y2)
    assert torch.equal(got, want)


def _per_sample_kernels():
    spec = importlib.util.spec_from_file_location("per_sample_kernels", MEASURED.with_name("per_sample_kernels.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("k", [1, 3])
def test_nhwc_per_sample_gradients_equal_the_grouped_path(k):
    """The NHWC batched products (1x1 in GradSign's channels_last pass; k x k measured in
    experiments/channels_last/per_sample_kernels.py) equal the grouped-convolution path (float64)."""
    from nasearch.proxies.gradsign import _per_sample_grad, _per_sample_grad_1x1_nhwc

    conv = torch.nn.Conv2d(5, 7, k, padding=k // 2, bias=False).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, 9, 9, generator=g, dtype=torch.float64)
    dy = torch.randn(4, 7, 9, 9, generator=g, dtype=torch.float64)
    want = _per_sample_grad(conv, x, dy)
    xc, dc = x.contiguous(memory_format=torch.channels_last), dy.contiguous(memory_format=torch.channels_last)
    got = _per_sample_kernels().wide_bmm(xc, dc, k)
    assert got.shape == want.shape and torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    in_pass = _per_sample_grad_1x1_nhwc(conv, xc, dc)
    if k == 1:
        assert torch.allclose(in_pass, want, rtol=1e-12, atol=1e-12)
    else:
        assert in_pass is None  # k x k convs take the grouped path in the pass
