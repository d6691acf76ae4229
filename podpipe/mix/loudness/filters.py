"""The two filters loudness needs, in numpy alone: BS.1770's K-weighting and the 4× oversampling of true
peak (BS.1770-4 Annex 2).

Own code because scipy.signal costs a second to import for one filter each (``sosfilt``, ``resample_poly``):
the K-weighting's two biquads run as one FFT convolution with their impulse response (cut where what is left
is below 1e-12 of the response's energy), and oversampling is resample_poly's polyphase sum written out with
``np.convolve``. Both are checked against scipy and pyloudnorm in the tests.
"""

from __future__ import annotations

import functools
import math
from typing import Any

OVERSAMPLE = 4
HALF_TAPS = 10 * OVERSAMPLE  # resample_poly's filter length for 4×: 2 × 10 × up + 1 taps


def k_biquads(rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """BS.1770's K-weighting at ``rate`` as ((b0, b1, b2), (1, a1, a2)) pairs: the high shelf (+4 dB above
    ~1.5 kHz) then the high pass (38 Hz), derived for any rate as pyloudnorm does."""
    out = []
    for gain_db, q, fc, kind in ((4.0, 1 / math.sqrt(2), 1500.0, "shelf"), (0.0, 0.5, 38.0, "pass")):
        a = 10 ** (gain_db / 40)
        w0 = 2 * math.pi * fc / rate
        alpha, cos = math.sin(w0) / (2 * q), math.cos(w0)
        if kind == "shelf":
            root = 2 * math.sqrt(a) * alpha
            b = (a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos),
                 a * ((a + 1) + (a - 1) * cos - root))
            den = ((a + 1) - (a - 1) * cos + root, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - root)
        else:
            b = ((1 + cos) / 2, -(1 + cos), (1 + cos) / 2)
            den = (1 + alpha, -2 * cos, 1 - alpha)
        out.append((tuple(x / den[0] for x in b), (1.0, den[1] / den[0], den[2] / den[0])))
    return out


@functools.lru_cache(maxsize=8)
def k_response(rate: int) -> tuple[Any, Any]:
    """(impulse response, its spectrum at an FFT size of at least 4× its length) of the K-weighting at
    ``rate``."""
    import numpy as np

    n = max(1024, round(0.5 * rate))  # the 38 Hz high pass rings for ~0.1 s; half a second is ample
    x = np.zeros(n)
    x[0] = 1.0
    for (b0, b1, b2), (_, a1, a2) in k_biquads(rate):
        y, y1, y2, x1, x2 = [0.0] * n, 0.0, 0.0, 0.0, 0.0
        for i, xi in enumerate(x.tolist()):
            yi = b0 * xi + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            y[i], x2, x1, y2, y1 = yi, x1, xi, y1, yi
        x = np.array(y)
    energy = np.cumsum(x[::-1] ** 2)[::-1]  # energy from each sample to the end
    keep = int(np.argmax(energy < 1e-12 * energy[0])) or n
    h = x[:keep]
    return h, np.fft.rfft(h, max(8192, 1 << (4 * len(h)).bit_length()))


def k_weight(x: Any, rate: int) -> Any:
    """``x`` (1-D, float) through the K-weighting filter from rest; float64, same length."""
    import numpy as np

    h, spectrum = k_response(rate)
    size = 2 * (len(spectrum) - 1)
    step = size - len(h) + 1
    out = np.empty(len(x))
    tail = np.zeros(len(h) - 1)
    for lo in range(0, len(x), step):
        seg = x[lo:lo + step]
        y = np.fft.irfft(np.fft.rfft(seg, size) * spectrum, size)
        y[:len(tail)] += tail
        out[lo:lo + len(seg)] = y[:len(seg)]
        tail = y[len(seg):len(seg) + len(tail)].copy()
    return out


@functools.lru_cache(maxsize=1)
def oversampling_phases() -> tuple[Any, ...]:
    """resample_poly's low-pass for 4× (Kaiser window, β 5), split into its four phases."""
    import numpy as np

    m = np.arange(2 * HALF_TAPS + 1) - HALF_TAPS
    cutoff = 1 / OVERSAMPLE
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(len(m), 5.0)
    h *= OVERSAMPLE / h.sum()  # unity gain at DC after the zeros stuffed between samples
    return tuple(h[p::OVERSAMPLE] for p in range(OVERSAMPLE))


def frame_peaks(x: Any) -> Any:
    """Per frame n of ``x`` (1-D), the largest magnitude of the 4× oversampled signal in [n, n + 1)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    delay = HALF_TAPS // OVERSAMPLE  # the filter's centre, in input frames
    out = np.abs(x)  # the frame itself (phase 0 reproduces it up to the filter's ripple)
    for phase in oversampling_phases():
        y = np.convolve(x, phase)[delay:delay + len(x)]
        np.maximum(out, np.abs(y), out=out)
    return out
