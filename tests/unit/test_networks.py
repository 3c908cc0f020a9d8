"""NB201 networks: parameter counts and FLOPs against NAS-Bench-201's records, shapes, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasearch.space.nb201.arch import Arch, all_archs
from nasearch.space.nb201.networks import INPUT_SIZE, build_network
from nasearch.space.networks import count_flops, count_parameters

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_params_and_flops_match_nb201(nb201_table, dataset):
    rng = np.random.default_rng(201)
    cells = rng.choice(15625, size=250, replace=False)  # 750 builds over the three datasets
    params = nb201_table.column(dataset, "params_m")
    flops = nb201_table.column(dataset, "flops_m")
    for i in cells:
        arch = Arch.from_index(int(i))
        net = build_network(arch, dataset)
        # params_m is recorded in millions with 6 decimals: exact to the parameter
        assert round(count_parameters(net) / 1e6, 6) == pytest.approx(params[i], abs=1e-9), arch
        f = count_flops(net, INPUT_SIZE[dataset])
        assert f == pytest.approx(flops[i], rel=1e-3), arch


def test_cell_11_figures():
    a = Arch.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    net = build_network(a, "cifar10")
    assert count_flops(net, 32) == pytest.approx(113.95137, rel=1e-6)


@pytest.mark.parametrize("dataset", DATASETS)
def test_output_shapes(dataset):
    a = Arch((3, 3, 1, 2, 4, 1))
    g = torch.Generator().manual_seed(0)  # no unseeded randomness in tests
    net = build_network(a, dataset, generator=g)
    x = torch.randn(2, 3, INPUT_SIZE[dataset], INPUT_SIZE[dataset], generator=g)
    assert net(x).shape == (2, {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}[dataset])


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone():
    a = next(iter(all_archs()))
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    n1 = build_network(a, generator=torch.Generator().manual_seed(7))
    after = torch.rand(1)
    n2 = build_network(a, generator=torch.Generator().manual_seed(7))
    assert before == after
    for p, q in zip(n1.parameters(), n2.parameters()):
        assert torch.equal(p, q)


def test_bn_free_variant_has_no_batchnorm():
    net = build_network(Arch((3,) * 6), bn=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
