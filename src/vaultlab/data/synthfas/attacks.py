"""Presentation attacks: a bona fide rendering of the same subject re-presented on paper or a screen.

Both instruments are planar sheets held in front of the camera. A per-frame homography maps camera
pixels to sheet coordinates; the displayed photo is resampled through it (``grid_sample``) and the
instrument's periodic structure (halftone screen, display sub-pixel grid) is evaluated *in sheet
coordinates at the camera's pixel centres*, each Fourier harmonic weighted by the pixel's box-filter
response ``sinc(fx)·sinc(fy)`` at the harmonic's local frequency in camera pixels. That is the exact
pixel-area integral of each harmonic (the limit of infinite supersampling), so frequencies above the
camera's Nyquist limit alias into real moiré exactly as a sensor would produce it, at the cost of a
few ``cos`` per pixel instead of a supersampled render. (The box response uses the homography's
Jacobian at the sheet centre; the phase uses the full homography, so moiré fringes still curve.)

Print: gamut compression (contrast and saturation loss, ink black, paper white), a rotated CMY
clustered-dot halftone (square dots, two harmonics per axis), paper texture (low-frequency + grain),
planar tilt with flat shading under the scene light and a linear gradient, and a paper edge.
Replay: display gamma and colour cast, raised black level, an RGB stripe sub-pixel grid with row gaps
(slightly rotated), a specular glare blob, a bezel around the screen.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from vaultlab.data.synthfas.domains import HALFTONE_CENTRE, INSTRUMENT_JITTER, PITCH_CENTRE, DomainSpec

PRINT_CUES = ("halftone", "gamut", "paper")
REPLAY_CUES = ("moire", "glare", "cast", "gamma")


_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _u(n: int, lo: float, hi: float, gen: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _per_video_draw(n_videos: int, frames: int, gen: torch.Generator):
    """``draw(lo, hi)``: one uniform value per video, repeated for each of its ``frames`` frames."""
    def draw(lo: float, hi: float) -> Tensor:
        return _u(n_videos, lo, hi, gen).repeat_interleave(frames)

    return draw


def _c(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1)


def sample_sheet_poses(n_videos: int, frames: int, size: int, gen: torch.Generator) -> dict[str, Tensor]:
    """Homographies camera→sheet per frame: a per-video hold plus a small per-frame hand jitter."""
    nf = n_videos * frames
    per_video = _per_video_draw(n_videos, frames, gen)

    s = per_video(0.9, 1.1) * (1.0 + 0.015 * torch.randn(nf, generator=gen))
    th = per_video(-0.12, 0.12) + 0.01 * torch.randn(nf, generator=gen)
    tx = per_video(-0.08, 0.08) + 0.01 * torch.randn(nf, generator=gen)
    ty = per_video(-0.08, 0.08) + 0.01 * torch.randn(nf, generator=gen)
    h0 = per_video(-0.18, 0.18) + 0.01 * torch.randn(nf, generator=gen)
    h1 = per_video(-0.18, 0.18) + 0.01 * torch.randn(nf, generator=gen)
    A = torch.zeros(nf, 3, 3)
    A[:, 0, 0], A[:, 0, 1], A[:, 0, 2] = s * torch.cos(th), -s * torch.sin(th), tx
    A[:, 1, 0], A[:, 1, 1], A[:, 1, 2] = s * torch.sin(th), s * torch.cos(th), ty
    A[:, 2, 0], A[:, 2, 1], A[:, 2, 2] = h0, h1, 1.0
    return {"H": A}


def warp_to_sheet(H: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sheet coordinates (u, v) [N,S,S] at camera pixel centres, and the centre Jacobian J [N,2,2]
    in sheet units per camera *pixel*; also the sheet's scale (sheet units per pixel)."""
    S = size
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    x, y = g.view(1, 1, S), g.view(1, S, 1)
    h = H
    w = _c(h[:, 2, 0]) * x + _c(h[:, 2, 1]) * y + _c(h[:, 2, 2])
    u = (_c(h[:, 0, 0]) * x + _c(h[:, 0, 1]) * y + _c(h[:, 0, 2])) / w
    v = (_c(h[:, 1, 0]) * x + _c(h[:, 1, 1]) * y + _c(h[:, 1, 2])) / w
    # Jacobian at the camera centre (x = y = 0, w = 1): d(u,v)/d(x,y), per pixel (2/S units)
    u0, v0 = h[:, 0, 2], h[:, 1, 2]
    J = torch.stack(
        [torch.stack([h[:, 0, 0] - u0 * h[:, 2, 0], h[:, 0, 1] - u0 * h[:, 2, 1]], -1),
         torch.stack([h[:, 1, 0] - v0 * h[:, 2, 0], h[:, 1, 1] - v0 * h[:, 2, 1]], -1)], 1) * (2.0 / S)
    px = torch.sqrt(torch.det(J).abs())  # sheet units per camera pixel
    return u, v, J, px


def _box_response(J: Tensor, kx: Tensor, ky: Tensor) -> Tensor:
    """Pixel box-filter response to a sheet-space frequency (kx, ky) cycles/unit: sinc(fx)·sinc(fy),
    where (fx, fy) = Jᵀ k is the frequency in cycles per camera pixel."""
    fx = J[:, 0, 0] * kx + J[:, 1, 0] * ky
    fy = J[:, 0, 1] * kx + J[:, 1, 1] * ky
    return torch.sinc(fx) * torch.sinc(fy)


def _sample(img: Tensor, u: Tensor, v: Tensor, mode: str = "bilinear") -> Tensor:
    grid = torch.stack([u, v], dim=-1)
    return F.grid_sample(img, grid, mode=mode, padding_mode="border", align_corners=False)


def _edge(u: Tensor, v: Tensor, eu: Tensor, ev: Tensor, px: Tensor) -> Tensor:
    """Coverage of the rectangle |u| < eu, |v| < ev (anti-aliased over one camera pixel)."""
    d = torch.maximum(u.abs() - _c(eu), v.abs() - _c(ev)) / _c(px)
    return (0.5 - d).clamp_(0.0, 1.0)


@lru_cache(maxsize=16)
def _upsampler(cells: int, size: int) -> Tensor:
    """[size, cells] bicubic interpolation matrix (the 1-D response of F.interpolate to impulses)."""
    eye = torch.eye(cells).view(cells, 1, 1, cells)
    up = F.interpolate(eye, size=(1, size), mode="bicubic", align_corners=False)
    return up.view(cells, size).T.contiguous()


def lowfreq(n: int, cells: int, size: int, gen: torch.Generator) -> Tensor:
    """Smooth random fields [n,1,S,S]: a cells×cells Gaussian grid, bicubically upsampled (two matmuls)."""
    z = torch.randn(n, 1, cells, cells, generator=gen)
    U = _upsampler(cells, size)
    return U @ z @ U.T


def _amount(strength: Tensor, cue: str, spec: DomainSpec, emphasis: float, kind: str) -> Tensor:
    """Domain-specific artefact emphasis ("spec 1"): the domain's own cue ×emphasis, its other cues
    ×1/emphasis; a domain without an own cue ("") keeps a balanced mix."""
    own = spec.print_cue if kind == "print" else spec.replay_cue
    if not own:
        return strength
    return strength * (emphasis if cue == own else 1.0 / emphasis)


def print_attack(
    photo: Tensor, scene: Tensor, H: Tensor, strength: Tensor, light: dict[str, Tensor], spec: DomainSpec,
    frames: int, spread: float, emphasis: float, gen: torch.Generator, noise,
) -> tuple[Tensor, Tensor, Tensor]:
    """Prints of ``photo`` [N,3,S,S] (one per frame, already gathered per video) seen over ``scene``.

    ``strength`` [N] is the attack strength (art for lq, art·hq for hq). Per-video instrument draws are
    shared by the ``frames`` consecutive frames. Returns (rgb [N,3,S,S], sheet coverage [N,S,S], grid (u, v)).
    """
    n, S = photo.shape[0], photo.shape[-1]
    pv = _per_video_draw(n // frames, frames, gen)
    u, v, J, px = warp_to_sheet(H, S)
    img = _sample(photo, u, v).clamp_(0.0, 1.0)

    # gamut compression (contrast and saturation loss towards the paper's range), one affine map:
    # out = c·(L + s·(x − L) − m) + m = c·s·x + c·(1 − s)·L + (1 − c)·m   (L luma, m photo mean)
    a_gam = _amount(strength, "gamut", spec, emphasis, "print")
    contrast = (1.0 - 0.35 * a_gam * pv(0.7, 1.3)).clamp(min=0.4)
    sat = (1.0 - 0.45 * a_gam * pv(0.7, 1.3)).clamp(min=0.1)
    luma = torch.einsum("c,nchw->nhw", _LUMA, img).unsqueeze(1)
    mean = photo.mean(dim=(1, 2, 3))
    base = luma * (contrast * (1.0 - sat)).view(-1, 1, 1, 1) + ((1.0 - contrast) * mean).view(-1, 1, 1, 1)
    img = torch.addcmul(base, img, (contrast * sat).view(-1, 1, 1, 1)).clamp_(0.0, 1.0)
    ink_black = (0.04 + 0.05 * a_gam).clamp(max=0.25).view(-1, 1, 1, 1)

    # CMY clustered-dot halftone at the domain's screen frequency and angle. Ink coverage c per channel
    # becomes square dots of side d = sqrt(c): per screen axis a rect train of duty d, whose harmonics
    # (2/πk)·sin(πkd)·cos(k·φ) are weighted by the pixel box response at their camera frequency.
    a_ht = _amount(strength, "halftone", spec, emphasis, "print")
    mix = (0.6 * a_ht).clamp(max=1.0).view(-1, 1, 1, 1)
    freq = HALFTONE_CENTRE * spread ** spec.halftone_exp / 2.0  # cycles per sheet unit (sheet half-width = 1)
    freq = freq * (1.0 + INSTRUMENT_JITTER * (2.0 * pv(0.0, 1.0) - 1.0))
    base_angle = math.radians(spec.halftone_angle) + pv(-0.05, 0.05)
    coverage = 1.0 - img  # C, M, Y ink coverage
    d = torch.sqrt(coverage)
    s1 = torch.sin(math.pi * d)
    a1 = (2.0 / math.pi) * s1  # first harmonic of a rect train with duty d
    a2 = (2.0 / math.pi) * s1 * torch.cos(math.pi * d)  # second: (1/π)·sin(2πd)
    # the six phase maps (axis 0 for C, M, Y, then axis 1) in one batched product with [u, v, 1]
    rows, r1, r2 = [[], []], [[], []], [[], []]
    for screen_deg in (15.0, 75.0, 0.0):  # C, M, Y screen angles
        th = base_angle + math.radians(screen_deg)
        ph0 = pv(0.0, 2 * math.pi)
        for axis, (ex, ey) in enumerate(((torch.cos(th), torch.sin(th)), (-torch.sin(th), torch.cos(th)))):
            rows[axis].append(torch.stack([2 * math.pi * freq * ex, 2 * math.pi * freq * ey, ph0], 1))
            r1[axis].append(_box_response(J, freq * ex, freq * ey))
            r2[axis].append(_box_response(J, 2 * freq * ex, 2 * freq * ey))
    coef = torch.stack(rows[0] + rows[1], 1)  # [n, 6, 3]
    uv1 = torch.stack([u, v, torch.ones_like(u)], 1).view(n, 3, S * S)
    cph = torch.bmm(coef, uv1).view(n, 6, S, S).cos_()
    ink = None
    for axis in (0, 1):
        c = cph[:, 3 * axis: 3 * axis + 3]
        k1 = torch.stack(r1[axis], 1).view(n, 3, 1, 1)
        k2 = torch.stack(r2[axis], 1).view(n, 3, 1, 1)
        # t = d + a1·r1·cos φ + a2·r2·cos 2φ, with cos 2φ = 2cos²φ − 1
        t = torch.addcmul(d, a1, c * k1)
        t.addcmul_(a2, (c * c).mul_(2.0 * k2).sub_(k2))
        ink = t if ink is None else ink.mul_(t)
    ink = ink.clamp_(0.0, 1.0)
    dots = torch.lerp(coverage, ink, mix)
    reflect = 1.0 - dots * (1.0 - ink_black)

    # paper: tint, texture (low frequency and grain)
    a_pp = _amount(strength, "paper", spec, emphasis, "print")
    paper = torch.tensor(spec.paper_rgb).view(1, 3, 1, 1) * (1.0 + 0.02 * torch.randn(n, 3, 1, 1, generator=gen))
    tex = 0.03 * a_pp.view(-1, 1, 1, 1) * (lowfreq(n, 6, S, gen) + 0.5 * noise.take(n, 1, gen))
    reflect = reflect * paper * (1.0 + tex)

    # flat shading of the tilted plane under the scene light, with a mild linear gradient
    nrm = torch.stack([-2.5 * H[:, 2, 0], -2.5 * H[:, 2, 1], torch.ones(n)], 1)
    nrm = nrm / nrm.norm(dim=1, keepdim=True)
    ndl = (nrm * light["dir"]).sum(1).clamp(min=0.0)
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    gth = pv(0.0, 2 * math.pi)
    grad = 1.0 + 0.08 * (torch.cos(gth).view(-1, 1, 1) * g.view(1, 1, S) + torch.sin(gth).view(-1, 1, 1) * g.view(1, S, 1))
    shade = (0.8 * (light["ambient"] + light["level"] * ndl)).view(-1, 1, 1) * grad  # matte paper, held lower
    sheet = reflect * shade.unsqueeze(1) * light["rgb"].view(-1, 3, 1, 1)

    cover = _edge(u, v, pv(1.02, 1.5), pv(1.02, 1.5), px)
    return torch.lerp(scene, sheet, cover.unsqueeze(1)), cover, torch.stack([u, v], -1)


def replay_attack(
    photo: Tensor, scene: Tensor, H: Tensor, strength: Tensor, light: dict[str, Tensor], spec: DomainSpec,
    frames: int, spread: float, emphasis: float, gen: torch.Generator, noise,
) -> tuple[Tensor, Tensor, Tensor]:
    """Replays of ``photo`` on the domain's screen; same conventions as ``print_attack``."""
    n, S = photo.shape[0], photo.shape[-1]
    pv = _per_video_draw(n // frames, frames, gen)
    u, v, J, px = warp_to_sheet(H, S)
    img = _sample(photo, u, v).clamp_(0.0, 1.0)

    # display transfer: gamma, colour cast, raised black level, brightness
    a_gm = _amount(strength, "gamma", spec, emphasis, "replay")
    sign = torch.where(pv(0.0, 1.0) < 0.5, -1.0, 1.0)
    gamma = (1.0 + sign * 0.35 * a_gm * pv(0.6, 1.0)).clamp(0.4, 2.2)
    img = img.clamp(min=1e-4).pow(gamma.view(-1, 1, 1, 1))
    a_ct = _amount(strength, "cast", spec, emphasis, "replay")
    tint = torch.tensor(spec.screen_tint).view(1, 3, 1) * (1.0 + 0.03 * torch.randn(n // frames, 3, 1, generator=gen)).repeat_interleave(frames, 0)
    cast = tint.pow(1.5 * a_ct.view(-1, 1, 1)).view(n, 3, 1, 1)
    black = (0.02 * strength).view(-1, 1, 1, 1)
    bright = pv(0.8, 1.1).view(-1, 1, 1, 1)
    img = black + (1.0 - black) * img * cast * bright

    # RGB stripe sub-pixel grid with row gaps, evaluated with the pixel box response
    a_mo = _amount(strength, "moire", spec, emphasis, "replay")
    depth = (0.6 * a_mo).clamp(max=1.0)
    pitch = 2.0 * PITCH_CENTRE * spread ** spec.pitch_exp  # sheet units (sheet half-width = 1)
    pitch = pitch * (1.0 + INSTRUMENT_JITTER * (2.0 * pv(0.0, 1.0) - 1.0))
    f = 1.0 / pitch
    psi = pv(-0.06, 0.06)
    cp, sp = torch.cos(psi), torch.sin(psi)
    phu, phv = pv(0.0, 1.0), pv(0.0, 1.0)
    gap = pv(0.1, 0.3)
    # phases of the three channel stripes (offset by a third of the pitch) and of the rows, batched
    tw = 2 * math.pi * f
    coef = torch.stack(
        [torch.stack([tw * cp, tw * sp, 2 * math.pi * (phu - (ch + 0.5) / 3.0)], 1) for ch in range(3)]
        + [torch.stack([-tw * sp, tw * cp, 2 * math.pi * phv], 1)], 1)  # [n, 4, 3]
    uv1 = torch.stack([u, v, torch.ones_like(u)], 1).view(n, 3, S * S)
    cph = torch.bmm(coef, uv1).view(n, 4, S, S).cos_()
    # normalised stripe mask 3·S_c (mean 1) and row mask G/(1 − gap) (mean 1), harmonics k = 1, 2
    r1u, r2u = _box_response(J, cp * f, sp * f), _box_response(J, 2 * cp * f, 2 * sp * f)
    r1v, r2v = _box_response(J, -sp * f, cp * f), _box_response(J, -2 * sp * f, 2 * cp * f)
    s1 = 3.0 * (2.0 / math.pi) * math.sin(math.pi / 3.0)
    s2 = 3.0 * (1.0 / math.pi) * math.sin(2 * math.pi / 3.0)
    g1 = (2.0 / math.pi) * torch.sin(math.pi * (1.0 - gap)) / (1.0 - gap)
    g2 = (1.0 / math.pi) * torch.sin(2 * math.pi * (1.0 - gap)) / (1.0 - gap)
    k1 = torch.stack([s1 * r1u] * 3 + [g1 * r1v], 1).view(n, 4, 1, 1)
    k2 = torch.stack([s2 * r2u] * 3 + [g2 * r2v], 1).view(n, 4, 1, 1)
    # 1 + k1·cos φ + k2·(2cos²φ − 1)
    m = torch.addcmul(1.0 - k2, cph, k1)
    m.addcmul_(cph * cph, 2.0 * k2)
    mask = m[:, :3] * m[:, 3:]
    img = img * (1.0 + depth.view(-1, 1, 1, 1) * (mask - 1.0))

    # glare (80 % of videos), reflection of the room on the glass
    a_gl = _amount(strength, "glare", spec, emphasis, "replay")
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    on = (pv(0.0, 1.0) < 0.8).float()
    gx, gy, gs = pv(-0.7, 0.7), pv(-0.7, 0.7), pv(0.15, 0.45)
    blob = torch.exp(-((g.view(1, 1, S) - _c(gx)) ** 2 + (g.view(1, S, 1) - _c(gy)) ** 2) / (2 * _c(gs) ** 2))
    glare = _c(on * pv(0.1, 0.5) * a_gl * 0.5) * blob
    lrgb = (light["rgb"] * light["level"].view(-1, 1)).view(-1, 3, 1, 1)
    screen = img + (0.04 + glare.unsqueeze(1)) * lrgb

    # bezel around the screen, then the scene
    eu, ev = pv(1.05, 1.5), pv(1.05, 1.5)
    bw = pv(0.06, 0.14)
    inner = _edge(u, v, eu, ev, px)
    outer = _edge(u, v, eu + bw, ev + bw, px)
    bezel = 0.03 * lrgb * (1.0 + 0.5 * pv(0.0, 1.0).view(-1, 1, 1, 1))
    out = torch.lerp(scene, bezel.expand_as(scene), outer.unsqueeze(1))
    out = torch.lerp(out, screen, inner.unsqueeze(1))
    return out, inner, torch.stack([u, v], -1)
