"""Paper identifiers in comparable form: DOI, arXiv id, URL, title.

Used twice: to match a note to a method card by identifier before any name, and to spot two notes
on the same paper. Each key is ``(kind, value)``; two keys are the same paper when they are equal.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from vaultlab.catalog.cards import MethodCard

# strongest first: a DOI names one paper, a title may be shared by a preprint and its journal version
KINDS = ("doi", "arxiv", "url", "title")

PaperKey = tuple[str, str]

_ARXIV = re.compile(r"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:.]\s*)(\d{4}\.\d{4,5})(?:v\d+)?", re.IGNORECASE)
_BARE_ARXIV = re.compile(r"^(\d{4}\.\d{4,5})(?:v\d+)?$")
_DOI = re.compile(r"^(?:https?://)?(?:dx\.)?(?:doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_NOTE_URL_KEYS = ("paper_url", "url", "pdf_url", "arxiv_url")


def normalise_doi(text: str) -> str:
    found = _DOI.match(text.strip())
    return found.group(1).lower().rstrip(".") if found else ""


def arxiv_ids(text: str) -> list[str]:
    """arXiv ids in a URL, an ``arXiv:`` mention, an arXiv DOI (10.48550/arXiv.X) or a bare id."""
    text = text.strip()
    bare = _BARE_ARXIV.match(text)
    if bare:
        return [bare.group(1)]
    return [m.group(1) for m in _ARXIV.finditer(text)]


def normalise_url(text: str) -> str:
    """Scheme, ``www.``, query, fragment and trailing slash dropped; case-folded."""
    url = text.strip().casefold()
    url = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url)
    url = url.removeprefix("www.")
    url = re.split(r"[?#]", url, maxsplit=1)[0]
    return url.rstrip("/")


_WORDS = re.compile(r"[0-9a-z]+")


def normalise_title(text: str) -> str:
    if text.isascii():  # nothing to decompose (most titles): lower() is casefold() for ASCII
        return " ".join(_WORDS.findall(text.lower()))
    folded = unicodedata.normalize("NFKD", text).casefold()
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_WORDS.findall(folded))


def keys_from_text(text: str, kind_hint: str = "") -> set[PaperKey]:
    """The keys one identifier string yields; ``kind_hint`` is "title" for a string known to be a title."""
    text = str(text or "").strip()
    if not text:
        return set()
    if kind_hint == "title":
        title = normalise_title(text)
        return {("title", title)} if len(title.split()) >= 3 else set()  # a one-word "title" is a name
    keys: set[PaperKey] = set()
    doi = normalise_doi(text)
    if doi:
        keys.add(("doi", doi))
        if doi.startswith("10.48550/arxiv."):
            keys.add(("arxiv", doi.removeprefix("10.48550/arxiv.")))
    keys.update(("arxiv", ident) for ident in arxiv_ids(text))
    if "://" in text or text.startswith("www."):
        if "doi.org/" not in text.casefold():
            keys.add(("url", normalise_url(text)))
    elif not keys:
        keys |= keys_from_text(text, "title")
    return keys


def note_paper_keys(frontmatter: dict[str, Any], title: str, stem: str) -> set[PaperKey]:
    """What a note says about its paper: ``doi``, ``arxiv``, URL keys, and its title (an H1 or a
    ``title`` property; a title that is only the file stem says nothing)."""
    keys: set[PaperKey] = set()
    doi = frontmatter.get("doi")
    if isinstance(doi, str) and doi.strip():
        norm = normalise_doi(doi)
        if norm:
            keys |= keys_from_text(norm)
    arxiv = frontmatter.get("arxiv")
    if isinstance(arxiv, (str, int, float)) and not isinstance(arxiv, bool):
        keys.update(("arxiv", ident) for ident in arxiv_ids(str(arxiv)))
    for url_key in _NOTE_URL_KEYS:
        value = frontmatter.get(url_key)
        if isinstance(value, str) and value.strip():
            keys |= keys_from_text(value)
    for candidate in (frontmatter.get("title"), title if title and title != stem else None):
        if isinstance(candidate, str):
            keys |= keys_from_text(candidate, "title")
    return keys


def card_paper_keys(card: MethodCard) -> set[PaperKey]:
    keys: set[PaperKey] = set()
    if card.paper.doi:
        keys |= keys_from_text(card.paper.doi)
    if card.paper.arxiv:
        keys.update(("arxiv", ident) for ident in arxiv_ids(card.paper.arxiv))
    for url in card.paper.urls:
        keys |= keys_from_text(url)
    if card.paper.title:
        keys |= keys_from_text(card.paper.title, "title")
    for ident in card.match_identifiers:
        keys |= keys_from_text(ident)
    return keys
