"""Renders the README's table dictionary from the table declarations, so the
documentation and the DDL cannot drift apart (a test compares them).

    uv run python -m attribution_pipeline.warehouse.docs           # prints the dictionary
    uv run python -m attribution_pipeline.warehouse.docs --write   # rewrites it in README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from attribution_pipeline.warehouse.sql_types import ddl_name
from attribution_pipeline.warehouse.tables import PUBLIC_TABLES, quarantine_table

START, END = "<!-- table-dictionary:start -->", "<!-- table-dictionary:end -->"


def type_name(column: sa.Column) -> str:
    return ddl_name(column.type)


def table_markdown(table: sa.Table, title: str | None = None) -> str:
    lines = [
        f"### `{title or table.fullname}`",
        "",
        f"Grain: {table.comment}",
        "",
        "| column | type | null | meaning |",
        "|---|---|---|---|",
    ]
    for column in table.columns:
        lines.append(f"| `{column.name}` | {type_name(column)} | {'yes' if column.nullable else 'no'} | {column.comment} |")
    return "\n".join(lines)


def table_dictionary() -> str:
    parts = [table_markdown(table) for table in PUBLIC_TABLES]
    parts.append(table_markdown(quarantine_table("touches"), "quarantine.<source>"))
    return "\n\n".join(parts)


def write_readme(readme: Path) -> None:
    text = readme.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    readme.write_text(text[:start] + "\n" + table_dictionary() + "\n" + text[end:])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme(Path(__file__).resolve().parents[2] / "README.md")
    else:
        print(table_dictionary())
