/* Trajectory analysis of the Deep ReLU Simplex (Hinz, arXiv:2105.02831; research notes
   seeds_000_004.md A8): near a local minimum the vertex losses decay like L_k ~ L* + C q^k, so the
   level L* can be estimated from a sliding window of recent losses before the walk ends, and the
   vertices crowd around the minimum.

   Estimators, on the window of the last w distinct vertices (zero-length pivots repeat a vertex and
   are left out):
   - Aitken's delta^2 on the last three losses;
   - the regression of dL_j = L_{j+1} - L_j on L_j: dL = (q - 1) L - (q - 1) L*, so
     L* = -intercept / slope and q = 1 + slope;
   - the least-squares fit of L* + C q^j. For fixed q the model is linear in (L*, C), so variable
     projection leaves a function of q alone: it is scanned on a grid and refined by golden-section
     search. Written by hand: a 1-D bounded minimisation of a function that costs O(w), where TAO's
     solvers would need derivatives of the projected residual; the result is checked in the tests
     against scipy's curve_fit.
   Density: the distance of every vertex to the final one, and the number of vertices inside balls
   around the final vertex against the number expected if as many points were spread evenly (in
   arc length) along the same path. */
#include <landscape/impl.h>

/* Least squares of y ~ a + c q^t, t = 0..n-1: residual sum of squares, and a, c. */
static PetscReal VarProRSS(PetscInt n, const PetscReal *y, PetscReal q, PetscReal *a, PetscReal *c)
{
  PetscReal s1 = n, sp = 0, spp = 0, sy = 0, spy = 0, p = 1, det, rss = 0;
  for (PetscInt t = 0; t < n; t++) {
    sp += p;
    spp += p * p;
    sy += y[t];
    spy += p * y[t];
    p *= q;
  }
  det = s1 * spp - sp * sp;
  if (!(PetscAbsReal(det) > 1e-300)) {
    *a = NAN;
    *c = NAN;
    return PETSC_MAX_REAL;
  }
  *a = (spp * sy - sp * spy) / det;
  *c = (s1 * spy - sp * sy) / det;
  p  = 1;
  for (PetscInt t = 0; t < n; t++) {
    PetscReal r = y[t] - *a - *c * p;
    rss += r * r;
    p *= q;
  }
  return rss;
}

static PetscReal FitExponential(PetscInt n, const PetscReal *y, PetscReal *qbest)
{
  const PetscInt ngrid = 64;
  PetscReal      lo = 1e-3, hi = 1 - 1e-9, best = PETSC_MAX_REAL, qb = 0.5, a, c, g = 0.5 * (PetscSqrtReal(5.0) - 1);
  PetscReal      x1, x2, f1, f2, L, R;
  PetscInt       ib = 0;

  for (PetscInt i = 0; i <= ngrid; i++) {
    PetscReal q = lo + (hi - lo) * (1 - PetscPowReal(1 - (PetscReal)i / ngrid, 3)); /* denser near 1 */
    PetscReal f = VarProRSS(n, y, q, &a, &c);
    if (f < best) {
      best = f;
      qb   = q;
      ib   = i;
    }
  }
  L  = lo + (hi - lo) * (1 - PetscPowReal(1 - (PetscReal)PetscMax(ib - 1, 0) / ngrid, 3));
  R  = lo + (hi - lo) * (1 - PetscPowReal(1 - (PetscReal)PetscMin(ib + 1, ngrid) / ngrid, 3));
  x1 = R - g * (R - L);
  x2 = L + g * (R - L);
  f1 = VarProRSS(n, y, x1, &a, &c);
  f2 = VarProRSS(n, y, x2, &a, &c);
  for (int it = 0; it < 80; it++) {
    if (f1 < f2) {
      R  = x2;
      x2 = x1;
      f2 = f1;
      x1 = R - g * (R - L);
      f1 = VarProRSS(n, y, x1, &a, &c);
    } else {
      L  = x1;
      x1 = x2;
      f1 = f2;
      x2 = L + g * (R - L);
      f2 = VarProRSS(n, y, x2, &a, &c);
    }
  }
  if (PetscMin(f1, f2) < best) qb = f1 < f2 ? x1 : x2;
  (void)VarProRSS(n, y, qb, &a, &c);
  *qbest = qb;
  return a;
}

/*@ LandSimplexAnalyze - L* estimators and vertex density of a simplex trajectory; every rank holds
  the same arrays and writes the same results. Collective. @*/
PetscErrorCode LandSimplexAnalyze(LandResults res, const char group[], PetscInt K, const PetscReal *loss, const PetscReal *step, PetscInt n0,
                                  const PetscReal *verts, PetscInt window)
{
  PetscInt      *idx, n = 0, nest = 0;
  PetscReal     *L, *est, *dist, *dens, Lf = loss[K - 1], arc = 0, *cum, dmin = PETSC_MAX_REAL, dmax = 0;
  char           path[256];
  const PetscInt NEST = 10, NR = 30;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc5(K, &idx, K, &L, K * NEST, &est, K, &dist, 3 * NR, &dens));
  PetscCall(PetscMalloc1(K, &cum));
  for (PetscInt k = 0; k < K; k++)
    if (k == 0 || step[k] > 0) {
      idx[n] = k;
      L[n++] = loss[k];
    }
  for (PetscInt e = window - 1; e < n; e++) {
    const PetscReal *y  = L + e - window + 1;
    PetscReal       *r  = est + NEST * nest++;
    PetscReal        d1 = L[e] - L[e - 1], d2 = L[e] - 2 * L[e - 1] + L[e - 2];
    PetscReal        sx = 0, sy = 0, sxx = 0, sxy = 0, m = window - 1, b1, b0, q;
    r[0] = idx[e];
    r[1] = L[e];
    r[2] = PetscAbsReal(d2) > 0 ? L[e] - d1 * d1 / d2 : NAN;
    for (PetscInt j = 0; j < window - 1; j++) {
      PetscReal xj = y[j], dj = y[j + 1] - y[j];
      sx += xj;
      sy += dj;
      sxx += xj * xj;
      sxy += xj * dj;
    }
    b1   = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    b0   = (sy - b1 * sx) / m;
    r[3] = b1 != 0 ? -b0 / b1 : NAN;
    r[5] = 1 + b1;
    r[4] = FitExponential(window, y, &q);
    r[6] = q;
    r[7] = r[2] - Lf;
    r[8] = r[3] - Lf;
    r[9] = r[4] - Lf;
  }
  if (!nest)
    for (PetscInt j = 0; j < NEST; j++) est[j] = NAN; /* too few vertices for one window */
  /* distances to the final vertex; arc length of the path */
  cum[0] = 0;
  for (PetscInt k = 0; k < K; k++) {
    PetscReal t = 0;
    for (PetscInt j = 0; j < n0; j++) t += (verts[k * n0 + j] - verts[(K - 1) * n0 + j]) * (verts[k * n0 + j] - verts[(K - 1) * n0 + j]);
    dist[k] = PetscSqrtReal(t);
    if (dist[k] > 0) dmin = PetscMin(dmin, dist[k]);
    dmax = PetscMax(dmax, dist[k]);
    if (k > 0) {
      t = 0;
      for (PetscInt j = 0; j < n0; j++) t += (verts[k * n0 + j] - verts[(k - 1) * n0 + j]) * (verts[k * n0 + j] - verts[(k - 1) * n0 + j]);
      arc += PetscSqrtReal(t);
      cum[k] = arc;
    }
  }
  if (dmax == 0) dmin = dmax = 1;
  for (PetscInt i = 0; i < NR; i++) {
    PetscReal rad = dmin * PetscPowReal(dmax / dmin, (PetscReal)i / (NR - 1)), cnt = 0, uni = 0;
    PetscInt  seg = 1;
    for (PetscInt k = 0; k < K; k++) cnt += dist[k] <= rad * (1 + 1e-12);
    /* K points at equal arc-length spacing along the same piecewise-linear path */
    for (PetscInt p = 0; p < K; p++) {
      PetscReal s = K > 1 ? arc * p / (K - 1) : 0, w, t = 0;
      while (seg < K - 1 && cum[seg] < s) seg++;
      if (K == 1) {
        uni += 1;
        continue;
      }
      w = cum[seg] > cum[seg - 1] ? (s - cum[seg - 1]) / (cum[seg] - cum[seg - 1]) : 1;
      w = PetscMin(PetscMax(w, 0), 1);
      for (PetscInt j = 0; j < n0; j++) {
        PetscReal z = (1 - w) * verts[(seg - 1) * n0 + j] + w * verts[seg * n0 + j] - verts[(K - 1) * n0 + j];
        t += z * z;
      }
      uni += PetscSqrtReal(t) <= rad * (1 + 1e-12);
    }
    dens[3 * i]     = rad;
    dens[3 * i + 1] = cnt;
    dens[3 * i + 2] = uni;
  }
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/analysis/estimates", group));
  PetscCall(LandResultsWriteArray(res, path, PetscMax(nest, 1), NEST, est));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/analysis", group));
  PetscCall(LandResultsWriteAttrString(res, path, "estimates_columns",
                                       "vertex, loss, aitken, regression, nls, q_regression, q_nls, error_aitken, error_regression, error_nls"));
  PetscCall(LandResultsWriteAttrInt(res, path, "window", window));
  PetscCall(LandResultsWriteAttrInt(res, path, "estimates", nest));
  PetscCall(LandResultsWriteAttrReal(res, path, "loss_final", Lf));
  PetscCall(LandResultsWriteAttrReal(res, path, "path_length", arc));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/analysis/distance_to_final", group));
  PetscCall(LandResultsWriteArray(res, path, 1, K, dist));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/analysis/density", group));
  PetscCall(LandResultsWriteArray(res, path, NR, 3, dens));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/analysis", group));
  PetscCall(LandResultsWriteAttrString(res, path, "density_columns", "radius, vertices_within, evenly_spaced_within"));
  PetscCall(PetscFree5(idx, L, est, dist, dens));
  PetscCall(PetscFree(cum));
  PetscFunctionReturn(0);
}
