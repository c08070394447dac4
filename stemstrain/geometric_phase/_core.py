"""GPA over an array module ``xp`` (NumPy or CuPy): one code path, no twins.

Pipeline (all arrays stay on the device of ``xp``):

1. one real FFT of the image (``rfft2``, complex64 by default, ``workers`` on CPU);
2. for each g, the Gaussian-masked neighbourhood of the Bragg spot (out to 5 sigma) is
   *gathered* from the half spectrum (Hermitian symmetry for the other half) into a
   small array with the integer bin nearest g moved to the origin, zero-padded 1.5-fold.
   Its inverse FFT is the demodulated Bragg image ``h = H_g(r) exp(-2 pi i k0 . r)``
   sampled on a coarse grid (every ``H/m`` px). It is exact there: the masked
   spectrum is band-limited to the window, so no phase ramps and no full-size inverse
   FFTs are needed. Spectral derivatives (``2 pi i k`` times the window) give
   ``grad h``, all 3 x n_g small inverse FFTs batched into one call;
3. phase gradients ``grad P_g = Im(conj(h) grad h)/|h|^2 + 2 pi (k0 - g)`` - no
   unwrapping, no wrap artefacts;
4. g is refined on the reference region (the amplitude-weighted mean phase gradient,
   i.e. the slope of a least-squares phase plane, is moved into g), the mask is re-centred
   on the refined g and step 2-3 repeated, so the reference reads zero strain;
5. ``D_E = -(1/2 pi) G^-1 [grad P]`` (deformed frame), ``D_L = D_E (I - D_E)^-1``
   (Lagrangian, API.md), all 8 strain/rotation/layer-frame maps on the coarse grid, low
   Bragg amplitude -> invalid;
6. Keys-cubic (periodic) upsampling of the maps and the amplitudes to the image grid
   (blocked matrix products; :func:`gpa` makes the rarely used ones on first access),
   NaN where the cubic stencil touches an invalid coarse sample or within 2 kernel
   sigmas of the image border.

The coarse grid samples ``h`` at 1.5x its Nyquist rate and the maps are smoothed by
the mask (real-space sigma ``1/(2 pi sigma_g)``, several coarse samples), so the cubic
upsampling error is far below the noise (measured in tests and the benchmark).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._backend import fft_workers, get_fft
from .._strain import lagrangian_from_eulerian, layer_normal, strain_from_gradient

__all__ = [
    "gpa_arrays",
    "lowres_shape",
    "FWHM_FACTOR",
    "MAP_NAMES",
    "Spectrum",
    "prepare",
    "reference_pass",
    "coarse_strain",
    "map_plan",
    "border_width",
    "edge_sigmas",
    "SIGMA_DIVISOR",
    "finish_extras",
    "full_amplitude",
    "upsample",
]

#: real-space FWHM of the GPA smoothing kernel = FWHM_FACTOR / sigma_g (sigma_g in 1/nm)
FWHM_FACTOR = 2.0 * math.sqrt(2.0 * math.log(2.0)) / (2.0 * math.pi)
_WINDOW_SIGMAS = 5.0
#: coarse-grid samples per window width (>= 1 samples the band-limited h exactly)
_OVERSAMPLE = 1.5
#: output rows per block of the upsampling matrix products
_BLOCK = 64
#: output columns per block of the (small) column pass
_COL_BLOCK = 128
#: maps are NaN within this many real-space kernel sigmas of the image border. Measured
#: (noise-free generator, exact g, worst p99 of 5 angles, docs/notes/gpa.md session 4): the
#: edge bias is 1.4e-2 just inside 2 sigmas, 2.2e-2 at 1.75, 3.3e-2 at 1.5 and 1e-3 only at
#: ~3.25 (mirror padding instead of the periodic split: x0.8 only); tests/gpa/test_gpa_border.py
_EDGE_SIGMAS = 2.0
#: ... and biased by more than 1e-3 (p99) within this many (same measurement, worst of 5
#: angles: 1.0e-3 at [3, 3.25) sigmas, 4.9e-4 at [3.25, 3.5)); quality["border_bias_px"]
_BIAS_SIGMAS = 3.25
#: the default mask: sigma_g = (distance from a g to its nearest reciprocal-lattice point) / this
SIGMA_DIVISOR = 4.5


def lowres_shape(shape: tuple[int, int], sigma_px: float) -> tuple[int, int, int, int]:
    """Window half-widths (bins) and coarse-grid shape for a mask of ``sigma_px`` cycles/px."""
    from scipy.fft import next_fast_len

    h, w = shape
    kh_y = int(math.ceil(_WINDOW_SIGMAS * sigma_px * h))
    kh_x = int(math.ceil(_WINDOW_SIGMAS * sigma_px * w))
    m_y = min(h, next_fast_len(max(int(_OVERSAMPLE * 2 * kh_y) + 4, 16)))
    m_x = min(w, next_fast_len(max(int(_OVERSAMPLE * 2 * kh_x) + 4, 16)))
    kh_y = min(kh_y, (m_y - 1) // 2)
    kh_x = min(kh_x, (m_x - 1) // 2)
    return kh_y, kh_x, m_y, m_x


def _gather_window(
    xp: ModuleType, spec: Any, shape: tuple[int, int], k0: tuple[int, int], kh: tuple[int, int]
) -> Any:
    """Full-spectrum values F[k0 + k'] for |k'| <= kh from the half spectrum of rfft2."""
    h, w = shape
    dy = xp.arange(-kh[0], kh[0] + 1)
    dx = xp.arange(-kh[1], kh[1] + 1)
    ky = (k0[0] + dy) % h
    lo, hi = k0[1] - kh[1], k0[1] + kh[1]
    if 0 <= lo and hi <= w // 2:  # the window lies in the stored half: one gather
        return spec[ky, lo : hi + 1]
    if -(w // 2) <= lo and hi < 0:  # ... in the other half: F[k] = conj(F[-k])
        return xp.conj(spec[(h - ky) % h, -lo : -hi - 1 : -1])  # columns -lo .. -hi >= 1
    kx = (k0[1] + dx) % w
    direct = kx <= w // 2
    kx_d = xp.where(direct, kx, 0)
    kx_c = xp.where(direct, 0, (w - kx) % w)
    ky_c = (h - ky) % h
    a = spec[ky[:, None], kx_d[None, :]]
    b = xp.conj(spec[ky_c[:, None], kx_c[None, :]])
    return xp.where(direct[None, :], a, b)


def _smooth_component(
    xp: ModuleType,
    edges: tuple[Any, Any],
    shape: tuple[int, int],
    k0: tuple[int, int],
    kh: tuple[int, int],
) -> Any:
    """Spectrum of Moisan's smooth component at the window bins (periodic + smooth split).

    The image's boundary jumps make cross-shaped streaks through every Bragg spot (and
    edge artefacts in the maps); subtracting the spectrum of the smooth component
    ``s_hat = v_hat / (2 cos(2 pi q/H) + 2 cos(2 pi r/W) - 4)`` leaves the periodic
    component's. ``v`` lives on the border only, so ``v_hat`` is a sum of two outer
    products of 1-D FFTs (``edges``): no extra 2-D FFT.
    """
    h, w = shape
    a_hat, b_hat = edges
    ky = (k0[0] + xp.arange(-kh[0], kh[0] + 1)) % h
    kx = (k0[1] + xp.arange(-kh[1], kh[1] + 1)) % w
    ey = xp.exp(2j * math.pi * ky / h)
    ex = xp.exp(2j * math.pi * kx / w)
    v_hat = a_hat[kx][None, :] * (1 - ey)[:, None] + b_hat[ky][:, None] * (1 - ex)[None, :]
    den = 2 * xp.cos(2 * math.pi * ky / h)[:, None] + 2 * xp.cos(2 * math.pi * kx / w)[None, :] - 4
    den = xp.where(den == 0, 1.0, den)
    return v_hat / den


def _edge_spectra(xp: ModuleType, img: Any) -> tuple[Any, Any]:
    """1-D FFTs of the boundary jumps (rows: last - first row; cols: last - first col)."""
    fft = get_fft(xp)
    a = (img[-1, :] - img[0, :]).astype(xp.float64)
    b = (img[:, -1] - img[:, 0]).astype(xp.float64)
    return fft.fft(a), fft.fft(b)


def _place(dst: Any, src: Any, kh_y: int, kh_x: int) -> None:
    """``dst[dy % m_y, dx % m_x] = src[dy + kh_y, dx + kh_x]`` for ``|dy| <= kh_y, |dx| <= kh_x``.

    Four slice copies (the window wrapped around the origin of the small FFT array).
    """
    m_y, m_x = dst.shape
    for sy, ty in (
        (slice(kh_y, None), slice(0, kh_y + 1)),
        (slice(0, kh_y), slice(m_y - kh_y, m_y)),
    ):
        for sx, tx in (
            (slice(kh_x, None), slice(0, kh_x + 1)),
            (slice(0, kh_x), slice(m_x - kh_x, m_x)),
        ):
            dst[ty, tx] = src[sy, sx]


def _demodulate(
    xp: ModuleType,
    spec: Any,
    shape: tuple[int, int],
    g_px: np.ndarray,
    sigma_px: float,
    cdtype: Any,
    edges: tuple[Any, Any] | None = None,
    grads: bool = True,
) -> tuple[Any, Any]:
    """Coarse-grid demodulated Bragg images ``h`` and phase gradients (rad/px) for each g.

    Returns ``h`` (n_g, m_y, m_x) complex and ``grad`` (n_g, 2, m_y, m_x) real with
    ``grad[i, 0] = dP_i/dx``, ``grad[i, 1] = dP_i/dy`` relative to ``g_px[i]`` (None
    with ``grads=False``: one inverse FFT per g instead of three).
    """
    fft = get_fft(xp)
    h, w = shape
    kh_y, kh_x, m_y, m_x = lowres_shape(shape, sigma_px)
    n_g = len(g_px)
    dy = xp.arange(-kh_y, kh_y + 1)
    dx = xp.arange(-kh_x, kh_x + 1)
    stack = xp.zeros((n_g, 3 if grads else 1, m_y, m_x), dtype=cdtype)
    ramps = []
    two_pi_i = 2j * math.pi
    scale = (m_y * m_x) / (h * w)  # the inverse FFT's normalisation, on the small window
    for i, (gx, gy) in enumerate(g_px):
        k0 = (int(round(gy * h)), int(round(gx * w)))
        win = _gather_window(xp, spec, shape, k0, (kh_y, kh_x))
        if edges is not None:
            win = win - _smooth_component(xp, edges, shape, k0, (kh_y, kh_x))
        fy = (k0[0] + dy) / h - gy
        fx = (k0[1] + dx) / w - gx
        my_ = xp.exp(-(fy**2) / (2.0 * sigma_px**2)) * scale
        mx_ = xp.exp(-(fx**2) / (2.0 * sigma_px**2))
        sw = (win * (my_[:, None] * mx_[None, :])).astype(cdtype)
        _place(stack[i, 0], sw, kh_y, kh_x)
        if grads:
            _place(stack[i, 1], sw * (two_pi_i * dx / w)[None, :].astype(cdtype), kh_y, kh_x)
            _place(stack[i, 2], sw * (two_pi_i * dy / h)[:, None].astype(cdtype), kh_y, kh_x)
        ramps.append((2 * math.pi * (k0[1] / w - gx), 2 * math.pi * (k0[0] / h - gy)))
    # in place on the CPU (scipy.fft), no second stack of fresh memory; cupy.fft has no such flag
    inplace = {"overwrite_x": True} if xp is np else {}
    out = fft.ifft2(stack, axes=(-2, -1), **fft_workers(xp), **inplace)
    hh = out[:, 0]
    if not grads:
        return hh, None
    re, im = hh.real, hh.imag
    rdtype = re.dtype
    inv = 1 / (re * re + im * im + xp.finfo(rdtype).tiny)  # 1 / |h|^2
    grad = xp.empty((n_g, 2, m_y, m_x), dtype=rdtype)
    for i in range(n_g):
        for c in range(2):  # Im(conj(h) dh) / |h|^2 + ramp, in real arithmetic
            d = out[i, 1 + c]
            grad[i, c] = (re[i] * d.imag - im[i] * d.real) * inv[i] + rdtype.type(ramps[i][c])
    return hh, grad


def _weighted_mean_grad(xp: ModuleType, grad: Any, weight: Any) -> np.ndarray:
    """Weighted mean phase gradient (n_g, 2) over the reference (weights |h|^2 there)."""
    wsum = weight.sum(axis=(-2, -1))
    num = (grad * weight[:, None]).sum(axis=(-2, -1))
    return (
        np.asarray(_to_host(num), dtype=np.float64)
        / np.asarray(_to_host(wsum), dtype=np.float64)[:, None]
    )


def _to_host(x: Any) -> np.ndarray:
    return x.get() if hasattr(x, "get") else np.asarray(x)


def _small_positions(n_full: int, m: int) -> np.ndarray:
    """Nearest full-res pixel index of each coarse sample."""
    return np.minimum(np.round(np.arange(m) * n_full / m).astype(int), n_full - 1)


def _ref_on_grid(xp: ModuleType, ref_mask: np.ndarray, m_y: int, m_x: int) -> Any:
    """Sample the reference mask (full-res bool, host) on the coarse grid."""
    h, w = ref_mask.shape
    rows, cols = _small_positions(h, m_y), _small_positions(w, m_x)
    small = ref_mask[rows[:, None], cols[None, :]]
    if not small.any():  # reference smaller than the coarse spacing: nearest sample
        ry, rx = np.nonzero(ref_mask)
        j = int(np.argmin(np.abs(rows - ry.mean())))
        i = int(np.argmin(np.abs(cols - rx.mean())))
        small[j, i] = True
    return xp.asarray(small)


def _without_border(ref_mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Drop a band of 3.5 kernel sigmas along the image border from the reference.

    The maps there feel the image edge (errors > 1e-4 out to ~3 sigma); the band is kept
    when nothing else would be left.
    """
    b = int(math.ceil(3.5 / (2 * math.pi * sigma_px)))
    h, w = ref_mask.shape
    if 2 * b >= min(h, w) - 4:
        return ref_mask
    inner = np.zeros_like(ref_mask)
    inner[b : h - b, b : w - b] = ref_mask[b : h - b, b : w - b]
    return inner if inner.sum() >= 4 else ref_mask


def _refine_pass(
    xp,
    spec,
    shape,
    g_px,
    sigma_px,
    ref_small,
    amp_frac,
    cdtype,
    edges,
    refine=True,
):
    """Demodulate at ``g_px``, move the reference's mean phase gradient into g."""
    hh, grad = _demodulate(xp, spec, shape, g_px, sigma_px, cdtype, edges)
    amp = xp.abs(hh)
    ref_amp = [float(_to_host(xp.median(amp[i][ref_small]))) for i in range(len(g_px))]
    top = [float(_to_host(xp.percentile(amp[i], 90))) for i in range(len(g_px))]
    if any(r < amp_frac * t for r, t in zip(ref_amp, top, strict=True)):
        return None  # the reference has (almost) no Bragg signal: vacuum, amorphous
    thr = xp.asarray(np.asarray(ref_amp, dtype=amp.dtype)[:, None, None] * amp_frac)
    good = ref_small[None] & (amp >= thr)
    weight = xp.where(good, amp * amp, 0).astype(amp.dtype)
    if not bool(_to_host(good.all(axis=0).any())):
        return None
    mean = _weighted_mean_grad(xp, grad, weight)
    if not refine:
        return hh, grad, amp, np.asarray(ref_amp), g_px
    g_new = g_px + mean / (2 * math.pi)
    grad -= xp.asarray(mean.astype(grad.dtype))[:, :, None, None]
    return hh, grad, amp, np.asarray(ref_amp), g_new


def _distortion(xp: ModuleType, grad: Any, g_px: np.ndarray, amp: Any) -> list:
    """Deformed-frame distortion ``D_E = -(1/2 pi) G^+ grad P`` (2 x 2 nested list of maps).

    Two g: the exact inverse. More g: per-pixel least squares weighted by |H_g|^2 (the
    inverse variance of the phase), so weak high-order reflections count less.
    """
    c = -1.0 / (2 * math.pi)
    g = np.asarray(g_px, dtype=np.float64)
    if len(g) == 2 or amp is None:
        ginv = np.linalg.pinv(g)  # (2, n_g)
        d = [[None, None], [None, None]]
        for a in range(2):
            for b in range(2):
                acc = 0
                for i in range(len(g)):
                    acc = acc + grad[i, b] * grad.dtype.type(c * ginv[a, i])
                d[a][b] = acc
        return d
    t = grad.dtype.type
    w = amp.astype(grad.dtype) ** 2
    w = w / (w.mean(axis=(-2, -1), keepdims=True) + xp.finfo(grad.dtype).tiny)
    m00 = sum(w[i] * t(g[i, 0] ** 2) for i in range(len(g)))
    m01 = sum(w[i] * t(g[i, 0] * g[i, 1]) for i in range(len(g)))
    m11 = sum(w[i] * t(g[i, 1] ** 2) for i in range(len(g)))
    inv = t(c) / (m00 * m11 - m01 * m01)
    d = [[None, None], [None, None]]
    for b in range(2):
        r0 = sum(w[i] * grad[i, b] * t(g[i, 0]) for i in range(len(g)))
        r1 = sum(w[i] * grad[i, b] * t(g[i, 1]) for i in range(len(g)))
        d[0][b] = (m11 * r0 - m01 * r1) * inv
        d[1][b] = (m00 * r1 - m01 * r0) * inv
    return d


def _lagrangian(
    xp: ModuleType, grad: Any, g_px: np.ndarray, amp: Any = None
) -> tuple[Any, Any, Any, Any]:
    """Lagrangian displacement gradient L = D_E (I - D_E)^-1 from phase gradients."""
    d = _distortion(xp, grad, g_px, amp)
    return lagrangian_from_eulerian(d[0][0], d[0][1], d[1][0], d[1][1])


def _keys_weights(xp: ModuleType, f: Any) -> list:
    """Keys cubic (a = -0.5) weights of the taps at -1, 0, 1, 2 for fractions ``f``."""
    f2, f3 = f * f, f * f * f
    return [
        -0.5 * f3 + f2 - 0.5 * f,
        1.5 * f3 - 2.5 * f2 + 1,
        -1.5 * f3 + 2 * f2 + 0.5 * f,
        0.5 * f3 - 0.5 * f2,
    ]


def _taps(m: int, n_out: int, dtype: Any) -> tuple[np.ndarray, list]:
    """First tap index (i0 - 1) and the 4 Keys weights of each output sample (periodic)."""
    pos = np.arange(n_out) * (m / n_out)
    i0 = np.floor(pos).astype(np.int64)
    return i0 - 1, _keys_weights(np, (pos - i0).astype(dtype))


def _plan(m: int, n_out: int, block: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Blocked cubic-resampling plan: coarse indices (nb, k) and weights (nb, block, k).

    Output samples are cut into ``nb`` blocks of ``block``; block b needs only the ``k``
    coarse samples ``idx[b]`` under it, with dense weights ``w[b]`` (zero rows pad the
    last block). Resampling is then one small matrix product per block.
    """
    first, wts = _taps(m, n_out, dtype)
    nb = -(-n_out // block)
    pad = nb * block - n_out
    first = np.concatenate([first, np.full(pad, first[-1])])
    wts = [np.concatenate([wt, np.zeros(pad, dtype=dtype)]) for wt in wts]
    starts = first[::block]
    k = int(np.max(first.reshape(nb, block)[:, -1] - starts)) + 4
    idx = (starts[:, None] + np.arange(k)[None, :]) % m
    wmat = np.zeros((nb, block, k), dtype=dtype)
    rel = first.reshape(nb, block) - starts[:, None]
    bb, rr = np.meshgrid(np.arange(nb), np.arange(block), indexing="ij")
    for t in range(4):
        wmat[bb, rr, rel + t] = wts[t].reshape(nb, block)
    return idx, wmat


def _band(xp: ModuleType, a: Any, first: int, k: int, axis: int) -> Any:
    """Return the ``k`` consecutive (periodic) samples of ``a`` from ``first`` on ``axis``."""
    m = a.shape[axis]
    if 0 <= first and first + k <= m:
        return a[first : first + k] if axis == 0 else a[:, first : first + k]
    return xp.take(a, xp.asarray((first + np.arange(k)) % m), axis=axis)


def _upsample_last(xp: ModuleType, a: Any, n_out: int, block: int = _COL_BLOCK) -> Any:
    """Periodic Keys-cubic resampling of the last axis of a 2-D ``a`` (finite) to ``n_out``.

    One small matrix product per block of ``block`` output columns: the (rows x k)
    coarse band under the block times its (k x block) weights.
    """
    m_y, m = a.shape
    if m == n_out:
        return a
    idx, wmat = _plan(m, n_out, block, np.dtype(a.dtype))
    nb, k = idx.shape
    w_t = xp.asarray(np.ascontiguousarray(wmat.transpose(0, 2, 1)))
    out = xp.empty((m_y, nb * block), dtype=a.dtype)
    for b in range(nb):  # assigned, not out=: the column block is a strided view
        out[:, b * block : (b + 1) * block] = xp.matmul(_band(xp, a, int(idx[b, 0]), k, 1), w_t[b])
    return out[:, :n_out]


def _stencil_ok(xp: ModuleType, valid: Any) -> Any:
    """Coarse mask: True at i where all 4 x 4 samples of the cubic stencil (i-1..i+2) are valid."""
    ok = valid
    for axis in (0, 1):
        acc = ok
        for t in (-1, 1, 2):
            acc = acc & xp.roll(ok, -t, axis=axis)
        ok = acc
    return ok


def _full_mask(
    xp: ModuleType, valid: Any, shape: tuple[int, int], border: int, at: tuple | None = None
) -> Any:
    """Full-size validity mask (bool (H, W)).

    True where the cubic stencil's coarse samples are all valid and the pixel is not
    within ``border`` px of the image edge: one gather from the coarse stencil mask
    padded by a False row and column, which the border pixels index. ``at`` = (rows,
    cols) pixel indices: only those pixels (their outer product grid).
    """
    m_y, m_x = valid.shape
    ok = xp.zeros((m_y + 1, m_x + 1), dtype=bool)
    ok[:m_y, :m_x] = _stencil_ok(xp, valid)
    fy, _ = _taps(m_y, shape[0], np.float32)
    fx, _ = _taps(m_x, shape[1], np.float32)
    rows, cols = (fy + 1) % m_y, (fx + 1) % m_x
    if border > 0:
        rows[:border] = rows[-border:] = m_y
        cols[:border] = cols[-border:] = m_x
    if at is not None:
        rows, cols = rows[at[0]], cols[at[1]]
    return xp.take(xp.take(ok, xp.asarray(rows), axis=0), xp.asarray(cols), axis=1)


def upsample(
    xp: ModuleType,
    a: Any,
    shape: tuple[int, int],
    mask: Any = None,
    block: int | None = None,
    out: Any = None,
) -> Any:
    """Coarse map(s) (n, m_y, m_x) to full size by periodic Keys cubic.

    Values must be finite. Per map: columns first (small), then the output rows in
    blocks of ``block``, each a small dense weight matrix times the few coarse rows
    under it: one BLAS / cuBLAS product per block, written in place, so the block is
    still in cache when its NaN are set. ``mask`` (bool (H, W), optional) sets NaN
    where False. Returns one (H, W) array for a 2-D input, else a list of n maps
    (views of ``out`` (n, H, W) when given).
    """
    block = block or _BLOCK
    squeeze = a.ndim == 2
    a = a[None] if squeeze else a
    n, m_y, _ = a.shape
    h, w = shape
    dtype = np.dtype(a.dtype)
    idx, wmat = _plan(m_y, h, block, dtype)
    nb, k = idx.shape
    w_d = xp.asarray(wmat)
    nan = dtype.type(np.nan)
    outs = []
    for i in range(n):  # one map at a time: intermediates are small and reused
        cols = _upsample_last(xp, xp.ascontiguousarray(a[i]), w)  # (m_y, W)
        res = xp.empty((h, w), dtype=dtype) if out is None else out[i]
        for b in range(nb):
            s, e = b * block, min(h, (b + 1) * block)
            if m_y == h:
                res[s:e] = cols[s:e]
            elif e - s == block:
                xp.matmul(w_d[b], _band(xp, cols, int(idx[b, 0]), k, 0), out=res[s:e])
            else:
                res[s:e] = xp.matmul(w_d[b, : e - s], _band(xp, cols, int(idx[b, 0]), k, 0))
            if mask is not None:
                xp.copyto(res[s:e], nan, where=~mask[s:e])
        outs.append(res)
    return outs[0] if squeeze else outs


def _phasor(
    xp: ModuleType, h: Any, shape: tuple[int, int], g_in: np.ndarray, g_ref: np.ndarray
) -> Any:
    """Return the unit phasor exp(i P_g) on the coarse grid, P_g = arg(H_g) - 2 pi g_ref . r."""
    m_y, m_x = h.shape
    k0y, k0x = round(g_in[1] * shape[0]), round(g_in[0] * shape[1])
    ry = np.arange(m_y) * (shape[0] / m_y)
    rx = np.arange(m_x) * (shape[1] / m_x)
    ramp_y = np.exp(2j * np.pi * (k0y / shape[0] - g_ref[1]) * ry)
    ramp_x = np.exp(2j * np.pi * (k0x / shape[1] - g_ref[0]) * rx)
    ramp = xp.asarray((ramp_y[:, None] * ramp_x[None, :]).astype(h.dtype))
    return h / (xp.abs(h) + xp.finfo(h.real.dtype).tiny) * ramp


#: order of the 8 strain maps in the coarse stacks
MAP_NAMES = ("exx", "eyy", "exy", "rotation", "dilatation", "e_tt", "e_nn", "e_nt")


class Spectrum(NamedTuple):
    """Half spectrum of the image (DC removed) and the 1-D edge spectra of its border."""

    spec: Any
    edges: tuple[Any, Any]
    shape: tuple[int, int]
    rdtype: Any
    cdtype: Any

    def demodulate(
        self, xp: ModuleType, g_px: np.ndarray, sigma_px: float, grads: bool = True
    ) -> tuple[Any, Any]:
        """:func:`_demodulate` on this spectrum."""
        return _demodulate(
            xp, self.spec, self.shape, g_px, sigma_px, self.cdtype, self.edges, grads
        )


def prepare(xp: ModuleType, image: Any, dtype: Any = np.float32) -> Spectrum:
    """One real FFT of the image (the only full-size FFT of GPA)."""
    rdtype = np.dtype(dtype)
    cdtype = np.result_type(rdtype, np.complex64)
    fft = get_fft(xp)
    img = xp.asarray(image, dtype=rdtype)  # no copy when already rdtype on the device
    spec = fft.rfft2(img, **fft_workers(xp))
    spec[0, 0] = 0  # = subtracting the mean, without a full-size temporary
    edges = _edge_spectra(xp, img)
    return Spectrum(spec, edges, tuple(int(v) for v in image.shape), rdtype, cdtype)


def reference_grid(xp: ModuleType, ref_mask: np.ndarray, sigma_px: float) -> Any:
    """Full-size reference mask (host bool) on the coarse grid, border band dropped."""
    _, _, m_y, m_x = lowres_shape(ref_mask.shape, sigma_px)
    return _ref_on_grid(xp, _without_border(ref_mask, sigma_px), m_y, m_x)


def reference_pass(
    xp: ModuleType,
    sp: Spectrum,
    g_px: np.ndarray,
    sigma_px: float,
    ref_small: Any,
    *,
    amp_frac: float = 0.3,
    refine: bool = True,
) -> dict | None:
    """Demodulate and refine g on the reference (2 passes); None if it has no lattice.

    Returns ``hh`` (n_g, m_y, m_x), ``grad`` (relative to ``g_ref``), ``amp``, ``ref_amp``
    (median amplitude per g in the reference), ``g_ref`` and ``g_in`` (the mask centres).
    """
    g_cur = np.asarray(g_px, dtype=np.float64)
    g_in, res = g_cur, None
    for _ in range(2 if refine else 1):
        g_in = g_cur
        res = _refine_pass(
            xp, sp.spec, sp.shape, g_in, sigma_px, ref_small, amp_frac, sp.cdtype, sp.edges, refine
        )
        if res is None:
            return None
        g_cur = res[4]
    hh, grad, amp, ref_amp, g_ref = res
    return {"hh": hh, "grad": grad, "amp": amp, "ref_amp": ref_amp, "g_ref": g_ref, "g_in": g_in}


def coarse_strain(xp: ModuleType, grad: Any, g_ref: np.ndarray, amp: Any, nvec: np.ndarray) -> Any:
    """Compute the 8 strain maps (MAP_NAMES order) on the coarse grid (finite rotations)."""
    comp = strain_from_gradient(*_lagrangian(xp, grad, g_ref, amp), normal=nvec)
    return xp.stack([comp[k] for k in MAP_NAMES])


def map_plan(
    xp: ModuleType,
    coarse: Any,
    valid: Any,
    shape: tuple[int, int],
    sigma_px: float,
    rdtype: Any,
    d_near: float | None = None,
) -> tuple[Any, Any]:
    """Coarse maps ready to upsample (0 where invalid) and the full-size validity mask.

    The mask is False where the cubic stencil touches an invalid coarse sample and
    within :func:`border_width` of the image border; ``upsample(xp, c, shape, mask)`` of a
    returned map ``c`` is that map at image size.
    """
    coarse = xp.where(valid[None], coarse, 0).astype(rdtype)
    return coarse, _full_mask(xp, valid, shape, border_width(shape, sigma_px, d_near))


def edge_sigmas(sigma_px: float, d_near: float | None = None, base: float | None = None) -> float:
    """Kernel sigmas of the border band: ``_EDGE_SIGMAS``, wider for masks finer than the default.

    The edge bias at ``x`` kernel sigmas from the border scales as the Gaussian
    ``exp(-x^2 / 2)`` times ``sigma_g / d_near`` (``d_near``: nearest reciprocal-lattice
    distance of the g, cycles/px; measured on the generator, docs/notes/gpa.md session 4),
    so a mask finer than ``d_near / SIGMA_DIVISOR`` keeps the default's bias at the band's
    edge with ``N^2 = _EDGE_SIGMAS^2 + 2 ln(SIGMA_DIVISOR sigma_g / d_near)``. Coarser masks
    keep ``_EDGE_SIGMAS`` (not measured to allow less). ``base``: another bias level's
    sigmas at the default mask (``_BIAS_SIGMAS``: 1e-3).
    """
    n0 = _EDGE_SIGMAS if base is None else base
    ratio = SIGMA_DIVISOR * sigma_px / d_near if d_near else 1.0
    return math.sqrt(n0**2 + 2 * math.log(ratio)) if ratio > 1 else n0


def border_width(shape: tuple[int, int], sigma_px: float, d_near: float | None = None) -> int:
    """Width (px) of the NaN band along the image border (:func:`edge_sigmas` kernel sigmas).

    0 when that band would reach a quarter of the shorter side (then the maps run to the
    edge, biased there; :func:`stemstrain.gpa.gpa` warns).
    """
    border = int(round(edge_sigmas(sigma_px, d_near) / (2 * math.pi * sigma_px)))
    return border if 0 < border < min(shape) // 4 else 0


def gpa_arrays(
    xp: ModuleType,
    image: Any,
    g_px: np.ndarray,
    sigma_px: float,
    ref_mask: np.ndarray,
    *,
    normal_index: int = 0,
    amp_frac: float = 0.3,
    dtype: Any = np.float32,
    phases: bool = False,
    refine: bool = True,
) -> dict:
    """Run plain (non-adaptive, single-grain) GPA on ``xp``; device arrays and refined g.

    Parameters
    ----------
    xp : module
        numpy or cupy.
    image : array (H, W)
        Image on the host or the device.
    g_px : ndarray (n_g, 2)
        Initial g-vectors, rows (gx, gy) in cycles/px.
    sigma_px : float
        Gaussian mask sigma in cycles/px.
    ref_mask : ndarray of bool (H, W), host
        Reference region.
    normal_index : int
        Which g is the layer normal (003).
    amp_frac : float
        Pixels whose Bragg amplitude is below ``amp_frac`` times the reference median
        (for any g) are NaN.
    dtype : dtype
        float32 (complex64 FFTs) or float64.
    phases : bool
        Also return full-size wrapped phases (n_g, H, W).
    refine : bool
        Refine g on the reference (else g is the reference lattice as given).

    Returns
    -------
    dict
        Device arrays ``exx, eyy, exy, rotation, dilatation, e_nn, e_tt, e_nt, amplitude``
        (and ``phases``), host ``g_px`` (refined), ``normal``, ``phasor_lowres``
        (n_g, m_y, m_x unit phasors of P_g) and ``lowres_step`` (px per coarse sample);
        ``{"error": "reference"}`` when the reference has no lattice.
    """
    sp = prepare(xp, image, dtype)
    shape = sp.shape
    _, _, m_y, m_x = lowres_shape(shape, sigma_px)
    res = reference_pass(
        xp,
        sp,
        g_px,
        sigma_px,
        reference_grid(xp, ref_mask, sigma_px),
        amp_frac=amp_frac,
        refine=refine,
    )
    del sp
    if res is None:
        return {"error": "reference"}
    amp, g_ref = res["amp"], res["g_ref"]
    thr = xp.asarray((res["ref_amp"] * amp_frac).astype(amp.dtype))[:, None, None]
    valid = (amp >= thr).all(axis=0)
    nvec = layer_normal(g_ref[normal_index])
    coarse, mask = map_plan(
        xp, coarse_strain(xp, res["grad"], g_ref, amp, nvec), valid, shape, sigma_px, dtype
    )
    full = xp.empty((len(coarse),) + tuple(shape), dtype=np.dtype(dtype))  # one block
    out = dict(zip(MAP_NAMES, upsample(xp, coarse, shape, mask, out=full), strict=True))
    out.update(
        finish_extras(xp, res["hh"], amp, res["g_in"], g_ref, shape, np.dtype(dtype), phases)
    )
    out.update({"g_px": g_ref, "normal": nvec, "valid_lowres": valid})
    return out


def finish_extras(
    xp: ModuleType,
    hh: Any,
    amp: Any,
    g_in: np.ndarray,
    g_ref: np.ndarray,
    shape: tuple[int, int],
    rdtype: Any,
    phases: bool,
    phasor: Any = None,
    amplitude: bool = True,
) -> dict:
    """Full-size amplitudes, coarse unit phasors of P_g (and full-size phases).

    ``amplitude=False``: no full-size amplitudes (see :func:`full_amplitude`).
    """
    m_y, m_x = amp.shape[-2:]
    if phasor is None:
        phasor = xp.stack([_phasor(xp, hh[i], shape, g_in[i], g_ref[i]) for i in range(len(g_ref))])
    out = {"phasor_lowres": phasor, "lowres_step": (shape[0] / m_y, shape[1] / m_x)}
    if amplitude:
        out["amplitude"] = full_amplitude(xp, amp, shape, rdtype)
    if phases:
        pz = out["phasor_lowres"]
        re = upsample(xp, xp.ascontiguousarray(pz.real).astype(rdtype), shape)
        im = upsample(xp, xp.ascontiguousarray(pz.imag).astype(rdtype), shape)
        out["phases"] = xp.stack([xp.arctan2(i_, r_) for r_, i_ in zip(re, im, strict=True)])
    return out


def full_amplitude(xp: ModuleType, amp: Any, shape: tuple[int, int], rdtype: Any) -> Any:
    """Bragg amplitudes (n_g, m_y, m_x) upsampled to (n_g, H, W)."""
    amp_full = xp.empty((len(amp),) + tuple(shape), dtype=rdtype)
    upsample(xp, amp.astype(rdtype), shape, out=amp_full)
    return amp_full
