"""The import graph is one-way (STYLE.md principle 8), checked statically on the source.

dit_head needs only torch; holitok_common needs no project package; holitok_tokenizer may use
holitok_common; unified_lm may use dit_head, holitok_tokenizer and holitok_common; eval may use all
of those. Nothing imports eval, recipes or tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"holitok_common", "holitok_tokenizer", "dit_head", "unified_lm", "eval", "recipes", "tests", "bench"}
ALLOWED = {
    "dit_head": set(),
    "holitok_common": set(),
    "holitok_tokenizer": {"holitok_common"},
    "unified_lm": {"holitok_common", "holitok_tokenizer", "dit_head"},
    "eval": {"holitok_common", "holitok_tokenizer", "dit_head", "unified_lm"},
}
# dit_head is torch-only: no third-party import other than torch (and numpy-free on purpose).
DIT_THIRD_PARTY = {"torch"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_one_way_import_graph():
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imports(path) & PROJECT:
                if name != package and name not in allowed:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, "\n".join(problems)


def test_dit_head_is_torch_only():
    import sys

    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for path in sorted((ROOT / "dit_head").rglob("*.py")):
        for name in _imports(path) - stdlib - DIT_THIRD_PARTY - {"dit_head"}:
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)
