/* Persistent homology of the sublevel filtration of a 2-D grid of values (or a 1-D line: ny = 1).

   The complex is the cubical complex of the grid with the values on its vertices (the
   "V-construction"): every grid point is a vertex; an edge joins two horizontally or vertically
   adjacent points and enters at the larger of their values; a unit square enters at the largest
   of its four corners. Two points that touch only diagonally are joined at level c only through a
   common neighbour at or below c. Ties are broken by the grid index (simulation of simplicity), so
   the filtration is the lower-star filtration of a total order of the vertices.

   H0: union-find over the vertices in that order, with the elder rule (the component whose
   minimum is younger dies at the merging edge). H1: by Alexander duality, the holes of the
   sublevel sets are the components of the dual superlevel filtration: squares are dual vertices,
   edges are dual edges, and the outside of the grid is one extra dual vertex older than all. A
   union-find over the squares and edges in the reverse order pairs every positive edge (which
   closes a loop) with the square that last fills its hole. Both passes are O(n alpha(n)).

   This is hand-written rather than GUDHI because GUDHI is a C++ template library with no C
   interface, and the 2-D algorithm is two union-finds. GUDHI (python3-gudhi) is the oracle of
   the tests instead (tests/t96_slice.sh). The result is checked here on every call:
   b0(c) - b1(c) equals the Euler characteristic V_c - E_c + F_c counted directly at every level,
   and the critical points classified from their lower links satisfy #min - #saddle + #max = 1. */
#include <landscape/impl.h>

typedef struct {
  PetscInt        *vrank; /* rank of each vertex in the total order */
  const PetscReal *f;
  PetscInt         nx, ny;
} Grid;

static const PetscReal *SortValues; /* qsort has no context argument */
static int              CompareVertex(const void *a, const void *b)
{
  PetscInt  i = *(const PetscInt *)a, j = *(const PetscInt *)b;
  PetscReal fi = SortValues[i], fj = SortValues[j];
  if (fi < fj) return -1;
  if (fi > fj) return 1;
  return (i > j) - (i < j);
}

static PetscInt Find(PetscInt *parent, PetscInt i)
{
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i         = parent[i];
  }
  return i;
}

/* Edges: ids 0 .. nh-1 horizontal ((j,i)-(j,i+1), id j*(nx-1)+i), then vertical ((j,i)-(j+1,i)). */
static void EdgeVertices(const Grid *g, PetscInt e, PetscInt *u, PetscInt *v)
{
  PetscInt nh = g->ny * (g->nx - 1);
  if (e < nh) {
    PetscInt j = e / (g->nx - 1), i = e % (g->nx - 1);
    *u = j * g->nx + i;
    *v = *u + 1;
  } else {
    PetscInt k = e - nh, j = k / g->nx, i = k % g->nx;
    *u = j * g->nx + i;
    *v = *u + g->nx;
  }
}

/* The two squares on either side of an edge; F (the outside) where the grid ends. */
static void EdgeSquares(const Grid *g, PetscInt e, PetscInt *s0, PetscInt *s1)
{
  PetscInt nh = g->ny * (g->nx - 1), sx = g->nx - 1, F = (g->ny - 1) * (g->nx - 1);
  if (e < nh) {
    PetscInt j = e / (g->nx - 1), i = e % (g->nx - 1);
    *s0 = j > 0 ? (j - 1) * sx + i : F;
    *s1 = j < g->ny - 1 ? j * sx + i : F;
  } else {
    PetscInt k = e - nh, j = k / g->nx, i = k % g->nx;
    *s0 = i > 0 ? j * sx + i - 1 : F;
    *s1 = i < g->nx - 1 ? j * sx + i : F;
  }
}

static PetscInt SquareKey(const Grid *g, PetscInt s)
{
  PetscInt sx = g->nx - 1, j = s / sx, i = s % sx, v = j * g->nx + i;
  return PetscMax(PetscMax(g->vrank[v], g->vrank[v + 1]), PetscMax(g->vrank[v + g->nx], g->vrank[v + g->nx + 1]));
}

static int CompareReal(const void *a, const void *b)
{
  PetscReal x = *(const PetscReal *)a, y = *(const PetscReal *)b;
  return (x > y) - (x < y);
}

/* Number of values <= c in a sorted array. */
static PetscInt CountLE(PetscInt n, const PetscReal *sorted, PetscReal c)
{
  PetscInt lo = 0, hi = n;
  while (lo < hi) {
    PetscInt mid = (lo + hi) / 2;
    if (sorted[mid] <= c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/*@ LandPersistenceCompute - persistence pairs, Betti curves at 'nlevels' levels, total persistence
  and critical points of the ny x nx grid f (row-major, f[j*nx+i]). NaN is an error, +inf a value
  that never enters. Not collective. @*/
PetscErrorCode LandPersistenceCompute(PetscInt ny, PetscInt nx, const PetscReal *f, PetscInt nlevels, LandPersistence *p)
{
  Grid      g;
  PetscInt  V = nx * ny, nh = ny * (nx - 1), E = nh + (ny - 1) * nx, F = (ny - 1) * (nx - 1);
  PetscInt *order, *parent, *birth, *ekey, *eorder, *positive, npos = 0, nneg = 0;
  PetscReal fmin = PETSC_MAX_REAL, fmax = -PETSC_MAX_REAL;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Persistence, 0, 0, 0, 0));
  PetscCall(LandPersistenceReset(p));
  PetscCheck(nx >= 2 && ny >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "persistence: the grid needs at least 2 points along x (got %" PetscInt_FMT " x %" PetscInt_FMT ")", ny, nx);
  for (PetscInt v = 0; v < V; v++) {
    PetscCheck(!PetscIsNanReal(f[v]) && f[v] != -(PetscReal)INFINITY, PETSC_COMM_SELF, PETSC_ERR_FP,
               "persistence: value %g at grid point (%" PetscInt_FMT ", %" PetscInt_FMT ")", (double)f[v], v / nx, v % nx);
    if (PetscIsInfReal(f[v])) continue;
    fmin = PetscMin(fmin, f[v]);
    fmax = PetscMax(fmax, f[v]);
  }
  PetscCheck(fmin <= fmax, PETSC_COMM_SELF, PETSC_ERR_FP, "persistence: no finite value on the grid");
  g.f  = f;
  g.nx = nx;
  g.ny = ny;
  PetscCall(PetscMalloc5(V, &order, V + F + 1, &parent, V + F + 1, &birth, E, &ekey, E, &eorder));
  PetscCall(PetscMalloc1(V, &g.vrank));
  PetscCall(PetscCalloc1(E, &positive));
  for (PetscInt v = 0; v < V; v++) order[v] = v;
  SortValues = f;
  qsort(order, V, sizeof(PetscInt), CompareVertex);
  for (PetscInt r = 0; r < V; r++) g.vrank[order[r]] = r;

  /* edges in filtration order: by key (rank of the later vertex), then by id */
  for (PetscInt e = 0; e < E; e++) {
    PetscInt u, v;
    EdgeVertices(&g, e, &u, &v);
    ekey[e] = PetscMax(g.vrank[u], g.vrank[v]);
  }
  {
    /* counting sort by key: keys are vertex ranks, each vertex is the key of at most 4 edges */
    PetscInt *start;
    PetscCall(PetscCalloc1(V + 1, &start));
    for (PetscInt e = 0; e < E; e++) start[ekey[e] + 1]++;
    for (PetscInt r = 0; r < V; r++) start[r + 1] += start[r];
    for (PetscInt e = 0; e < E; e++) eorder[start[ekey[e]]++] = e;
    PetscCall(PetscFree(start));
  }

  /* ---- H0: vertices and edges forward ---- */
  PetscCall(PetscMalloc1(2 * V, &p->h0));
  for (PetscInt v = 0; v < V; v++) parent[v] = -1;
  {
    PetscInt ei = 0;
    for (PetscInt r = 0; r < V; r++) {
      PetscInt v = order[r];
      if (PetscIsInfReal(f[v])) break;
      parent[v] = v;
      birth[v]  = r;
      for (; ei < E && ekey[eorder[ei]] == r; ei++) {
        PetscInt e = eorder[ei], a, b, ra, rb;
        EdgeVertices(&g, e, &a, &b);
        ra = Find(parent, a);
        rb = Find(parent, b);
        if (ra == rb) {
          positive[e] = 1; /* closes a loop: born an H1 class */
          npos++;
        } else {
          PetscInt  young = birth[ra] > birth[rb] ? ra : rb, old = young == ra ? rb : ra;
          PetscReal bv = f[order[birth[young]]];
          if (f[v] > bv) {
            p->h0[2 * p->n0]     = bv;
            p->h0[2 * p->n0 + 1] = f[v];
            p->n0++;
          }
          parent[young] = old;
          nneg++;
        }
      }
    }
  }
  /* the essential classes: one per component left (one when every value is finite) */
  for (PetscInt v = 0; v < V; v++)
    if (parent[v] == v) {
      nneg++;
      p->h0[2 * p->n0]     = f[order[birth[v]]];
      p->h0[2 * p->n0 + 1] = (PetscReal)INFINITY;
      p->n0++;
    }

  {
    PetscInt nfinite = 0;
    for (PetscInt v = 0; v < V; v++) nfinite += !PetscIsInfReal(f[v]);
    PetscCheck(nneg == nfinite, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "persistence: %" PetscInt_FMT " vertices but %" PetscInt_FMT " H0 deaths and classes", nfinite, nneg);
  }

  /* ---- H1: squares and edges backward, dual union-find; node F is the outside ---- */
  PetscCall(PetscMalloc1(2 * (F + 1), &p->h1));
  if (F > 0) {
    PetscInt *skey, *sorder, *start, si, npairs = 0, ninf = 0;
    PetscCall(PetscMalloc3(F, &skey, F, &sorder, V + 1, &start));
    PetscCall(PetscArrayzero(start, V + 1));
    for (PetscInt s = 0; s < F; s++) {
      skey[s] = SquareKey(&g, s);
      start[skey[s] + 1]++;
    }
    for (PetscInt r = 0; r < V; r++) start[r + 1] += start[r];
    for (PetscInt s = 0; s < F; s++) sorder[start[skey[s]]++] = s;
    for (PetscInt s = 0; s <= F; s++) parent[s] = -1;
    parent[F] = F;
    birth[F]  = PETSC_MAX_INT; /* the outside is older than every square */
    si        = F - 1;
    for (PetscInt ei = E - 1; ei >= -1; ei--) {
      PetscInt key = ei >= 0 ? ekey[eorder[ei]] : -1;
      /* squares of a key come after its edges in the filtration: before them here */
      for (; si >= 0 && skey[sorder[si]] >= key; si--) {
        PetscInt s = sorder[si];
        if (PetscIsInfReal(f[order[skey[s]]])) { /* never enters: part of the outside */
          ninf++;
          continue;
        }
        parent[s] = s;
        birth[s]  = skey[s];
      }
      if (ei < 0) break;
      {
        PetscInt e = eorder[ei], s0, s1, r0, r1;
        if (PetscIsInfReal(f[order[key]])) continue;
        EdgeSquares(&g, e, &s0, &s1);
        /* an infinite square is part of the outside: its hole is never filled */
        if (s0 < F && parent[s0] < 0) s0 = F;
        if (s1 < F && parent[s1] < 0) s1 = F;
        r0 = Find(parent, s0);
        r1 = Find(parent, s1);
        if (r0 != r1) {
          PetscInt  young = birth[r0] < birth[r1] ? r0 : r1, old = young == r0 ? r1 : r0;
          PetscReal bv = f[order[key]], dv = f[order[birth[young]]];
          PetscCheck(positive[e], PETSC_COMM_SELF, PETSC_ERR_PLIB, "persistence: edge %" PetscInt_FMT " is negative in H0 and in the dual", e);
          if (dv > bv) {
            p->h1[2 * p->n1]     = bv;
            p->h1[2 * p->n1 + 1] = dv;
            p->n1++;
          }
          parent[young] = old;
          npairs++;
        } else if (positive[e]) {
          /* a loop around squares that never enter: its hole is never filled */
          PetscCheck(ninf > 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "persistence: edge %" PetscInt_FMT " is positive but fills no hole", e);
          p->h1[2 * p->n1]     = f[order[key]];
          p->h1[2 * p->n1 + 1] = (PetscReal)INFINITY;
          p->n1++;
          npairs++;
        }
      }
    }
    PetscCheck(npairs == npos, PETSC_COMM_SELF, PETSC_ERR_PLIB, "persistence: %" PetscInt_FMT " loops but %" PetscInt_FMT " H1 pairs", npos, npairs);
    PetscCall(PetscFree3(skey, sorder, start));
  }

  /* ---- critical points from the lower links (ring N, NE, E, SE, S, SW, W, NW) ---- */
  {
    const PetscInt di[8] = {0, 1, 1, 1, 0, -1, -1, -1}, dj[8] = {1, 1, 0, -1, -1, -1, 0, 1};
    PetscInt       euler = 0;
    for (PetscInt j = 0; j < ny; j++)
      for (PetscInt i = 0; i < nx; i++) {
        PetscInt  v = j * nx + i, r = g.vrank[v], arcs = 0, nlow = 0, nexist = 0;
        PetscBool interior = (PetscBool)(i > 0 && i < nx - 1 && j > 0 && j < ny - 1), low[8], exist[8];
        if (PetscIsInfReal(f[v])) continue;
        for (PetscInt q = 0; q < 8; q++) {
          PetscInt ii = i + di[q], jj = j + dj[q];
          exist[q] = (PetscBool)(ii >= 0 && ii < nx && jj >= 0 && jj < ny);
          low[q]   = PETSC_FALSE;
          if (!exist[q]) continue;
          nexist++;
          if (q % 2 == 0)
            low[q] = (PetscBool)(g.vrank[jj * nx + ii] < r);
          else {
            /* a square position: lower when its three other corners are */
            PetscInt a = (j)*nx + ii, b = jj * nx + i, c = jj * nx + ii;
            low[q] = (PetscBool)(g.vrank[a] < r && g.vrank[b] < r && g.vrank[c] < r);
          }
          nlow += low[q];
        }
        /* arcs: maximal runs of lower positions; the ring is cyclic only inside the grid */
        if (ny == 1) {
          /* a line: the neighbours W and E are arcs of their own; two lower ones make a maximum */
          arcs = low[2] + low[6];
          if (arcs == 2) {
            p->nmax++;
            euler--;
            continue;
          }
        } else if (interior) {
          for (PetscInt q = 0; q < 8; q++)
            if (low[q] && !low[(q + 7) % 8]) arcs++;
          if (nlow == 8) arcs = -1; /* the full ring */
        } else {
          /* the existing positions form one path; walk it from an end */
          PetscInt start = -1;
          for (PetscInt q = 0; q < 8; q++)
            if (exist[q] && !exist[(q + 7) % 8]) start = q;
          for (PetscInt t = 0, q = start, prev = 0; t < nexist; t++, q = (q + 1) % 8) {
            if (low[q] && !prev) arcs++;
            prev = low[q];
          }
        }
        if (arcs == 0) {
          p->nmin++;
          euler++;
        } else if (arcs == -1) {
          p->nmax++;
          euler++;
        } else if (arcs >= 2) {
          p->nsaddle += arcs - 1;
          euler -= arcs - 1;
        }
      }
    p->euler = euler;
  }

  /* ---- Betti curves, checked against the Euler characteristic counted directly ---- */
  {
    PetscReal *fv, *fe, *fs;
    PetscInt   nv = 0, ne = 0, ns = 0;
    PetscCall(PetscMalloc3(V, &fv, E, &fe, PetscMax(F, 1), &fs));
    for (PetscInt v = 0; v < V; v++) fv[nv++] = f[v];
    for (PetscInt e = 0; e < E; e++) fe[ne++] = f[order[ekey[e]]];
    for (PetscInt s = 0; s < F; s++) fs[ns++] = f[order[SquareKey(&g, s)]];
    qsort(fv, nv, sizeof(PetscReal), CompareReal);
    qsort(fe, ne, sizeof(PetscReal), CompareReal);
    qsort(fs, ns, sizeof(PetscReal), CompareReal);
    p->nlevels = nlevels;
    PetscCall(PetscMalloc1(4 * nlevels, &p->betti));
    for (PetscInt k = 0; k < nlevels; k++) {
      PetscReal c  = nlevels > 1 ? fmin + (fmax - fmin) * k / (nlevels - 1) : fmax;
      PetscInt  b0 = 0, b1 = 0, chi;
      if (k == nlevels - 1) c = fmax;
      for (PetscInt q = 0; q < p->n0; q++) b0 += (p->h0[2 * q] <= c && c < p->h0[2 * q + 1]);
      for (PetscInt q = 0; q < p->n1; q++) b1 += (p->h1[2 * q] <= c && c < p->h1[2 * q + 1]);
      chi = CountLE(nv, fv, c) - CountLE(ne, fe, c) + CountLE(ns, fs, c);
      PetscCheck(b0 - b1 == chi, PETSC_COMM_SELF, PETSC_ERR_PLIB,
                 "persistence: b0 - b1 = %" PetscInt_FMT " - %" PetscInt_FMT " differs from the Euler characteristic %" PetscInt_FMT " at level %g",
                 b0, b1, chi, (double)c);
      p->betti[4 * k]     = c;
      p->betti[4 * k + 1] = b0;
      p->betti[4 * k + 2] = b1;
      p->betti[4 * k + 3] = chi;
    }
    /* Morse: the critical points' signed count is the Euler characteristic of the whole (finite) grid */
    PetscCheck(p->euler == p->betti[4 * (nlevels - 1) + 3], PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "persistence: #min - #saddle + #max = %" PetscInt_FMT " differs from the Euler characteristic %g", p->euler,
               (double)p->betti[4 * (nlevels - 1) + 3]);
    PetscCall(PetscFree3(fv, fe, fs));
  }
  for (PetscInt q = 0; q < p->n0; q++)
    if (!PetscIsInfReal(p->h0[2 * q + 1])) p->tp[0] += p->h0[2 * q + 1] - p->h0[2 * q];
  for (PetscInt q = 0; q < p->n1; q++)
    if (!PetscIsInfReal(p->h1[2 * q + 1])) p->tp[1] += p->h1[2 * q + 1] - p->h1[2 * q];
  PetscCall(PetscFree5(order, parent, birth, ekey, eorder));
  PetscCall(PetscFree(g.vrank));
  PetscCall(PetscFree(positive));
  PetscCall(PetscLogEventEnd(LAND_Persistence, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandPersistenceWrite - write a LandPersistence under 'group' of a results file (h0, h1, betti,
  critical and the total persistence as attributes). Collective; every rank passes the same data. @*/
PetscErrorCode LandPersistenceWrite(const LandPersistence *p, LandResults res, const char group[])
{
  char      path[256];
  PetscReal crit[3] = {(PetscReal)p->nmin, (PetscReal)p->nsaddle, (PetscReal)p->nmax};

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/h0", group));
  PetscCall(LandResultsWriteMatrix(res, path, p->n0, 2, p->h0));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/h1", group));
  PetscCall(LandResultsWriteMatrix(res, path, p->n1, 2, p->h1));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/betti", group));
  PetscCall(LandResultsWriteMatrix(res, path, p->nlevels, 4, p->betti));
  PetscCall(LandResultsWriteAttrString(res, path, "columns", "level, b0, b1, euler_characteristic"));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/critical", group));
  PetscCall(LandResultsWriteArray(res, path, 1, 3, crit));
  PetscCall(LandResultsWriteAttrString(res, path, "columns", "minima, saddles (with multiplicity), maxima"));
  PetscCall(LandResultsWriteAttrReal(res, group, "total_persistence_h0", p->tp[0]));
  PetscCall(LandResultsWriteAttrReal(res, group, "total_persistence_h1", p->tp[1]));
  PetscCall(LandResultsWriteAttrString(res, group, "complex",
                                       "cubical, values on vertices (V-construction): 4-neighbour edges, squares enter at their largest corner"));
  PetscFunctionReturn(0);
}

/*@ LandPersistenceView - one summary line. Collective on comm. @*/
PetscErrorCode LandPersistenceView(const LandPersistence *p, MPI_Comm comm, const char who[])
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(comm,
                        "%s: persistence: %" PetscInt_FMT " H0 pairs (total persistence %.4e), %" PetscInt_FMT
                        " H1 pairs (%.4e); grid critical points: %" PetscInt_FMT " minima, %" PetscInt_FMT " saddles, %" PetscInt_FMT " maxima\n",
                        who, p->n0, (double)p->tp[0], p->n1, (double)p->tp[1], p->nmin, p->nsaddle, p->nmax));
  PetscFunctionReturn(0);
}

PetscErrorCode LandPersistenceReset(LandPersistence *p)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(p->h0));
  PetscCall(PetscFree(p->h1));
  PetscCall(PetscFree(p->betti));
  PetscCall(PetscMemzero(p, sizeof(*p)));
  PetscFunctionReturn(0);
}
