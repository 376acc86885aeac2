"""Finding a person's name in free text the way people write it: declined (`Иванову`,
`Анной`), misspelt by a letter (`Ivanof`), in either alphabet (`Ivanovu`).

`/forget` uses it to take the name out of text it must keep because it belongs to others too
(a campaign's title, copied into other clients' follow-ups), replacing only the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

from bot.services.matching import normalize

# Shorter words are too common to be taken for a name ("ООО", "Ли", "Ян").
MIN_WORD = 4
# Words at least this long are also matched one typo away ("Ivanof" for "Ivanov").
MIN_TYPO_WORD = 5
# Case endings of Russian nouns and surnames, compared after transliteration like the names.
_ENDINGS = frozenset(
    normalize(ending)
    for ending in (
        *("а", "я", "у", "ю", "е", "и", "ы", "ь"),
        *("ом", "ем", "ём", "ым", "им", "ой", "ей", "ою", "ею", "ых", "их", "ам", "ям", "ах"),
        *("ого", "его", "ому", "ему", "ами", "ями"),
    )
)
# A final vowel of the nominative that the other cases replace: Анна -> Анну, Смирнова -> -ой.
_STEM_VOWELS = ("ya", "a", "e", "i", "y", "o", "u", "yu")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\+?\d[\d\s()+-]{3,}\d")
# At least this many digits of a phone make a phone fragment ("1234567" of +7 999 123-45-67).
MIN_PHONE_DIGITS = 5


def name_words(names: Iterable[str | None]) -> set[str]:
    """The transliterated words of a person's names that are long enough to look for."""
    words: set[str] = set()
    for name in names:
        words.update(w for w in normalize(name or "").split() if len(w) >= MIN_WORD)
    return {w for w in words if not w.isdigit()}


def is_form_of(word: str, name: str) -> bool:
    """`word` (normalized) is `name` (a normalized word of a name) declined or one typo off."""
    if word == name:
        return True
    stems = [name]
    for vowel in _STEM_VOWELS:
        if name.endswith(vowel) and len(name) - len(vowel) >= MIN_WORD - 1:
            stems.append(name[: -len(vowel)])
            break
    for stem in stems:
        if word.startswith(stem) and word[len(stem) :] in _ENDINGS:
            return True
    return len(name) >= MIN_TYPO_WORD and Levenshtein.distance(word, name, score_cutoff=1) <= 1


def _names_word(word: str, names: set[str]) -> bool:
    normalized = normalize(word)
    # One typed word can transliterate to several ("Ǆ" -> "dz" is one, "½" -> "1 2" two).
    return bool(normalized) and any(
        is_form_of(part, name) for part in normalized.split() for name in names
    )


def scrub(text: str, names: set[str], phones: Iterable[str], placeholder: str) -> str:
    """`text` with every form of the names and every phone fragment replaced by `placeholder`;
    a run of replaced words ("Ивановой Анне") becomes one placeholder."""
    digits = [p for p in phones if p]

    def phone(match: re.Match[str]) -> str:
        found = re.sub(r"\D", "", match.group())
        hit = len(found) >= MIN_PHONE_DIGITS and any(found in p or p in found for p in digits)
        return placeholder if hit else match.group()

    text = _DIGITS.sub(phone, text)
    pieces: list[str] = []
    last = 0
    replaced_last = False
    for match in _WORD.finditer(text):
        between = text[last : match.start()]
        if _names_word(match.group(), names):
            if not (replaced_last and not between.strip()):
                pieces.append(between + placeholder)
            replaced_last = True
        else:
            pieces.append(between + match.group())
            replaced_last = False
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)
