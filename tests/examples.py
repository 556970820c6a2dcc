# examples.py  the README's `stsvend` examples, as shell lines with what each prints: run as
# written in any directory by the tests of tests/stsvend/, in-process and from an installed
# wheel (test_packaging.py)
import os
import re

from conftest import ROOT


def readme_examples():
    """[(shell line, the output shown)] of the README's vending section, then of
    docs/stsvend.md (the whole CLI), in order."""
    with open(os.path.join(ROOT, "README.md")) as f:
        sections = [f.read().split("## Vending: `stsvend`", 1)[1].split("\n## ", 1)[0]]
    with open(os.path.join(ROOT, "docs", "stsvend.md")) as f:
        sections.append(f.read())
    found = []
    for block in re.findall(r"^```\n(.*?)^```", "\n".join(sections), re.M | re.S):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, shown = part.partition("\n")
            found.append((line, shown.rstrip("\n")))
    return found


def exit_code_shown(shown):
    """The exit status an example's output implies: 2 an error, 1 a refused token, else 0."""
    return 2 if "stsvend: error:" in shown else 1 if re.search(r"^refused ", shown, re.M) else 0
