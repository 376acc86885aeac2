"""Names and search queries in the one form the bot stores and compares.

What a member types or pastes may carry characters nobody sees: zero-width spaces and joiners
(U+200B–U+200D), direction marks and overrides (U+200E–U+200F, U+202A–U+202E, U+2066–U+2069),
the byte-order mark (U+FEFF), soft hyphens (U+00AD), and look-alike compatibility forms
(full-width letters, ligatures, no-break spaces). Stored as typed, they make `Ivanov` and
`Iva\u200bnov` two different clients that search cannot find by the plain name. Every name and
every query is cleaned here, at the input boundary, before it is stored or compared.
"""

from __future__ import annotations

import unicodedata


def clean_name(text: str) -> str:
    """NFKC-normalised, without Unicode format characters (category Cf), trimmed. Everything
    visible is kept exactly as typed: `Tom & Jerry <LLC>` stays `Tom & Jerry <LLC>`."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    normal = unicodedata.normalize("NFKC", visible)
    # NFKC can, rarely, compose into a format character again; drop it as well.
    return "".join(ch for ch in normal if unicodedata.category(ch) != "Cf").strip()


def clean_optional(text: str | None) -> str | None:
    """`clean_name` for an optional field: None stays None, and so does a value that was
    nothing but invisible characters."""
    if text is None:
        return None
    return clean_name(text) or None
