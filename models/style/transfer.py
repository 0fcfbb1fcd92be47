"""Neural style transfer by optimisation (Gatys, Ecker & Bethge, 2016), multi-scale, on VGG19 features.

The image is optimised (Adam, in 0..255 pixel units) to match the content image's relu4_2
features and the style images' Gram matrices at relu1_1…relu5_1, with an optional
total-variation term. Multi-scale in two ways: a short solve at a small size first (the preview),
whose low frequencies start the full-size solve (with the style's histograms in its two finest
bands); and the full-size image is optimised as a Laplacian pyramid (each band a parameter, along
decorrelated colour directions), so coarse bands move whole regions per step instead of pixel by
pixel. The best iterate is kept. bench/run.py measures it against a plain single-scale,
pixel-wise solve of the same losses (docs/style-multiscale.md has the experiments). Losses are
normalised (by the target's norm), so ``strength`` means the same at every size. Cancellation is
checked before every function evaluation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from models.common.errors import Cancelled
from models.style.vgg19 import VGG, gram

STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
CONTENT_LAYER = 22  # relu4_2
MAX_SIZE = 1024


@dataclass(frozen=True)
class StyleConfig:
    size: int = 384  # long side of the result, pixels
    steps: int = 40  # iterations at the final scale; smaller scales get more (they are cheap)
    strength: float = 0.75  # 0 = keep the content, 1 = all style
    preserve_color: bool = False  # keep the content's colours (luminance-only transfer)
    seed: int = 0
    min_scale: int = 128  # the first (preview) scale's long side
    multiscale: bool = True
    tv_weight: float = 0.0
    noise: float = 0.0  # amount of seeded noise mixed into the starting image
    lr: float = 5.0  # Adam step, in 0..255 pixel units

    def __post_init__(self) -> None:
        if not 32 <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be between 32 and {MAX_SIZE} pixels")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError("strength must be between 0 and 1")
        if not 1 <= self.steps <= 2000:
            raise ValueError("steps must be between 1 and 2000")

    @property
    def style_weight(self) -> float:
        # strength 0 -> 0.01, 0.5 -> 1 (the classic balance below), 1 -> 100
        return 10.0 ** (4.0 * (self.strength - 0.5))

    def scales(self) -> list[tuple[int, int]]:
        """(long side, iterations) from coarse to fine: a short solve at ``min_scale`` (the preview,
        ~3-5 s here), then the full size. No levels in between: VGG features are scale-specific,
        so a solve at one size is a poor start at twice that size (all of its fine texture has to be
        redone: measured in docs/style-multiscale.md); what carries over is the coarse result's
        low frequencies (its colour layout), which the full-size solve starts from."""
        if not self.multiscale or self.size <= self.min_scale:
            return [(self.size, self.steps)]
        return [(self.min_scale, max(10, min(20, self.steps))), (self.size, self.steps)]

    def pyramid_levels(self, side: int) -> int:
        """Laplacian levels the image is optimised in (``multiscale``): the coarsest ~16 px."""
        if not self.multiscale:
            return 1
        return max(1, min(6, int(math.log2(max(side, 16) / 16)) + 1))


@dataclass(frozen=True)
class StyleResult:
    image: object  # PIL RGB
    style_loss_start: float  # normalised style loss of the starting image at the final scale
    style_loss_end: float
    content_loss_end: float
    iterations: int
    seconds: float
    scales: tuple[int, ...]


def laplacian(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[finest band, ..., coarsest image]: ``reconstruct`` of it is ``x`` exactly."""
    gauss = [x]
    for _ in range(levels - 1):
        gauss.append(F.avg_pool2d(gauss[-1], 2, ceil_mode=True))
    bands = [g - _up(g2, g.shape[-2:]) for g, g2 in zip(gauss, gauss[1:])]
    return bands + [gauss[-1]]


def reconstruct(bands: list[torch.Tensor]) -> torch.Tensor:
    x = bands[-1]
    for b in reversed(bands[:-1]):
        x = _up(x, b.shape[-2:]) + b
    return x


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def graft(detail: torch.Tensor, coarse: torch.Tensor, levels: int, keep: int) -> torch.Tensor:
    """``detail``'s fine bands with ``coarse``'s (upsampled) ``keep`` coarsest bands: the content's
    edges with the coarse solution's colour layout."""
    a, b = laplacian(detail, levels), laplacian(_up(coarse, detail.shape[-2:]), levels)
    return reconstruct(a[: levels - keep] + b[levels - keep:])


def match_bands(x: torch.Tensor, styles: list[tuple[torch.Tensor, float]], levels: int, fine: int) -> torch.Tensor:
    """``x`` with its ``fine`` finest Laplacian bands histogram-matched, per channel, to the styles'
    bands at the same level (Heeger & Bergen, 1995; several styles: their quantile functions
    averaged by weight). The start then has the style's edge and grain statistics while every
    pixel keeps its rank, so the content's edges stay where they are."""
    bands = laplacian(x, levels)
    refs = [(laplacian(s, levels), w) for s, w in styles]
    total = sum(w for _, w in styles)
    for k in range(min(fine, levels - 1)):
        b = bands[k]
        n = b[0, 0].numel()
        q = torch.linspace(0, 1, n, dtype=b.dtype)
        out = torch.empty_like(b)
        for ch in range(b.shape[1]):
            target = sum((w / total) * torch.quantile(r[k][0, ch].flatten(), q) for r, w in refs)
            flat = torch.empty(n, dtype=b.dtype)
            flat[b[0, ch].flatten().argsort()] = target
            out[0, ch] = flat.view_as(b[0, ch])
        bands[k] = out
    return reconstruct(bands)


# RGB directions the pyramid is optimised along: the square root of natural images' colour
# correlation (as in Lucid), columns scaled so that luminance moves at Adam's step and the two
# chroma directions slower. Measured in docs/style-multiscale.md: faster than plain RGB bands.
COLOUR_BASIS = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]) / 0.4619


def _to_basis(x: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", basis, x)


def resize_to(x: torch.Tensor, long_side: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = long_side / max(h, w)
    return F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                         align_corners=False, antialias=True)


class Objective:
    """Targets for one scale (computed once), and the loss of an image against them."""

    def __init__(self, vgg: VGG, content: torch.Tensor, styles: list[tuple[torch.Tensor, float]], cfg: StyleConfig):
        self.vgg, self.cfg = vgg, cfg
        layers = STYLE_LAYERS + (CONTENT_LAYER,)
        with torch.no_grad():
            self.content = vgg.net(vgg.preprocess(content), (CONTENT_LAYER,))[CONTENT_LAYER]
            total = sum(w for _, w in styles)
            self.grams = {l: 0 for l in STYLE_LAYERS}
            for img, w in styles:
                feats = vgg.net(vgg.preprocess(img), STYLE_LAYERS)
                for l in STYLE_LAYERS:
                    self.grams[l] = self.grams[l] + (w / total) * gram(feats[l])
        self.layers = layers
        self.c_norm = float(self.content.pow(2).mean())
        self.g_norm = {l: float(g.pow(2).mean()) for l, g in self.grams.items()}

    def losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x in 0..255 -> (objective, content loss, style loss, tv).

        Both losses are normalised by their target's magnitude (content: mean F²; style: mean G²
        per layer, averaged over layers), so they are O(1) at any size and ``strength`` is a plain
        balance; the raw Gram errors of deep layers are ~1000x the content error otherwise."""
        f = self.vgg.net(self.vgg.preprocess(x / 255.0), self.layers)
        c = F.mse_loss(f[CONTENT_LAYER], self.content) / self.c_norm
        s = sum(F.mse_loss(gram(f[l]), self.grams[l]) / self.g_norm[l] for l in STYLE_LAYERS) / len(STYLE_LAYERS)
        tv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
        return c + self.cfg.style_weight * s + self.cfg.tv_weight * tv, c, s, tv


def stylize(
    vgg: VGG,
    content: torch.Tensor,
    styles: list[tuple[torch.Tensor, float]],
    cfg: StyleConfig,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    preview: Callable[[torch.Tensor], None] | None = None,
) -> StyleResult:
    """content: (1, 3, H, W) in 0..1; styles: [(image, weight)]. Returns the result at ``cfg.size``."""
    t0 = time.monotonic()
    scales = cfg.scales()
    total = sum(n for _, n in scales)
    done = 0
    gen = torch.Generator().manual_seed(cfg.seed)
    x = None
    start_loss = end_s = end_c = math.nan

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, f"{side}px")

    for k, (side, iters) in enumerate(scales):
        c_img = resize_to(content, side)
        s_imgs = [(resize_to(s, side), w) for s, w in styles]
        obj = Objective(vgg, c_img, s_imgs, cfg)
        levels = cfg.pyramid_levels(side)
        if x is None:
            noise = torch.rand(c_img.shape, generator=gen)
            x0 = ((1 - cfg.noise) * c_img + cfg.noise * noise) * 255.0
        else:  # the content's detail with the coarse solution's low frequencies (up to half its size),
            # its two finest bands given the style's grain (band histograms)
            x0 = graft(c_img * 255.0, x, levels, keep=max(1, levels - round(math.log2(side / max(x.shape[-2:]))) - 1))
            x0 = match_bands(x0, [(s * 255.0, w) for s, w in s_imgs], levels, fine=2)
        if k == len(scales) - 1:
            with torch.no_grad():
                start_loss = float(obj.losses(c_img * 255.0)[2])  # the content image itself: where we began
        x, end_c, end_s = _solve(obj, x0, levels, iters, cfg, should_stop, tick)
        if preview and k == 0 and len(scales) > 1:
            preview(x.detach() / 255.0)
    out = x.detach() / 255.0
    if cfg.preserve_color:
        ref = F.interpolate(content, size=out.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
        out = keep_colours(out, ref)
    from models.image.image_io import from_tensor

    return StyleResult(from_tensor(out), start_loss, end_s, end_c, done, time.monotonic() - t0,
                       tuple(s for s, _ in scales))


def _solve(obj: Objective, x0: torch.Tensor, levels: int, iters: int, cfg: StyleConfig,
           should_stop: Callable[[], bool] | None, step_done: Callable[[], None]) -> tuple[torch.Tensor, float, float]:
    """Adam on the image as a Laplacian pyramid along COLOUR_BASIS -> the best iterate seen
    (clamped to 0..255; Adam's last step need not be it), its content and style losses.

    Each band is a parameter (in pixel units): Adam moves every parameter ~lr per step, so the
    coarse bands shift whole regions' colour at once, which pixel-wise steps do only slowly; with
    levels=1 this is plain pixels (and plain RGB). Adam, not L-BFGS: torch's L-BFGS stalled (or
    produced NaN) on these losses after ~12 iterations in our trials; with a strong-Wolfe line
    search it spends its evaluations there."""
    basis = COLOUR_BASIS if levels > 1 else torch.eye(3)
    y0 = _to_basis(x0, torch.linalg.inv(basis))
    bands = [b.detach().clone().requires_grad_(True) for b in laplacian(y0, levels)]
    opt = torch.optim.Adam(bands, lr=cfg.lr)
    best, best_loss, best_c, best_s = x0.clamp(0, 255), math.inf, math.nan, math.nan
    for i in range(iters + 1):
        if should_stop and should_stop():
            raise Cancelled("style transfer cancelled")
        opt.zero_grad(set_to_none=True)
        x = _to_basis(reconstruct(bands), basis)
        shown = x.clamp(0, 255)
        # the loss of the image that will be delivered (clamped to 0..255), with the gradient
        # passed straight through the clamp so out-of-range pixels are still pulled back
        with torch.set_grad_enabled(i < iters):  # the last evaluation only scores the last step
            loss, c, s, _tv = obj.losses(x + (shown - x).detach())
        if float(loss.detach()) < best_loss:
            best, best_loss, best_c, best_s = shown.detach(), float(loss.detach()), float(c.detach()), float(s.detach())
        if i == iters:
            break
        loss.backward()
        opt.step()
        step_done()
    return best, best_c, best_s


def _ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, (b - y) * 0.564 + 0.5, (r - y) * 0.713 + 0.5], 1)


def _rgb(ycc: torch.Tensor) -> torch.Tensor:
    y, cb, cr = ycc[:, 0], ycc[:, 1] - 0.5, ycc[:, 2] - 0.5
    r = y + 1.403 * cr
    b = y + 1.773 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], 1).clamp(0, 1)


def keep_colours(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer (Gatys et al., 2016b): the result's Y with the content's Cb/Cr."""
    a, b = _ycbcr(result), _ycbcr(content)
    return _rgb(torch.cat([a[:, :1], b[:, 1:]], 1))


def style_library(extra: Path | None = None) -> dict[str, Path]:
    """Named styles: the paintings shipped in models/style/styles, after the person's own folder
    ``extra`` ($ARSNOVA_STYLES) when there is one."""
    dirs = [shipped_styles_dir()]
    if extra is not None:
        dirs.insert(0, Path(extra))
    out: dict[str, Path] = {}
    for d in dirs:
        for p in sorted(d.glob("*")):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
                out.setdefault(p.stem.lower().replace("_", " "), p)
    return out


def parse_style_blend(spec: str) -> list[tuple[str, float]]:
    """'starry night' -> [('starry night', 1.0)]; 'a.jpg:0.7 + udnie:0.3' -> two weighted styles."""
    import re

    from models.common.errors import InputFileError

    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts or len(parts) > 4:
        raise InputFileError("give one style, or up to 4 blended like 'starry night:0.7 + udnie:0.3'")
    out = []
    for p in parts:
        m = re.fullmatch(r"(.+?)\s*:\s*(\d*\.?\d+)", p)
        name, w = (m.group(1), float(m.group(2))) if m and not re.fullmatch(r"[A-Za-z]", m.group(1)) else (p, 1.0)
        if w <= 0:
            raise InputFileError(f"style weight for {name!r} must be positive")
        out.append((name, w))
    return out


def shipped_styles_dir() -> Path:
    """The paintings that ship with Ars Nova."""
    return Path(__file__).parent / "styles"


def find_style(name_or_path: str, extra: Path | None = None) -> Path:
    """A style image: an existing file, or a shipped painting by name ('starry night', 'the scream')."""
    from models.common.errors import InputFileError

    p = Path(name_or_path).expanduser()
    if p.suffix and (p.exists() or "/" in name_or_path or "\\" in name_or_path):
        return p  # a path: load_rgb reports a missing or bad file precisely
    key = " ".join(name_or_path.lower().replace("_", " ").replace("'", "").split())
    lib = style_library(extra)
    for cand in (key, key.removeprefix("the "), f"the {key}"):
        if cand in lib:
            return lib[cand]
    hits = [n for n in lib if key and (key in n or n.removeprefix("the ") in key)]
    if len(hits) == 1:
        return lib[hits[0]]
    raise InputFileError(f"no style called {name_or_path!r}; give an image path or one of: {', '.join(sorted(lib))}")


def feature_distances(vgg: VGG, result: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> tuple[float, float]:
    """Normalised relu4_2 distance of the result to the content and to the style image (same size):
    content is 'recognisable' when the first is smaller."""
    size = result.shape[-2:]
    with torch.no_grad():
        f = {k: vgg.net(vgg.preprocess(F.interpolate(t, size=size, mode="bilinear", align_corners=False)),
                        (CONTENT_LAYER,))[CONTENT_LAYER] for k, t in (("x", result), ("c", content), ("s", style))}
    norm = float(f["c"].pow(2).mean())
    return float(F.mse_loss(f["x"], f["c"])) / norm, float(F.mse_loss(f["x"], f["s"])) / norm
