"""Hangul to Latin letters (국어의 로마자 표기법, Revised Romanization), for readable URL slugs.

A syllable block U+AC00..U+D7A3 is (initial * 21 + medial) * 28 + final. This spells each block
and applies only the two sound rules a reader of a URL notices: a final consonant moves onto a
following silent ㅇ (직업 → jigeop), and ㄹ+ㄹ is "ll" (별래 → byeollae).
Full assimilation (신라 → silla) needs a dictionary of exceptions and is not worth it for a slug.
A small module instead of a PyPI package: the candidates (hangul-romanize, anyascii) either skip the
liaison rule or spell every script, and this needs no dependency.
"""

from django.utils.text import slugify

_BASE, _LAST = 0xAC00, 0xD7A3
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
_MEDIALS = (
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae",
    "oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i",
)  # fmt: skip
# A final consonant before a consonant or at the end of a word: its representative sound.
_FINALS = (
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l",
    "p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
)  # fmt: skip
# The same final when a vowel follows (the next syllable starts with a silent ㅇ): it is pronounced
# as the next syllable's initial (음악 → eumak, 한국어 → hangugeo).
_FINALS_BEFORE_VOWEL = (
    "", "g", "kk", "ks", "n", "nj", "n", "d", "r", "lg", "lm", "lb", "ls", "lt",
    "lp", "r", "m", "b", "ps", "s", "ss", "ng", "j", "ch", "k", "t", "p", "",
)  # fmt: skip
_SILENT_INITIAL = 11  # ㅇ
_RIEUL_FINAL, _RIEUL_INITIAL = 8, 5  # ㄹ


def _parts(char: str):
    code = ord(char) - _BASE
    return code // 588, (code % 588) // 28, code % 28


def _is_syllable(char: str) -> bool:
    return _BASE <= ord(char) <= _LAST


def romanize(text: str) -> str:
    """`시흥시 미세먼지 측정` → `siheungsi misemeonji cheukjeong`. Other characters pass through."""
    out = []
    rieul_before = False
    for i, char in enumerate(text):
        if not _is_syllable(char):
            out.append(char)
            continue
        initial, medial, final = _parts(char)
        # ㄹ after a final ㄹ is "l" (별래 → byeollae, not byeolrae).
        out.append(("l" if rieul_before else _INITIALS[initial]) + _MEDIALS[medial])
        rieul_before = False
        following = text[i + 1] if i + 1 < len(text) else ""
        if final and following and _is_syllable(following):
            next_initial = _parts(following)[0]
            if next_initial == _SILENT_INITIAL:
                out.append(_FINALS_BEFORE_VOWEL[final])
                continue
            rieul_before = final == _RIEUL_FINAL and next_initial == _RIEUL_INITIAL
        out.append(_FINALS[final])
    return "".join(out)


def readable_slug(*texts: str, max_length: int) -> str:
    """The first of `texts` that gives a non-empty ASCII slug, Hangul romanised; "" when none does.

    Cut at a word boundary so a long title does not end in half a word.
    """
    for text in texts:
        slug = slugify(romanize(text or ""))
        if slug:
            if len(slug) > max_length:
                slug = slug[:max_length]
                slug = slug.rsplit("-", 1)[0] if "-" in slug else slug
            return slug.strip("-")
    return ""


def unique_slug(taken, *texts: str, fallback: str, max_length: int) -> str:
    """A readable slug (see readable_slug) not yet in `taken` (a queryset of rows with a `slug`), numbered
    "-2", "-3" … on a clash. When no text gives letters it is `fallback-1`, `fallback-2` …: a bare fallback
    says nothing and collides with the next one."""
    base = readable_slug(*texts, max_length=max_length)
    if base:
        slug, n = base, 1
    else:
        base, n = fallback, 1
        slug = f"{base}-{n}"
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
