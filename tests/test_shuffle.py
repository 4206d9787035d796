"""The epoch order drawn in a kernel (tuinn/engine/kernels/shuffle.py) is NumPy's
default_rng(seed).permutation(n), bit for bit, and leaves NumPy's generator state."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.engine.kernels import shuffle as S

SIZES = [0, 1, 2, 3, 5, 16, 63, 64, 65, 100, 257, 1000, 6400, 65537]


@pytest.mark.parametrize("n", SIZES)
def test_permutation_is_numpys(n):
    for seed in range(60):
        key = [seed, 1, seed * 7 + n]
        got = S.permutation(key, n)
        want = np.random.default_rng(key).permutation(n)
        assert got.dtype == want.dtype and np.array_equal(got, want), (key, n)


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5, 123456789])
def test_the_generator_state_ends_as_numpys(seed):
    """Half a 64-bit output kept for the next 32-bit draw included; and two shuffles in
    a row from one state."""
    for n in (1, 2, 777, 4096):
        gen = np.random.default_rng(seed)
        st = S._state_array(np.random.PCG64(seed).state)
        for _ in range(2):
            want = gen.permutation(n)
            got = np.empty(n, np.int64)
            S.shuffle_arange(st, got)
            assert np.array_equal(got, want)
            assert np.array_equal(st, S._state_array(gen.bit_generator.state))


def test_uncompiled_and_its_stand_in_give_the_same():
    st = S._state_array(np.random.PCG64(11).state)
    outs, states = [], []
    for fn in (S.shuffle_arange, S.shuffle_arange.py_func, S._shuffle_numpy):
        s, out = st.copy(), np.empty(300, np.int64)
        fn(s, out)
        outs.append(out)
        states.append(s)
    for out, s in zip(outs[1:], states[1:]):
        assert np.array_equal(out, outs[0]) and np.array_equal(s, states[0])


def test_bounds_past_32_bits_draw_64_bits():
    """random_interval's 64-bit branch (bounds above 2**32 - 1), on a state that has a
    32-bit half kept: checked against Python's own arithmetic of pcg64.h."""
    st = S._state_array(np.random.PCG64(3).state)
    st[4], st[5] = 1, 12345
    sh, sl = S._lcg(st[0], st[1], st[2], st[3])
    x = int(sh) ^ int(sl)
    rot = int(sh) >> 58
    r = ((x >> rot) | (x << ((64 - rot) & 63))) & S._M64
    bg = np.random.PCG64()
    bg.state = S._state_dict(st)
    assert bg.random_raw() == r
