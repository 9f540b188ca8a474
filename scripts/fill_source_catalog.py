"""Fill the English catalogue with the English source strings (msgstr = msgid).

English is the source language, but Django falls back to the default language's (Korean)
catalogue for a string the active language's catalogue lacks, so English pages need every
string present in locale/en. Run by `make messages` after makemessages.
"""

from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def main() -> None:
    po = polib.pofile(str(PO))
    for entry in po:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr = entry.msgid
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save()
    print(f"[translations] {PO.relative_to(PO.parents[3])}: {len(po)} entries filled from the source")


if __name__ == "__main__":
    main()
