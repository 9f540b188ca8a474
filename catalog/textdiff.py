"""Word-level differences between two texts, for the reviewer's diff of a version's description.

Texts are split into words, runs of whitespace and single punctuation marks, and compared with difflib's
SequenceMatcher on those tokens: a word changed inside a long paragraph comes out as that word alone, deleted
and inserted, with everything around it equal. Korean writes spaces between words (어절), so a changed
어절 is one token; a changed particle marks its whole 어절, which is what a reader expects.

The result is plain data (segments of text with an operation); the template escapes the text and marks it up
with <del>/<ins>, so nothing here builds HTML.
"""

import difflib
import re

# A word (letters, digits, Hangul, underscore), a run of whitespace, or any other single character.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
# Beyond this many tokens on either side the comparison is quadratic enough to be felt: compare by line instead.
MAX_TOKENS = 20_000

EQUAL, DELETE, INSERT = "equal", "delete", "insert"


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def _merge(segments: list[dict]) -> list[dict]:
    merged: list[dict] = []
    for segment in segments:
        if not segment["text"]:
            continue
        if merged and merged[-1]["op"] == segment["op"]:
            merged[-1]["text"] += segment["text"]
        else:
            merged.append(dict(segment))
    return merged


def _joined(opcodes, a):
    """Changes separated only by whitespace become one change ("매월 초에" → "매주 월요일에" reads as one
    replaced phrase, not two words with an unchanged space between them)."""
    result = []
    for opcode in opcodes:
        if (
            opcode[0] != "equal"
            and len(result) >= 2
            and result[-1][0] == "equal"
            and result[-2][0] != "equal"
            and not "".join(a[result[-1][1] : result[-1][2]]).strip()
        ):
            result.pop()
            _op, i1, _i2, j1, _j2 = result.pop()
            opcode = ("replace", i1, opcode[2], j1, opcode[4])
        result.append(opcode)
    return result


def word_diff(old: str, new: str) -> dict:
    """{"old": segments, "new": segments, "changed": n}: the old text with its deleted parts marked and the new
    text with its inserted parts marked; each segment is {"op": "equal" | "delete" | "insert", "text": …}.
    `changed` counts the changed runs (0 when the texts are equal)."""
    a, b = tokens(old), tokens(new)
    if len(a) > MAX_TOKENS or len(b) > MAX_TOKENS:
        a, b = (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    left: list[dict] = []
    right: list[dict] = []
    changed = 0
    for op, i1, i2, j1, j2 in _joined(matcher.get_opcodes(), a):
        if op == "equal":
            text = "".join(a[i1:i2])
            left.append({"op": EQUAL, "text": text})
            right.append({"op": EQUAL, "text": text})
            continue
        changed += 1
        removed, added = "".join(a[i1:i2]), "".join(b[j1:j2])
        # Whitespace on the edges of a change is not part of it: keep it unmarked, so only words are struck.
        for side, text, kind in ((left, removed, DELETE), (right, added, INSERT)):
            core = text.strip()
            if not core:
                side.append({"op": EQUAL, "text": text})
                continue
            start = text.index(core)
            side.extend(
                [
                    {"op": EQUAL, "text": text[:start]},
                    {"op": kind, "text": core},
                    {"op": EQUAL, "text": text[start + len(core) :]},
                ]
            )
    return {"old": _merge(left), "new": _merge(right), "changed": changed}
