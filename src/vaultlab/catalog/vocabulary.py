"""Free-text component names (``Binary CE loss``, ``DeepLabv3+``) → canonical ids (``bce``, ``deeplabv3plus``).

The data lives in ``methods/vocabulary.yaml``; this module only normalises and looks up.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vaultlab.catalog.yamlfile import YamlData, YamlFileError, load_yaml_file

CATEGORIES = ("backbones", "losses", "inputs", "supervision", "temporal")
COMPOSITE_CATEGORIES = ("backbones", "inputs")  # where "A+B" is one thing (a network, a multi-channel input)

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LOSS_WORDS = {"loss", "losses"}


@lru_cache(maxsize=1 << 16)  # resolving a vault asks for the same few hundred terms again and again
def normalise_term(text: str) -> str:
    """The form two spellings of one term share: NFKC, case-folded, "+" → "plus", no punctuation or
    spaces, no trailing "loss" ("MMD loss " → "mmd", "DeepLabv3+" → "deeplabv3plus")."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("+", " plus ")
    words = [w for w in _NON_ALNUM.split(folded) if w]
    if len(words) > 1 and words[-1] in _LOSS_WORDS:
        words = words[:-1]
    return "".join(words)


def split_composite(text: str) -> list[str]:
    """``"DepthNet+UNet"`` → its parts; a lone trailing ``+`` (``DeepLabv3+``) is part of a name."""
    parts = [p.strip() for p in text.split("+")]
    return parts if len(parts) > 1 and all(parts) else [text.strip()]


_QUALIFIER = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*")


def split_qualifier(text: str) -> tuple[str, str]:
    """``"ResNet-50 (ImageNet pre-trained)"`` → ``("ResNet-50", "(ImageNet pre-trained)")``: the term
    without its bracketed qualifiers, and those qualifiers ("" when there are none)."""
    qualifiers = [m.group().strip() for m in _QUALIFIER.finditer(text)]
    return (_QUALIFIER.sub(" ", text).strip(), " ".join(qualifiers)) if qualifiers else (text.strip(), "")


@dataclass(frozen=True)
class VocabularyEntry:
    canonical: str
    aliases: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # composite architectures list their parts
    # other components whose closest buildable relative this is: suggested for them, never mapped to it
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermLookup:
    """What one free-text item maps to: the canonical id, or ``None`` with the unknown piece and guesses."""

    text: str
    canonical: str | None
    unknown: str = ""  # the part that did not map ("Foo" in "ResNet18+Foo")
    suggestions: tuple[str, ...] = ()


@dataclass
class Vocabulary:
    entries: dict[str, dict[str, VocabularyEntry]] = field(default_factory=lambda: {c: {} for c in CATEGORIES})

    def __post_init__(self) -> None:
        self._index: dict[str, dict[str, str]] = {}
        self._reindex()

    def _reindex(self) -> None:
        self._lookups: dict[tuple[str, str], TermLookup] = {}  # (category, text) → lookup, for this index
        self._index = {category: {} for category in self.entries}
        self._related: dict[str, dict[str, list[str]]] = {category: {} for category in self.entries}
        for category, entries in self.entries.items():
            for entry in entries.values():
                for spelling in (entry.canonical, *entry.aliases):
                    self._index[category].setdefault(normalise_term(spelling), entry.canonical)
                for spelling in entry.related:
                    self._related[category].setdefault(normalise_term(spelling), []).append(entry.canonical)

    def ids(self, category: str) -> list[str]:
        return sorted(self.entries.get(category, {}))

    def knows(self, category: str, canonical: str) -> bool:
        if canonical in self.entries.get(category, {}):
            return True
        parts = canonical.split("+")
        return len(parts) > 1 and all(p in self.entries.get(category, {}) for p in parts)

    def lookup(self, category: str, text: str) -> TermLookup:
        """Map one item. Whole-term match first (so ``DepthNet+UNet`` and ``DeepLabv3+`` hit their
        entries), then ``A+B`` of known parts, which maps to the composite id ``a+b`` for a backbone or an
        input; "A+B" of known losses is not one loss: it stays unmapped, suggesting the parts."""
        found = self._lookups.get((category, text))
        if found is None:
            found = self._lookups[(category, text)] = self._lookup(category, text)
        return found

    def _lookup(self, category: str, text: str) -> TermLookup:
        index = self._index.get(category, {})
        found = index.get(normalise_term(text))
        if found:
            return TermLookup(text, found)
        parts = split_composite(text)
        if len(parts) > 1:
            mapped = [index.get(normalise_term(p)) for p in parts]
            if all(mapped) and category in COMPOSITE_CATEGORIES:
                return TermLookup(text, "+".join(m for m in mapped if m))
            if all(mapped):  # "BCE loss + triplet loss" is a sum of losses, not one component: list them
                return TermLookup(text, None, text.strip(), tuple(dict.fromkeys(m for m in mapped if m)))
            unknown = [p for p, m in zip(parts, mapped) if not m]  # every part that blocks, not just the first
            guesses = dict.fromkeys(g for p in unknown for g in self.suggest(category, p))
            return TermLookup(text, None, " + ".join(unknown), tuple(guesses))
        return TermLookup(text, None, text.strip(), tuple(self.suggest(category, text)))

    def suggest(self, category: str, text: str, n: int = 3) -> list[str]:
        """Closest known ids of ``category``, best first:

        - alternatives written with "/" or "or" ("DepthNet/ResNet18", "ResNet50 or CDCN"): the ids of
          their parts, in the note's order (a note lists alternatives with commas);
        - an entry's ``related`` spellings ("Center loss" → metric_softmax), exact or contained;
        - known spellings contained in the text ("Dual-ResNet50" → resnet50), then near spellings (difflib);
        - when none of these finds anything, a near spelling of another category, marked with it
          (``"depth (supervision)"``)."""
        key = normalise_term(text)
        parts = [p for p in _ALTERNATIVES.split(text) if p.strip()]
        if len(parts) > 1:
            mapped = [self.lookup(category, p).canonical for p in parts]
            if all(mapped):
                return list(dict.fromkeys(m for m in mapped if m))[:n]
        close = _related(key, self._related.get(category, {})) + _closest(key, self._index.get(category, {}), n)
        close = list(dict.fromkeys(close))[:n]
        if close:
            return close
        labelled = {}
        for other, index in self._index.items():
            if other != category:
                for canonical in _closest(key, index, n, cutoff=0.8):
                    labelled.setdefault(f"{canonical} ({other})", None)
        return list(labelled)[:n]

    def merged_with(self, other: Vocabulary) -> Vocabulary:
        """This vocabulary plus ``other``'s terms (a vault's additions); aliases of a shared id are merged."""
        merged = {c: dict(e) for c, e in self.entries.items()}
        for category, entries in other.entries.items():
            target = merged.setdefault(category, {})
            for canonical, entry in entries.items():
                old = target.get(canonical)
                if old is None:
                    target[canonical] = entry
                else:
                    aliases = old.aliases + tuple(a for a in entry.aliases if a not in old.aliases)
                    related = old.related + tuple(r for r in entry.related if r not in old.related)
                    target[canonical] = VocabularyEntry(canonical, aliases, entry.parts or old.parts, related)
        return Vocabulary(merged)


_ALTERNATIVES = re.compile(r"\s*/\s*|\s+or\s+", re.IGNORECASE)


def _related(key: str, related: dict[str, list[str]]) -> list[str]:
    """Ids whose ``related`` spellings equal the text, then those contained in it ("5-layer CNN" ⊃ "cnn")."""
    found = list(related.get(key, []))
    for spelling, canonicals in related.items():
        if len(spelling) >= 3 and spelling in key:
            found += canonicals
    return list(dict.fromkeys(found))


def _closest(key: str, index: dict[str, str], n: int, cutoff: float = 0.6) -> list[str]:
    if not key:
        return []
    # a known term contained in the text ("ResNet-50 pretrained", "Dual-force triplet") is a better
    # guess than edit distance, and so is a text contained in a known term ("ResNet" ⊂ "resnet18")
    contained = [canonical for spelling, canonical in sorted(index.items(), key=lambda item: -len(item[0]))  # most specific first
                 if len(spelling) >= 3 and spelling in key]
    contained += [canonical for spelling, canonical in index.items() if len(key) >= 5 and key in spelling]
    near = [index[spelling] for spelling in difflib.get_close_matches(key, list(index), n=n * 3, cutoff=cutoff)]
    return list(dict.fromkeys(contained + near))[:n]


def vocabulary_from_yaml(doc: YamlData) -> Vocabulary:
    """Build a vocabulary from parsed YAML; raises ``YamlFileError`` (with the line) on a bad shape."""
    if not isinstance(doc.data, dict):
        raise YamlFileError("a vocabulary is a mapping of categories", 1)
    entries: dict[str, dict[str, VocabularyEntry]] = {c: {} for c in CATEGORIES}
    for category, terms in doc.data.items():
        if category not in CATEGORIES:
            close = difflib.get_close_matches(category, CATEGORIES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise YamlFileError(f"unknown vocabulary category {category!r}{hint}; known: {', '.join(CATEGORIES)}", doc.line(category))
        if not isinstance(terms, dict):
            raise YamlFileError(f"{category}: expected a mapping of canonical ids", doc.line(category))
        for canonical, body in terms.items():
            body = body or {}
            if not isinstance(body, dict):
                raise YamlFileError(f"{category}.{canonical}: expected a mapping with 'aliases' / 'parts' / 'related'", doc.line(category, canonical))
            aliases = body.get("aliases", []) or []
            parts = body.get("parts", []) or []
            related = body.get("related", []) or []
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise YamlFileError(f"{category}.{canonical}.aliases: expected a list of strings", doc.line(category, canonical, "aliases"))
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise YamlFileError(f"{category}.{canonical}.parts: expected a list of ids", doc.line(category, canonical, "parts"))
            if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
                raise YamlFileError(f"{category}.{canonical}.related: expected a list of strings", doc.line(category, canonical, "related"))
            entries[category][str(canonical)] = VocabularyEntry(str(canonical), tuple(aliases), tuple(parts), tuple(related))
    return Vocabulary(entries)


def load_vocabulary(path: Path) -> Vocabulary:
    return vocabulary_from_yaml(load_yaml_file(path))
