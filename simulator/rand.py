"""Per-customer random streams.

Each customer owns ``numpy.random.default_rng([seed, 0, customer_index])``, so its draws never
depend on how many other customers exist or in which order they are simulated. Global streams
(FX, families, collectors) use ``[seed, 1, k]``, which can never collide with a customer's.

Scalar calls into a numpy ``Generator`` cost microseconds each, and the engine makes tens of them
per invoice; ``Draws`` takes uniforms in small blocks and derives the other distributions from
them in plain Python, which is several times faster and keeps only ~1 KB per customer.
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 32

STREAM_FAMILIES = 1
STREAM_FX = 2
STREAM_COLLECTORS = 3
STREAM_SELLER = 4


def customer_generator(seed: int, customer_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0, customer_index])


def global_generator(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1, stream])


class Draws:
    __slots__ = ("gen", "_buf", "_i", "_spare")

    def __init__(self, gen: np.random.Generator):
        self.gen = gen
        self._buf: list[float] = []
        self._i = 0
        self._spare: float | None = None

    def u(self) -> float:
        """Uniform on [0, 1)."""
        i = self._i
        if i >= len(self._buf):
            self._buf = self.gen.random(_BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.u()

    def randint(self, a: int, b: int) -> int:
        """Integer in [a, b], both ends included."""
        return a + int(self.u() * (b - a + 1))

    def chance(self, p: float) -> bool:
        return self.u() < p

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        # Box-Muller with the second value kept for the next call.
        z = self._spare
        if z is None:
            u1 = 1.0 - self.u()
            u2 = self.u()
            r = math.sqrt(-2.0 * math.log(u1))
            z = r * math.cos(2 * math.pi * u2)
            self._spare = r * math.sin(2 * math.pi * u2)
        else:
            self._spare = None
        return mu + sigma * z

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.normal())

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.u())

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:  # normal approximation: exact enough for invoice counts, and O(1)
            return max(0, int(round(self.normal(lam, math.sqrt(lam)))))
        limit, k, p = math.exp(-lam), 0, self.u()
        while p > limit:
            k += 1
            p *= self.u()
        return k

    def choice(self, items):
        return items[int(self.u() * len(items))]

    def weighted(self, pairs):
        """Pick from ``((value, weight), ...)``."""
        r = self.u() * sum(w for _, w in pairs)
        for value, w in pairs:
            r -= w
            if r < 0:
                return value
        return pairs[-1][0]
