#!/usr/bin/env python3
"""Runs netattr's fleet-store SQL on a current ClickHouse engine, in-process (chdb, from
PyPI): the DDL, the rows, then each query. Reads a JSON spec {"ddl": [...], "inserts":
[[table, "jsonl rows"], ...], "queries": [...]} from the file named by its argument and prints
one JSON array per query (its rows), all in one JSON array. The fleet test runs the same spec
on Debian's ClickHouse 18.16 and compares (tests/it/fleet.rs)."""
import json
import sys

from chdb import session


def numbers(v):
    """Arrays of 64-bit integers as numbers: a current engine quotes them in JSON (as the
    netattr client asks ClickHouse not to)."""
    if isinstance(v, dict):
        return {k: numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [int(x) if isinstance(x, str) and x.isdigit() else numbers(x) for x in v]
    return v


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    s = session.Session()
    for q in spec["ddl"]:
        s.query(q)
    for table, rows in spec["inserts"]:
        s.query(f"INSERT INTO {table} FORMAT JSONEachRow {rows}")
    out = []
    for q in spec["queries"]:
        text = str(s.query(q, "JSONEachRow"))
        out.append([numbers(json.loads(line)) for line in text.splitlines() if line.strip()])
    s.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
