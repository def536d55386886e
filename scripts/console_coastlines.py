"""Make the console's world-map coastlines (api/console/static/map/land-110m.json)
from Natural Earth's 1:110m land polygons (public domain) as the npm package
world-atlas ships them (TopoJSON):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/console_coastlines.py package/land-110m.json

Writes each ring of the land as a flat [lon, lat, lon, lat, ...] list in
degrees (two decimals: about 1 km, finer than the 1:110m data), so the
browser draws them without decoding TopoJSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "api" / "console" / "static" / "map" / "land-110m.json"


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """Delta-decoded, untransformed arcs of a quantized TopoJSON topology."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[float]:
    points: list[tuple[float, float]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points.extend(arc if not points else arc[1:])
    return [round(v, 2) for p in points for v in p]


def main(path: str) -> None:
    topo = json.loads(Path(path).read_text())
    arcs = decode_arcs(topo)
    rings = []
    for geometry in topo["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings += [ring(arcs, r) for polygon in polygons for r in polygon]
    out = {
        "source": "Natural Earth 1:110m land (public domain), from world-atlas 2.0.2 "
        "(ISC, Copyright 2013-2019 Michael Bostock) by scripts/console_coastlines.py",
        "rings": rings,
    }
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(rings)} rings, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
