"""Contact sheets: one PNG that shows what a dataset looks like (``vaultlab data preview synthfas``).

Layout: a title bar, then one row per presentation (bona fide / print / replay) and one column per
domain. Each cell holds two tiles side by side: for bona fide two different subjects, for attacks the
low-quality and the high-quality instrument (``lq | hq``). Tiles are upscaled with nearest-neighbour
so halftone dots, moiré and JPEG blocks stay visible. Written atomically (temp file + rename).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaultlab.data.sampleset import BONA_FIDE, SampleSet, pai_family

ROWS = ("bona fide", "print", "replay")
TILE = 128  # displayed tile size in pixels
PAD = 6
LABEL_W = 84
HEADER_H = 22
TITLE_H = 24


def contact_sheet_layout(n_domains: int) -> tuple[int, int]:
    """(width, height) in pixels of the sheet for ``n_domains`` columns."""
    cell_w = 2 * TILE + PAD
    width = LABEL_W + n_domains * (cell_w + PAD) + PAD
    height = TITLE_H + HEADER_H + len(ROWS) * (TILE + PAD) + PAD
    return width, height


def _pick(data: SampleSet, rng: np.random.Generator, domain: str, row: str) -> list[int | None]:
    in_dom = data.domain == domain
    if row == "bona fide":
        rows = np.flatnonzero(in_dom & (data.label == BONA_FIDE))
        subjects = sorted(set(data.subject[rows].tolist()))
        chosen = rng.permutation(len(subjects))[:2].tolist() if subjects else []
        out = []
        for k in chosen:
            cand = rows[data.subject[rows] == subjects[k]]
            out.append(int(rng.choice(cand)))
        return (out + [None, None])[:2]
    out = []
    for quality in ("lq", "hq"):
        cand = np.flatnonzero(in_dom & (data.pai == f"{row}-{quality}"))
        if len(cand) == 0:  # datasets without the lq/hq split: any attack of that family
            fam = np.array([pai_family(p) for p in data.pai.tolist()])
            cand = np.flatnonzero(in_dom & (fam == row))
        out.append(int(rng.choice(cand)) if len(cand) else None)
    return out


def write_contact_sheet(sampleset_or_config, out_png: Path, seed: int = 0) -> Path:
    """Write a labelled PNG grid (rows bona fide / print / replay, columns domains) and return its path.

    ``sampleset_or_config``: a ``SampleSet``, or a ``SynthFASConfig`` (a 3-subject version of it is
    generated, so the sheet is quick). ``seed`` picks which samples are shown.
    """
    data = sampleset_or_config
    if not isinstance(data, SampleSet):
        from vaultlab.data.synthfas import SynthFASConfig, generate_synthfas

        if not isinstance(data, SynthFASConfig):
            raise TypeError(f"write_contact_sheet needs a SampleSet or a SynthFASConfig, not {type(data).__name__}")
        data = generate_synthfas(replace(data, subjects=3))
    rng = np.random.default_rng(seed)
    domains = data.domains()
    width, height = contact_sheet_layout(len(domains))
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    name = data.meta.get("name", "dataset")
    cfg = data.meta.get("config") or {}
    extra = f"  seed {cfg.get('seed')}  {data.image_size}px  art {cfg.get('art')}  hq {cfg.get('hq')}  dom {cfg.get('dom')}" if cfg else f"  {data.image_size}px"
    draw.text((PAD, 6), f"{name}{extra}   cells: bona fide = two subjects, attacks = lq | hq", fill=(20, 20, 20), font=font)
    titles = data.meta.get("domains") or {}
    cell_w = 2 * TILE + PAD
    for j, dom in enumerate(domains):
        x0 = LABEL_W + PAD + j * (cell_w + PAD)
        label = f"{dom} {titles.get(dom, '')}".strip()
        draw.text((x0, TITLE_H + 4), label, fill=(20, 20, 20), font=font)
        for i, row in enumerate(ROWS):
            y0 = TITLE_H + HEADER_H + i * (TILE + PAD)
            for k, idx in enumerate(_pick(data, rng, dom, row)):
                xx = x0 + k * (TILE + PAD)
                if idx is None:
                    draw.rectangle([xx, y0, xx + TILE - 1, y0 + TILE - 1], outline=(180, 180, 180))
                    draw.text((xx + 8, y0 + TILE // 2), "none", fill=(150, 150, 150), font=font)
                    continue
                tile = Image.fromarray(np.ascontiguousarray(data.images[idx])).resize((TILE, TILE), Image.NEAREST)
                sheet.paste(tile, (xx, y0))
    for i, row in enumerate(ROWS):
        y0 = TITLE_H + HEADER_H + i * (TILE + PAD)
        draw.text((PAD, y0 + TILE // 2 - 6), row, fill=(20, 20, 20), font=font)

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_png.name + ".", suffix=".tmp", dir=out_png.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            sheet.save(fh, format="PNG")
        os.replace(tmp, out_png)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_png
