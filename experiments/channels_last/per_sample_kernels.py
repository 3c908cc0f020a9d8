"""Per-sample conv weight gradients on one CPU thread: what each available kernel costs (issue 36).

GradSign needs every sample's own weight gradient; its floor in ``make bench`` is a plain fwd+bwd in
``channels_last``, whose weight gradient is summed over the batch. This script times, for the conv
shapes of NB201's three stages (batch 64), the ordinary weight gradient in ``channels_last`` against
every way found to get the per-sample ones:

* ``folded NCHW``: a grouped convolution's weight gradient over the batch folded into the channels
  (groups = batch), contiguous tensors (GradSign's contiguous path);
* ``folded CL``: the same in ``channels_last``;
* ``unfold+bmm``: im2col (``F.unfold``) then one batched GEMM per sample;
* ``wide bmm``: NHWC views of the padded input over a widened output grid, k*k batched GEMMs, no
  im2col buffer (:func:`wide_bmm`; for 1x1 convs one GEMM, as GradSign's channels_last pass does,
  ``gradsign._per_sample_grad_1x1_nhwc``).

Prints a markdown table (milliseconds per call, median of 10 after a warm-up) and writes it to
``per_sample_kernels.md`` beside this file.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

CL = torch.channels_last


def ms(f, reps: int = 10) -> float:
    f()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e3


def dense_w(x, dy, k):
    return torch.ops.aten.convolution_backward(dy, x, x.new_empty(dy.shape[1], x.shape[1], k, k), None, [1, 1],
                                               [k // 2] * 2, [1, 1], False, [0, 0], 1, [False, True, False])[1]


def folded(x, dy, k, fmt):
    n, c, s, _ = x.shape
    co = dy.shape[1]
    xf = x.contiguous().reshape(1, n * c, s, s).contiguous(memory_format=fmt)
    df = dy.contiguous().reshape(1, n * co, s, s).contiguous(memory_format=fmt)
    return torch.ops.aten.convolution_backward(df, xf, x.new_empty(n * co, c, k, k), None, [1, 1], [k // 2] * 2,
                                               [1, 1], False, [0, 0], n, [False, True, False])[1]


def unfold_bmm(x, dy, k):
    n, c, s, _ = x.shape
    return torch.bmm(dy.reshape(n, dy.shape[1], s * s), F.unfold(x, k, padding=k // 2).transpose(1, 2))


def wide_bmm(x: torch.Tensor, dy: torch.Tensor, k: int) -> torch.Tensor:
    """Per-sample weight gradients (n, c_out, c_in, k, k) of a stride-1, ungrouped k x k conv with
    padding k // 2, from ``channels_last`` tensors, as batched GEMMs on views of the NHWC memory. The
    output grid is widened by the 2p padding columns (``dy`` gets zero columns there), so for each
    kernel offset (a, b) the input rows it reads are one contiguous range of the padded, flattened
    input: ``G[i, :, :, a, b] = dy_wide[i]^T x_pad[i, range(a, b)]``, k * k batched GEMMs."""
    n, c_in, h, w = x.shape
    c_out = dy.shape[1]
    xs, dys = x.permute(0, 2, 3, 1), dy.permute(0, 2, 3, 1)  # views of the NHWC memory
    if k == 1:
        return torch.bmm(dys.reshape(n, h * w, c_out).transpose(1, 2), xs.reshape(n, h * w, c_in)).view(
            n, c_out, c_in, 1, 1)
    p, wp = k // 2, w + 2 * (k // 2)
    # one extra zero row at the bottom: the last offset's range runs p past the padded grid
    xp = F.pad(xs, (0, 0, p, p, p, p + 1)).reshape(n, (h + 2 * p + 1) * wp, c_in)
    dyw = F.pad(dys, (0, 0, 0, 2 * p)).reshape(n, h * wp, c_out).transpose(1, 2)
    length = h * wp
    out = x.new_empty(n, k, k, c_out, c_in)
    for a in range(k):
        for b in range(k):
            start = a * wp + b
            torch.bmm(dyw, xp[:, start : start + length], out=out[:, a, b])
    return out.permute(0, 3, 4, 1, 2)


def timings(x, dy, xc, dc, k) -> dict[str, float]:
    return {"dense": ms(lambda: dense_w(xc, dc, k)),
            "fn": ms(lambda: folded(x, dy, k, torch.contiguous_format)),
            "fc": ms(lambda: folded(xc, dc, k, CL)),
            "ub": ms(lambda: unfold_bmm(x, dy, k)),
            "wb": ms(lambda: wide_bmm(xc, dc, k))}


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = ["| channels | size | kernel | dense weight grad, CL | folded NCHW | folded CL | unfold+bmm | wide bmm (CL) | best per-sample / dense |",
            "|---|---|---|---|---|---|---|---|---|"]
    for c, s in ((16, 32), (32, 16), (64, 8)):
        for k in (3, 1):
            x, dy = torch.randn(64, c, s, s), torch.randn(64, c, s, s)
            xc, dc = x.contiguous(memory_format=CL), dy.contiguous(memory_format=CL)
            t = timings(x, dy, xc, dc, k)
            best = min(t["fn"], t["fc"], t["ub"], t["wb"])
            rows.append(f"| {c} | {s} | {k}x{k} | {t['dense']:.2f} | {t['fn']:.2f} | {t['fc']:.2f} | {t['ub']:.2f} | "
                        f"{t['wb']:.2f} | {best / t['dense']:.2f} |")
    head = [f"# Per-sample conv weight gradients, ms per call ({dt.date.today()}, torch {torch.__version__}, one thread, batch 64)", ""]
    text = "\n".join(head + rows) + "\n"
    print(text)
    (Path(__file__).resolve().parent / "per_sample_kernels.md").write_text(text)


if __name__ == "__main__":
    main()
