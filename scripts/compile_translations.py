"""Compile locale/*/LC_MESSAGES/*.po to .mo with polib (no GNU gettext needed on the machine).

Reports untranslated or fuzzy entries; with --check it fails on them (the test suite runs it so,
so a missing translation fails the tests instead of showing the wrong language).
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    problems = []
    compiled = 0
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        for entry in po:
            if entry.obsolete:
                continue
            if "fuzzy" in entry.flags:
                problems.append(f"{po_path.relative_to(ROOT)}: fuzzy: {entry.msgid!r}")
            elif not entry.translated():
                problems.append(f"{po_path.relative_to(ROOT)}: untranslated: {entry.msgid!r}")
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            po.save_as_mofile(str(mo_path))
        compiled += 1
    for line in problems:
        print(line, file=sys.stderr)
    print(f"[translations] {compiled} catalogue(s) compiled, {len(problems)} problem(s)")
    return 1 if problems and "--check" in sys.argv[1:] else 0


if __name__ == "__main__":
    sys.exit(main())
