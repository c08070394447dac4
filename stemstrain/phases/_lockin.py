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


def _power(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = image.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    p = np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * win))) ** 2
    p = ndi.gaussian_filter(p, 1.0)
    ky = (np.arange(h) - h // 2) / h
    kx = (np.arange(w) - w // 2) / w
    return p, kx, ky


def _sample(p: np.ndarray, kx: np.ndarray, ky: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Bilinear power at points g (..., 2) in cycles/px (gx, gy)."""
    h, w = p.shape
    row = g[..., 1] * h + h // 2
    col = g[..., 0] * w + w // 2
    return ndi.map_coordinates(p, [row.ravel(), col.ravel()], order=1,
                               mode="constant").reshape(row.shape)


def find_frame(image: np.ndarray, *, min_period_px: float = 2.5,
               max_period_px: float | None = None) -> Frame:
    """Find the layer normal and the in-plane row frequency from the power spectrum.

    Parameters
    ----------
    image : ndarray (H, W)
        Lattice image.
    min_period_px, max_period_px : float
        Range of layer spacings considered (px); default max is a tenth of the image.

    Returns
    -------
    Frame
        The frame; raises :class:`NoLatticeError` when no peak stands out.
    """
    h, w = image.shape
    p, kx, ky = _power(image)
    kk = np.hypot(*np.meshgrid(kx, ky))
    max_period_px = max_period_px or min(h, w) / 10
    band = (kk > 1.0 / max_period_px) & (kk < 1.0 / min_period_px)
    med = float(np.median(p[band]))
    peaks = (p == ndi.maximum_filter(p, size=5)) & band & (p > 30 * med)
    iy, ix = np.nonzero(peaks)
    if iy.size == 0:
        raise NoLatticeError("image: no lattice peak found in the power spectrum")
    pw = p[iy, ix]
    g = np.c_[kx[ix], ky[iy]]
    strong = pw > 0.1 * pw.max()
    gs, ps = g[strong], pw[strong]
    k = int(np.argmin(np.hypot(gs[:, 0], gs[:, 1])))
    g_n = gs[k]
    if g_n[1] < 0 or (g_n[1] == 0 and g_n[0] < 0):
        g_n = -g_n
    gn = float(np.hypot(*g_n))
    n_hat = g_n / gn
    t_hat = np.array([n_hat[1], -n_hat[0]])
    ratios = np.linspace(1.3, 4.5, 321)
    hn = np.array([-2, -1, 0, 1, 2]) / 3.0
    pts = (ratios[:, None, None] * gn * t_hat[None, None, :]
           + hn[None, :, None] * g_n[None, None, :])
    score = _sample(p, kx, ky, pts).max(axis=1)
    r = float(ratios[int(np.argmax(score))])
    return Frame(g_n=g_n, g_t=r * gn, ratio=r, strength=float(ps[k] / med))


def lockin(image_fft: np.ndarray, g: np.ndarray, sigma_k: float, crop: tuple[int, int]
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
    sub = image_fft[(ky % h)[:, :, None], (kx % w)[:, None, :]]
    dy = ky / h - g[:, 1:2]
    dx = kx / w - g[:, 0:1]
    gauss = np.exp(-(dy[:, :, None] ** 2 + dx[:, None, :] ** 2) / (2 * sigma_k**2))
    sub = np.fft.ifftshift(sub * gauss, axes=(1, 2))
    return np.fft.ifft2(sub, axes=(1, 2)) * (mh * mw) / (h * w)


def prepare(image: np.ndarray, stride: int) -> tuple[np.ndarray, tuple[int, int], float]:
    """Mean-subtracted FFT of the image padded to a multiple of ``stride``; noise PSD.

    Returns
    -------
    fft : ndarray complex
    crop : (int, int)
        Coarse grid shape.
    noise : float
        Median power per bin at high frequency (white-noise level, for the lock-in bias).
    """
    h, w = image.shape
    hp, wp = -(-h // stride) * stride, -(-w // stride) * stride
    img = np.zeros((hp, wp), dtype=np.float64)
    img[:h, :w] = image - image.mean()
    f = np.fft.fft2(img)
    ky = np.fft.fftfreq(hp)[:, None]
    kx = np.fft.fftfreq(wp)[None, :]
    high = np.hypot(kx, ky) > 0.4
    noise = float(np.median(np.abs(f[np.broadcast_to(high, f.shape)]) ** 2)) if high.any() else 0.0
    return f, (hp // stride, wp // stride), noise


def noise_floor(noise_psd: float, sigma_k: float, shape: tuple[int, int]) -> float:
    """Expected ``|lockin|^2`` of white noise of power ``noise_psd`` per FFT bin."""
    h, w = shape
    # sum over bins of gauss^2 = pi sigma_k^2 h w ; times (1 / (h w))^2 normalisation
    return noise_psd * np.pi * sigma_k**2 * h * w / (h * w) ** 2
