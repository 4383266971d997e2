#!/usr/bin/env python3
"""Tabulate the persistence of the slices of scripts/slice_study.sh (docs/slice.md).

  /usr/bin/python3 scripts/slice_study.py OUT/slice_study

For each configuration and kind of slice (random planes around trained networks, planes through
three of them): the number of slices, the parameters P, and per slice (mean, min-max over the
slices) the basins (H0 classes with persistence above 1e-3 of the slice's loss range, the essential
one included), the holes (H1 pairs above the same threshold), the grid's minima, saddles and maxima,
and the total H0 persistence relative to the loss range. Writes OUT/table.md and OUT/table.csv."""
import glob, os, sys

import h5py
import numpy as np

if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
    sys.exit("slice_study: error: give the output directory of scripts/slice_study.sh")
out = sys.argv[1]
rows = []
for cfg in sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))):
    for kind in ("random", "plane"):
        stats = []
        for r in sorted(glob.glob(os.path.join(out, cfg, kind + "_*", "results.h5"))):
            with h5py.File(r, "r") as f:
                t = f["/slice/topology"]
                L = f["/slice/loss"][:]
                rng = float(L.max() - L.min())
                h0, h1, crit = t["h0"][:], t["h1"][:], t["critical"][:]
                thr = 1e-3 * rng
                b0 = int((h0[:, 1] - h0[:, 0] > thr).sum())  # the essential class has death inf
                b1 = int((h1[:, 1] - h1[:, 0] > thr).sum())
                fin = np.isfinite(h0[:, 1])
                stats.append((b0, b1, *crit, float((h0[fin, 1] - h0[fin, 0]).sum()) / rng, int(f["/net"].attrs["num_params"])))
        if not stats:
            continue
        s = np.array(stats, dtype=float)
        rows.append((cfg, kind, len(stats), int(s[0, 6]), s))
order = ["shallow-tanh", "deep-tanh", "deep-tanh-skip", "shallow-sigmoid", "deep-sigmoid", "shallow-tanh-L2-0", "shallow-tanh-L2-1e-3",
         "deep-tanh-L2-0", "deep-tanh-L2-1e-3", "width-2", "width-3", "width-8"]
rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else 99, r[1]))
fmt = lambda c: "%.2f (%d-%d)" % (c.mean(), c.min(), c.max())
with open(os.path.join(out, "table.md"), "w") as md, open(os.path.join(out, "table.csv"), "w") as csv:
    md.write("| configuration | slices | P | basins | holes | grid minima | grid saddles | grid maxima | total H0 persistence / loss range |\n")
    md.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    csv.write("configuration,kind,slices,P,basins_mean,holes_mean,minima_mean,saddles_mean,maxima_mean,tp0_mean\n")
    for cfg, kind, n, P, s in rows:
        label = "%s, %s" % (cfg, "random planes" if kind == "random" else "planes through 3 minima")
        md.write("| %s | %d | %d | %s | %s | %s | %s | %s | %.3f |\n" % (label, n, P, fmt(s[:, 0]), fmt(s[:, 1]), fmt(s[:, 2]), fmt(s[:, 3]), fmt(s[:, 4]), s[:, 5].mean()))
        csv.write("%s,%s,%d,%d,%s\n" % (cfg, kind, n, P, ",".join("%.4g" % v for v in s[:, :6].mean(0))))
print(open(os.path.join(out, "table.md")).read())
