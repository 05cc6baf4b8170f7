#!/usr/bin/env python3
"""The map at every zoom, for scripts/bench.sh: one client asks for a phone's view (3 x 4 tiles
around a bench point) at zooms 0 to 20, as the PWA does, and prints per zoom the latency
(p50, p99, max), the largest answer and its number of cells.

    zooms.py BASE_URL POINTS_CSV [VIEWS_PER_ZOOM]

Every view is asked twice, and only the second answer is timed: the first one warms the
pages it reads, as the many phones looking at a city do. Sizes are of the JSON as sent
without compression (gzip makes them ~5 times smaller).
"""

import csv
import json
import http.client
import math
import random
import statistics
import sys
import time
import urllib.parse

MERCATOR_LIMIT = 85.05112878


def tile_of(lon, lat, zoom):
    n = 2**zoom
    lat = max(-MERCATOR_LIMIT, min(MERCATOR_LIMIT, lat))
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_lon(x, zoom):
    return x / 2**zoom * 360 - 180


def tile_lat(y, zoom):
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**zoom))))


def phone_view(lon, lat, zoom):
    """The bbox of the 3 x 4 tiles around the point, shrunk by a hair so that its edges do
    not reach into the next cells."""
    n = 2**zoom
    x, y = tile_of(lon, lat, zoom)
    x0, x1 = max(x - 1, 0), min(x + 2, n)
    y0, y1 = max(y - 1, 0), min(y + 3, n)
    eps = 1e-6
    return (
        tile_lon(x0, zoom) + eps,
        tile_lat(y1, zoom) + eps,
        tile_lon(x1, zoom) - eps,
        tile_lat(y0, zoom) - eps,
    )


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(fraction * len(ordered))) - 1)]


def main():
    base, points_csv = sys.argv[1], sys.argv[2]
    views = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    with open(points_csv, newline="") as f:
        points = [(float(row[1]), float(row[2])) for row in csv.reader(f)]
    random.seed(20151)
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def fetch(path):
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}: {body[:300]!r}")
        return body

    print("| zoom | p50 ms | p99 ms | max ms | largest answer | cells |")
    print("|------|--------|--------|--------|----------------|-------|")
    for zoom in range(0, 21):
        timings, largest, cells = [], 0, 0
        for lon, lat in random.sample(points, min(views, len(points))):
            bbox = ",".join(f"{v:.6f}" for v in phone_view(lon, lat, zoom))
            path = f"/api/v1/map/clusters?bbox={bbox}&zoom={zoom}"
            fetch(path)
            started = time.perf_counter()
            body = fetch(path)
            timings.append((time.perf_counter() - started) * 1000)
            if len(body) > largest:
                largest = len(body)
                cells = len(json.loads(body)["clusters"])
        print(
            f"| {zoom:4d} | {statistics.median(timings):6.1f} | {percentile(timings, 0.99):6.1f} "
            f"| {max(timings):6.1f} | {largest / 1024:11.1f} KB | {cells:5d} |"
        )


if __name__ == "__main__":
    main()
