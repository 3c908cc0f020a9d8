"""The proxy contract: what every zero-cost proxy (built-in or plugin) must do.

Subclass :class:`ProxyContract` and set ``name`` to the proxy's registry name::

    from nasearch.testing import ProxyContract

    class TestToyProxy(ProxyContract):
        name = "toy_proxy"

Checks: the proxy is registered with sane metadata (a paper, a sign, at least one minibatch, not both
data-free and label-hungry, a module docstring naming its deviations from the reference code); on a
small network of each space (``spaces``, default every registered space) it returns a finite float
that depends only on the seeds it is given, not on the global RNG, and is the same (within its
tolerance) in either memory layout; a data-free proxy ignores the images. A proxy that declares the
cells it cannot rate (``ProxySpec.nan_on``, a network attribute) may return NaN on the networks that
set that attribute, every time and in either layout (:func:`check_score`); a NaN anywhere else fails. (That every proxy scores every space through the scoring engine is checked by
:class:`~nasearch.testing.SpaceContract`.)
"""

from __future__ import annotations

import math
import sys
from typing import Any, ClassVar

import pytest

from nasearch.testing._common import ContractBase, non_trivial, synthetic_batches


def may_be_nan(spec: Any, net: Any) -> bool:
    """Whether ``spec`` may rate this network NaN: it declares the cells it cannot rate
    (``ProxySpec.nan_on``) and the network sets that attribute True."""
    return bool(spec.nan_on) and bool(getattr(net, spec.nan_on, False))


def check_score(spec: Any, net: Any, value: Any, where: str) -> None:
    """The contract on one score: a float, finite unless :func:`may_be_nan` (then finite or NaN,
    never infinite). ``where`` names the cell in the failure message."""
    assert isinstance(value, float), f"proxy {spec.name!r} on {where}: {value!r} is not a float"
    if math.isnan(value) and may_be_nan(spec, net):
        return
    why = (f" (it may be NaN only on networks that set {spec.nan_on!r}, and "
           f"{type(net).__name__} does not)" if spec.nan_on else " (it declares no cells it cannot rate: "
           "ProxySpec.nan_on)")
    assert math.isfinite(value), f"proxy {spec.name!r} on {where}: {value!r} is not finite{why}"


def same_score(a: float, b: float) -> bool:
    """Equal, or both NaN."""
    return a == b or (math.isnan(a) and math.isnan(b))


class ProxyContract(ContractBase):
    """Contract tests of one proxy; set ``name``."""

    name: ClassVar[str] = ""
    """Registry name of the proxy under test."""
    spaces: ClassVar[tuple[str, ...] | None] = None
    """Spaces whose networks the proxy is checked on (None: every registered space)."""
    archs: ClassVar[dict[str, tuple[Any, ...]]] = {}
    """Per space, the archs (anything ``space.parse`` takes) to score; default two non-trivial ones
    sampled with seed 2."""
    batch_size: ClassVar[int] = 8
    """Images per minibatch on spaces of up to 64 px (2 above, e.g. TransNAS-Bench-101's 256 px)."""
    documents: ClassVar[tuple[str, ...]] = ("Deviation",)
    """Words the proxy module's docstring must contain (nasearch's convention: each proxy module names
    its paper and every deviation from the reference code)."""

    def params(self) -> dict[str, list[Any]]:
        from nasearch.space import space_names

        return {"space_name": list(self.spaces if self.spaces is not None else space_names())}

    @pytest.fixture(scope="class")
    @classmethod
    def spec(cls) -> Any:
        from nasearch.proxies import get_proxy

        assert cls.name, f"{cls.__name__}: set the class attribute name to the proxy's registry name"
        return get_proxy(cls.name)

    def cells(self, space: Any) -> list:
        given = self.archs.get(space.name)
        return [space.parse(a) for a in given] if given else non_trivial(space, 2, seed=2)

    def score(self, spec: Any, space: Any, arch: Any, batches: list, seed: int = 0, layout: str | None = None) -> float:
        """``spec.fn`` on the network of ``arch`` (seeded with ``seed``, BN as the proxy asks, train
        mode) for the space's first task with a network, with ``spec.min_batches`` of ``batches``, in
        ``layout`` (default: as built; see :func:`nasearch.scoring.worker.in_layout`); checked by
        :func:`check_score`."""
        import torch

        from nasearch.proxies import ProxyContext
        from nasearch.scoring.worker import in_layout

        task = space.networks_for()[0]
        net = space.build_network(arch, task, bn=spec.bn, generator=torch.Generator().manual_seed(seed))
        net.train()
        ctx = ProxyContext(num_classes=space.num_classes(task), generator=torch.Generator().manual_seed(seed + 1),
                           input_size=space.input_size(task))
        bs = batches[: max(spec.min_batches, 1)]
        if layout is not None:
            net, bs = in_layout(net, bs, layout)
        value = spec.fn(net, bs, ctx)
        check_score(spec, net, value, f"{space.name} cell {arch}" + (f" ({layout})" if layout else ""))
        return value

    def batches(self, space: Any, seed: int = 0) -> list:
        task = space.networks_for()[0]
        size = space.input_size(task)
        return synthetic_batches(2, self.batch_size if size <= 64 else 2, size, space.num_classes(task), seed)

    # ------------------------------------------------------------------------------ registry
    def test_metadata_is_sane(self, spec: Any) -> None:
        from nasearch.proxies import proxy_names

        assert self.name in proxy_names()
        assert spec.name == self.name
        assert isinstance(spec.paper, str) and len(spec.paper) > 10
        assert isinstance(spec.higher_is_better, bool) and spec.sign() in (1.0, -1.0)
        assert spec.min_batches >= 1
        assert not (spec.data_free and spec.needs_labels)
        assert isinstance(spec.version, str) and spec.version
        assert spec.tolerance > 0
        from nasearch.proxies.registry import LAYOUTS, WORK_KINDS

        assert spec.layout in LAYOUTS and spec.work in WORK_KINDS, (spec.layout, spec.work)
        mod = sys.modules.get(spec.fn.__module__) or __import__(spec.fn.__module__, fromlist=["_"])
        assert mod.__doc__, f"the module of proxy {self.name!r} has no docstring"
        for word in self.documents:
            assert word in mod.__doc__, f"the module of proxy {self.name!r} documents no {word!r}"

    # ------------------------------------------------------------------------------ values
    def test_finite_deterministic_and_independent_of_global_rng(self, spec: Any, space_name: str) -> None:
        import torch

        from nasearch.space import get_space

        space = get_space(space_name)
        batches = self.batches(space)
        for arch in self.cells(space):
            torch.manual_seed(1)
            a = self.score(spec, space, arch, batches)
            torch.manual_seed(12345)
            torch.rand(7)
            b = self.score(spec, space, arch, batches)
            assert same_score(a, b), (self.name, str(arch), a, b)

    def test_the_same_score_in_either_memory_layout(self, spec: Any, space_name: str) -> None:
        """The engine may hand the proxy its network and batches in ``channels_last`` (``ProxySpec.layout``):
        the score must be the contiguous one up to float32 round-off, within the proxy's tolerance."""
        from nasearch.space import get_space

        space = get_space(space_name)
        batches = self.batches(space)
        for arch in self.cells(space):
            a = self.score(spec, space, arch, batches, layout="contiguous")
            b = self.score(spec, space, arch, batches, layout="channels_last")
            assert same_score(a, b) or abs(a - b) <= spec.tolerance * abs(a), (self.name, str(arch), a, b)

    def test_data_free_proxies_ignore_the_images(self, spec: Any, space_name: str) -> None:
        from nasearch.space import get_space

        if not spec.data_free:
            pytest.skip(f"proxy {self.name!r} reads the images (data_free=False)")
        space = get_space(space_name)
        arch = self.cells(space)[-1]
        assert same_score(self.score(spec, space, arch, self.batches(space, seed=0)),
                          self.score(spec, space, arch, self.batches(space, seed=99)))


__all__ = ["ProxyContract", "check_score", "may_be_nan"]
