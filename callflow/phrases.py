"""Word phrases found in a transcript's words, for the intents and the spoken-email parser.

A phrase is a tuple of normalised words (``("call", "me", "back")``); a phrase set is a
``frozenset`` of them. Each set is indexed once by first word (the index is cached per set), so a
pass over a transcript costs a dict look-up per word, not a comparison per phrase and word. Where
phrases overlap, the longest one said at a position wins; two phrases of one length cannot both be
said at the same position unless they are equal, so no other order matters.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Optional, Sequence

Phrase = tuple[str, ...]


@lru_cache(maxsize=None)
def by_first_word(phrases: frozenset[Phrase]) -> dict[str, tuple[Phrase, ...]]:
    """``{first word: phrases starting with it, longest first}`` for a phrase set (cached per set)."""
    index: dict[str, list[Phrase]] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        index.setdefault(phrase[0], []).append(phrase)
    return {word: tuple(group) for word, group in index.items()}


def phrase_at(tokens: Sequence[str], i: int, phrases: frozenset[Phrase]) -> Optional[Phrase]:
    """The longest of ``phrases`` said at ``tokens[i]``, or None (also for ``i`` past the end)."""
    if i >= len(tokens):
        return None
    for phrase in by_first_word(phrases).get(tokens[i], ()):
        if tuple(tokens[i : i + len(phrase)]) == phrase:
            return phrase
    return None


def replace_phrases(tokens: Sequence[str], mapping: Mapping[Phrase, Sequence[str]]) -> list[str]:
    """``tokens`` with each phrase of ``mapping`` (longest first, left to right) replaced by its words."""
    phrases = frozenset(mapping)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        phrase = phrase_at(tokens, i, phrases)
        if phrase is None:
            out.append(tokens[i])
            i += 1
        else:
            out.extend(mapping[phrase])
            i += len(phrase)
    return out


def remove_phrases(tokens: Sequence[str], phrases: frozenset[Phrase]) -> list[str]:
    """``tokens`` without every occurrence of ``phrases`` (longest first, left to right)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        phrase = phrase_at(tokens, i, phrases)
        if phrase is None:
            out.append(tokens[i])
            i += 1
        else:
            i += len(phrase)
    return out
