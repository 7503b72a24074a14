"""Compiled per-pixel passes of the aerial renderer (numba).

numpy makes one whole-image pass, and a temporary array, per operation; each loop here makes one pass. Each
computes the same float32 values as the numpy expression in its docstring, operation by operation in the same
order (no fast-math, so no reassociation or fused multiply-adds): the tests compare them bit for bit.
``cache=True`` keeps the machine code in ``__pycache__``, so only the first process on a machine compiles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ZERO, _ONE, _TOP = np.float32(0.0), np.float32(1.0), np.float32(255.0)


@njit(cache=True, nogil=True, inline="always")
def _put(planes, y, x, colours, k, gain):  # pragma: no cover - compiled
    """``planes[c, y, x] = colours[k, c] * gain`` for the three colour planes."""
    planes[0, y, x] = colours[k, 0] * gain
    planes[1, y, x] = colours[k, 1] * gain
    planes[2, y, x] = colours[k, 2] * gain


@njit(cache=True, nogil=True)
def ground_brightness(label, mid, fine, amp_mid, amp_fine, extra, out):  # pragma: no cover - compiled
    """``out = amp_mid[label] * mid + amp_fine[label] * fine + 1 (+ extra)``: the ground's relative brightness.
    ``label`` (S, S) uint8; ``mid``, ``fine``, ``out`` and ``extra`` (or None) (S, S) float32; the amplitudes
    float32 per label."""
    h, w = label.shape
    for y in range(h):
        for x in range(w):
            k = label[y, x]
            v = amp_mid[k] * mid[y, x] + amp_fine[k] * fine[y, x] + _ONE
            if extra is not None:
                v += extra[y, x]
            out[y, x] = v


@njit(cache=True, nogil=True)
def colour_ground(label, shade, n_labels, bright, vignette, palette, out):  # pragma: no cover - compiled
    """``out[c] = palette[label + n_labels * shade, c] * (bright * vignette)`` for c in 0, 1, 2: the ground's
    colour planes. ``label`` (S, S) uint8; ``shade`` (S, S) bool or None (no shadows); ``bright`` and
    ``vignette`` (or None) (S, S) float32; ``palette`` (2 * n_labels, >= 3) float32 (sun colours, then shadow
    colours); ``out`` (3, S, S) float32."""
    h, w = label.shape
    for y in range(h):
        for x in range(w):
            k = label[y, x]
            if shade is not None and shade[y, x]:
                k += n_labels
            b = bright[y, x]
            if vignette is not None:
                b = b * vignette[y, x]
            _put(out, y, x, palette, k, b)


@njit(cache=True, nogil=True)
def sensor(img, ratio, noise, start, out):  # pragma: no cover - compiled
    """Blur, noise and quantise: per channel plane, the separable 3-tap blur ``(ratio, 1, ratio)`` (edges
    replicated; each pass ``a + ratio * (left + right)``, down the columns first, then along the rows), plus
    ``noise[c, start : start + H * W]`` read as (H, W), truncated into 0..255 (the noise carries the 0.5 that
    makes truncation round). ``img`` (C, H, W) float32; ``noise`` (C, n) float32; ``out`` (C, H, W) uint8."""
    n_ch, h, w = img.shape
    row = np.empty(w + 2, np.float32)  # one row after the vertical pass, its edge pixels repeated at each end
    for c in range(n_ch):
        plane, grain, dest = img[c], noise[c], out[c]
        for y in range(h):
            up, here, down = plane[max(y - 1, 0)], plane[y], plane[min(y + 1, h - 1)]
            for x in range(w):
                row[x + 1] = here[x] + ratio * (up[x] + down[x])
            row[0], row[w + 1] = row[1], row[w]
            base = start + y * w
            line = dest[y]
            for x in range(w):
                v = row[x + 1] + ratio * (row[x] + row[x + 2]) + grain[base + x]
                line[x] = np.uint8(min(max(v, _ZERO), _TOP))


@njit(cache=True, nogil=True)
def fits(use, occ, shade, x0, y0, patch, allowed, water, share_lo, share_hi):  # pragma: no cover - compiled
    """Whether the pixels where ``patch`` (h, w, nonzero = the object) lies at (x0, y0) are all on an allowed
    ground use (``allowed[use]``), unoccupied (``occ``) and unshaded (``shade``), and the share of them on
    ``water`` is within ``[share_lo, share_hi]`` (0 and 1 ask nothing of it). The patch must lie inside the
    (S, S) maps ``use`` (uint8), ``occ`` and ``shade`` (bool)."""
    h, w = patch.shape
    n = wet = 0
    for i in range(h):
        for j in range(w):
            if patch[i, j]:
                y, x = y0 + i, x0 + j
                u = use[y, x]
                if not allowed[u] or occ[y, x] or shade[y, x]:
                    return False
                n += 1
                if u == water:
                    wet += 1
    if share_lo > 0.0 or share_hi < 1.0:
        return n > 0 and share_lo <= wet / n <= share_hi
    return True


@njit(cache=True, nogil=True)
def occupy(occ, x0, y0, patch, r):  # pragma: no cover - compiled
    """Mark in ``occ`` (S, S bool) the pixels within ``r`` (a (2r+1)^2 square) of the object where ``patch`` (h,
    w, nonzero = the object) lies at (x0, y0), clipped to the image: the object and its margin. Two sweeps that
    remember the last object pixel seen (along each row, then down each column): O(area), whatever r."""
    h, w = patch.shape
    size_y, size_x = occ.shape
    far = -(2 * r + 1)  # "no pixel seen yet": further back than any that counts
    wide = np.zeros((h, w + 2 * r), np.bool_)  # each row grown sideways; column k is image column x0 - r + k
    for i in range(h):
        last = far
        for k in range(w + 2 * r):
            if k < w and patch[i, k]:
                last = k
            wide[i, k] = k - last <= 2 * r
    seen = np.full(w + 2 * r, far)  # per column, the last row of wide that was set
    for i in range(h + 2 * r):  # output row i is image row y0 - r + i
        y = y0 - r + i
        for k in range(w + 2 * r):
            if i < h and wide[i, k]:
                seen[k] = i
            x = x0 - r + k
            if i - seen[k] <= 2 * r and 0 <= y < size_y and 0 <= x < size_x:
                occ[y, x] = True


@njit(cache=True, nogil=True)
def paste(img, x0, y0, index, lut, texture, grain, gx, gy, relief, vignette):  # pragma: no cover - compiled
    """Paint an object into ``img`` (3, S, S float32) where ``index`` (h, w uint8, 0 = not the object) lies at
    (x0, y0): ``lut[index, c] * gain``, with ``gain = (1 + texture * grain[gy + i, gx + j]) * relief[i, j] *
    vignette[y0 + i, x0 + j]`` (``relief`` (h, w) and ``vignette`` (S, S) float32, each or None; ``texture``
    float32; ``grain`` a float32 plane)."""
    h, w = index.shape
    for i in range(h):
        for j in range(w):
            k = index[i, j]
            if k == 0:
                continue
            g = _ONE + texture * grain[gy + i, gx + j]
            if relief is not None:
                g = g * relief[i, j]
            y, x = y0 + i, x0 + j
            if vignette is not None:
                g = g * vignette[y, x]
            _put(img, y, x, lut, k, g)


@njit(cache=True, nogil=True)
def free_grid(use, occ, grid, fx, fy, rx, ry, land, tree):  # pragma: no cover - compiled
    """The grid points k = i * n + j (centre (grid[j], grid[i]), n = len(grid)) where a footprint's centre and its
    four corners ``centre +- (fx, fy) +- (rx, ry)`` are inside the image (a pixel from its border), unoccupied
    (``occ``) and on ``land`` or ``tree`` (``use``): int64 array, ascending."""
    size = use.shape[0]
    n = grid.shape[0]
    out = np.empty(n * n, np.int64)
    count = 0
    dx = (0.0, -fx - rx, -fx + rx, fx - rx, fx + rx)
    dy = (0.0, -fy - ry, -fy + ry, fy - ry, fy + ry)
    for k in range(n * n):
        cx, cy = grid[k % n], grid[k // n]
        ok = True
        for m in range(5):
            x, y = cx + dx[m], cy + dy[m]
            if not (1 <= x < size - 1 and 1 <= y < size - 1):
                ok = False
                break
            u = use[int(y), int(x)]
            if occ[int(y), int(x)] or (u != land and u != tree):
                ok = False
                break
        if ok:
            out[count] = k
            count += 1
    return out[:count]
