"""Protocols of the real datasets: OULU-NPU P1–P4 and OCIM leave-one-dataset-out.

- ``oulu:P1``, ``oulu:P2``, ``oulu:P3-1`` … ``oulu:P3-6``, ``oulu:P4-1`` … ``oulu:P4-6`` read the
  official ``Protocols/`` lists kept by ``vaultlab data prepare`` (``meta["protocol_lists"]``).
  P3 and P4 are reported as mean ± std over their six folds: ``protocol_folds("oulu:P3")`` names
  the runs to make.
- ``ocim:<target>`` (target O, C, I or M; O&C&I→M is ``ocim:M``) follows the literature's data
  convention (SSDG, ViTAF/FLIP lists, CASIA-FAS ``dg_protocol``; fas-toolkits.md §2.1): the three
  sources train on all their train+test videos, the target is tested on all its train+test videos,
  and the official dev sets of OULU-NPU and Replay-Attack are dropped. No dev data remains, so dev
  *is* the target test set: any threshold is an oracle (``test-eer``) and must be labelled so.
- ``ocim-honest:<target>`` keeps the same target test set but holds out a subject-disjoint dev set
  from the sources (official dev of O and I, the carved dev clients of C and M); the sources train
  on the rest, so the ``dev-eer`` threshold never sees the target.

All functions are pure selections on a SampleSet whose ``domain`` is the dataset name
(``load_prepared("ocim", vault)`` joins the four).
"""

from __future__ import annotations

import re

import numpy as np

from vaultlab.data.protocols import ProtocolError, register_protocol
from vaultlab.data.sampleset import SampleSet, Splits

OULU_PROTOCOLS = ["P1", "P2"] + [f"P{p}-{k}" for p in (3, 4) for k in range(1, 7)]
OULU_FOLDED = {"P3": [f"P3-{k}" for k in range(1, 7)], "P4": [f"P4-{k}" for k in range(1, 7)]}
OCIM_LETTERS = {"O": "oulu-npu", "C": "casia-fasd", "I": "replay-attack", "M": "msu-mfsd"}
MCIO_SHORT_NAMES = {"oulu-npu": "oulu", "casia-fasd": "casia", "replay-attack": "replay", "msu-mfsd": "msu", "celeba-spoof": "celeb"}
OFFICIAL_DEV = {"oulu-npu", "replay-attack"}  # the other datasets' dev rows are carved from train clients


def normalise_oulu_protocol(arg: str) -> str:
    """'p1', '1', 'Protocol_1' → 'P1'; 'P3_2', '3-2', 'P3.2' → 'P3-2'; 'P3' stays 'P3' (a folded protocol)."""
    m = re.fullmatch(r"(?:protocol)?[_ ]?p?([1-4])(?:[-_.]([1-6]))?", arg.strip().lower())
    if not m:
        return arg
    return f"P{m[1]}" + (f"-{m[2]}" if m[2] else "")


def protocol_folds(protocol: str) -> list[str]:
    """The protocols to run for ``protocol`` and report as mean ± std: 'oulu:P3' → ['oulu:P3-1', …];
    any other protocol is its own single fold."""
    name, _, arg = protocol.partition(":")
    if name == "oulu" and normalise_oulu_protocol(arg) in OULU_FOLDED:
        return [f"oulu:{fold}" for fold in OULU_FOLDED[normalise_oulu_protocol(arg)]]
    return [protocol]


@register_protocol("oulu")
def oulu(data: SampleSet, arg: str, options: dict) -> Splits:
    protocol = normalise_oulu_protocol(arg)
    if protocol in OULU_FOLDED:
        folds = ", ".join(f"oulu:{f}" for f in OULU_FOLDED[protocol])
        raise ProtocolError(f"oulu:{protocol} has six folds ({folds}); run each and report mean ± std")
    if protocol not in OULU_PROTOCOLS:
        raise ProtocolError(f"oulu:{arg}: not an OULU-NPU protocol; choose one of {', '.join(OULU_PROTOCOLS)}")
    lists = data.meta.get("protocol_lists", {}).get(protocol)
    if not lists:
        raise ProtocolError(f"oulu:{protocol} needs the prepared oulu-npu dataset (its official Protocols/ lists); "
                            f"{data.meta.get('name', 'this dataset')} has none — use --dataset oulu-npu")

    def rows(split: str) -> SampleSet:
        return data.select(np.isin(data.video, np.array(lists[split], dtype=data.video.dtype)))

    return Splits(protocol=f"oulu:{protocol}", train=rows("train"), dev=rows("dev"), test=rows("test"),
                  description=f"OULU-NPU official {protocol} lists (train / dev / test); threshold from dev")


def literature_pool(data: SampleSet) -> np.ndarray:
    """Rows the OCIM literature uses from each dataset: everything but the official dev sets."""
    official_dev = np.isin(data.domain, list(OFFICIAL_DEV)) & (data.split == "dev")
    return ~official_dev


def _ocim_target(data: SampleSet, arg: str, protocol: str) -> tuple[str, list[str]]:
    letter = arg.strip().upper()
    if letter not in OCIM_LETTERS:
        raise ProtocolError(f"{protocol}:{arg}: the target must be one of O, C, I, M (e.g. {protocol}:M for O&C&I→M)")
    missing = [name for name in OCIM_LETTERS.values() if name not in set(data.domain.tolist())]
    if missing:
        raise ProtocolError(f"{protocol}:{letter} needs all four OCIM datasets; {', '.join(missing)} missing — "
                            "prepare them and use --dataset ocim")
    return letter, [OCIM_LETTERS[k] for k in "OCIM" if k != letter]


def _ocim_name(letter: str) -> str:
    return "&".join(k for k in "OCIM" if k != letter) + "→" + letter


@register_protocol("ocim")
def ocim(data: SampleSet, arg: str, options: dict) -> Splits:
    letter, sources = _ocim_target(data, arg, "ocim")
    pool = literature_pool(data)
    is_source = np.isin(data.domain, sources)
    target = data.select(pool & (data.domain == OCIM_LETTERS[letter]))
    return Splits(protocol=f"ocim:{letter}", train=data.select(pool & is_source), dev=target, test=target,
                  description=f"{_ocim_name(letter)}, literature convention: sources' train+test, target's train+test, "
                              "official dev sets dropped; dev = target test, so thresholds are ORACLE (test-eer)")


@register_protocol("ocim-honest")
def ocim_honest(data: SampleSet, arg: str, options: dict) -> Splits:
    letter, sources = _ocim_target(data, arg, "ocim-honest")
    is_source = np.isin(data.domain, sources)
    return Splits(protocol=f"ocim-honest:{letter}",
                  train=data.select(is_source & (data.split != "dev")), dev=data.select(is_source & (data.split == "dev")),
                  test=data.select(literature_pool(data) & (data.domain == OCIM_LETTERS[letter])),
                  description=f"{_ocim_name(letter)}, honest: sources' subject-disjoint dev held out for the threshold; "
                              "target tested on its train+test videos as in the literature")
