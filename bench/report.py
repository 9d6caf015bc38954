"""docs/benchmarks.md's results table, rendered from the newest JSON record of each backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def newest(folder: Path, backend: str) -> dict[str, Any] | None:
    """The newest full-size record of a backend (else of any size), each scenario taken from the newest run
    that measured it: a run of chosen scenarios updates just those."""
    records = sorted(folder.glob(f"*-{backend}-*.json"))
    chosen = [r for r in records if r.name.endswith("-full.json")] or records
    if not chosen:
        return None
    runs = [json.loads(path.read_text()) for path in chosen]
    base = max(runs, key=lambda run: (len(run["results"]), run["when"]))  # the newest most complete run frames it
    merged = {r["scenario"]: r for r in base["results"]}
    for run in runs:
        if run["when"] > base["when"]:
            for result in run["results"]:
                merged[result["scenario"]] = {**result, "notes": f"{result['notes']} (run of {run['when']})"}
    return {**base, "results": sorted(merged.values(), key=lambda r: int(r["scenario"][1:]))}


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


UNITS = {"_ms": " ms", "_s": " s", "_mb": " MB"}  # a ceiling's name ends with its unit; a bare name is a rate


def _unit(name: str) -> str | None:
    return next((unit for suffix, unit in UNITS.items() if name.endswith(suffix)), None)


def quantity(name: str, value: float) -> str:
    """A ceiling's value with its unit: a rate the scenarios are a share of, or a floor they are a multiple of."""
    unit = _unit(name)
    if unit is None:
        return f"{value:,.0f}/s"
    return f"{value:.3g}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def ratio_text(name: str, ratio: float) -> str:
    """A share of a rate ceiling in percent; a multiple of a floor (a time, a size) as ×."""
    return f"{ratio:.0%}" if _unit(name) is None else f"{ratio:,.1f}×"


def compared(name: str, ratio: float) -> str:
    """`7% of http_post`, `43.7× http_get_c4_p50_ms`: a ratio with the ceiling or floor it is taken of."""
    return f"{ratio:.0%} of {name}" if _unit(name) is None else f"{ratio:,.1f}× {name}"


def table(record: dict[str, Any]) -> str:
    m = record["machine"]
    lines = [
        f"### {record['backend']} — size {record['size']}, {record['workers']} workers, {record['when']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, "
        f"SQLite {m['sqlite']}{', ' + m['postgres'] if m.get('postgres') else ''}; {m['wrk']}; "
        f"Dosi {m['dosi']} at `{m['commit']}`. Run took {record['seconds']} s.",
        "",
        "Ceilings measured in this run: "
        + ", ".join(f"{k} {quantity(k, v)}" for k, v in record["ceilings"].items())
        + ".",
        "",
        "| | Scenario | Result | p50 / p95 / p99 ms | Ceiling | Ratio | Target | Met | Notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["results"]:
        latency = " / ".join(_number(r.get(k), 2) for k in ("p50_ms", "p95_ms", "p99_ms"))
        ceiling = f"{r['ceiling']} {quantity(r['ceiling'], r['ceiling_value'])}" if r.get("ceiling") else "–"
        ratio = ratio_text(r["ceiling"], r["ratio"]) if r.get("ratio") is not None else "–"
        met = {True: "yes", False: "**no**", None: "–"}[r.get("met")]
        notes = r.get("notes", "")
        if r.get("client_cpu_cores") is not None:
            notes += f"; wrk used {r['client_cpu_cores']:.2f} cores"
        value = f"{_number(r['value'], 3)} {r['unit']}" if r.get("value") is not None else "not measured"
        lines.append(
            f"| {r['scenario']} | {r['title']} | {value} | {latency} | {ceiling} | {ratio} | {r['target']} | {met} "
            f"| {notes} |"
        )
    return "\n".join(lines)


def write(folder: Path) -> None:
    parts = [table(rec) for backend in ("sqlite", "postgres") if (rec := newest(folder, backend)) is not None]
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n" + "\n\n".join(parts) + f"\n{END}{tail}")
    print(f"wrote {DOC}")
