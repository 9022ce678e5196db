"""Print product functions over the readability goal (issue 14): 60 lines or complexity 15.

A report, not a gate: ``scripts/test`` prints it and carries on, so an honest exception never
blocks a run. Largest first, so the worst offender is the next one to split.
Usage: ``python scripts/complexity_report.py [--max-lines N] [--max-complexity N]``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_DIRS = ("shared", "services", "simulators", "omni2qbd")


def _end_lines(source: str) -> dict[int, int]:
    """Where each function starts -> where it ends, from the syntax tree.

    radon's own end line stops before nested functions, so a function made only of nested
    route handlers (a ``create_app``) looked one line long.
    """
    return {
        node.lineno: node.end_lineno or node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _with_closures(blocks: list[Any]) -> Iterator[Any]:
    """Every function block and, recursively, the functions nested in it (radon lists those
    only as a block's ``closures``)."""
    for block in blocks:
        yield block
        yield from _with_closures(getattr(block, "closures", []))


def offenders(max_lines: int, max_complexity: int) -> list[tuple[int, int, str]]:
    from radon.complexity import cc_visit  # noqa: PLC0415 (radon is optional: the report skips itself without it)

    found: list[tuple[int, int, str]] = []
    for folder in PRODUCT_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # generated-shaped schema steps, read once
            source = path.read_text(encoding="utf-8")
            end_lines = _end_lines(source)
            for block in _with_closures(cc_visit(source)):
                if block.letter == "C":
                    continue  # a class's size is the sum of its methods, reported one by one
                lines = end_lines.get(block.lineno, block.endline) - block.lineno + 1
                if lines > max_lines or block.complexity > max_complexity:
                    where = f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname}"
                    found.append((lines, block.complexity, where))
    return sorted(found, key=lambda row: (row[0], row[1]), reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-lines", type=int, default=60)
    parser.add_argument("--max-complexity", type=int, default=15)
    args = parser.parse_args()
    try:
        rows = offenders(args.max_lines, args.max_complexity)
    except ImportError:
        sys.stdout.write("complexity report skipped: radon is not installed (pip install radon)\n")
        return 0
    out = sys.stdout
    out.write(
        f"{len(rows)} function(s) over {args.max_lines} lines or complexity "
        f"over {args.max_complexity}:\n"
    )
    for lines, complexity, where in rows:
        out.write(f"  {lines:4d} lines  cc {complexity:3d}  {where}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
