"""Lengths of text columns that services check input against: declared here once, used by the
models' column types and by the services' checks, so services need not import the ORM.
(Client fields get theirs from the client field registry.)"""

from __future__ import annotations

CAMPAIGN_SELECTOR_CHARS = 100  # a segment's name or a tag, as typed after /campaign
CAMPAIGN_TITLE_CHARS = 200
