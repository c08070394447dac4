"""Local Fourier amplitudes of a lattice image (lock-in on a coarse grid) and the layer frame.

Lock-in: for a reciprocal vector ``g`` (cycles/px) the image is demodulated and low-pass
filtered with a Gaussian of width ``sigma_k`` (cycles/px), which is the same as taking the
image FFT, multiplying it by a Gaussian centred on ``g`` and transforming back. Only a
small crop of the spectrum around ``g`` is nonzero, so the inverse FFT is done on that
crop alone: the output lives on a coarse grid (stride ``H / crop`` px) and every lock-in
costs one small FFT. Amplitudes are in image units (a cosine of amplitude ``A`` at ``g``
reads ``A / 2`` at ``+g``).

Frame: the layer normal ``g_n`` (1 / layer spacing) is the lowest-frequency strong peak of
the power spectrum; the in-plane row frequency ``g_t`` is searched along the
perpendicular, at the positions where layered-type lattices have their reflections
(``h_n`` in thirds of ``g_n``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..errors import NoLatticeError


@dataclass(frozen=True)
class Frame:
    """Global lattice frame of an image (px units).

    Attributes
    ----------
    g_n : ndarray (2,)
        Layer-normal reciprocal vector (gx, gy) in cycles/px, ``|g_n| = 1 / spacing``.
    g_t : float
        In-plane row frequency (cycles/px) along ``t`` (``t = (n_y, -n_x)``).
    ratio : float
        ``g_t / |g_n|`` (1.92 for zone family "A" of LiCoO2, 3.33 for "B").
    strength : float
        Peak-to-median power ratio of ``g_n``.
    """

    g_n: np.ndarray
    g_t: float
    ratio: float
    strength: float

    @property
    def n_hat(self) -> np.ndarray:
        """Unit layer normal (x, y)."""
        return self.g_n / np.linalg.norm(self.g_n)

    @property
    def t_hat(self) -> np.ndarray:
        """Unit in-plane direction (x, y)."""
        n = self.n_hat
        return np.array([n[1], -n[0]])

    @property
    def spacing_px(self) -> float:
        """Layer spacing (px)."""
        return 1.0 / float(np.linalg.norm(self.g_n))


@dataclass(frozen=True)
class Prepared:
    """The image's FFT (padded to a multiple of the stride) and its smoothed power spectrum."""

    fft: np.ndarray  # fft2 of the mean-subtracted image, zero-padded to multiples of PAD
    shape: tuple[int, int]  # the image's own shape
    noise: float  # white-noise power per bin (median at |k| > 0.4)
    power: np.ndarray  # fftshift-ed power of the Hann-windowed image, smoothed 1 bin
    kx: np.ndarray  # cycles/px of the power's columns
    ky: np.ndarray  # cycles/px of the power's rows

    def grid(self, stride: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Coarse grid shape for ``stride`` (a divisor of PAD) and the image's extent on it."""
        hp, wp = self.fft.shape
        h, w = self.shape
        return (hp // stride, wp // stride), (-(-h // stride), -(-w // stride))


PAD = 48
_STRIDES = (1, 2, 3, 4, 6, 8, 12, 16, 24)  # divisors of PAD


def pick_stride(sigma_px: float) -> int:
    """Largest divisor of PAD <= sigma / 2: coarse samples every stride px."""
    return max(s for s in _STRIDES if s <= max(sigma_px / 2, 1))


def prepare(image: np.ndarray) -> Prepared:
    """FFT once: lock-in spectrum, noise level and the (Hann-windowed) power spectrum.

    The window is applied in Fourier space (multiplying by a Hann window is a 3-tap
    convolution of the spectrum, ``[-1/4, 1/2, -1/4]`` along each axis).
    """
    from scipy import fft as sfft

    h, w = image.shape
    hp, wp = -(-h // PAD) * PAD, -(-w // PAD) * PAD
    img = np.zeros((hp, wp), dtype=np.float32)
    img[:h, :w] = image - float(np.mean(image))
    f = sfft.fft2(img, workers=-1)
    fw = 0.5 * f - 0.25 * (np.roll(f, 1, 0) + np.roll(f, -1, 0))
    fw = 0.5 * fw - 0.25 * (np.roll(fw, 1, 1) + np.roll(fw, -1, 1))
    p = ndi.gaussian_filter(np.fft.fftshift(np.abs(fw) ** 2), 1.0)
    ky = (np.arange(hp) - hp // 2) / hp
    kx = (np.arange(wp) - wp // 2) / wp
    kk = np.hypot(kx[None, :], ky[:, None])
    high = np.fft.fftshift(kk) > 0.4
    noise = float(np.median(np.abs(f[high]) ** 2)) if high.any() else 0.0
    return Prepared(fft=f, shape=(h, w), noise=noise, power=p, kx=kx, ky=ky)


def spectrum_peaks(prep: Prepared, k_min: float, k_max: float, *, factor: float = 30.0):
    """Local maxima of the power spectrum in ``k_min < |k| < k_max``: (g (n, 2), power, median)."""
    p, kx, ky = prep.power, prep.kx, prep.ky
    kk = np.hypot(kx[None, :], ky[:, None])
    band = (kk > k_min) & (kk < k_max)
    med = float(np.median(p[band])) if band.any() else 0.0
    cand = band & (p > factor * med)
    iy, ix = np.nonzero(cand)
    if iy.size:
        # local maximum in a 5 x 5 neighbourhood, checked at the candidates only
        off = np.arange(-2, 3)
        ny = np.clip(iy[:, None, None] + off[None, :, None], 0, p.shape[0] - 1)
        nx = np.clip(ix[:, None, None] + off[None, None, :], 0, p.shape[1] - 1)
        is_max = p[iy, ix] >= p[ny, nx].reshape(len(iy), -1).max(1)
        iy, ix = iy[is_max], ix[is_max]
    return np.c_[kx[ix], ky[iy]], p[iy, ix], med


def _sample(p: np.ndarray, kx: np.ndarray, ky: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Bilinear power at points g (..., 2) in cycles/px (gx, gy)."""
    h, w = p.shape
    row = g[..., 1] * h + h // 2
    col = g[..., 0] * w + w // 2
    return ndi.map_coordinates(p, [row.ravel(), col.ravel()], order=1, mode="constant").reshape(
        row.shape
    )


def _refine(prep: Prepared, g: np.ndarray) -> np.ndarray:
    """Sub-bin peak position: power-weighted centroid over 5 x 5 bins (above their median)."""
    hp, wp = prep.power.shape
    iy, ix = int(round(g[1] * hp)) + hp // 2, int(round(g[0] * wp)) + wp // 2
    off = np.arange(-2, 3)
    yy = np.clip(iy + off, 0, hp - 1)
    xx = np.clip(ix + off, 0, wp - 1)
    patch = prep.power[np.ix_(yy, xx)]
    wgt = np.clip(patch - np.median(patch), 0, None)
    if wgt.sum() <= 0:
        return g
    dy = (wgt.sum(1) @ off) / wgt.sum()
    dx = (wgt.sum(0) @ off) / wgt.sum()
    return np.array([g[0] + dx / wp, g[1] + dy / hp])


def find_frame(
    prep: Prepared, *, min_period_px: float = 2.5, max_period_px: float | None = None
) -> Frame:
    """Find the layer normal and the in-plane row frequency from the power spectrum.

    Parameters
    ----------
    prep : Prepared
        From :func:`prepare`.
    min_period_px, max_period_px : float
        Range of layer spacings considered (px); default max is a tenth of the image.

    Returns
    -------
    Frame
        The frame; raises :class:`NoLatticeError` when no peak stands out.
    """
    h, w = prep.power.shape
    max_period_px = max_period_px or min(h, w) / 10
    g, pw, med = spectrum_peaks(prep, 1.0 / max_period_px, 1.0 / min_period_px)
    if len(g) == 0:
        raise NoLatticeError("image: no lattice peak found in the power spectrum")
    strong = pw > 0.1 * pw.max()
    gs, ps = g[strong], pw[strong]
    k = int(np.argmin(np.hypot(gs[:, 0], gs[:, 1])))
    return frame_from_normal(prep, gs[k], strength=float(ps[k] / med))


def frame_from_normal(
    prep: Prepared,
    g: np.ndarray,
    *,
    strength: float = float("nan"),
    in_plane: np.ndarray | None = None,
) -> Frame:
    """Return the frame of layer normal ``g`` (cycles/px; refined on the power peak there).

    The in-plane row frequency is searched along the perpendicular (ratio 1.3 .. 4.5 of
    ``|g_n|``) at ``h_n`` in thirds of ``g_n``, where layered-type lattices have reflections.
    With ``in_plane`` (a grain's own second basis vector, cycles/px) ``g`` is kept as it
    is and the row frequency is the component of ``in_plane`` along the layers: the
    power spectrum of the whole image also holds the other grains' peaks.
    """
    g_n = np.asarray(g, dtype=float)
    g_n = _refine(prep, g_n) if in_plane is None else g_n
    if g_n[1] < 0 or (g_n[1] == 0 and g_n[0] < 0):
        g_n = -g_n
    gn = float(np.hypot(*g_n))
    n_hat = g_n / gn
    t_hat = np.array([n_hat[1], -n_hat[0]])
    if in_plane is not None:
        r = abs(float(np.asarray(in_plane, dtype=float) @ t_hat)) / gn
        return Frame(g_n=g_n, g_t=r * gn, ratio=r, strength=strength)
    ratios = np.linspace(1.3, 4.5, 321)
    hn = np.array([-2, -1, 0, 1, 2]) / 3.0
    pts = ratios[:, None, None] * gn * t_hat[None, None, :] + hn[None, :, None] * g_n[None, None, :]
    score = _sample(prep.power, prep.kx, prep.ky, pts).max(axis=1)
    r = float(ratios[int(np.argmax(score))])
    return Frame(g_n=g_n, g_t=r * gn, ratio=r, strength=strength)


def lockin(
    image_fft: np.ndarray, g: np.ndarray, sigma_k: float, crop: tuple[int, int]
) -> np.ndarray:
    """Complex local amplitudes at reciprocal vectors ``g`` on a coarse grid.

    Parameters
    ----------
    image_fft : ndarray (H, W) complex
        ``fft2`` of the (mean-subtracted) image, H and W multiples of the crop.
    g : ndarray (k, 2)
        Reciprocal vectors (gx, gy), cycles/px.
    sigma_k : float
        Gaussian low-pass width, cycles/px.
    crop : (int, int)
        Output grid shape (mh, mw); stride H / mh px.

    Returns
    -------
    ndarray (k, mh, mw) complex
        Local amplitude of each component.
    """
    h, w = image_fft.shape
    mh, mw = crop
    g = np.atleast_2d(np.asarray(g, dtype=float))
    cy, cx = np.round(g[:, 1] * h).astype(int), np.round(g[:, 0] * w).astype(int)
    oy = np.arange(mh) - mh // 2
    ox = np.arange(mw) - mw // 2
    ky = cy[:, None] + oy[None, :]
    kx = cx[:, None] + ox[None, :]
    from scipy import fft as sfft

    sub = image_fft[(ky % h)[:, :, None], (kx % w)[:, None, :]]
    dy = ky / h - g[:, 1:2]
    dx = kx / w - g[:, 0:1]
    gy = np.exp(-(dy**2) / (2 * sigma_k**2)).astype(np.float32)
    gx = np.exp(-(dx**2) / (2 * sigma_k**2)).astype(np.float32)
    sub = sfft.ifftshift(sub * gy[:, :, None] * gx[:, None, :], axes=(1, 2))
    return sfft.ifft2(sub, axes=(1, 2), workers=-1) * ((mh * mw) / (h * w))


def noise_floor(noise_psd: float, sigma_k: float, shape: tuple[int, int]) -> float:
    """Return the expected ``|lockin|^2`` of white noise of ``noise_psd`` per FFT bin."""
    h, w = shape
    # sum over bins of gauss^2 = pi sigma_k^2 h w ; times (1 / (h w))^2 normalisation
    return noise_psd * np.pi * sigma_k**2 * h * w / (h * w) ** 2
