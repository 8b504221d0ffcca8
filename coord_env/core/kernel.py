"""The compiled tick: numba loops over the batch that draw exactly what numpy's vectorized calls drew.

:func:`coord_env.core.step` calls :func:`tick` for arrivals, first choices, service and
substitution, then prices the tick with numpy (the matrix products go through BLAS, whose summation
order a loop cannot promise to repeat). Every trajectory is bit for bit the one of the numpy kernel
this replaced (tests/test_golden_trajectories.py; tests/numpy_kernel.py keeps that kernel for the
tests). Three things make that hold:

- The draws come from the caller's ``numpy.random.Generator`` (numba advances the same bit
  generator) in the numpy kernel's order: every retailer's first-choice counts, then every short
  product's service split, then every retrier's buy-or-leave binomial, then the substitutes'
  multinomials, then the hypergeometric draws, colour by colour across all rows. So the tick runs
  in phases, each a loop over the batch, and a draw never moves to another phase.
- The same algorithms: numba's binomial is numpy's; the Poisson (:func:`poisson`: numba's
  differs in rare draws), the multinomial (numpy's sequential binomial split, :func:`multinomial`)
  and the hypergeometric (numpy's simple sampler or HRUA, :func:`hypergeometric`) are ported
  line by line.
- The same floating-point steps: every float sum numpy took along a contiguous axis is taken with
  numpy's pairwise summation (:func:`pairwise_sum`), products associate as numpy's did.

One retailer (B = 1) keeps numpy's scalar path: one Poisson total split by one multinomial; a batch
draws one Poisson per (segment, product) cell and per walk-away. No per-tick array of shape
(B, M, N) is made beyond the returned ``segment_sales``.
"""

from __future__ import annotations

import ctypes
from decimal import Decimal, localcontext

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

# numba's ports of numpy's bit-generator reads and log-gamma (internal modules, as of numba 0.68)
from numba.np.random.distributions import random_loggam
from numba.np.random.generator_core import next_double
from numba.np.random.random_methods import random_interval

from coord_env.core.jit import kernel_jit

__all__ = [
    "admit_rows",
    "bit_generator_addresses",
    "hypergeometric",
    "multinomial",
    "pairwise_sum",
    "poisson",
    "tick",
]


def _log_factorials(count: int) -> np.ndarray:
    """log(k!) for k < ``count``, correctly rounded (numpy's hypergeometric uses such a table)."""
    with localcontext() as context:
        context.prec = 50
        total, values = Decimal(0), []
        for k in range(count):
            if k >= 2:
                total += Decimal(k).ln()
            values.append(float(total))
    return np.array(values)


_LOG_FACTORIAL = _log_factorials(126)
_HALF_LOG_2PI = 0.9189385332046728
_D1 = 1.7155277699214135  # 2 sqrt(2 / e)
_D2 = 0.8989161620588988  # 3 - 2 sqrt(3 / e)


_LAST_BIT_GENERATOR: list = [None]  # (bit generator, its addresses) of the last call


def bit_generator_addresses(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """The addresses :func:`tick` reads ``rng``'s bit generator through: state, next_uint64,
    next_uint32, next_double.

    numba's own conversion of a Generator argument reads them through ``ctypes`` at every call,
    which costs a single-env step more than its draws; the last generator's are kept (with a
    reference to it, so its addresses stay valid).
    """
    bits = rng.bit_generator
    last = _LAST_BIT_GENERATOR[0]
    if last is not None and last[0] is bits:
        return last[1]
    interface = bits.ctypes
    addresses = (
        int(interface.state_address),
        int(ctypes.cast(interface.next_uint64, ctypes.c_void_p).value),
        int(ctypes.cast(interface.next_uint32, ctypes.c_void_p).value),
        int(ctypes.cast(interface.next_double, ctypes.c_void_p).value),
    )
    _LAST_BIT_GENERATOR[0] = (bits, addresses)
    return addresses


@intrinsic
def _generator_at(typingctx, state, next_uint64, next_uint32, next_double):
    """A numba Generator over the bit generator at these addresses (no Python object)."""
    generator = types.NumPyRandomGeneratorType("generator")
    bit_generator = types.NumPyRandomBitGeneratorType("bit_generator")

    def codegen(context, builder, signature, args):
        address = [
            context.cast(builder, value, kind, types.uintp)
            for value, kind in zip(args, signature.args, strict=True)
        ]
        bits = cgutils.create_struct_proxy(bit_generator)(context, builder)
        bits.parent = context.get_constant_null(types.pyobject)
        bits.state_address = address[0]
        bits.state = address[0]
        bits.fnptr_next_uint64 = address[1]
        bits.fnptr_next_uint32 = address[2]
        bits.fnptr_next_double = address[3]
        bits.bit_generator = context.get_constant(types.uintp, 0)
        value = cgutils.create_struct_proxy(generator)(context, builder)
        value.bit_generator = bits._getvalue()
        value.meminfo = context.get_constant_null(types.MemInfoPointer(types.voidptr))
        value.parent = context.get_constant_null(types.pyobject)
        return value._getvalue()

    return generator(state, next_uint64, next_uint32, next_double), codegen


@kernel_jit
def _block_sum(values: np.ndarray, start: int, count: int) -> float:
    """numpy's pairwise-sum leaf (at most 128 terms): in order below 8, else 8 accumulators."""
    if count < 8:
        total = 0.0
        for index in range(start, start + count):
            total += values[index]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    index = 8
    end = count - count % 8
    while index < end:
        at = start + index
        r0 += values[at]
        r1 += values[at + 1]
        r2 += values[at + 2]
        r3 += values[at + 3]
        r4 += values[at + 4]
        r5 += values[at + 5]
        r6 += values[at + 6]
        r7 += values[at + 7]
        index += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while index < count:
        total += values[start + index]
        index += 1
    return total


@kernel_jit
def pairwise_sum(values: np.ndarray, start: int, count: int) -> float:
    """numpy's sum of ``values[start:start + count]``: pairwise, 8 accumulators, blocks of 128.

    ``np.sum`` along a contiguous axis adds this way, so a loop that adds in order differs in the
    last bits from 9 terms on. Above 128 terms numpy halves the range (the first half a multiple
    of 8) and adds the two halves' sums; this walks the same tree with a stack, because numba's
    cache cannot hold a recursive function.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random(300)
    >>> bool(pairwise_sum(x, 0, 300) == x.sum())
    True
    """
    if count <= 128:
        return _block_sum(values, start, count)
    task_start = np.empty(64, dtype=np.int64)
    task_count = np.empty(64, dtype=np.int64)
    task_stage = np.empty(64, dtype=np.int64)  # 0: left half next, 1: right half next, 2: add
    sums = np.empty(64)
    tasks, done = 1, 0
    task_start[0], task_count[0], task_stage[0] = start, count, 0
    while tasks > 0:
        top = tasks - 1
        first, size = task_start[top], task_count[top]
        if size <= 128:
            sums[done] = _block_sum(values, first, size)
            done += 1
            tasks -= 1
            continue
        half = size // 2
        half -= half % 8
        if task_stage[top] == 0:
            task_stage[top] = 1
            task_start[tasks], task_count[tasks], task_stage[tasks] = first, half, 0
            tasks += 1
        elif task_stage[top] == 1:
            task_stage[top] = 2
            task_start[tasks], task_count[tasks], task_stage[tasks] = first + half, size - half, 0
            tasks += 1
        else:
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            tasks -= 1
    return sums[0]


@kernel_jit
def _poisson_ptrs(rng: np.random.Generator, lam: float) -> int:
    """numpy's transformed rejection with squeeze (PTRS, Hormann) for lam >= 10."""
    slam = np.sqrt(lam)
    loglam = np.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = next_double(rng.bit_generator) - 0.5
        v = next_double(rng.bit_generator)
        us = 0.5 - np.fabs(u)
        # floor, as numpy: numba's own port truncates, which accepts -1 < k < 0 as 0
        k = np.int64(np.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if np.log(v) + np.log(invalpha) - np.log(a / (us * us) + b) <= -lam + k * loglam - (
            random_loggam(float(k + 1))
        ):
            return k


@kernel_jit
def poisson(rng: np.random.Generator, lam: float) -> int:
    """``rng.poisson(lam)`` exactly as numpy draws it.

    numba's ``Generator.poisson`` differs from numpy's in rare draws with lam >= 10 (it truncates
    where numpy floors), so the kernel uses this port: PTRS from lam = 10, else multiplication of
    uniforms.

    Examples
    --------
    >>> import numpy as np
    >>> poisson(np.random.default_rng(3), 12.5) == np.random.default_rng(3).poisson(12.5)
    True
    """
    if lam >= 10:
        return _poisson_ptrs(rng, lam)
    if lam == 0:
        return 0
    limit = np.exp(-lam)
    count = 0
    product = 1.0
    while True:
        product *= next_double(rng.bit_generator)
        if product > limit:
            count += 1
        else:
            return count


@kernel_jit
def multinomial(rng: np.random.Generator, n: int, pvals: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = rng.multinomial(n, pvals)``, drawn as numpy draws it (numba has no multinomial).

    For each category j but the last: binomial(left, p_j / (1 - p_0 - ... - p_{j-1})), the
    remaining probability kept by subtraction, no clipping; stop once none are left; the last
    category takes the rest.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty(3, dtype=np.int64)
    >>> multinomial(np.random.default_rng(1), 50, np.array([0.2, 0.3, 0.5]), out)
    >>> out.tolist() == np.random.default_rng(1).multinomial(50, [0.2, 0.3, 0.5]).tolist()
    True
    """
    size = pvals.shape[0]
    for j in range(size):
        out[j] = 0
    remaining_p = 1.0
    left = n
    for j in range(size - 1):
        drawn = rng.binomial(left, pvals[j] / remaining_p)
        out[j] = drawn
        left -= drawn
        if left <= 0:
            break
        remaining_p -= pvals[j]
    if left > 0:
        out[size - 1] = left


@kernel_jit
def _log_factorial(k: int) -> float:
    if k < 126:
        return _LOG_FACTORIAL[k]
    # Stirling's series to the 1/k**3 term, as numpy writes it
    return (
        (k + 0.5) * np.log(k) - k + (_HALF_LOG_2PI + (1.0 / k) * (1 / 12.0 - 1 / (360.0 * k * k)))
    )


@kernel_jit
def _hypergeometric_simple(rng: np.random.Generator, good: int, bad: int, sample: int) -> int:
    """numpy's sampler for small samples: draw items one by one (the complement past half)."""
    total = good + bad
    flipped = sample > total // 2
    to_draw = total - sample if flipped else sample
    left_total = total
    left_good = good
    while to_draw > 0 and left_good > 0 and left_total > left_good:
        left_total -= 1
        if np.int64(random_interval(rng.bit_generator, left_total)) < left_good:
            left_good -= 1
        to_draw -= 1
    if left_total == left_good:  # only good items left
        left_good -= to_draw
    return left_good if flipped else good - left_good


@kernel_jit
def _hypergeometric_hrua(rng: np.random.Generator, good: int, bad: int, sample: int) -> int:
    """numpy's ratio-of-uniforms sampler (Stadlober's HRUA), for 10 <= sample <= total - 10."""
    population = good + bad
    drawn = min(sample, population - sample)
    fewer = min(good, bad)
    more = max(good, bad)
    p = fewer / population
    q = more / population
    mean = drawn * p
    a = mean + 0.5
    variance = float(population - drawn) * drawn * p * q / (population - 1)
    c = np.sqrt(variance + 0.5)
    h = _D1 * c + _D2
    mode = np.int64(np.floor(float(drawn + 1) * (fewer + 1) / (population + 2)))
    g = (
        _log_factorial(mode)
        + _log_factorial(fewer - mode)
        + _log_factorial(drawn - mode)
        + _log_factorial(more - drawn + mode)
    )
    support = float(min(drawn, fewer) + 1)
    tail = np.floor(a + 16 * c)
    bound = support if support < tail else tail
    k = 0
    while True:
        u = next_double(rng.bit_generator)
        v = next_double(rng.bit_generator)
        x = a + h * (v - 0.5) / u
        if x < 0.0 or x >= bound:
            continue
        k = np.int64(np.floor(x))
        gp = (
            _log_factorial(k)
            + _log_factorial(fewer - k)
            + _log_factorial(drawn - k)
            + _log_factorial(more - drawn + k)
        )
        t = g - gp
        if u * (4.0 - u) - 3.0 <= t:
            break
        if u * (u - t) >= 1:
            continue
        if 2.0 * np.log(u) <= t:
            break
    if good > bad:
        k = drawn - k
    if drawn < sample:
        k = good - k
    return k


@kernel_jit
def hypergeometric(rng: np.random.Generator, good: int, bad: int, sample: int) -> int:
    """``rng.hypergeometric(good, bad, sample)`` as numpy draws it (numba has no hypergeometric).

    Examples
    --------
    >>> import numpy as np
    >>> hypergeometric(np.random.default_rng(2), 30, 40, 25) == np.random.default_rng(
    ...     2
    ... ).hypergeometric(30, 40, 25)
    True
    """
    if sample >= 10 and sample <= good + bad - 10:
        return _hypergeometric_hrua(rng, good, bad, sample)
    return _hypergeometric_simple(rng, good, bad, sample)


@kernel_jit
def _multivariate_hypergeometric(
    rng: np.random.Generator, colors: np.ndarray, nsample: np.ndarray, out: np.ndarray
) -> None:
    """Rows of (R, K) urns, ``nsample[r]`` items each, drawn colour by colour across all rows.

    The numpy kernel drew one vectorized univariate hypergeometric per colour present in any row,
    over the rows with items still to draw; this keeps that order.
    """
    rows, width = colors.shape
    left = nsample.copy()
    rest = np.zeros(rows, dtype=np.int64)
    present = np.zeros(width, dtype=np.bool_)
    for r in range(rows):
        for c in range(width):
            out[r, c] = 0
            rest[r] += colors[r, c]
            if colors[r, c] != 0:
                present[c] = True
    for c in range(width):
        if not present[c]:
            continue
        for r in range(rows):
            if left[r] == 0:
                continue
            good = colors[r, c]
            rest[r] -= good
            drawn = hypergeometric(rng, good, rest[r], left[r])
            out[r, c] = drawn
            left[r] -= drawn


@kernel_jit
def admit_rows(
    arriving: np.ndarray,
    on_hand: np.ndarray,
    capacity: float,
    stored: np.ndarray,
    disposed: np.ndarray,
) -> None:
    """Split arriving units (B, N) into ``stored`` and ``disposed`` under a shared capacity.

    When a retailer's arrivals exceed its free space, space is shared in proportion to the
    arriving quantities, rounded by largest remainder (ties to the lower product index).
    """
    B, N = arriving.shape
    share = np.empty(N)
    for b in range(B):
        used = 0
        total = 0
        for i in range(N):
            used += on_hand[b, i]
            total += arriving[b, i]
        free = capacity - used
        if free < 0.0:
            free = 0.0
        if not total > free:
            for i in range(N):
                stored[b, i] = arriving[b, i]
                disposed[b, i] = 0
            continue
        ratio = free / total
        floors = 0.0
        for i in range(N):
            share[i] = arriving[b, i] * ratio
            floors += np.floor(share[i])
        leftover = np.floor(free) - floors
        for i in range(N):
            whole = np.floor(share[i])
            remainder = share[i] - whole
            rank = 0  # position of i when sorted by remainder, largest first, ties by index
            for j in range(N):
                other = share[j] - np.floor(share[j])
                if other > remainder or (other == remainder and j < i):
                    rank += 1
            units = np.int64(whole + (1.0 if rank < leftover else 0.0))
            stored[b, i] = units
            disposed[b, i] = arriving[b, i] - units


@kernel_jit
def _attraction(
    b: int,
    slates: np.ndarray,
    popularity: np.ndarray,
    base_attraction: np.ndarray,
    slot_boost: np.ndarray,
    out: np.ndarray,
) -> None:
    """Retailer b's attraction w_ki = base_ki * popularity_i(t) * boost_ki into ``out`` (M, N)."""
    M, N = out.shape
    C = slates.shape[2]
    for k in range(M):
        for i in range(N):
            out[k, i] = 1.0
        for j in range(C - 1, -1, -1):  # the first position is written last: it wins repeats
            target = slates[b, k, j] % (N + 1)  # -1 -> N: an empty slot
            if target < N:
                out[k, target] = slot_boost[k, j]
        for i in range(N):
            out[k, i] = base_attraction[k, i] * popularity[b, i] * out[k, i]


@kernel_jit
def _per_customer(
    attraction: np.ndarray, segment_mix: np.ndarray, no_purchase: np.ndarray, out: np.ndarray
) -> None:
    """(M,) Lambda_k / Lambda / (v0_k + sum_i w_ki): one arrival's chance per unit attraction."""
    M, N = attraction.shape
    for k in range(M):
        out[k] = segment_mix[k] / (no_purchase[k] + pairwise_sum(attraction[k], 0, N))


@kernel_jit
def tick(
    bit_generator: tuple[int, int, int, int],
    period_start: bool,
    order_up_to: bool,
    orders: np.ndarray,
    slates: np.ndarray,
    on_hand: np.ndarray,
    pipeline: np.ndarray,
    popularity: np.ndarray,
    random_lead_times: bool,
    lead_times: np.ndarray,
    lead_time: np.ndarray,
    unlimited_capacity: bool,
    capacity: float,
    base_attraction: np.ndarray,
    no_purchase: np.ndarray,
    slot_boost: np.ndarray,
    segment_mix: np.ndarray,
    total_rate: float,
    count_cap: int,
    substitution: np.ndarray,
) -> tuple:
    """Steps 1-6 of one tick for every retailer; ``on_hand`` and ``pipeline`` change in place.

    ``bit_generator`` is :func:`bit_generator_addresses` of the env's generator, which must stay
    alive during the call.

    Returns the integer records of :class:`coord_env.core.Outcome` (received, disposed, ordered,
    visits, purchases, segment_sales, demand, sales, substitute_sales, lost, impressions,
    oos_impressions) and whether any product was short (the numpy kernel priced lost sales only
    then). ``popularity`` (B, N), ``lead_times`` (B, N) and ``segment_mix`` (M,) are the period's
    rows of the state's and the scenario's paths; ``lead_times`` is ignored unless
    ``random_lead_times``.
    """
    rng = _generator_at(bit_generator[0], bit_generator[1], bit_generator[2], bit_generator[3])
    B, N = on_hand.shape
    M = base_attraction.shape[0]
    L = pipeline.shape[2]
    received = np.zeros((B, N), dtype=np.int64)
    disposed = np.zeros((B, N), dtype=np.int64)
    ordered = np.zeros((B, N), dtype=np.int64)
    visits = np.zeros((B, M), dtype=np.int64)
    purchases = np.zeros((B, M), dtype=np.int64)
    segment_sales = np.empty((B, M, N), dtype=np.int64)
    demand = np.zeros((B, N), dtype=np.int64)
    sales = np.zeros((B, N), dtype=np.int64)
    substitute = np.zeros((B, N), dtype=np.int64)
    lost = np.zeros((B, N), dtype=np.int64)
    impressions = np.zeros((B, N), dtype=np.int64)
    oos_impressions = np.zeros(B, dtype=np.int64)
    out_of_stock = np.zeros((B, N), dtype=np.bool_)

    attraction = np.empty((M, N))
    per_customer = np.empty(M)
    cells = M * N + M
    pvals = np.empty(cells)
    counts = np.empty(cells, dtype=np.int64)

    # 1. Period start: pipeline arrivals (capacity applies), then the orders.
    if period_start:
        arriving = pipeline[:, :, 0].copy()
        for b in range(B):
            for i in range(N):
                for slot in range(L - 1):
                    pipeline[b, i, slot] = pipeline[b, i, slot + 1]
                pipeline[b, i, L - 1] = 0
        if unlimited_capacity:
            received[:, :] = arriving
        else:
            admit_rows(arriving, on_hand, capacity, received, disposed)
        for b in range(B):
            for i in range(N):
                on_hand[b, i] += received[b, i]
                units = orders[b, i]
                if order_up_to:  # a target position, reached after the arrivals
                    position = on_hand[b, i]
                    for slot in range(L):
                        position += pipeline[b, i, slot]
                    units = max(units - position, 0)
                ordered[b, i] = units
                lead = lead_times[b, i] if random_lead_times else lead_time[i]
                pipeline[b, i, lead - 1] += units

    # 3-4. Arrivals and first choices: Poisson counts per (segment, product) and walk-aways.
    for b in range(B):
        for i in range(N):
            out_of_stock[b, i] = on_hand[b, i] == 0
        _attraction(b, slates, popularity, base_attraction, slot_boost, attraction)
        _per_customer(attraction, segment_mix, no_purchase, per_customer)
        for k in range(M):
            for i in range(N):
                pvals[k * N + i] = attraction[k, i] * per_customer[k]
            pvals[M * N + k] = per_customer[k] * no_purchase[k]
        if B == 1:  # numpy's scalar path: a Poisson total split by one multinomial
            multinomial(rng, poisson(rng, total_rate), pvals, counts)
        else:
            for cell in range(cells):
                counts[cell] = poisson(rng, total_rate * pvals[cell])
        for k in range(M):
            walked = min(counts[M * N + k], count_cap)
            visits[b, k] = walked
            for i in range(N):
                first = min(counts[k * N + i], count_cap)
                segment_sales[b, k, i] = first
                visits[b, k] += first
                demand[b, i] += first

    # 5-6. Service in random order and one substitution attempt, where a product is short.
    shortage = _shortage(
        rng,
        slates,
        popularity,
        base_attraction,
        slot_boost,
        segment_mix,
        no_purchase,
        substitution,
        on_hand,
        demand,
        segment_sales,
        visits,
        substitute,
        lost,
    )

    # Sales, stock and the records (step 7-8's money is priced by the caller).
    for b in range(B):
        for i in range(N):
            sales[b, i] = min(demand[b, i], on_hand[b, i]) + substitute[b, i]
            on_hand[b, i] -= sales[b, i]
        for k in range(M):
            bought = 0
            for i in range(N):
                bought += segment_sales[b, k, i]
            purchases[b, k] = bought
            C = slates.shape[2]
            for j in range(C):
                target = slates[b, k, j] % (N + 1)
                if target < N:
                    shown_before = False  # a repeated product is shown once
                    for earlier in range(j):
                        if slates[b, k, earlier] % (N + 1) == target:
                            shown_before = True
                    if not shown_before:
                        impressions[b, target] += visits[b, k]
        for i in range(N):
            if out_of_stock[b, i]:
                oos_impressions[b] += impressions[b, i]
    return (
        received,
        disposed,
        ordered,
        visits,
        purchases,
        segment_sales,
        demand,
        sales,
        substitute,
        lost,
        impressions,
        oos_impressions,
        shortage,
    )


@kernel_jit
def _shortage(
    rng: np.random.Generator,
    slates: np.ndarray,
    popularity: np.ndarray,
    base_attraction: np.ndarray,
    slot_boost: np.ndarray,
    segment_mix: np.ndarray,
    no_purchase: np.ndarray,
    substitution: np.ndarray,
    on_hand: np.ndarray,
    demand: np.ndarray,
    segment_sales: np.ndarray,
    visits: np.ndarray,
    substitute: np.ndarray,
    lost: np.ndarray,
) -> bool:
    """Steps 5-6 where first-choice demand exceeds stock (the law: ``coord_env.core.dynamics``).

    ``segment_sales`` holds the first choices on entry and the purchases on return; ``visits``,
    ``substitute`` and ``lost`` are updated in place. Returns whether any product was short.
    """
    B, N = on_hand.shape
    M = base_attraction.shape[0]
    short_count = 0
    for b in range(B):
        for i in range(N):
            if demand[b, i] > on_hand[b, i]:
                short_count += 1
    if short_count == 0:
        return False
    S = short_count
    short_b = np.empty(S, dtype=np.int64)
    short_i = np.empty(S, dtype=np.int64)
    s = 0
    for b in range(B):
        for i in range(N):
            if demand[b, i] > on_hand[b, i]:
                short_b[s] = b
                short_i[s] = i
                s += 1

    attraction = np.empty((M, N))
    per_customer = np.empty(M)
    share = np.empty(M)
    served_p = np.zeros(2 * M)
    unserved_p = np.empty(2 * M)
    served_split = np.zeros(2 * M, dtype=np.int64)
    unserved_split = np.zeros(2 * M, dtype=np.int64)
    retrying = np.zeros((S, M), dtype=np.int64)
    lost_rows = np.zeros(S, dtype=np.int64)

    # Fresh labels for a short product's served (I_i) and unserved (D_i - I_i) customers; the
    # unserved split into retrying and giving up in the same draw. Rows in (retailer, product)
    # order, served before unserved.
    current = -1
    any_retrying = False
    for s in range(S):
        b, i = short_b[s], short_i[s]
        if b != current:
            _attraction(b, slates, popularity, base_attraction, slot_boost, attraction)
            _per_customer(attraction, segment_mix, no_purchase, per_customer)
            current = b
        for k in range(M):
            share[k] = attraction[k, i] * per_customer[k]  # rate_ki
        total = pairwise_sum(share, 0, M)
        for k in range(M):
            share[k] /= total
            served_p[k] = share[k]
            unserved_p[k] = share[k] * substitution[k]
            unserved_p[M + k] = share[k] * (1.0 - substitution[k])
        stock = on_hand[b, i]
        if stock > 0:
            multinomial(rng, stock, served_p, served_split)
        else:
            served_split[:] = 0
        multinomial(rng, demand[b, i] - stock, unserved_p, unserved_split)
        gave_up = 0
        for k in range(M):
            relabelled = served_split[k] + unserved_split[k] + unserved_split[M + k]
            visits[b, k] += relabelled - segment_sales[b, k, i]
            segment_sales[b, k, i] = served_split[k]
            retrying[s, k] = unserved_split[k]
            if unserved_split[k] > 0:
                any_retrying = True
            gave_up += unserved_split[M + k]
        lost_rows[s] = gave_up
    if not any_retrying:
        for s in range(S):
            lost[short_b[s], short_i[s]] = lost_rows[s]
        return True

    # The retailers with a shortage, in order, and their short products' rows.
    U = 1
    for s in range(1, S):
        if short_b[s] != short_b[s - 1]:
            U += 1
    starts = np.empty(U, dtype=np.int64)
    sizes = np.empty(U, dtype=np.int64)
    group = np.empty(S, dtype=np.int64)
    u = -1
    for s in range(S):
        if s == 0 or short_b[s] != short_b[s - 1]:
            u += 1
            starts[u] = s
            sizes[u] = 0
        sizes[u] += 1
        group[s] = u

    # Every retrier of a segment faces the products still in stock: buy or walk away.
    remaining = np.empty((U, N), dtype=np.int64)
    weight = np.empty((U, M))  # attraction in stock, sum_i w_ki [remaining_i > 0]
    available = np.empty(N)
    for u in range(U):
        b = short_b[starts[u]]
        _attraction(b, slates, popularity, base_attraction, slot_boost, attraction)
        for i in range(N):
            remaining[u, i] = on_hand[b, i] - min(demand[b, i], on_hand[b, i])
        for k in range(M):
            for i in range(N):
                available[i] = attraction[k, i] * (1.0 if remaining[u, i] > 0 else 0.0)
            weight[u, k] = pairwise_sum(available, 0, N)
    buyers = np.zeros((S, M), dtype=np.int64)
    for s in range(S):
        u = group[s]
        for k in range(M):
            buy = weight[u, k] / (weight[u, k] + no_purchase[k])
            buyers[s, k] = rng.binomial(retrying[s, k], buy)
            lost_rows[s] += retrying[s, k] - buyers[s, k]

    # The buyers of each segment spread over the products in stock; over-demanded products noted.
    segment_buyers = np.zeros((U, M), dtype=np.int64)
    for s in range(S):
        for k in range(M):
            segment_buyers[group[s], k] += buyers[s, k]
    demanded = np.zeros((M, N), dtype=np.int64)
    choice = np.empty(N)
    picks = np.empty(N, dtype=np.int64)
    over_u = np.empty(U * N, dtype=np.int64)
    over_j = np.empty(U * N, dtype=np.int64)
    asked = np.empty((U * N, M), dtype=np.int64)
    over = 0
    for u in range(U):
        b = short_b[starts[u]]
        _attraction(b, slates, popularity, base_attraction, slot_boost, attraction)
        demanded[:, :] = 0
        for k in range(M):
            if segment_buyers[u, k] == 0:
                continue
            for i in range(N):
                choice[i] = attraction[k, i] * (1.0 if remaining[u, i] > 0 else 0.0) / weight[u, k]
            multinomial(rng, segment_buyers[u, k], choice, picks)
            for i in range(N):
                demanded[k, i] = picks[i]
        for j in range(N):
            wanted = 0
            for k in range(M):
                wanted += demanded[k, j]
            if wanted > remaining[u, j]:
                over_u[over] = u
                over_j[over] = j
                for k in range(M):
                    asked[over, k] = demanded[k, j]
                over += 1
            else:
                for k in range(M):
                    segment_sales[b, k, j] += demanded[k, j]
                substitute[b, j] += wanted

    if over > 0:
        # A uniformly random subset of an over-demanded product's retriers is served.
        capacity = np.empty(over, dtype=np.int64)
        for o in range(over):
            capacity[o] = remaining[over_u[o], over_j[o]]
        kept = np.empty((over, M), dtype=np.int64)
        _multivariate_hypergeometric(rng, asked[:over], capacity, kept)
        unserved = np.zeros((U, M), dtype=np.int64)
        for o in range(over):
            u, j = over_u[o], over_j[o]
            b = short_b[starts[u]]
            for k in range(M):
                segment_sales[b, k, j] += kept[o, k]
                substitute[b, j] += kept[o, k]
                unserved[u, k] += asked[o, k] - kept[o, k]
        # The unserved's first choices: a uniformly random subset of their segment's buyers'.
        Q = 0
        for u in range(U):
            for k in range(M):
                if unserved[u, k] > 0:
                    Q += 1
        if Q > 0:
            width = 0
            for u in range(U):
                width = max(width, sizes[u])
            origins = np.zeros((Q, width), dtype=np.int64)
            wanted_back = np.empty(Q, dtype=np.int64)
            row_u = np.empty(Q, dtype=np.int64)
            q = 0
            for u in range(U):
                for k in range(M):
                    if unserved[u, k] > 0:
                        for position in range(sizes[u]):
                            origins[q, position] = buyers[starts[u] + position, k]
                        wanted_back[q] = unserved[u, k]
                        row_u[q] = u
                        q += 1
            by_origin = np.empty((Q, width), dtype=np.int64)
            _multivariate_hypergeometric(rng, origins, wanted_back, by_origin)
            for q in range(Q):
                u = row_u[q]
                for position in range(sizes[u]):
                    lost_rows[starts[u] + position] += by_origin[q, position]
    for s in range(S):
        lost[short_b[s], short_i[s]] = lost_rows[s]
    return True
