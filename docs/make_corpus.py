"""The text `neuronet demo writer` learns from: the prose of neuronet's guide and API reference, shipped with the
package (``nn.datasets.neuronet_docs()``).

    python docs/make_corpus.py     # writes src/neuronet/datasets/data/docs.txt.gz from docs/guide.md, docs/api.md

Code blocks, tables and pictures are left out; each paragraph (or list item) becomes one line of plain
prose, markdown's emphasis and link targets removed, so that a character-level model reads sentences.
The gzip is written with no time stamp: the same guide gives the same bytes.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "docs" / "guide.md", ROOT / "docs" / "api.md"]
TARGET = ROOT / "src" / "neuronet" / "datasets" / "data" / "docs.txt.gz"


def prose(markdown: str) -> str:
    """The paragraphs of ``markdown`` as lines of plain text."""
    paragraphs, current, in_code = [], [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        stripped = line.strip()
        starts_item = re.match(r"^([-*]|\d+\.)\s", stripped)
        if in_code or not stripped or stripped.startswith(("|", "!", "    ")) or line.startswith("    ") or starts_item:
            if current:
                paragraphs.append(" ".join(current))
            current = []
            if starts_item and not in_code:
                current = [stripped[starts_item.end() :]]
            continue
        current.append(stripped.lstrip("#").strip())
    if current:
        paragraphs.append(" ".join(current))
    text = "\n".join(p for p in paragraphs if len(p) > 1)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [words](link) -> words
    return text.replace("**", "").replace("`", "") + "\n"


def main() -> None:
    text = "".join(prose(source.read_text(encoding="utf-8")) for source in SOURCES)
    with open(TARGET, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(text.encode("utf-8"))
    print(f"{TARGET.relative_to(ROOT)}: {len(text):,} characters, {len(set(text))} distinct")


if __name__ == "__main__":
    main()
