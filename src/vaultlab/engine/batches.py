"""Turn a SampleSet into device batches: the only data path a recipe uses.

The whole set lives in memory as uint8; a batch is gathered by index, moved to the device, and only
then converted to float and normalised (4× less traffic than shipping floats, which matters on GPU).
On CUDA the uint8 set itself moves to the GPU once when it takes under a quarter of the free GPU
memory, so a batch is gathered there and no step waits for a host-to-device copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vaultlab.data.sampleset import BONA_FIDE, SampleSet

# ImageNet statistics: every torchvision / smp backbone expects them, pretrained or not.
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class BatchSpec:
    batch_size: int = 64
    image_size: int | None = None  # resize on the device when it differs from the stored size
    depth_size: int | None = None  # add "depth" [B,1,s,s] in [0,1] when set
    parsing_size: int | None = None  # add "parsing" [B,s,s] long when set
    hflip: bool = False  # random horizontal flip (training only)
    balanced: bool = False  # half bona fide, half attack in every batch


class Batches:
    """Epochs of batches over one SampleSet. ``len()`` is the number of batches in an epoch."""

    def __init__(self, data: SampleSet, spec: BatchSpec, device: torch.device, *, shuffle: bool, seed: int = 0,
                 channels_last: bool = False, drop_last: bool | None = None, steps_per_epoch: int | None = None,
                 group=None):
        self.data, self.spec, self.device, self.shuffle, self.seed = data, spec, device, shuffle, seed
        self.group = group if group is not None and group.active else None  # data-parallel: this rank's slice of each batch
        self.channels_last = channels_last
        self.drop_last = shuffle if drop_last is None else drop_last
        self._images = torch.from_numpy(np.ascontiguousarray(data.images))
        self._scale = (1.0 / (255.0 * _STD)).to(device)
        self._shift = (-_MEAN / _STD).to(device)
        self._label = torch.from_numpy(data.label.astype(np.int64))
        self._domain_ids = _codes(data.domain)
        self._depth = None if data.depth is None else torch.from_numpy(data.depth)
        self._parsing = None if data.parsing is None else torch.from_numpy(data.parsing)
        if spec.depth_size and self._depth is None:
            raise ValueError(f"{data.meta.get('name', 'dataset')} has no depth maps; this recipe needs them")
        if spec.parsing_size and self._parsing is None:
            raise ValueError(f"{data.meta.get('name', 'dataset')} has no parsing maps; this recipe needs them")
        self._on_device = device.type == "cuda" and _fits_on(device, self._tensors())
        if self._on_device:
            self._images, self._label, self._domain_ids = (x.to(device) for x in (self._images, self._label, self._domain_ids))
            self._depth = None if self._depth is None else self._depth.to(device)
            self._parsing = None if self._parsing is None else self._parsing.to(device)
        n = len(data)
        bs = min(spec.batch_size, n)
        self.batch_size = bs
        natural = n // bs if self.drop_last else -(-n // bs)
        self.steps_per_epoch = steps_per_epoch or max(1, natural)

    def _to_device(self, small: torch.Tensor) -> torch.Tensor:
        """A per-step host tensor (indices, flips) to the device without waiting for the GPU: a copy from
        pageable memory first synchronises the stream; one from (cached) pinned memory does not."""
        if self.device.type != "cuda":
            return small.to(self.device)
        return small.pin_memory().to(self.device, non_blocking=True)

    def _tensors(self) -> list[torch.Tensor]:
        return [x for x in (self._images, self._label, self._domain_ids, self._depth, self._parsing) if x is not None]

    def __len__(self) -> int:
        return self.steps_per_epoch

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        for idx in self._index_batches(epoch):
            yield self.gather(idx, epoch)

    def _index_batches(self, epoch: int) -> Iterator[np.ndarray]:
        n = len(self.data)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield np.arange(start, min(n, start + self.batch_size))
            return
        rng = np.random.default_rng([self.seed, epoch])
        if self.spec.balanced:
            pos = np.flatnonzero(self.data.label == BONA_FIDE)
            neg = np.flatnonzero(self.data.label != BONA_FIDE)
            half = self.batch_size // 2
            for _ in range(self.steps_per_epoch):
                yield np.concatenate([rng.choice(pos, half, replace=len(pos) < half),
                                      rng.choice(neg, self.batch_size - half, replace=len(neg) < self.batch_size - half)])
            return
        order = np.concatenate([rng.permutation(n) for _ in range(-(-self.steps_per_epoch * self.batch_size // n))])
        for step in range(self.steps_per_epoch):
            yield order[step * self.batch_size:(step + 1) * self.batch_size]

    def gather(self, idx: np.ndarray, epoch: int = 0) -> dict[str, torch.Tensor]:
        dev = self.device
        flip = None
        if self.spec.hflip:  # drawn for the whole global batch, then sliced: N ranks flip what one process flips
            g = torch.Generator().manual_seed(int(self.seed * 1_000_003 + epoch * 7919 + int(idx[0])))
            flip = torch.rand(len(idx), generator=g) < 0.5
        if self.group is not None:
            from vaultlab.engine.distributed import shard

            idx = shard(idx, self.group)
            flip = None if flip is None else shard(flip, self.group)
        t = torch.from_numpy(idx)
        at = self._to_device(t) if self._on_device else t  # index where the rows live
        flip = None if flip is None or not flip.any() else (self._to_device(flip) if self._on_device else flip)
        # NHWC uint8 → NCHW float view (channels_last strides), normalised in place: (x/255 − mean)/std.
        images = _flipped(self._images[at], flip, 2).to(dev, non_blocking=True).permute(0, 3, 1, 2).float()
        images.mul_(self._scale).add_(self._shift)
        if self.spec.image_size and self.spec.image_size != images.shape[-1]:
            images = F.interpolate(images, size=self.spec.image_size, mode="bilinear", align_corners=False, antialias=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        batch = {"image": images, "label": self._label[at].to(dev), "domain": self._domain_ids[at].to(dev), "index": t}
        if self.spec.depth_size:
            depth = _flipped(self._depth[at], flip, 2).to(dev).unsqueeze(1).float().div_(255)
            batch["depth"] = F.interpolate(depth, size=self.spec.depth_size, mode="area")
        if self.spec.parsing_size:
            parsing = _flipped(self._parsing[at], flip, 2).to(dev).unsqueeze(1).float()
            batch["parsing"] = F.interpolate(parsing, size=self.spec.parsing_size, mode="nearest").squeeze(1).long()
        return batch


def _flipped(rows: torch.Tensor, flip: torch.Tensor | None, width_dim: int) -> torch.Tensor:
    """``rows`` (a fresh gather, modified in place) with the rows where ``flip`` is true mirrored along
    ``width_dim``. Done on the uint8 rows before conversion: a quarter of the bytes of flipping floats,
    and only the flipped half is touched; the values (and the float tensor's layout) are the same."""
    if flip is not None:
        rows[flip] = rows[flip].flip(width_dim)
    return rows


def _fits_on(device: torch.device, tensors: list[torch.Tensor]) -> bool:
    """True when ``tensors`` take under a quarter of the GPU's free memory (the rest is the model's)."""
    free, _total = torch.cuda.mem_get_info(device)
    return sum(x.numel() * x.element_size() for x in tensors) < free // 4


def _codes(values: np.ndarray) -> torch.Tensor:
    """Stable integer codes for a string column (sorted unique values)."""
    _, inverse = np.unique(values.astype(str), return_inverse=True)
    return torch.from_numpy(inverse.astype(np.int64))
