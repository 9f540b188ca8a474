"""The licence text a buyer reads, accepts and receives: one renderer for the checkout page, the
acceptance record (its SHA-256) and the package's LICENSE.txt.

A stored licence text (Licence.text_ko / text_en) is a template: 공공누리's attribution rule names the
organization, the year and the work (“본 저작물은 '{기관명}'에서 '{연도}' 작성하여 … '{저작물명}'을 …”).
`render_licence` fills every blank from the dataset version the buyer gets; a blank it does not know
raises `UnfilledPlaceholder`, so a legal text with a hole in it is never shown or accepted.

What a buyer accepts is `RenderedLicence.accepted_text`: the Korean text, then the English one, each
under its own heading, exactly as the page shows them. Its SHA-256 is the licence "version" recorded
in LicenceAcceptance.licence_sha256, and LICENSE.txt carries the same text between two marker lines.
"""

import hashlib
import re
from dataclasses import dataclass

from django.utils import timezone

# Placeholders the stored texts may use, by language: Korean texts use Korean names (as 공공누리's own
# attribution example does), English texts English ones.
PLACEHOLDERS_KO = ("기관명", "연도", "저작물명")
PLACEHOLDERS_EN = ("organization", "year", "title")
_PLACEHOLDER = re.compile(r"\{([^{}\n]{0,40})\}")

# Every accepted text names the work and the licensor, whatever the licence: a CC or commercial text
# says nothing of them itself, and a buyer must know what was licensed by whom (and how to attribute it).
PREAMBLE_KO = "이용허락 대상 저작물: '{저작물명}' ('{기관명}', {연도}년 공개)"
PREAMBLE_EN = "Licensed work: '{title}' (published by '{organization}' in {year})"

HEADING_KO = "[한국어]"
HEADING_EN = "[English]"


class UnfilledPlaceholder(ValueError):
    """A licence text names a blank the renderer cannot fill (or a stray brace)."""


@dataclass(frozen=True)
class LicenceValues:
    """What fills the blanks: the publisher's name, the year the work was published, its title."""

    organization_ko: str
    organization_en: str
    year: int
    title_ko: str
    title_en: str

    def for_ko(self) -> dict[str, str]:
        return {"기관명": self.organization_ko, "연도": str(self.year), "저작물명": self.title_ko}

    def for_en(self) -> dict[str, str]:
        return {
            "organization": self.organization_en or self.organization_ko,
            "year": str(self.year),
            "title": self.title_en or self.title_ko,
        }


@dataclass(frozen=True)
class RenderedLicence:
    code: str
    name_ko: str
    name_en: str
    url: str
    text_ko: str
    text_en: str

    @property
    def accepted_text(self) -> str:
        return accepted_text(self.text_ko, self.text_en)

    @property
    def sha256(self) -> str:
        return text_sha256(self.accepted_text)


def values_for(version, *, publisher=None) -> LicenceValues:
    """The blanks' values for a dataset version: its publisher (pass it when already loaded), the year
    it was published (in Korea) and its title. A version not yet published (a preview) takes this year."""
    publisher = publisher or version.dataset.publisher
    when = version.published_at
    year = timezone.localtime(when).year if when else timezone.localdate().year
    return LicenceValues(
        organization_ko=publisher.name_ko,
        organization_en=publisher.name_en,
        year=year,
        title_ko=version.title_ko,
        title_en=version.title_en,
    )


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with every {name} replaced by values[name], in one pass (a value is never read as a
    template). Raises UnfilledPlaceholder for an unknown name or a brace left over."""

    def one(match: re.Match) -> str:
        name = match.group(1).strip()
        if name not in values:
            raise UnfilledPlaceholder(f"unknown placeholder {match.group(0)!r} in a licence text")
        return values[name]

    pieces, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        outside = text[last : match.start()]
        if "{" in outside or "}" in outside:
            raise UnfilledPlaceholder(f"stray brace in a licence text near {outside[-40:]!r}")
        pieces.append(outside)
        pieces.append(one(match))
        last = match.end()
    rest = text[last:]
    if "{" in rest or "}" in rest:
        raise UnfilledPlaceholder(f"stray brace in a licence text near {rest[:40]!r}")
    pieces.append(rest)
    return "".join(pieces)


def render_licence(licence, *, values: LicenceValues) -> RenderedLicence:
    """The licence's texts with every blank filled (see the module docstring)."""
    return RenderedLicence(
        code=licence.code,
        name_ko=licence.name_ko,
        name_en=licence.name_en,
        url=licence.url,
        text_ko=fill(f"{PREAMBLE_KO}\n\n{licence.text_ko.strip()}", values.for_ko()),
        text_en=fill(f"{PREAMBLE_EN}\n\n{licence.text_en.strip()}", values.for_en()) if licence.text_en.strip() else "",
    )


def render_for_version(licence, version, *, publisher=None) -> RenderedLicence | None:
    """The licence of a purchase of `version`, as the buyer reads it; None when there is no licence."""
    if licence is None or version is None:
        return None
    return render_licence(licence, values=values_for(version, publisher=publisher))


def accepted_text(text_ko: str, text_en: str) -> str:
    """The exact text a buyer accepts (and whose SHA-256 is recorded): both languages, each under its
    heading. A licence without an English text is accepted in Korean alone."""
    out = f"{HEADING_KO}\n\n{text_ko.strip()}\n"
    if text_en.strip():
        out += f"\n{HEADING_EN}\n\n{text_en.strip()}\n"
    return out


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def has_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text))
