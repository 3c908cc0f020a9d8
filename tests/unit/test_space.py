"""The NB201 cell space: enumeration, round trips, parsing errors, mutation, encoding, connectivity."""

from __future__ import annotations

import numpy as np
import pytest

from nasearch.space.base import ArchError
from nasearch.space.nb201.arch import NUM_ARCHS, OPS, Arch, all_archs, encode, mutate, sample

CELL_11 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_enumeration_is_unique_and_round_trips():
    archs = list(all_archs())
    assert len(archs) == NUM_ARCHS == 15625
    assert len(set(archs)) == NUM_ARCHS
    strings = set()
    for i, a in enumerate(archs):
        assert a.index == i
        s = a.to_string()
        strings.add(s)
        assert Arch.from_string(s) == a
        assert Arch(a.ops) == a
        assert Arch.from_index(a.index) == a
        assert Arch.parse(s) == Arch.parse(a.ops) == Arch.parse(a.official_index) == a  # an int: the official index
    assert len(strings) == NUM_ARCHS


def test_string_edge_order_is_official():
    a = Arch.from_string(CELL_11)
    # edges (0->1); (0->2), (1->2); (0->3), (1->3), (2->3)
    assert a.op_names() == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
    assert str(a) == CELL_11


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("", "3 nodes"),
        ("|nor_conv_3x3~0|+|none~0|none~1|", "3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read 'op~0'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "needs 2 inputs"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end"),
    ],
)
def test_malformed_strings_quote_the_input_and_the_form(bad, fragment):
    with pytest.raises(ArchError) as err:
        Arch.from_string(bad)
    msg = str(err.value)
    assert repr(bad) in msg
    assert fragment in msg
    if "unknown operation" not in fragment:
        assert "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in msg


@pytest.mark.parametrize("bad", [(0, 1, 2), (0, 1, 2, 3, 4, 5), (-1, 0, 0, 0, 0, 0), [0] * 6])
def test_bad_tuples(bad):
    with pytest.raises(ArchError):
        Arch(bad)  # type: ignore[arg-type]


def test_bad_index():
    with pytest.raises(ArchError, match="15624"):
        Arch.from_index(15625)


def test_disconnected_count_and_examples():
    disconnected = [a for a in all_archs() if not a.is_connected()]
    assert len(disconnected) == 341
    assert not Arch((0,) * 6).is_connected()
    # only the direct edge 0->3 carries an op
    assert Arch((0, 0, 0, 1, 0, 0)).is_connected()
    # 0->1 and 1->3 form a path
    assert Arch((3, 0, 0, 0, 3, 0)).is_connected()
    # 1->2 and 2->3 without anything reaching node 1
    assert not Arch((0, 0, 3, 0, 0, 3)).is_connected()


def test_sampling_is_uniform_and_seeded():
    rng = np.random.default_rng(0)
    draws = [sample(rng) for _ in range(20000)]
    counts = np.zeros((6, 5))
    for a in draws:
        counts[np.arange(6), a.ops] += 1
    assert np.allclose(counts / len(draws), 0.2, atol=0.015)
    again = [sample(np.random.default_rng(0)) for _ in range(1)]
    assert again[0] == draws[0]


def test_mutation_changes_exactly_one_edge():
    rng = np.random.default_rng(1)
    a = sample(rng)
    for _ in range(500):
        b = mutate(a, rng)
        assert sum(x != y for x, y in zip(a.ops, b.ops)) == 1
        a = b


def test_neighbours():
    a = Arch.from_string(CELL_11)
    nb = a.neighbours()
    assert len(nb) == len(set(nb)) == 24
    assert all(sum(x != y for x, y in zip(a.ops, b.ops)) == 1 for b in nb)


def test_one_hot_encoding():
    a = Arch.from_string(CELL_11)
    v = a.one_hot()
    assert v.shape == (30,) and v.sum() == 6
    assert [int(np.argmax(v[e * 5 : e * 5 + 5])) for e in range(6)] == list(a.ops)
    m = encode([a, Arch((0,) * 6)])
    assert m.shape == (2, 30)
    assert OPS[0] == "none"
