"""Per-pixel precision of GPA: image noise -> phase-gradient noise -> sigma of every map.

For white (spatially uncorrelated) noise of variance ``s^2`` per pixel, the Gaussian
mask ``M(k) = exp(-|k - g|^2 / 2 sigma_g^2)`` (``sigma_g`` in cycles/px) passes a
complex noise of variance ``s^2 pi sigma_g^2`` into ``h = H_g``, and its derivative a
noise of variance ``s^2 (2 pi)^2 pi sigma_g^2 sigma_g^2 / 2`` per axis. The phase
gradient ``Im(h* grad h)/|h|^2`` keeps the half of it perpendicular to ``h``:

    Var(dP_g/dx) = Var(dP_g/dy) = pi^3 s^2 sigma_g^4 / |h_g|^2      (rad^2/px^2),

the x and y derivatives and different g (non-overlapping masks) being independent.
With ``D_E = -(1/2 pi) G^+ grad P`` the covariance of ``(D_0b, D_1b)`` is, for both b,
``A = (1/4 pi^2) (sum_g g g^T / Var_g)^-1`` (the inverse-variance least squares; the
exact inverse for two g), and to first order

    sigma(exx)^2 = A00, sigma(eyy)^2 = A11, sigma(exy)^2 = sigma(rotation)^2 = tr A / 4,
    sigma(dilatation)^2 = tr A, sigma(e_nn)^2 = n.A.n, sigma(e_tt)^2 = t.A.t,
    sigma(e_nt)^2 = tr A / 4.

Noise estimate (``noise=None``): the median of ``|F(k)|^2`` over the high-frequency
corners of the spectrum (``max(|kx|, |ky|) >= 0.375`` cycles/px, away from every
lattice point), ``s^2 = median / (N ln 2)`` (``|F|^2`` of white noise is exponential).
It assumes white noise (Poisson + read noise are; a detector or scan that blurs the
image lowers the high-frequency noise and so the estimate).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import asnumpy, get_ndimage
from ..errors import StemstrainError
from ._core import MAP_NAMES, Spectrum, _phasor, lowres_shape

__all__ = ["estimate_noise_variance", "noise_variance_grid", "coarse_sigma", "poisson_factor"]

_HF = 0.375  # cycles/px: start of the high-frequency corners used for the noise estimate


def estimate_noise_variance(
    xp: ModuleType, sp: Spectrum, g_px: np.ndarray, sigma_px: float
) -> float:
    """White-noise variance per pixel from the high-frequency power (see module notes)."""
    h, w = sp.shape
    step = max(1, int(math.sqrt(h * w) // 256))  # ~ 256 x 128 samples suffice for a median
    ky = np.fft.fftfreq(h)[::step]
    kx = np.fft.rfftfreq(w)[::step]
    far = np.maximum(np.abs(ky)[:, None], np.abs(kx)[None, :]) >= _HF
    g = np.asarray(g_px, dtype=float)
    idx = np.arange(-8, 9)
    pts = (idx[:, None, None] * g[0] + idx[None, :, None] * g[1]).reshape(-1, 2)
    pts = pts[np.hypot(*pts.T) < 0.75]
    rad = 5.0 * sigma_px
    for px_, py_ in pts:  # lattice points (aliased into the half spectrum)
        dyy = (ky[:, None] - py_ + 0.5) % 1.0 - 0.5
        dxx = (kx[None, :] - px_ + 0.5) % 1.0 - 0.5
        far &= dyy**2 + dxx**2 > rad**2
        dyy = (ky[:, None] + py_ + 0.5) % 1.0 - 0.5
        dxx = (kx[None, :] + px_ + 0.5) % 1.0 - 0.5
        far &= dyy**2 + dxx**2 > rad**2
    if far.sum() < 100:
        return float("nan")
    sub = sp.spec[::step, ::step]
    power = (sub.real**2 + sub.imag**2)[xp.asarray(far)]
    med = float(asnumpy(xp.median(power)))
    return med / (h * w * math.log(2.0))


def noise_variance_grid(
    xp: ModuleType,
    noise: Any,
    image: Any,
    sp: Spectrum,
    g_px: np.ndarray,
    sigma_px: float,
) -> tuple[Any, str]:
    """Noise variance per pixel on the coarse grid (scalar or (m_y, m_x)) and its source.

    ``noise``: None (estimated), a float (sigma per pixel, image units), an (H, W) array
    of sigma per pixel, or ``{"gain": g, "read": r}`` (``sigma^2 = image/g + r^2``,
    ``g`` in counts per image unit).
    """
    if noise is None:
        return estimate_noise_variance(xp, sp, g_px, sigma_px), "estimated (white)"

    if isinstance(noise, dict):
        try:
            gain, read = float(noise["gain"]), float(noise.get("read", 0.0))
        except (KeyError, TypeError, ValueError):
            raise StemstrainError(
                f"noise dict must be {{'gain': counts per image unit, 'read': sigma}}, "
                f"got {noise!r}"
            ) from None
        if not gain > 0 or read < 0:
            raise StemstrainError(f"noise gain must be > 0 and read >= 0, got {noise!r}")
        var = xp.maximum(xp.asarray(image, dtype=sp.rdtype), 0) / gain + read**2
        return _to_grid(xp, var, sp.shape, sigma_px), "poisson+read"
    if isinstance(noise, (int, float, np.integer, np.floating)) and not isinstance(noise, bool):
        if not float(noise) >= 0:
            raise StemstrainError(f"noise sigma must be >= 0, got {noise!r}")
        return float(noise) ** 2, "given (white)"
    arr = getattr(noise, "shape", None)
    if arr is not None and tuple(arr) == tuple(sp.shape):
        var = xp.asarray(noise, dtype=sp.rdtype) ** 2
        return _to_grid(xp, var, sp.shape, sigma_px), "given (map)"
    if isinstance(noise, str) or arr is not None:
        raise StemstrainError(
            f"noise must be None, a sigma (float), an image-shaped sigma map or "
            f"{{'gain': g, 'read': r}}, got {type(noise).__name__} "
            f"{getattr(noise, 'shape', noise)!r}"
        )
    raise TypeError(f"noise must be None, a float, an array or a dict, got {type(noise).__name__}")


def _to_grid(xp: ModuleType, var: Any, shape: tuple[int, int], sigma_px: float) -> Any:
    """Local average of a variance map under |kernel|^2, sampled on the coarse grid."""
    ndi = get_ndimage(xp)
    _, _, m_y, m_x = lowres_shape(shape, sigma_px)
    smooth = ndi.gaussian_filter(
        var, 1.0 / (2 * math.pi * sigma_px * math.sqrt(2.0)), mode="nearest"
    )
    rows = np.minimum(np.round(np.arange(m_y) * shape[0] / m_y).astype(int), shape[0] - 1)
    cols = np.minimum(np.round(np.arange(m_x) * shape[1] / m_x).astype(int), shape[1] - 1)
    return smooth[xp.asarray(rows)[:, None], xp.asarray(cols)[None, :]]


def poisson_factor(
    xp: ModuleType,
    sp: Spectrum,
    g_ref: np.ndarray,
    sigma_px: float,
    phasor: Any,
    mean_intensity: float,
    poisson_fraction: float,
) -> list:
    """Per-g factor of the phase-noise variance for Poisson noise (lattice-modulated variance).

    Poisson variance follows the intensity, so it has the lattice's own harmonics; its
    ``2g`` component correlates the real and imaginary noise of ``H_g`` and

        Var(phase) = (W s0 / 2 |H_g|^2) (1 - p Re(I_2g conj(I_g)^2 / |I_g|^2) / I_0),

    with ``p`` the Poisson fraction of the variance and ``I_0`` the mean intensity; the
    ``2g`` Bragg image is demodulated here (one small inverse FFT per g).
    """
    if not poisson_fraction > 0 or not mean_intensity > 0:
        return [1.0] * len(g_ref)
    g2 = 2 * np.asarray(g_ref, dtype=np.float64)
    fac = []
    inside = np.hypot(g2[:, 0], g2[:, 1]) < 0.45
    h2, _ = sp.demodulate(xp, g2, sigma_px, grads=False)
    for i in range(len(g2)):
        if not inside[i]:
            fac.append(1.0)
            continue
        ph2 = _phasor(xp, h2[i], sp.shape, g2[i], g2[i])
        term = xp.abs(h2[i]) * (ph2 * xp.conj(phasor[i]) ** 2).real
        fac.append(xp.clip(1 - poisson_fraction * term / mean_intensity, 0.2, 2.0))
    return fac


def coarse_sigma(
    xp: ModuleType,
    amp: Any,
    g_ref: np.ndarray,
    s2: Any,
    sigma_px: float,
    nvec: np.ndarray,
    factor: list | None = None,
) -> Any:
    """1-sigma maps of the 8 strain maps (MAP_NAMES order) on the coarse grid."""
    g = np.asarray(g_ref, dtype=np.float64)
    if np.isscalar(s2) and not s2 > 0:  # noise-free (0) or unknown (NaN)
        fill = 0.0 if s2 == 0 else np.nan
        return xp.full((len(MAP_NAMES),) + tuple(amp.shape[-2:]), fill, dtype=amp.dtype)
    a2 = amp.astype(np.float64) ** 2
    c = math.pi**3 * sigma_px**4
    var_px = xp.maximum(xp.asarray(s2, dtype=np.float64) * c, 1e-300)
    factor = factor or [1.0] * len(g)
    inv_var = [a2[i] / (var_px * factor[i]) for i in range(len(g))]  # 1 / Var(dP_i/db)
    m00 = sum(inv_var[i] * float(g[i, 0] ** 2) for i in range(len(g)))
    m01 = sum(inv_var[i] * float(g[i, 0] * g[i, 1]) for i in range(len(g)))
    m11 = sum(inv_var[i] * float(g[i, 1] ** 2) for i in range(len(g)))
    det = m00 * m11 - m01 * m01
    det = xp.where(det > 0, det, np.nan)
    k = 1.0 / (4 * math.pi**2)
    a00, a11, a01 = k * m11 / det, k * m00 / det, -k * m01 / det
    tr = a00 + a11
    n = np.asarray(nvec, dtype=float)
    t = np.array([n[1], -n[0]])
    nan_ = n[0] ** 2 * a00 + 2 * n[0] * n[1] * a01 + n[1] ** 2 * a11
    tat = t[0] ** 2 * a00 + 2 * t[0] * t[1] * a01 + t[1] ** 2 * a11
    var = {
        "exx": a00,
        "eyy": a11,
        "exy": tr / 4,
        "rotation": tr / 4,
        "dilatation": tr,
        "e_tt": tat,
        "e_nn": nan_,
        "e_nt": tr / 4,
    }
    return xp.stack([xp.sqrt(xp.maximum(var[k_], 0)) for k_ in MAP_NAMES]).astype(amp.dtype)
