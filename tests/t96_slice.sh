# Stage 'slice' and the persistent homology of sublevel sets (docs/slice.md).
# Part 1: 'landscape topology' on synthetic grids with known topology, and GUDHI as an independent
# oracle. Part 2: slice values against numpy and the eval stage, directions, ranks, restart, errors.
SL=$WORK/slice
mkdir -p $SL

# ---- Part 1: synthetic grids ----
$PY -c "
import h5py, numpy as np
x = np.linspace(-2, 2, 81); y = np.linspace(-1.5, 1.5, 61); X, Y = np.meshgrid(x, y)
r = np.random.default_rng(3)
with h5py.File('$SL/grids.h5', 'w') as f:
  f['two_basins'] = (X**2 - 1)**2 + Y**2                      # minima at (+-1, 0), saddle at the origin (value 1)
  x = np.linspace(-2, 2, 81); X, Y = np.meshgrid(x, x); R = np.hypot(X, Y)
  f['ring'] = (R - 1)**2 + 0.05 * X                          # a valley around a peak: one hole from ~0.05 to f(0,0) = 1
  x = np.linspace(-1, 1, 41); X, Y = np.meshgrid(x, x)
  f['monkey'] = X**3 - 3 * X * Y**2                          # a monkey saddle: three lower sectors meet at 0
  g = np.zeros((30, 40)); gx, gy = np.meshgrid(np.arange(40), np.arange(30))
  for k in range(12):
    g += r.normal() * np.exp(-((gx - r.uniform(0, 40))**2 + (gy - r.uniform(0, 30))**2) / r.uniform(10, 60))
  f['bumps'] = g                                             # a random smooth landscape
  f['noise'] = r.normal(size=(17, 23))                       # many small features
  f['line'] = np.sin(np.linspace(0, 13, 200)) + 0.1 * np.linspace(0, 13, 200)
  n = r.normal(size=(5, 5)); n[2, 3] = np.nan; f['nan'] = n
  f['cube'] = np.zeros((2, 2, 2))
"
# 'landscape topology' is a subcommand: it comes first, before the options
topology() { mpiexec -n 1 "$LAND" topology -skip_petscrc "$@"; }
topology_error() { # NAME PATTERN ARGS...: a non-zero exit with one error line naming the cause
  local name=$1 pat=$2 out rc; shift 2
  out=$(topology "$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^landscape: error:')" = 1 ] && printf '%s\n' "$out" | grep -q "^landscape: error:.*$pat"; then
    ok "$name"; else not_ok "$name (rc=$rc)" "$out"; fi
}
for g in two_basins ring monkey bumps noise line; do
  if out=$(topology -topology_input $SL/grids.h5:/$g -topology_levels 201 -output_dir $SL/topo_$g 2>&1); then
    ok "topology of the '$g' grid"; else not_ok "topology of the '$g' grid" "$out"; fi
done
# topo NAME CODE: p = /topology of grid NAME (h0, h1, crit, betti, v = the values)
topo() {
  pycheck "$1" "
f = h5py.File('$SL/topo_$2/results.h5'); t = f['/topology']
h0, h1, crit, betti, v = t['h0'][:], t['h1'][:], t['critical'][:], t['betti'][:], t['values'][:]
fin0 = h0[np.isfinite(h0[:, 1])]; big0 = fin0[fin0[:, 1] - fin0[:, 0] > 1e-3]; big1 = h1[h1[:, 1] - h1[:, 0] > 1e-3]
$3"
}
topo "two basins: one finite H0 pair (0, 1), no hole, 2 minima and 1 saddle" two_basins "
print(big0, crit)
assert len(big0) == 1 and abs(big0[0, 0]) < 1e-12 and abs(big0[0, 1] - 1) < 1e-12
assert np.isinf(h0[:, 1]).sum() == 1 and len(big1) == 0 and list(crit) == [2, 1, 0]
assert np.all(betti[(betti[:, 0] > 1e-9) & (betti[:, 0] < 1), 1] == 2)"
topo "ring valley: one hole born where the ring closes (~0.05) and filled at the peak (1)" ring "
print(big1, crit, t.attrs['total_persistence_h1'])
assert len(big1) == 1 and abs(big1[0, 0] - 0.05) < 0.01 and abs(big1[0, 1] - 1) < 1e-12
mid = betti[(betti[:, 0] > 0.07) & (betti[:, 0] < 0.98)]
assert len(mid) > 50 and np.all(mid[:, 2] == 1) and np.all(mid[:, 1] == 1)
assert crit[2] == 1 and crit[0] - crit[1] + crit[2] == 1"
topo "monkey saddle: three lower sectors merge at 0 (a saddle of multiplicity 2)" monkey "
print(fin0, crit)
assert (np.abs(fin0[:, 1]) < 1e-12).sum() == 2 and list(crit) == [3, 2, 0]
b = betti[np.argmin(np.abs(betti[:, 0] + 1e-9))]
assert np.all(betti[(betti[:, 0] < -1e-9) & (betti[:, 0] > -0.5), 1] == 3)"
topo "a line: b1 = 0, H0 pairs = the local minima but one" line "
lm = sum(1 for i in range(len(v[0])) if (i == 0 or v[0][i] < v[0][i-1]) and (i == len(v[0]) - 1 or v[0][i] < v[0][i+1]))
lmax = sum(1 for i in range(1, len(v[0]) - 1) if v[0][i] > v[0][i-1] and v[0][i] > v[0][i+1])
print(lm, lmax, crit, len(h0)); assert len(h1) == 0 and len(h0) == lm and list(crit) == [lm, 0, lmax] and np.all(betti[:, 2] == 0)"
# The Betti curves against an Euler characteristic counted here, and the diagrams against GUDHI's
# persistence of the same sublevel sets as a simplicial complex (every square cut into four triangles
# around a centre vertex that enters with the square: the same sublevel set at every level).
for g in two_basins ring monkey bumps noise; do
  pycheck "'$g': b0 - b1 = V - E + F at every level; diagrams equal GUDHI's" "
import gudhi
f = h5py.File('$SL/topo_$g/results.h5'); t = f['/topology']; v = t['values'][:]; ny, nx = v.shape
betti = t['betti'][:]
eh = np.maximum(v[:, :-1], v[:, 1:]); ev = np.maximum(v[:-1, :], v[1:, :])
sq = np.maximum(np.maximum(v[:-1, :-1], v[:-1, 1:]), np.maximum(v[1:, :-1], v[1:, 1:]))
for c, b0, b1, chi in betti:
  e = (v <= c).sum() - (eh <= c).sum() - (ev <= c).sum() + (sq <= c).sum()
  assert e == chi == b0 - b1, (c, b0, b1, chi, e)
st = gudhi.SimplexTree(); idx = lambda j, i: j * nx + i
for j in range(ny):
  for i in range(nx): st.insert([idx(j, i)], v[j, i])
for j in range(ny):
  for i in range(nx - 1): st.insert([idx(j, i), idx(j, i + 1)], eh[j, i])
for j in range(ny - 1):
  for i in range(nx): st.insert([idx(j, i), idx(j + 1, i)], ev[j, i])
for j in range(ny - 1):
  for i in range(nx - 1):
    c = nx * ny + j * (nx - 1) + i; ring = [idx(j, i), idx(j, i + 1), idx(j + 1, i + 1), idx(j + 1, i)]
    for k in range(4): st.insert([c, ring[k], ring[(k + 1) % 4]], sq[j, i])
st.compute_persistence(min_persistence=0.0)
for dim, name in ((0, 'h0'), (1, 'h1')):
  a = np.array(sorted(map(tuple, t[name][:]))).reshape(-1, 2); gd = st.persistence_intervals_in_dimension(dim)
  b = np.array(sorted(map(tuple, gd[gd[:, 1] - gd[:, 0] > 0]))) if len(gd) else np.zeros((0, 2))
  assert a.shape == b.shape, (name, a.shape, b.shape)
  if len(a): assert np.array_equal(np.isinf(a), np.isinf(b)) and np.allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=0, atol=1e-12)
print('$g: H0 %d pairs, H1 %d pairs, as GUDHI' % (len(t['h0']), len(t['h1'])))"
done
topology_error "topology: a NaN in the grid" "value nan.* at grid point (2, 3)" -topology_input $SL/grids.h5:/nan -output_dir $SL/err
topology_error "topology: a 3-D dataset" "dimension" -topology_input $SL/grids.h5:/cube -output_dir $SL/err
topology_error "topology: missing dataset" "no dataset /nosuch" -topology_input $SL/grids.h5:/nosuch -output_dir $SL/err
topology_error "topology: missing file" "no such file" -topology_input $SL/none.h5:/x -output_dir $SL/err
topology_error "topology: no dataset part" "FILE.h5:/dataset" -topology_input $SL/grids.h5 -output_dir $SL/err
topology_error "topology: an unused option" "unused option -topology_level" -topology_input $SL/grids.h5:/line -topology_level 3 -output_dir $SL/err
[ ! -e $SL/err/results.h5 ] && ok "topology: no results.h5 after the errors" || not_ok "topology: a results.h5 was left after an error"
