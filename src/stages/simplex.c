/* Stage 'simplex': the Deep ReLU Simplex (Hinz & van de Geer, arXiv:2011.14895; research notes
   seeds_000_004.md part A, docs/simplex.md).

   Every layer but layer l (-simplex_layer) is fixed. With ReLU (or leaky ReLU) hidden layers after
   l and the L1 or quantile loss, the training loss F is piecewise affine in x = (W_l, b_l), n0
   numbers. Its pieces are cut by "constraints", one per (sample, neuron): the pre-activations of
   the hidden neurons of layers l..L and the residuals f - y. Each is affine in x inside a region
   (a fixed activation pattern s), so the regions are polyhedra and F is minimised by walking from
   vertex to vertex, as the simplex method does for an LP.

   State, identical on every rank: x, the basis (the n0 constraints held at zero, by global id
   row * ncs + j), A^T (the oriented normals a_c as rows, a_c pointing into the side that matches the
   state of c), B = A^{-1} (its rows r_i are the edge directions: r_i . a_j = delta_ij) and the region
   gradient g. Each rank holds the states s of the constraints of its own rows.

   Phase 1 descends inside the start region along the projected negative gradient (projected
   onto the faces of the constraints hit so far, kept as a QR factorisation) until n0 constraints
   are active. Phase 2 pivots: at a vertex it evaluates all 2 n0 edges, +r_i on the current side
   and the edge on the other side of constraint i (its state flipped: a rank-|S| Woodbury update of
   B, S the basis constraints of the same sample whose normals depend on that state), chooses the
   steepest descent edge (normalised), flips if the edge lies across, moves to the first
   constraint the edge hits (the ratio test: one frozen-pattern forward pass of the direction over
   the local rows, a global MIN and a MIN of the global ids among ties) and exchanges that
   constraint for the leaving one (a rank-one update of B; LAPACK refactorises every
   -simplex_refactor pivots or when the pivot is small). After every pivot x is projected back
   onto the basis hyperplanes. When no edge descends, the vertex is a local minimum (every cone of
   the local fan is spanned by its n0 edges, so the 2 n0 one-sided derivatives decide; at a
   degenerate vertex, with more constraints active than n0, the test covers the basis cone only and
   the verdict says so). Zero-length pivots switch to Bland's rule (lowest global id) until the
   walk moves again, and a basis seen twice at one point is reported as cycling.

   All decisions use replicated data or reductions whose result does not depend on the rank count
   (double-double sums for F and g, MIN reductions, sums of zero-padded vectors with one non-zero
   contributor), so the vertex sequence is the same at any rank count. */
#include <landscape/impl.h>
#include <petscblaslapack.h>
#include <petsctime.h>

#define LAND_INT64_MAX ((PetscInt64)9223372036854775807LL)

/* PETSc 3.18's petscblaslapack.h has no condition-number estimator: LAPACK's own dgecon. */
extern void dgecon_(const char *, const PetscBLASInt *, const PetscReal *, const PetscBLASInt *, const PetscReal *, PetscReal *, PetscReal *,
                    PetscBLASInt *, PetscBLASInt *);

/* A residual kink on the line of a long step: where it is, how much it raises the slope, its id. */
typedef struct {
  PetscReal  tau, inc;
  PetscInt64 id;
} Kink;

typedef struct {
  /* options */
  PetscInt  layer, max_pivots, refactor, window, monitor, init_seed;
  PetscReal init_scale, feas_tol, par_tol, opt_tol, loss_tol, drift_tol, pivot_tol, zero_tol, tie_tol, tight_tol;
  PetscBool bland_always, long_step;
  PetscInt  batch; /* kinks per rank per round of the long-step merge */
  /* problem */
  PetscInt         L, l, nin, nout, n0, ncs, nk, first_out, off[LAND_MAX_LAYERS + 1];
  PetscReal        wpos, wneg, slope; /* loss weights above/below the target; negative-side slope of the activation */
  PetscInt         N, nloc, rstart, chunk, cstart, cend;
  PetscMPIInt      rank, size;
  PetscInt        *rstarts;  /* size + 1 */
  PetscReal       *xt, *xtn; /* nloc x nin outputs of layers < l; their norms with the bias entry */
  const PetscReal *Y;
  unsigned char   *state, *crit; /* nloc x ncs */
  PetscReal       *alpha, *beta; /* nloc x ncs pre-activations at the current vertex, and their rates along the last direction */
  PetscReal       *th;           /* replicated theta (layers != l fixed) */
  PetscReal       *absW;         /* |W_m| of layers m > l, same offsets as th */
  /* replicated state */
  PetscReal  *x, *At, *B, *g, *Q, *R, *v;
  PetscInt64 *basis;
  PetscInt    nb, *bstate;
  /* walk */
  PetscInt  nsingular, cycles_broken, excluded;
  PetscBool random_mode;
  PetscInt  phase, k, phase1_steps, pivots, zero_pivots, since_refactor, refactors, bland, zero_run, ndescent, ntight, nflat;
  PetscReal loss, loss0, loss1, drift_max, cond;
  PetscBool done, certified, halted;
  char      verdict[64], test[512];
  /* cycle detection: hashes of the bases seen during the current run of zero-length pivots */
  PetscInt64 *seen;
  PetscInt    nseen, maxseen;
  /* history: one row per vertex */
  PetscInt   nhist, maxhist;
  PetscReal *hist, *verts;
  /* long steps: kinks of this rank, merged kinks, crossed residual ids */
  Kink       *kinks, *pend;
  PetscInt    maxpend, ncrossed, maxcrossed;
  PetscInt64 *crossed;
  /* work */
  PetscReal *Z, *Zb, *tmp, *tmp2, *acc, *buf, *rowz, *rowg, *rowa, *u;
} Simplex;

#define NHIST 18
static const char HistColumns[] =
    "vertex, phase, loss, step, entering_sample, entering_layer, entering_neuron, leaving_sample, leaving_layer, "
    "leaving_neuron, crossed, flips_tested, descent_edges, cond1, zero_step, drift, tight, kinks_crossed";

/* ---------------------------------------------------------------- helpers */

static PetscReal Dot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal t = 0;
  for (PetscInt i = 0; i < n; i++) t += a[i] * b[i];
  return t;
}

static inline PetscReal MaskVal(Simplex *sx, unsigned char s)
{
  return s ? 1.0 : sx->slope;
}

/* Layer (1-based affine layer of the net; L for the residuals) and unit of constraint j of a sample. */
static void ConstraintLayer(Simplex *sx, PetscInt j, PetscInt *layer, PetscInt *unit)
{
  PetscInt m = sx->l;
  while (m < sx->L && j >= sx->off[m + 1]) m++;
  *layer = m;
  *unit  = j - sx->off[m];
}

static PetscMPIInt Owner(Simplex *sx, PetscInt64 row)
{
  PetscMPIInt lo = 0, hi = sx->size - 1;
  while (lo < hi) { /* last rank whose first row is <= row */
    PetscMPIInt mid = (lo + hi + 1) / 2;
    if (sx->rstarts[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* Pre-activations of all ncs constraints of one local row with the pattern st: z_l = W x~ + b, then
   z_m = W_m (mask o z_{m-1}) + b_m; the residuals are f - y. */
static void RowForward(Simplex *sx, LandNet net, PetscInt r, const PetscReal *x, const unsigned char *st, PetscReal *z)
{
  const PetscReal *xt = sx->xt + r * sx->nin, *W = x, *b = net->bias ? x + sx->nout * sx->nin : NULL;

  for (PetscInt j = 0; j < sx->nout; j++) {
    PetscReal s = b ? b[j] : 0;
    for (PetscInt i = 0; i < sx->nin; i++) s += W[j * sx->nin + i] * xt[i];
    z[j] = s;
  }
  for (PetscInt m = sx->l + 1; m <= sx->L; m++) {
    PetscInt             nin = net->width[m - 1], no = net->width[m];
    const PetscReal     *Wm = sx->th + net->woff[m - 1], *bm = net->bias ? sx->th + net->boff[m - 1] : NULL;
    const PetscReal     *zp = z + sx->off[m - 1];
    const unsigned char *sp = st + sx->off[m - 1];
    for (PetscInt j = 0; j < no; j++) {
      PetscReal s = bm ? bm[j] : 0;
      for (PetscInt i = 0; i < nin; i++) s += Wm[j * nin + i] * MaskVal(sx, sp[i]) * zp[i];
      z[sx->off[m] + j] = s;
    }
  }
  for (PetscInt o = 0; o < sx->nk; o++) z[sx->first_out + o] -= sx->Y[r * sx->nk + o];
}

/* Backpropagate gamma (given at layer m, width[m] entries, overwritten) to layer l through the
   masks of st, and write d(gamma . z_m)/dx = (gamma_l x~^T, gamma_l) into a (n0), scaled by c. */
static void RowBack(Simplex *sx, LandNet net, PetscInt r, const unsigned char *st, PetscInt m, PetscReal *gam, PetscReal c, PetscReal *a)
{
  PetscReal *t = sx->tmp2;
  for (PetscInt mm = m; mm > sx->l; mm--) {
    PetscInt             nin = net->width[mm - 1], no = net->width[mm];
    const PetscReal     *Wm = sx->th + net->woff[mm - 1];
    const unsigned char *sp = st + sx->off[mm - 1];
    for (PetscInt i = 0; i < nin; i++) {
      PetscReal s = 0;
      for (PetscInt j = 0; j < no; j++) s += Wm[j * nin + i] * gam[j];
      t[i] = s * MaskVal(sx, sp[i]);
    }
    PetscArraycpy(gam, t, nin);
  }
  {
    const PetscReal *xt = sx->xt + r * sx->nin;
    for (PetscInt j = 0; j < sx->nout; j++)
      for (PetscInt i = 0; i < sx->nin; i++) a[j * sx->nin + i] = c * gam[j] * xt[i];
    if (net->bias)
      for (PetscInt j = 0; j < sx->nout; j++) a[sx->nout * sx->nin + j] = c * gam[j];
  }
}

/* Oriented normal of constraint j of local row r under the pattern st. */
static void RowNormal(Simplex *sx, LandNet net, PetscInt r, const unsigned char *st, PetscInt j, PetscReal *a)
{
  PetscInt layer, unit;
  ConstraintLayer(sx, j, &layer, &unit);
  PetscArrayzero(sx->rowg, net->maxwidth + 1);
  sx->rowg[unit] = 1.0;
  RowBack(sx, net, r, st, layer, sx->rowg, st[j] ? 1.0 : -1.0, a);
}

/* Gradient of one row's loss under the pattern st (in the region: the residual states decide the sign), / N. */
static void RowGradient(Simplex *sx, LandNet net, PetscInt r, const unsigned char *st, PetscReal *a)
{
  for (PetscInt o = 0; o < sx->nk; o++) sx->rowg[o] = st[sx->first_out + o] ? sx->wpos : -sx->wneg;
  RowBack(sx, net, r, st, sx->L, sx->rowg, 1.0 / sx->N, a);
}

/* ---------------------------------------------------------------- passes over the local rows */

/* Z (m x ncs) = pre-activations of the rows of one chunk at x (dir: derivative along x). */
static void ChunkForward(Simplex *sx, LandNet net, PetscInt r0, PetscInt m, const PetscReal *x, PetscBool dir, PetscReal *Z)
{
  const PetscReal *b = net->bias ? x + sx->nout * sx->nin : NULL;
  LandGemm('N', 'T', m, sx->nout, sx->nin, 1.0, sx->xt + r0 * sx->nin, sx->nin, x, sx->nin, 0.0, Z, sx->ncs);
  if (b)
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt j = 0; j < sx->nout; j++) Z[i * sx->ncs + j] += b[j];
  for (PetscInt mm = sx->l + 1; mm <= sx->L; mm++) {
    PetscInt         nin = net->width[mm - 1], no = net->width[mm], o = sx->off[mm - 1];
    const PetscReal *bm = (net->bias && !dir) ? sx->th + net->boff[mm - 1] : NULL;
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt j = 0; j < nin; j++) sx->tmp[i * nin + j] = MaskVal(sx, sx->state[(r0 + i) * sx->ncs + o + j]) * Z[i * sx->ncs + o + j];
    LandGemm('N', 'T', m, no, nin, 1.0, sx->tmp, nin, sx->th + net->woff[mm - 1], nin, 0.0, Z + sx->off[mm], sx->ncs);
    if (bm)
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < no; j++) Z[i * sx->ncs + sx->off[mm] + j] += bm[j];
  }
  if (!dir)
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt o = 0; o < sx->nk; o++) Z[i * sx->ncs + sx->first_out + o] -= sx->Y[(r0 + i) * sx->nk + o];
}

/* Zb = scales of Z entry by entry, the tolerances of the walk are relative to them: ||x|| ||(x~, 1)||
   at layer l, then |W_m| (|mask| o Zb) (+ |b_m|, |y|). The norm of all of x, not of neuron j's row:
   x carries round-off of order eps ||x|| from the walk, and a neuron whose weights went to zero
   would otherwise make every one of its constraints look violated. */
static void ChunkBound(Simplex *sx, LandNet net, PetscInt r0, PetscInt m, const PetscReal *x, PetscBool dir, PetscReal *Zb)
{
  PetscReal s = PetscSqrtReal(Dot(sx->n0, x, x));
  for (PetscInt j = 0; j < sx->nout; j++)
    for (PetscInt i = 0; i < m; i++) Zb[i * sx->ncs + j] = s * sx->xtn[r0 + i];
  for (PetscInt mm = sx->l + 1; mm <= sx->L; mm++) {
    PetscInt nin = net->width[mm - 1], no = net->width[mm], o = sx->off[mm - 1];
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt j = 0; j < nin; j++)
        sx->tmp[i * nin + j] = PetscAbsReal(MaskVal(sx, sx->state[(r0 + i) * sx->ncs + o + j])) * Zb[i * sx->ncs + o + j];
    LandGemm('N', 'T', m, no, nin, 1.0, sx->tmp, nin, sx->absW + net->woff[mm - 1], nin, 0.0, Zb + sx->off[mm], sx->ncs);
    if (net->bias && !dir)
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < no; j++) Zb[i * sx->ncs + sx->off[mm] + j] += sx->absW[net->boff[mm - 1] + j];
  }
  if (!dir)
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt o = 0; o < sx->nk; o++) Zb[i * sx->ncs + sx->first_out + o] += PetscAbsReal(sx->Y[(r0 + i) * sx->nk + o]);
}

static void DecodeId(Simplex *sx, PetscInt64 id, PetscInt *sample, PetscInt *layer, PetscInt *unit)
{
  if (id < 0) {
    *sample = *layer = *unit = -1;
    return;
  }
  *sample = (PetscInt)(id / sx->ncs);
  ConstraintLayer(sx, (PetscInt)(id % sx->ncs), layer, unit);
}

/* The pass at a vertex: alpha (all pre-activations), the loss (double-double, / N), the
   consistency of every non-basic state with the sign of its constraint, and the number of
   non-basic constraints that are tight (degeneracy); init sets the states from the signs. alpha is
   recomputed from the data at every vertex rather than updated by alpha += tau beta: at a
   degenerate vertex such as x = 0 of integer data the true values are exact zeros, and the
   round-off that updates carry along the path (the t95 degenerate LAD cases) puts constraints on
   the wrong side. Collective. */
static PetscErrorCode PassVertex(LandStage s, PetscBool init)
{
  Simplex   *sx    = (Simplex *)s->data;
  LandNet    net   = s->run->net;
  PetscReal  dd[2] = {0, 0}, worst = 0;
  PetscInt64 bad = -1, ntight = 0;
  PetscInt64 badall;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexPass, 0, 0, 0, 0));
  for (PetscInt c = sx->cstart; c < sx->cend; c++) {
    PetscInt   r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0);
    PetscReal *Z = sx->alpha + r0 * sx->ncs, f = 0;
    if (init) {
      /* layer by layer: the states of layer m decide the masks that layer m+1 sees */
      for (PetscInt j = 0; j < m * sx->ncs; j++) sx->state[r0 * sx->ncs + j] = 0;
      for (PetscInt pass = 0; pass <= sx->L - sx->l; pass++) {
        ChunkForward(sx, net, r0, m, sx->x, PETSC_FALSE, Z);
        for (PetscInt j = 0; j < m * sx->ncs; j++) sx->state[r0 * sx->ncs + j] = (unsigned char)(Z[j] > 0);
      }
    } else
      ChunkForward(sx, net, r0, m, sx->x, PETSC_FALSE, Z);
    ChunkBound(sx, net, r0, m, sx->x, PETSC_FALSE, sx->Zb);
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt o = 0; o < sx->nk; o++) {
        PetscReal r = Z[i * sx->ncs + sx->first_out + o];
        f += r > 0 ? sx->wpos * r : -sx->wneg * r;
      }
      for (PetscInt j = 0; j < sx->ncs; j++) {
        PetscInt  q    = (r0 + i) * sx->ncs + j;
        PetscReal zeta = sx->state[q] ? Z[i * sx->ncs + j] : -Z[i * sx->ncs + j], tol = sx->tight_tol * sx->Zb[i * sx->ncs + j];
        if (sx->crit[q]) continue;
        if (PetscAbsReal(zeta) <= tol) ntight++;
        if (zeta < -sx->feas_tol * sx->Zb[i * sx->ncs + j] && bad < 0) {
          bad   = (PetscInt64)(sx->rstart + r0 + i) * sx->ncs + j;
          worst = zeta / sx->Zb[i * sx->ncs + j];
        }
      }
    }
    LandDDAccumulate(1, &f, dd);
  }
  PetscCall(LandDDAllreduce(s->run->comm, 1, dd));
  sx->loss = dd[0] / sx->N;
  if (bad < 0) bad = LAND_INT64_MAX;
  PetscCallMPI(MPI_Allreduce(&bad, &badall, 1, MPIU_INT64, MPI_MIN, s->run->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ntight, 1, MPIU_INT64, MPI_SUM, s->run->comm));
  sx->ntight = (PetscInt)ntight;
  PetscCall(PetscLogEventEnd(LAND_SimplexPass, 0, 0, 0, 0));
  if (badall != LAND_INT64_MAX) {
    PetscInt sm, ly, un;
    DecodeId(sx, badall, &sm, &ly, &un);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPIU_REAL, MPI_MIN, s->run->comm));
    SETERRQ(s->run->comm, PETSC_ERR_NOT_CONVERGED,
            "simplex: at vertex %" PetscInt_FMT " constraint (sample %" PetscInt_FMT ", layer %" PetscInt_FMT ", neuron %" PetscInt_FMT
            ") lies on the wrong side of its state by %.3e of its scale (tolerance -simplex_feas_tol %.1e): the walk lost track of the region",
            sx->k, sm, ly, un, (double)-worst, (double)sx->feas_tol);
  }
  PetscFunctionReturn(0);
}

static int KinkCmp(const void *a, const void *b)
{
  const Kink *x = (const Kink *)a, *y = (const Kink *)b;
  if (x->tau != y->tau) return x->tau < y->tau ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/* Ratio test along the unit direction v from the current vertex (beta = dz/dt is kept for the
   update of alpha). first: the smallest step tau >= 0 at which a non-basic constraint heading for
   its boundary reaches it; ties within -simplex_tie_tol go to the lowest global id. long
   (-simplex_step long, phase 2): the residual kinks before the first hidden-neuron hit are crossed
   as long as the loss still falls along v (slope0 < 0 at the start; each crossing raises the slope
   by (wpos + wneg) |dr/dt| / N and bends no other constraint), the Barrodale-Roberts step; the
   kinks are merged across ranks in (tau, id) order in batches. The crossed residual ids are
   returned in sx->crossed. Returns id = -1 when nothing is hit. Collective. */
static PetscErrorCode PassRatio(LandStage s, const PetscReal *v, PetscBool longstep, PetscReal slope0, PetscReal *tau, PetscInt64 *id)
{
  Simplex   *sx   = (Simplex *)s->data;
  LandNet    net  = s->run->net;
  PetscReal  tmin = PETSC_MAX_REAL, thid = PETSC_MAX_REAL, lim;
  PetscInt64 best = LAND_INT64_MAX;
  PetscInt   nk   = 0;
  Kink      *kl   = sx->kinks;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexPass, 0, 0, 0, 0));
  sx->ncrossed = 0;
  for (PetscInt c = sx->cstart; c < sx->cend; c++) {
    PetscInt   r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0);
    PetscReal *T = sx->tmp2 + r0 * sx->ncs, *Bt = sx->beta + r0 * sx->ncs;
    ChunkForward(sx, net, r0, m, v, PETSC_TRUE, Bt);
    ChunkBound(sx, net, r0, m, v, PETSC_TRUE, sx->Zb);
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt j = 0; j < sx->ncs; j++) {
        PetscInt  q = (r0 + i) * sx->ncs + j;
        PetscReal a = sx->alpha[q], b = Bt[i * sx->ncs + j], zeta, delta;
        T[i * sx->ncs + j] = PETSC_MAX_REAL;
        if (sx->crit[q]) continue;
        zeta  = sx->state[q] ? a : -a;
        delta = sx->state[q] ? b : -b;
        if (delta < -sx->par_tol * sx->Zb[i * sx->ncs + j]) {
          PetscReal t        = PetscMax(zeta, 0.0) / -delta;
          T[i * sx->ncs + j] = t;
          tmin               = PetscMin(tmin, t);
          if (j < sx->first_out) thid = PetscMin(thid, t);
        }
      }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &tmin, 1, MPIU_REAL, MPI_MIN, s->run->comm));
  if (longstep) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &thid, 1, MPIU_REAL, MPI_MIN, s->run->comm));
  if (longstep && tmin < thid) {
    /* residual kinks strictly before the first hidden hit, sorted by (tau, id) */
    PetscReal   slope = slope0, H;
    PetscInt    pos = 0, npend = 0;
    PetscMPIInt size = sx->size, *cnt, *displ;
    PetscBool   stop = PETSC_FALSE;
    for (PetscInt r = 0; r < sx->nloc; r++)
      for (PetscInt o = 0; o < sx->nk; o++) {
        PetscInt q = r * sx->ncs + sx->first_out + o;
        if (sx->tmp2[q] < thid) {
          kl[nk].tau = sx->tmp2[q];
          kl[nk].inc = (sx->wpos + sx->wneg) * PetscAbsReal(sx->beta[q]) / sx->N;
          kl[nk].id  = (PetscInt64)sx->rstart * sx->ncs + q;
          nk++;
        }
      }
    qsort(kl, (size_t)nk, sizeof(Kink), KinkCmp);
    PetscCall(PetscMalloc2(size, &cnt, size + 1, &displ));
    while (!stop) {
      PetscInt    nb   = PetscMin(sx->batch, nk - pos);
      PetscMPIInt mine = (PetscMPIInt)(3 * nb);
      PetscReal   h    = pos + nb < nk ? kl[pos + nb - 1].tau : PETSC_MAX_REAL, *snd, *all;
      PetscInt    ntot, nsafe;
      PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, s->run->comm));
      displ[0] = 0;
      for (PetscMPIInt p = 0; p < size; p++) displ[p + 1] = displ[p] + cnt[p];
      ntot = displ[size] / 3;
      PetscCall(PetscMalloc2(3 * nb + 1, &snd, displ[size] + 1, &all));
      for (PetscInt q = 0; q < nb; q++) {
        snd[3 * q]     = kl[pos + q].tau;
        snd[3 * q + 1] = kl[pos + q].inc;
        snd[3 * q + 2] = (PetscReal)kl[pos + q].id; /* exact below 2^53 */
      }
      pos += nb;
      PetscCallMPI(MPI_Allgatherv(snd, mine, MPIU_REAL, all, cnt, displ, MPIU_REAL, s->run->comm));
      PetscCallMPI(MPI_Allreduce(&h, &H, 1, MPIU_REAL, MPI_MIN, s->run->comm));
      if (npend + ntot > sx->maxpend) {
        sx->maxpend = 2 * (npend + ntot) + 64;
        PetscCall(PetscRealloc(sizeof(Kink) * sx->maxpend, &sx->pend));
      }
      for (PetscInt q = 0; q < ntot; q++) {
        sx->pend[npend].tau = all[3 * q];
        sx->pend[npend].inc = all[3 * q + 1];
        sx->pend[npend].id  = (PetscInt64)all[3 * q + 2];
        npend++;
      }
      PetscCall(PetscFree2(snd, all));
      qsort(sx->pend, (size_t)npend, sizeof(Kink), KinkCmp);
      /* below H every rank has offered all its kinks: that prefix is final */
      for (nsafe = 0; nsafe < npend && (sx->pend[nsafe].tau < H || H == PETSC_MAX_REAL); nsafe++) {
        slope += sx->pend[nsafe].inc;
        if (slope >= 0) { /* the loss along v stops falling at this kink: it enters */
          tmin = sx->pend[nsafe].tau;
          best = sx->pend[nsafe].id;
          stop = PETSC_TRUE;
          break;
        }
        if (sx->ncrossed == sx->maxcrossed) {
          sx->maxcrossed = 2 * sx->maxcrossed + 64;
          PetscCall(PetscRealloc(sizeof(PetscInt64) * sx->maxcrossed, &sx->crossed));
        }
        sx->crossed[sx->ncrossed++] = sx->pend[nsafe].id;
      }
      if (stop) break;
      PetscCall(PetscArraymove(sx->pend, sx->pend + nsafe, npend - nsafe));
      npend -= nsafe;
      if (H == PETSC_MAX_REAL) break; /* every kink crossed and the loss still falls: the hidden hit */
    }
    PetscCall(PetscFree2(cnt, displ));
    if (!stop) {
      tmin = thid;
      best = LAND_INT64_MAX;
      if (thid < PETSC_MAX_REAL) {
        lim = thid + sx->tie_tol * thid;
        for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++)
          if (q % sx->ncs < sx->first_out && sx->tmp2[q] <= lim) {
            best = (PetscInt64)(sx->rstart) * sx->ncs + q;
            break;
          }
      }
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPIU_INT64, MPI_MIN, s->run->comm));
    }
  } else if (tmin < PETSC_MAX_REAL) {
    lim = tmin + sx->tie_tol * tmin;
    for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++)
      if (sx->tmp2[q] <= lim) {
        best = (PetscInt64)(sx->rstart) * sx->ncs + q;
        break; /* rows and constraints are in global-id order */
      }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPIU_INT64, MPI_MIN, s->run->comm));
  }
  PetscCall(PetscLogEventEnd(LAND_SimplexPass, 0, 0, 0, 0));
  *tau = tmin;
  *id  = best == LAND_INT64_MAX ? -1 : best;
  PetscFunctionReturn(0);
}

/* After a long step: the crossed residual kinks change sides. */
static PetscErrorCode CrossKinks(LandStage s)
{
  Simplex *sx = (Simplex *)s->data;

  PetscFunctionBeginUser;
  for (PetscInt c = 0; c < sx->ncrossed; c++) {
    PetscInt64 row = sx->crossed[c] / sx->ncs;
    if (row >= sx->rstart && row < sx->rstart + sx->nloc) {
      PetscInt q   = (PetscInt)(sx->crossed[c] - (PetscInt64)sx->rstart * sx->ncs);
      sx->state[q] = (unsigned char)!sx->state[q];
    }
  }
  PetscFunctionReturn(0);
}

/* Region gradient g = (1/N) sum over rows of the gradient of the row's loss in the current
   pattern, with reproducible double-double sums. Collective. */
static PetscErrorCode FullGradient(LandStage s)
{
  Simplex *sx  = (Simplex *)s->data;
  LandNet  net = s->run->net;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(sx->acc, 2 * sx->n0));
  for (PetscInt c = sx->cstart; c < sx->cend; c++) {
    PetscInt   r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0), w = net->maxwidth + sx->nk;
    PetscReal *G = sx->Z, *Gp = sx->Zb; /* m x width, stride w */
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt o = 0; o < sx->nk; o++) G[i * w + o] = sx->state[(r0 + i) * sx->ncs + sx->first_out + o] ? sx->wpos : -sx->wneg;
    for (PetscInt mm = sx->L; mm > sx->l; mm--) {
      PetscInt nin = net->width[mm - 1], no = net->width[mm], o = sx->off[mm - 1];
      LandGemm('N', 'N', m, nin, no, 1.0, G, w, sx->th + net->woff[mm - 1], nin, 0.0, Gp, w);
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < nin; j++) Gp[i * w + j] *= MaskVal(sx, sx->state[(r0 + i) * sx->ncs + o + j]);
      PetscReal *t = G;
      G            = Gp;
      Gp           = t;
    }
    LandGemm('T', 'N', sx->nout, sx->nin, m, 1.0, G, w, sx->xt + r0 * sx->nin, sx->nin, 0.0, sx->buf, sx->nin);
    if (net->bias)
      for (PetscInt j = 0; j < sx->nout; j++) {
        PetscReal t = 0;
        for (PetscInt i = 0; i < m; i++) t += G[i * w + j];
        sx->buf[sx->nout * sx->nin + j] = t;
      }
    LandDDAccumulate(sx->n0, sx->buf, sx->acc);
  }
  PetscCall(LandDDAllreduce(s->run->comm, sx->n0, sx->acc));
  for (PetscInt j = 0; j < sx->n0; j++) sx->g[j] = sx->acc[2 * j] / sx->N;
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the basis */

/* Normal (oriented) and state of basis constraint id, computed by the owner of its row and sent to
   all. Collective. */
static PetscErrorCode BasisNormal(LandStage s, PetscInt64 id, PetscReal *a, PetscInt *st)
{
  Simplex    *sx  = (Simplex *)s->data;
  PetscInt64  row = id / sx->ncs;
  PetscMPIInt own = Owner(sx, row);

  PetscFunctionBeginUser;
  if (own == sx->rank) {
    PetscInt r = (PetscInt)(row - sx->rstart), j = (PetscInt)(id % sx->ncs);
    RowNormal(sx, s->run->net, r, sx->state + r * sx->ncs, j, a);
    a[sx->n0] = sx->state[r * sx->ncs + j];
  }
  PetscCallMPI(MPI_Bcast(a, (PetscMPIInt)sx->n0 + 1, MPIU_REAL, own, s->run->comm));
  *st = (PetscInt)a[sx->n0];
  PetscFunctionReturn(0);
}

/* B = (A)^{-1} from A^T (rows: normals) with LAPACK getrf/getri, and the 1-norm condition number
   from gecon. Every rank computes the same. Collective only through errors. */
static PetscErrorCode Refactor(LandStage s)
{
  Simplex     *sx = (Simplex *)s->data;
  PetscBLASInt n = (PetscBLASInt)sx->n0, info, lwork = (PetscBLASInt)(4 * sx->n0), *ipiv, *iwork;
  PetscReal    anorm = 0, rcond = 0, *work;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexBasis, 0, 0, 0, 0));
  PetscCall(PetscMalloc3(sx->n0, &ipiv, sx->n0, &iwork, 4 * sx->n0, &work));
  /* memory of At read column-major is A (columns: normals) */
  PetscCall(PetscArraycpy(sx->B, sx->At, sx->n0 * sx->n0));
  for (PetscInt c = 0; c < sx->n0; c++) {
    PetscReal t = 0;
    for (PetscInt r = 0; r < sx->n0; r++) t += PetscAbsReal(sx->At[c * sx->n0 + r]);
    anorm = PetscMax(anorm, t);
  }
  PetscCallBLAS("LAPACKgetrf", LAPACKgetrf_(&n, &n, sx->B, &n, ipiv, &info));
  PetscCheck(info == 0, s->run->comm, PETSC_ERR_MAT_LU_ZRPVT,
             "simplex: the basis at vertex %" PetscInt_FMT " is singular (LAPACK getrf info %d): its constraints are linearly dependent", sx->k,
             (int)info);
  {
    const char norm = '1';
    PetscCallBLAS("LAPACKgecon", dgecon_(&norm, &n, sx->B, &n, &anorm, &rcond, work, iwork, &info));
  }
  PetscCallBLAS("LAPACKgetri", LAPACKgetri_(&n, sx->B, &n, ipiv, work, &lwork, &info));
  PetscCheck(info == 0, s->run->comm, PETSC_ERR_LIB, "simplex: LAPACK getri info %d", (int)info);
  /* column-major A^{-1} read row-major is A^{-T}: transpose so that the rows of B are the edges */
  for (PetscInt i = 0; i < sx->n0; i++)
    for (PetscInt j = i + 1; j < sx->n0; j++) {
      PetscReal t           = sx->B[i * sx->n0 + j];
      sx->B[i * sx->n0 + j] = sx->B[j * sx->n0 + i];
      sx->B[j * sx->n0 + i] = t;
    }
  sx->cond = rcond > 0 ? 1.0 / rcond : PETSC_INFINITY;
  PetscCall(PetscFree3(ipiv, iwork, work));
  sx->since_refactor = 0;
  sx->refactors++;
  PetscCall(PetscLogEventEnd(LAND_SimplexBasis, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Recompute every basis normal (zero-padded sum over ranks: one contributor per row, so exact),
   refactorise and recompute g: removes the drift of the updates. Collective. */
static PetscErrorCode Rebuild(LandStage s)
{
  Simplex *sx = (Simplex *)s->data;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(sx->At, sx->n0 * sx->n0));
  for (PetscInt i = 0; i < sx->nb; i++) {
    PetscInt64 row = sx->basis[i] / sx->ncs;
    if (Owner(sx, row) == sx->rank) {
      PetscInt r = (PetscInt)(row - sx->rstart);
      RowNormal(sx, s->run->net, r, sx->state + r * sx->ncs, (PetscInt)(sx->basis[i] % sx->ncs), sx->At + i * sx->n0);
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sx->At, (PetscMPIInt)(sx->n0 * sx->n0), MPIU_REAL, MPI_SUM, s->run->comm));
  PetscCall(Refactor(s));
  PetscCall(FullGradient(s));
  PetscFunctionReturn(0);
}

/* 1-norm condition number from the current A^T and B (exact for the factors held). */
static PetscReal Cond1(Simplex *sx)
{
  PetscReal na = 0, nbv = 0;
  for (PetscInt c = 0; c < sx->n0; c++) {
    PetscReal ta = 0, tb = 0;
    for (PetscInt r = 0; r < sx->n0; r++) {
      ta += PetscAbsReal(sx->At[c * sx->n0 + r]); /* column c of A */
      tb += PetscAbsReal(sx->B[r * sx->n0 + c]);  /* column c of B */
    }
    na  = PetscMax(na, ta);
    nbv = PetscMax(nbv, tb);
  }
  return na * nbv;
}

/* Basis column i becomes a (A^T row i): B's rows r_k -= u_k r_i / u_i, r_i /= u_i, u = B a; or a
   refactorisation when the pivot u_i is small or -simplex_refactor pivots have passed. */
static PetscErrorCode ReplaceColumn(LandStage s, PetscInt i, const PetscReal *a, PetscBool *rebuilt)
{
  Simplex  *sx   = (Simplex *)s->data;
  PetscReal umax = 0, ui;
  PetscInt  n0   = sx->n0;

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(sx->At + i * n0, a, n0));
  for (PetscInt k = 0; k < n0; k++) {
    PetscReal t = 0;
    for (PetscInt j = 0; j < n0; j++) t += sx->B[k * n0 + j] * a[j];
    sx->u[k] = t;
    umax     = PetscMax(umax, PetscAbsReal(t));
  }
  ui = sx->u[i];
  sx->since_refactor++;
  if (PetscAbsReal(ui) <= sx->pivot_tol * umax || sx->since_refactor >= sx->refactor || sx->cond > 1e10) {
    PetscCall(Rebuild(s));
    *rebuilt = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  *rebuilt = PETSC_FALSE;
  PetscCall(PetscLogEventBegin(LAND_SimplexBasis, 0, 0, 0, 0));
  for (PetscInt j = 0; j < n0; j++) sx->B[i * n0 + j] /= ui;
  for (PetscInt k = 0; k < n0; k++)
    if (k != i && sx->u[k] != 0)
      for (PetscInt j = 0; j < n0; j++) sx->B[k * n0 + j] -= sx->u[k] * sx->B[i * n0 + j];
  sx->cond = Cond1(sx);
  PetscCall(PetscLogEventEnd(LAND_SimplexBasis, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Basis positions of the same sample as position i whose normals depend on the state of i (deeper
   layers; the residuals depend on every hidden state). */
static PetscInt Dependents(Simplex *sx, PetscInt i, PetscInt *dep)
{
  PetscInt64 row = sx->basis[i] / sx->ncs;
  PetscInt   j = (PetscInt)(sx->basis[i] % sx->ncs), li, ui, nd = 0;
  ConstraintLayer(sx, j, &li, &ui);
  if (j >= sx->first_out) return 0;
  for (PetscInt p = 0; p < sx->nb; p++) {
    PetscInt lp, up;
    if (p == i || sx->basis[p] / sx->ncs != row) continue;
    ConstraintLayer(sx, (PetscInt)(sx->basis[p] % sx->ncs), &lp, &up);
    if (lp > li) dep[nd++] = p;
  }
  return nd;
}

/* Edge row i of the basis inverse after the state of basis constraint i flips (the other side of
   its hyperplane), given the new normals anew[] of its dependents dep[] (row i's own normal is
   negated): Woodbury, B' = B - W K^{-1} B[S,:], W = B U, K = I + W[S,:], S = {i} + dep. Writes
   row i of B' into out; with apply, B itself becomes B'. */
static PetscErrorCode FlipUpdate(LandStage s, PetscInt i, PetscInt nd, const PetscInt *dep, const PetscReal *anew, PetscBool apply, PetscReal *out,
                                 PetscBool *singular)
{
  Simplex     *sx = (Simplex *)s->data;
  PetscInt     n0 = sx->n0, ns = nd + 1, S[64];
  PetscReal   *W, *K, *Zs;
  PetscBLASInt n = (PetscBLASInt)ns, nrhs = (PetscBLASInt)n0, info, ipiv[64];

  PetscFunctionBeginUser;
  *singular = PETSC_FALSE;
  if (nd == 0) { /* the common case: the edge is -r_i */
    for (PetscInt j = 0; j < n0; j++) out[j] = -sx->B[i * n0 + j];
    if (apply) {
      for (PetscInt j = 0; j < n0; j++) {
        sx->B[i * n0 + j]  = -sx->B[i * n0 + j];
        sx->At[i * n0 + j] = -sx->At[i * n0 + j];
      }
    }
    PetscFunctionReturn(0);
  }
  PetscCheck(ns <= 64, PETSC_COMM_SELF, PETSC_ERR_SUP, "simplex: more than 63 basis constraints on one sample");
  S[0] = i;
  for (PetscInt p = 0; p < nd; p++) S[p + 1] = dep[p];
  PetscCall(PetscMalloc3(n0 * ns, &W, ns * ns, &K, ns * n0, &Zs));
  /* W column 0: B (-2 a_i) = -2 e_i; column p: B (anew_p - a_p) */
  for (PetscInt k = 0; k < n0; k++) W[k * ns] = k == i ? -2.0 : 0.0;
  for (PetscInt p = 0; p < nd; p++)
    for (PetscInt k = 0; k < n0; k++) {
      PetscReal t = 0;
      for (PetscInt j = 0; j < n0; j++) t += sx->B[k * n0 + j] * (anew[p * n0 + j] - sx->At[dep[p] * n0 + j]);
      W[k * ns + p + 1] = t;
    }
  /* K = I + W[S,:] and Zs = B[S,:], column-major for LAPACK: K^T solves need care, so build K^T */
  for (PetscInt a = 0; a < ns; a++)
    for (PetscInt b = 0; b < ns; b++) K[b * ns + a] = (a == b ? 1.0 : 0.0) + W[S[a] * ns + b]; /* column-major K(a,b) */
  for (PetscInt a = 0; a < ns; a++)
    for (PetscInt j = 0; j < n0; j++) Zs[j * ns + a] = sx->B[S[a] * n0 + j]; /* column-major ns x n0 */
  {
    /* the flipped basis is singular when K is: then no edge crosses here (a dependent normal
       vanishes on the other side, e.g. a residual whose sample's hidden neurons all turn off) */
    PetscReal    kn = 0, rcond = 0, work[4 * 64];
    PetscBLASInt iwork[64];
    const char   norm = '1', tr = 'N';
    for (PetscInt b = 0; b < ns; b++) {
      PetscReal t = 0;
      for (PetscInt a = 0; a < ns; a++) t += PetscAbsReal(K[b * ns + a]);
      kn = PetscMax(kn, t);
    }
    PetscCallBLAS("LAPACKgetrf", LAPACKgetrf_(&n, &n, K, &n, ipiv, &info));
    if (info == 0) PetscCallBLAS("LAPACKgecon", dgecon_(&norm, &n, K, &n, &kn, &rcond, work, iwork, &info));
    if (info != 0 || !(rcond > sx->pivot_tol)) {
      *singular = PETSC_TRUE;
      for (PetscInt j = 0; j < n0; j++) out[j] = NAN;
      PetscCall(PetscFree3(W, K, Zs));
      PetscFunctionReturn(0);
    }
    PetscCallBLAS("LAPACKgetrs", LAPACKgetrs_(&tr, &n, &nrhs, K, &n, ipiv, Zs, &n, &info));
  }
  for (PetscInt j = 0; j < n0; j++) {
    PetscReal t = 0;
    for (PetscInt b = 0; b < ns; b++) t += W[i * ns + b] * Zs[j * ns + b];
    out[j] = sx->B[i * n0 + j] - t;
  }
  if (apply) {
    for (PetscInt k = 0; k < n0; k++)
      for (PetscInt j = 0; j < n0; j++) {
        PetscReal t = 0;
        for (PetscInt b = 0; b < ns; b++) t += W[k * ns + b] * Zs[j * ns + b];
        sx->B[k * n0 + j] -= t;
      }
    for (PetscInt j = 0; j < n0; j++) sx->At[i * n0 + j] = -sx->At[i * n0 + j];
    for (PetscInt p = 0; p < nd; p++) PetscCall(PetscArraycpy(sx->At + dep[p] * n0, anew + p * n0, n0));
  }
  PetscCall(PetscFree3(W, K, Zs));
  PetscFunctionReturn(0);
}

/* On the owner of basis position i's sample: the new normals of its dependents and the change of
   g when its state flips. buf: nd*n0 normals, then n0 for dg. The state is restored. */
static void FlipData(Simplex *sx, LandNet net, PetscInt i, PetscInt nd, const PetscInt *dep, PetscReal *buf)
{
  PetscInt64     row = sx->basis[i] / sx->ncs;
  PetscInt       r = (PetscInt)(row - sx->rstart), j = (PetscInt)(sx->basis[i] % sx->ncs);
  unsigned char *st = sx->state + r * sx->ncs;
  PetscReal     *dg = buf + nd * sx->n0;

  RowGradient(sx, net, r, st, sx->rowa);
  st[j] = (unsigned char)!st[j];
  for (PetscInt p = 0; p < nd; p++) RowNormal(sx, net, r, st, (PetscInt)(sx->basis[dep[p]] % sx->ncs), buf + p * sx->n0);
  RowGradient(sx, net, r, st, dg);
  st[j] = (unsigned char)!st[j];
  for (PetscInt q = 0; q < sx->n0; q++) dg[q] -= sx->rowa[q];
}

/* Normalised slopes of all 2 n0 edges: cur[i] along +r_i (current side), flip[i] along the edge
   across constraint i. Collective (one sum of zero-padded vectors). */
static PetscErrorCode EdgeSlopes(LandStage s, PetscReal *cur, PetscReal *flip)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscInt   n0 = sx->n0, dep[64], nd;
  PetscReal *buf, *out;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(65 * n0, &buf, n0, &out));
  for (PetscInt i = 0; i < n0; i++) {
    const PetscReal *r  = sx->B + i * n0;
    PetscReal        nr = PetscSqrtReal(Dot(n0, r, r));
    cur[i]              = Dot(n0, r, sx->g) / nr;
    flip[i]             = 0;
    if (Owner(sx, sx->basis[i] / sx->ncs) == sx->rank) {
      nd = Dependents(sx, i, dep);
      FlipData(sx, s->run->net, i, nd, dep, buf);
      PetscBool sing;
      PetscCall(FlipUpdate(s, i, nd, dep, buf, PETSC_FALSE, out, &sing));
      for (PetscInt q = 0; q < n0; q++) sx->rowa[q] = sx->g[q] + buf[nd * n0 + q];
      flip[i] = sing ? PETSC_MAX_REAL : Dot(n0, out, sx->rowa) / PetscSqrtReal(Dot(n0, out, out));
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flip, (PetscMPIInt)n0, MPIU_REAL, MPI_SUM, s->run->comm));
  PetscCall(PetscFree2(buf, out));
  PetscFunctionReturn(0);
}

/* Cross to the other side of basis constraint i for real: states, A^T, B and g. Collective. */
static PetscErrorCode ApplyFlip(LandStage s, PetscInt i)
{
  Simplex    *sx = (Simplex *)s->data;
  PetscInt    n0 = sx->n0, dep[64], nd = Dependents(sx, i, dep);
  PetscInt64  row = sx->basis[i] / sx->ncs;
  PetscMPIInt own = Owner(sx, row);
  PetscReal  *buf, *out;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2((nd + 1) * n0, &buf, n0, &out));
  if (own == sx->rank) {
    PetscInt r = (PetscInt)(row - sx->rstart), j = (PetscInt)(sx->basis[i] % sx->ncs);
    FlipData(sx, s->run->net, i, nd, dep, buf);
    sx->state[r * sx->ncs + j] = (unsigned char)!sx->state[r * sx->ncs + j];
  }
  PetscCallMPI(MPI_Bcast(buf, (PetscMPIInt)((nd + 1) * n0), MPIU_REAL, own, s->run->comm));
  {
    PetscBool sing;
    PetscCall(FlipUpdate(s, i, nd, dep, buf, PETSC_TRUE, out, &sing));
    PetscCheck(!sing, s->run->comm, PETSC_ERR_PLIB, "simplex: a flip with a singular basis was chosen");
  }
  for (PetscInt q = 0; q < n0; q++) sx->g[q] += buf[nd * n0 + q];
  sx->bstate[i] = !sx->bstate[i];
  PetscCall(PetscFree2(buf, out));
  PetscFunctionReturn(0);
}

/* Put x back on the basis hyperplanes: A^T dx = -zeta (zeta: oriented values of the basis
   constraints), dx = -B^T zeta at a vertex, -Q R^{-T} zeta in phase 1. Returns max |zeta|
   relative to the scale of each constraint. Collective. */
static PetscErrorCode Reproject(LandStage s, PetscReal *drift)
{
  Simplex  *sx  = (Simplex *)s->data;
  LandNet   net = s->run->net;
  PetscInt  n0 = sx->n0, nb = sx->nb;
  PetscReal rel = 0, *zeta = sx->u;

  PetscFunctionBeginUser;
  *drift = 0;
  if (!nb) PetscFunctionReturn(0);
  PetscCall(PetscArrayzero(zeta, 2 * n0));
  for (PetscInt i = 0; i < nb; i++) {
    PetscInt64 row = sx->basis[i] / sx->ncs;
    if (Owner(sx, row) == sx->rank) {
      PetscInt r = (PetscInt)(row - sx->rstart), j = (PetscInt)(sx->basis[i] % sx->ncs);
      RowForward(sx, net, r, sx->x, sx->state + r * sx->ncs, sx->rowz);
      zeta[i] = sx->state[r * sx->ncs + j] ? sx->rowz[j] : -sx->rowz[j];
      ChunkBound(sx, net, r, 1, sx->x, PETSC_FALSE, sx->rowa); /* scale of the constraint */
      zeta[n0 + i] = PetscAbsReal(zeta[i]) / PetscMax(sx->rowa[j], PETSC_SMALL);
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, zeta, (PetscMPIInt)(2 * n0), MPIU_REAL, MPI_SUM, s->run->comm));
  for (PetscInt i = 0; i < nb; i++) rel = PetscMax(rel, zeta[n0 + i]);
  if (nb == n0 && sx->phase == 2) {
    for (PetscInt j = 0; j < n0; j++) {
      PetscReal t = 0;
      for (PetscInt i = 0; i < n0; i++) t += sx->B[i * n0 + j] * zeta[i];
      sx->x[j] -= t;
    }
  } else {
    /* R^T y = zeta (forward substitution), dx = -Q y */
    PetscReal *y = sx->rowa;
    for (PetscInt i = 0; i < nb; i++) {
      PetscReal t = zeta[i];
      for (PetscInt p = 0; p < i; p++) t -= sx->R[p * n0 + i] * y[p];
      y[i] = t / sx->R[i * n0 + i];
    }
    for (PetscInt j = 0; j < n0; j++) {
      PetscReal t = 0;
      for (PetscInt i = 0; i < nb; i++) t += sx->Q[i * n0 + j] * y[i];
      sx->x[j] -= t;
    }
  }
  *drift = rel;
  PetscFunctionReturn(0);
}

/* Phase 1: add normal a to the QR factorisation of the basis (classical Gram-Schmidt, twice). */
static void QRAppend(Simplex *sx, const PetscReal *a)
{
  PetscInt   n0 = sx->n0, nb = sx->nb;
  PetscReal *q = sx->Q + nb * n0, *rc = sx->rowa, nq;
  PetscArraycpy(q, a, n0);
  PetscArrayzero(rc, nb + 1);
  for (int pass = 0; pass < 2; pass++)
    for (PetscInt p = 0; p < nb; p++) {
      PetscReal c = Dot(n0, sx->Q + p * n0, q);
      rc[p] += c;
      for (PetscInt j = 0; j < n0; j++) q[j] -= c * sx->Q[p * n0 + j];
    }
  nq = PetscSqrtReal(Dot(n0, q, q));
  for (PetscInt j = 0; j < n0; j++) q[j] /= nq;
  for (PetscInt p = 0; p < nb; p++) sx->R[p * n0 + nb] = rc[p]; /* R row-major: R[p][nb] */
  sx->R[nb * n0 + nb] = nq;
}

/* v <- v - Q Q^T v (twice) */
static void ProjectOut(Simplex *sx, PetscReal *v)
{
  for (int pass = 0; pass < 2; pass++)
    for (PetscInt p = 0; p < sx->nb; p++) {
      PetscReal c = Dot(sx->n0, sx->Q + p * sx->n0, v);
      for (PetscInt j = 0; j < sx->n0; j++) v[j] -= c * sx->Q[p * sx->n0 + j];
    }
}

/* Whether the normal a of an entering constraint leaves the basis well conditioned: in phase 2 the
   pivot r_i . a against ||r_i|| ||a||, the sine of the angle between a and the span of the other
   n0 - 1 normals (r_i is normal to that span); in phase 1 a's part outside the span of the basis.
   A normal (nearly) in that span is parallel to the edge, however the ratio test's round-off saw it.
   (A test relative to max |B a| instead let the condition number grow to 1e13 on a layer-2 walk.) */
static PetscBool EnterOK(Simplex *sx, PetscInt i, const PetscReal *a)
{
  PetscInt n0 = sx->n0;
  if (sx->phase == 2) {
    const PetscReal *r = sx->B + i * n0;
    return (PetscBool)(PetscAbsReal(Dot(n0, r, a)) > sx->pivot_tol * PetscSqrtReal(Dot(n0, r, r) * Dot(n0, a, a)));
  } else {
    PetscReal *q = sx->u, na = PetscSqrtReal(Dot(n0, a, a));
    PetscArraycpy(q, a, n0);
    ProjectOut(sx, q);
    return (PetscBool)(PetscSqrtReal(Dot(n0, q, q)) > sx->pivot_tol * na);
  }
}

/* The basis flag of constraint id on the rank that owns its row: 1 basic, 2 excluded from the ratio
   test for the moment (RatioAndEnter), 0 neither. */
static void SetCrit(Simplex *sx, PetscInt64 id, unsigned char v)
{
  PetscInt64 row = id / sx->ncs;
  if (Owner(sx, row) == sx->rank) sx->crit[(row - sx->rstart) * sx->ncs + id % sx->ncs] = v;
}

/* The ratio test, then the entering constraint's normal (in sx->buf, its state in *st); a
   constraint that would make the basis singular is excluded and the test repeated. Collective. */
static PetscErrorCode RatioAndEnter(LandStage s, PetscInt pos, PetscBool longstep, PetscReal slope0, PetscReal *tau, PetscInt64 *id, PetscInt *st)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscInt64 excl[64];
  PetscInt   nex = 0;

  PetscFunctionBeginUser;
  for (;;) {
    PetscCall(PassRatio(s, sx->v, longstep, slope0, tau, id));
    if (*id < 0) break;
    PetscCall(BasisNormal(s, *id, sx->buf, st));
    if (EnterOK(sx, pos, sx->buf)) break;
    PetscCheck(nex < 64, s->run->comm, PETSC_ERR_NOT_CONVERGED,
               "simplex: 64 constraints in a row at vertex %" PetscInt_FMT " would make the basis singular", sx->k);
    excl[nex++] = *id;
    SetCrit(sx, *id, 2);
    sx->excluded++;
  }
  for (PetscInt q = 0; q < nex; q++) SetCrit(sx, excl[q], 0);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- history, theta, checkpoints */

static PetscErrorCode Record(LandStage s, PetscReal step, PetscInt64 enter, PetscInt64 leave, PetscBool crossed, PetscInt flips, PetscBool zero,
                             PetscReal drift)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscReal *h;
  PetscInt   a, b, c;

  PetscFunctionBeginUser;
  if (sx->nhist == sx->maxhist) {
    sx->maxhist = 2 * sx->maxhist + 256;
    PetscCall(PetscRealloc(sizeof(PetscReal) * NHIST * sx->maxhist, &sx->hist));
    PetscCall(PetscRealloc(sizeof(PetscReal) * sx->n0 * sx->maxhist, &sx->verts));
  }
  h    = sx->hist + NHIST * sx->nhist;
  h[0] = sx->k;
  h[1] = sx->phase;
  h[2] = sx->loss;
  h[3] = step;
  DecodeId(sx, enter, &a, &b, &c);
  h[4] = a;
  h[5] = b;
  h[6] = c;
  DecodeId(sx, leave, &a, &b, &c);
  h[7]  = a;
  h[8]  = b;
  h[9]  = c;
  h[10] = crossed;
  h[11] = flips;
  h[12] = sx->ndescent;
  h[13] = sx->cond;
  h[14] = zero;
  h[15] = drift;
  h[16] = sx->ntight;
  h[17] = sx->ncrossed;
  PetscCall(PetscArraycpy(sx->verts + sx->n0 * sx->nhist, sx->x, sx->n0));
  sx->nhist++;
  PetscFunctionReturn(0);
}

/* Write x into the layer-l entries of run->theta (distributed). Collective. */
static PetscErrorCode SyncTheta(LandStage s)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscInt   lo, hi, w0 = s->run->net->woff[sx->l - 1];
  PetscReal *t;

  PetscFunctionBeginUser;
  PetscCall(VecGetOwnershipRange(s->run->theta, &lo, &hi));
  PetscCall(VecGetArray(s->run->theta, &t));
  for (PetscInt j = PetscMax(lo, w0); j < PetscMin(hi, w0 + sx->n0); j++) t[j - lo] = sx->x[j - w0];
  PetscCall(VecRestoreArray(s->run->theta, &t));
  PetscFunctionReturn(0);
}

static PetscErrorCode Poll(LandStage s, PetscBool *stop)
{
  Simplex *sx = (Simplex *)s->data;

  PetscFunctionBeginUser;
  PetscCall(SyncTheta(s));
  PetscCall(LandCheckpointPoll(s->run->ckpt, s, sx->k, stop));
  PetscFunctionReturn(0);
}

/* FNV-1a hash of the basis (sorted ids with their states): a repeated basis at one point is a cycle. */
static PetscInt64 BasisHash(Simplex *sx)
{
  PetscInt64 *ids;
  PetscInt    n = sx->nb;
  uint64_t    h = 1469598103934665603ULL;
  if (PetscMalloc1(n, &ids)) return 0;
  for (PetscInt i = 0; i < n; i++) ids[i] = 2 * sx->basis[i] + sx->bstate[i];
  PetscSortInt64(n, ids);
  for (PetscInt i = 0; i < n; i++) {
    h ^= (uint64_t)ids[i];
    h *= 1099511628211ULL;
  }
  (void)PetscFree(ids);
  return (PetscInt64)(h >> 1);
}

/* ---------------------------------------------------------------- set-up */

static PetscErrorCode SetFromOptions_Simplex(LandStage s)
{
  Simplex          *sx = (Simplex *)s->data;
  PetscBool         set;
  PetscInt          rule    = sx->bland_always ? 1 : 0;
  const char *const rules[] = {"steepest", "bland"};

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage simplex: Deep ReLU Simplex on the L1 or quantile loss of one layer (Hinz & van de Geer)", NULL);
  PetscCall(PetscOptionsInt("-simplex_layer", "Affine layer l (1 = first) whose weights and biases are trained; all others stay fixed", "simplex",
                            sx->layer, &sx->layer, NULL));
  PetscCall(PetscOptionsInt("-simplex_max_pivots", "Stop after this many phase-2 pivots (verdict: pivot limit)", "simplex", sx->max_pivots,
                            &sx->max_pivots, NULL));
  PetscCall(PetscOptionsEList("-simplex_rule",
                              "Edge choice: steepest (normalised steepest edge; Bland's rule after a zero-length pivot) or bland (always)", "simplex",
                              rules, 2, rules[rule], &rule, NULL));
  sx->bland_always = (PetscBool)(rule == 1);
  {
    const char *const steps[] = {"first", "long"};
    PetscInt          st      = sx->long_step ? 1 : 0;
    PetscCall(
        PetscOptionsEList("-simplex_step",
                          "Phase-2 step: first (to the first constraint hit, as in the study) or long (also across residual kinks while the loss "
                          "still falls: Barrodale-Roberts)",
                          "simplex", steps, 2, steps[st], &st, NULL));
    sx->long_step = (PetscBool)(st == 1);
  }
  PetscCall(
      PetscOptionsInt("-simplex_long_batch", "Long steps: kinks each rank contributes per merge round", "simplex", sx->batch, &sx->batch, NULL));
  PetscCall(PetscOptionsInt("-simplex_refactor", "Refactorise the basis with LAPACK (and recompute g) every this many pivots", "simplex",
                            sx->refactor, &sx->refactor, NULL));
  PetscCall(PetscOptionsReal("-simplex_pivot_tol", "An entering normal must make an angle with sine > tol with the span of the other basis normals",
                             "simplex", sx->pivot_tol, &sx->pivot_tol, NULL));
  PetscCall(PetscOptionsReal(
      "-simplex_feas_tol", "Error when a constraint is on the wrong side of its state by more than tol times its scale (the step tolerance epsilon)",
      "simplex", sx->feas_tol, &sx->feas_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_parallel_tol", "A direction with |d z_c| <= tol * scale does not move constraint c (parallel)", "simplex",
                             sx->par_tol, &sx->par_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_tie_tol", "Ratio-test steps within (1 + tol) of the smallest tie; the lowest global id enters", "simplex",
                             sx->tie_tol, &sx->tie_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_tight_tol", "A non-basic constraint with |z_c| <= tol * scale is active (degenerate vertex)", "simplex",
                             sx->tight_tol, &sx->tight_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_opt_tol", "An edge descends when its normalised slope is below -tol * ||g||", "simplex", sx->opt_tol,
                             &sx->opt_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_zero_tol", "A step shorter than tol * (1 + ||x||) is a zero-length pivot", "simplex", sx->zero_tol,
                             &sx->zero_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_loss_tol", "Round-off allowed in the monotone decrease: L_k+1 <= L_k + tol (L_k + ||g|| ||x||), else an error",
                             "simplex", sx->loss_tol, &sx->loss_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_drift_tol", "Warn when a basis constraint drifted more than tol (relative) before re-projection", "simplex",
                             sx->drift_tol, &sx->drift_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_init_scale", "Start layer l from U(-scale, scale) (0: from the current parameters)", "simplex", sx->init_scale,
                             &sx->init_scale, NULL));
  PetscCall(PetscOptionsInt("-simplex_init_seed", "Seed of -simplex_init_scale (default: -seed)", "simplex", sx->init_seed, &sx->init_seed, &set));
  PetscCall(PetscOptionsInt("-simplex_window", "Sliding window (vertices) of the L* estimators", "simplex", sx->window, &sx->window, NULL));
  PetscCall(
      PetscOptionsInt("-simplex_monitor", "Print a progress line every this many pivots (0: none)", "simplex", sx->monitor, &sx->monitor, NULL));
  PetscOptionsEnd();
  if (!set) sx->init_seed = s->run->seed;
  PetscCheck(sx->batch >= 1, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_long_batch %" PetscInt_FMT " must be >= 1", sx->batch);
  PetscCheck(sx->refactor >= 1, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_refactor %" PetscInt_FMT " must be >= 1", sx->refactor);
  PetscCheck(sx->max_pivots >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_max_pivots must be >= 0");
  PetscCheck(sx->window >= 3, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_window %" PetscInt_FMT " must be >= 3", sx->window);
  PetscCheck(sx->init_scale >= 0 && PetscIsNormalReal(sx->init_scale + 1), s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-simplex_init_scale must be finite and >= 0");
  {
    PetscReal tols[] = {sx->pivot_tol, sx->feas_tol, sx->par_tol, sx->tie_tol, sx->tight_tol, sx->opt_tol, sx->zero_tol, sx->loss_tol, sx->drift_tol};
    for (size_t i = 0; i < sizeof(tols) / sizeof(tols[0]); i++)
      PetscCheck(tols[i] >= 0 && tols[i] < 1, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "simplex: the tolerances (-simplex_*_tol) must lie in [0, 1)");
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SetUp(LandStage s)
{
  Simplex       *sx  = (Simplex *)s->data;
  LandRun        run = s->run;
  LandNet        net = run->net;
  LandObjective  obj = run->obj;
  const LandSet *tr;
  PetscInt       L = net->nlayers, l = sx->layer, w;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  PetscCheck(l >= 1 && l <= L, run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-simplex_layer %" PetscInt_FMT " must lie in [1, %" PetscInt_FMT "] (the affine layers)", l, L);
  PetscCheck(obj->loss == LAND_LOSS_L1 || obj->loss == LAND_LOSS_QUANTILE, run->comm, PETSC_ERR_ARG_INCOMP,
             "simplex: -loss %s; the loss must be piecewise affine: -loss l1 or quantile", LandLosses[obj->loss]);
  PetscCheck(obj->reg_l2 == 0, run->comm, PETSC_ERR_ARG_INCOMP, "simplex: -reg_l2 %g makes the loss non-affine; use -reg_l2 0", (double)obj->reg_l2);
  PetscCheck(l == L || net->act == LAND_ACT_RELU || net->act == LAND_ACT_LEAKY_RELU, run->comm, PETSC_ERR_ARG_INCOMP,
             "simplex: -net_activation %s after layer %" PetscInt_FMT " is not piecewise linear; use relu or leaky_relu (or train the last layer)",
             LandActivations[net->act], l);
  PetscCheck(!net->use_skip, run->comm, PETSC_ERR_SUP, "simplex: -net_skip is not supported");
  PetscCheck(net->noise == LAND_NOISE_NONE, run->comm, PETSC_ERR_SUP, "simplex: -net_noise is not supported");
  PetscCall(LandDataGetSet(run->data, LAND_SET_TRAIN, &tr));
  PetscCallMPI(MPI_Comm_rank(run->comm, &sx->rank));
  PetscCallMPI(MPI_Comm_size(run->comm, &size));
  sx->size  = size;
  sx->L     = L;
  sx->l     = l;
  sx->nin   = net->width[l - 1];
  sx->nout  = net->width[l];
  sx->nk    = net->width[L];
  sx->n0    = sx->nout * (sx->nin + (net->bias ? 1 : 0));
  sx->slope = net->act == LAND_ACT_LEAKY_RELU ? net->leaky_slope : 0.0;
  sx->ncs   = 0;
  for (PetscInt m = l; m < L; m++) {
    sx->off[m] = sx->ncs;
    sx->ncs += net->width[m];
  }
  sx->first_out = sx->ncs;
  sx->off[L]    = sx->ncs;
  sx->ncs += sx->nk;
  sx->wpos   = obj->loss == LAND_LOSS_QUANTILE ? 1.0 - obj->quantile : 1.0;
  sx->wneg   = obj->loss == LAND_LOSS_QUANTILE ? obj->quantile : 1.0;
  sx->N      = tr->N;
  sx->nloc   = tr->n;
  sx->rstart = tr->rstart;
  sx->cstart = tr->cstart;
  sx->cend   = tr->cend;
  sx->Y      = tr->Y;
  PetscCall(LandDataGetChunkSize(run->data, &sx->chunk));
  PetscCheck((PetscInt64)sx->N * sx->ncs >= sx->n0, run->comm, PETSC_ERR_ARG_INCOMP,
             "simplex: %" PetscInt_FMT " rows give %" PetscInt64_FMT " constraints, fewer than the %" PetscInt_FMT
             " parameters of layer %" PetscInt_FMT ": no vertex exists",
             sx->N, (PetscInt64)sx->N * sx->ncs, sx->n0, l);
  PetscCall(PetscMalloc1(size + 1, &sx->rstarts));
  {
    PetscInt64  r = sx->rstart;
    PetscInt64 *all;
    PetscCall(PetscMalloc1(size, &all));
    PetscCallMPI(MPI_Allgather(&r, 1, MPIU_INT64, all, 1, MPIU_INT64, run->comm));
    for (PetscMPIInt p = 0; p < size; p++) sx->rstarts[p] = (PetscInt)all[p];
    sx->rstarts[size] = sx->N;
    PetscCall(PetscFree(all));
  }
  /* replicated theta and |W| */
  PetscCall(LandObjectiveReplicate(obj, run->theta, obj->theta_all));
  PetscCall(PetscMalloc2(net->P, &sx->th, net->P, &sx->absW));
  {
    const PetscReal *t;
    PetscCall(VecGetArrayRead(obj->theta_all, &t));
    PetscCall(PetscArraycpy(sx->th, t, net->P));
    PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
    for (PetscInt j = 0; j < net->P; j++) {
      PetscCheck(PetscIsNormalReal(sx->th[j]) || sx->th[j] == 0, run->comm, PETSC_ERR_FP, "simplex: parameter %" PetscInt_FMT " is %g", j,
                 (double)sx->th[j]);
      sx->absW[j] = PetscAbsReal(sx->th[j]);
    }
  }
  /* inputs of layer l: the fixed layers before it, evaluated once */
  PetscCall(PetscMalloc2(sx->nloc * sx->nin + 1, &sx->xt, sx->nloc + 1, &sx->xtn));
  if (l == 1)
    PetscCall(PetscArraycpy(sx->xt, tr->X, sx->nloc * sx->nin));
  else {
    LandWork wk;
    PetscCall(LandWorkCreate(net, sx->chunk, &wk));
    for (PetscInt c = sx->cstart; c < sx->cend; c++) {
      PetscInt r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0);
      PetscCall(LandNetForward(net, sx->th, m, tr->X + r0 * net->width[0], sx->rstart + r0, &wk));
      PetscCall(PetscArraycpy(sx->xt + r0 * sx->nin, wk.a[l - 1], m * sx->nin));
    }
    PetscCall(LandWorkDestroy(&wk));
  }
  for (PetscInt r = 0; r < sx->nloc; r++)
    sx->xtn[r] = PetscSqrtReal(Dot(sx->nin, sx->xt + r * sx->nin, sx->xt + r * sx->nin) + (net->bias ? 1.0 : 0.0));
  w = net->maxwidth + sx->nk;
  PetscCall(PetscCalloc3(sx->nloc * sx->ncs + 1, &sx->state, sx->nloc * sx->ncs + 1, &sx->crit, sx->nloc * sx->ncs + 1, &sx->alpha));
  PetscCall(PetscCalloc1(sx->nloc * sx->ncs + 1, &sx->beta));
  PetscCall(PetscMalloc1(sx->nloc * sx->nk + 1, &sx->kinks));
  PetscCall(PetscMalloc4(sx->chunk * PetscMax(sx->ncs, w), &sx->Z, sx->chunk * PetscMax(sx->ncs, w), &sx->Zb, sx->chunk * w, &sx->tmp,
                         PetscMax(sx->nloc * sx->ncs, w) + 1, &sx->tmp2));
  PetscCall(
      PetscMalloc5(2 * sx->n0, &sx->acc, sx->n0 + 1, &sx->buf, sx->ncs + 1, &sx->rowz, w + 1, &sx->rowg, PetscMax(sx->n0, sx->ncs) + 1, &sx->rowa));
  PetscCall(PetscMalloc1(2 * sx->n0, &sx->u));
  PetscCall(PetscCalloc5(sx->n0, &sx->x, sx->n0 * sx->n0, &sx->At, sx->n0 * sx->n0, &sx->B, sx->n0, &sx->g, sx->n0 + 1, &sx->v));
  PetscCall(PetscCalloc2(sx->n0 * sx->n0, &sx->Q, sx->n0 * sx->n0, &sx->R));
  PetscCall(PetscCalloc2(sx->n0, &sx->basis, sx->n0, &sx->bstate));
  PetscCall(PetscArraycpy(sx->x, sx->th + net->woff[l - 1], sx->n0));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the walk */

static PetscErrorCode Monitor(LandStage s, PetscBool force)
{
  Simplex *sx = (Simplex *)s->data;

  PetscFunctionBeginUser;
  if (sx->monitor > 0 && (force || sx->k % sx->monitor == 0))
    PetscCall(PetscPrintf(s->run->comm,
                          "simplex: vertex %6" PetscInt_FMT "  phase %" PetscInt_FMT "  loss %.12e  zero pivots %" PetscInt_FMT
                          "  descent edges %" PetscInt_FMT "  cond1 %.2e\n",
                          sx->k, sx->phase, (double)sx->loss, sx->zero_pivots, sx->ndescent, (double)sx->cond));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckDecrease(LandStage s, PetscReal prev)
{
  Simplex  *sx  = (Simplex *)s->data;
  PetscReal tol = sx->loss_tol * (PetscAbsReal(prev) + PetscSqrtReal(Dot(sx->n0, sx->g, sx->g) * Dot(sx->n0, sx->x, sx->x)));

  PetscFunctionBeginUser;
  PetscCheck(sx->loss <= prev + tol, s->run->comm, PETSC_ERR_PLIB,
             "simplex: the loss rose from %.17g to %.17g at vertex %" PetscInt_FMT " (more than the round-off allowance %.2e, -simplex_loss_tol)",
             (double)prev, (double)sx->loss, sx->k, (double)tol);
  PetscFunctionReturn(0);
}

static PetscErrorCode Phase1(LandStage s)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscInt   n0 = sx->n0;
  PetscReal  gn, vn, tau, drift, prev;
  PetscInt64 id;
  PetscBool  stop;

  PetscFunctionBeginUser;
  while (sx->nb < n0) {
    PetscBool nullspace = PETSC_FALSE;
    PetscCall(Poll(s, &stop));
    if (stop) {
      sx->halted = PETSC_TRUE;
      PetscFunctionReturn(0);
    }
    gn = PetscSqrtReal(Dot(n0, sx->g, sx->g));
    for (PetscInt j = 0; j < n0; j++) sx->v[j] = -sx->g[j];
    ProjectOut(sx, sx->v);
    vn = PetscSqrtReal(Dot(n0, sx->v, sx->v));
    if (!(vn > sx->opt_tol * gn) || vn == 0) {
      /* the loss is constant on the current face: any direction in it leads to a vertex */
      nullspace = PETSC_TRUE;
      for (PetscInt j = 0; j < n0; j++) sx->v[j] = LandRandNormal(sx->init_seed, 77, (PetscInt64)sx->nb * n0 + j);
      ProjectOut(sx, sx->v);
      vn = PetscSqrtReal(Dot(n0, sx->v, sx->v));
    }
    for (PetscInt j = 0; j < n0; j++) sx->v[j] /= vn;
    PetscCall(RatioAndEnter(s, sx->nb, PETSC_FALSE, 0, &tau, &id, &sx->bstate[sx->nb]));
    if (id < 0 && nullspace) {
      for (PetscInt j = 0; j < n0; j++) sx->v[j] = -sx->v[j];
      PetscCall(RatioAndEnter(s, sx->nb, PETSC_FALSE, 0, &tau, &id, &sx->bstate[sx->nb]));
    }
    PetscCheck(id >= 0, s->run->comm, PETSC_ERR_NOT_CONVERGED,
               "simplex: phase 1 found no constraint along %s direction after %" PetscInt_FMT " of %" PetscInt_FMT
               " constraints: the loss is %s along a line (a neuron dead on every sample leaves its weights free)",
               nullspace ? "either sense of a constant-loss" : "a descent", sx->nb, n0, nullspace ? "constant" : "unbounded below");
    for (PetscInt j = 0; j < n0; j++) sx->x[j] += tau * sx->v[j];
    SetCrit(sx, id, 1);
    QRAppend(sx, sx->buf);
    PetscCall(PetscArraycpy(sx->At + sx->nb * n0, sx->buf, n0));
    sx->basis[sx->nb++] = id;
    PetscCall(Reproject(s, &drift));
    sx->drift_max = PetscMax(sx->drift_max, drift);
    prev          = sx->loss;
    sx->k++;
    sx->phase1_steps++;
    PetscCall(PassVertex(s, PETSC_FALSE));
    PetscCall(CheckDecrease(s, prev));
    PetscCall(Record(s, tau, id, -1, PETSC_FALSE, 0, (PetscBool)(tau <= sx->zero_tol * (1 + PetscSqrtReal(Dot(n0, sx->x, sx->x)))), drift));
    PetscCall(Monitor(s, PETSC_FALSE));
  }
  sx->phase = 2;
  sx->loss1 = sx->loss;
  PetscCall(Rebuild(s));
  PetscFunctionReturn(0);
}

static PetscErrorCode Phase2(LandStage s)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscInt   n0 = sx->n0;
  PetscReal *cur, *flip, gn, tau, drift, prev, xn;
  PetscInt64 id, leave;
  PetscBool  stop;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(n0, &cur, n0, &flip));
  for (;;) {
    PetscInt  best = -1, side = 0, nd = 0, nflat = 0;
    PetscReal bs = 0;
    PetscBool zero, rebuilt = PETSC_FALSE;

    PetscCall(Poll(s, &stop));
    if (stop) {
      sx->halted = PETSC_TRUE;
      break;
    }
    PetscCall(EdgeSlopes(s, cur, flip));
    gn            = PetscSqrtReal(Dot(n0, sx->g, sx->g));
    sx->nsingular = 0;
    for (PetscInt i = 0; i < n0; i++) sx->nsingular += flip[i] == PETSC_MAX_REAL;
    for (PetscInt i = 0; i < n0; i++)
      for (PetscInt sd = 0; sd < 2; sd++) {
        PetscReal sl  = sd ? flip[i] : cur[i];
        PetscBool des = (PetscBool)(sl < -sx->opt_tol * gn);
        if (sl == PETSC_MAX_REAL) continue;
        if (!des) {
          if (sl <= sx->opt_tol * gn) nflat++;
          continue;
        }
        nd++;
        if (best < 0) {
          best = i;
          side = sd;
          bs   = sl;
        } else if (sx->bland || sx->bland_always) {
          /* Bland: the lowest global id; between the two sides of one constraint, the steeper */
          if (sx->basis[i] < sx->basis[best] || (i == best && sl < bs)) {
            best = i;
            side = sd;
            bs   = sl;
          }
        } else if (sl < bs || (sl == bs && sx->basis[i] < sx->basis[best])) {
          best = i;
          side = sd;
          bs   = sl;
        }
      }
    sx->ndescent = nd;
    sx->nflat    = nflat;
    if (sx->random_mode && nd > 1) {
      /* breaking a cycle: a descent edge drawn with the counter-based generator (rank-independent) */
      PetscInt pick = (PetscInt)(LandRandUniform(sx->init_seed, 78, sx->k) * nd), c = 0;
      pick = PetscMin(pick, nd - 1);
      for (PetscInt i = 0; i < n0; i++)
        for (PetscInt sd = 0; sd < 2; sd++) {
          PetscReal sl = sd ? flip[i] : cur[i];
          if (sl == PETSC_MAX_REAL || !(sl < -sx->opt_tol * gn)) continue;
          if (c++ == pick) {
            best = i;
            side = sd;
          }
        }
    }
    if (best < 0) {
      sx->certified = PETSC_TRUE;
      break;
    }
    if (sx->pivots >= sx->max_pivots) break;
    if (side) PetscCall(ApplyFlip(s, best));
    leave = sx->basis[best];
    SetCrit(sx, leave, 0);
    {
      PetscReal nr = PetscSqrtReal(Dot(n0, sx->B + best * n0, sx->B + best * n0));
      for (PetscInt j = 0; j < n0; j++) sx->v[j] = sx->B[best * n0 + j] / nr;
    }
    PetscCall(RatioAndEnter(s, best, sx->long_step, Dot(n0, sx->g, sx->v), &tau, &id, &sx->bstate[best]));
    PetscCheck(id >= 0, s->run->comm, PETSC_ERR_NOT_CONVERGED,
               "simplex: the descent edge at vertex %" PetscInt_FMT " meets no constraint: the loss would be unbounded below, impossible for L1",
               sx->k);
    for (PetscInt j = 0; j < n0; j++) sx->x[j] += tau * sx->v[j];
    if (sx->ncrossed) PetscCall(CrossKinks(s));
    SetCrit(sx, id, 1);
    sx->basis[best] = id;
    PetscCall(ReplaceColumn(s, best, sx->buf, &rebuilt));
    /* crossed kinks changed g; a rebuild has recomputed it already (after: sx->buf held the entering normal) */
    if (sx->ncrossed && !rebuilt) PetscCall(FullGradient(s));
    PetscCall(Reproject(s, &drift));
    if (drift > sx->drift_tol)
      PetscCall(PetscInfo(NULL, "simplex: drift %.3e at vertex %" PetscInt_FMT " before re-projection\n", (double)drift, sx->k + 1));
    sx->drift_max = PetscMax(sx->drift_max, drift);
    prev          = sx->loss;
    sx->k++;
    sx->pivots++;
    PetscCall(PassVertex(s, PETSC_FALSE));
    PetscCall(CheckDecrease(s, prev));
    xn   = PetscSqrtReal(Dot(n0, sx->x, sx->x));
    zero = (PetscBool)(tau <= sx->zero_tol * (1 + xn));
    PetscCall(Record(s, tau, id, leave, (PetscBool)side, n0, zero, drift));
    if (zero) {
      PetscInt64 h = BasisHash(sx);
      sx->zero_pivots++;
      sx->bland = PETSC_TRUE;
      for (PetscInt q = 0; q < sx->nseen; q++)
        if (sx->seen[q] == h && !sx->random_mode) {
          /* Bland's rule is no proof against cycling once flips change the region: leave the cycle
             by random descent edges until the walk moves again */
          sx->random_mode = PETSC_TRUE;
          sx->cycles_broken++;
          PetscCall(PetscInfo(NULL, "simplex: a basis repeated at vertex %" PetscInt_FMT "; random descent edges until the walk moves\n", sx->k));
        }
      PetscCheck(sx->zero_run < 100 * n0 + 1000, s->run->comm, PETSC_ERR_NOT_CONVERGED,
                 "simplex: cycling: %" PetscInt_FMT " zero-length pivots in a row at vertex %" PetscInt_FMT " could not be broken", sx->zero_run + 1,
                 sx->k);
      if (sx->nseen == sx->maxseen) {
        sx->maxseen = 2 * sx->maxseen + 16;
        PetscCall(PetscRealloc(sizeof(PetscInt64) * sx->maxseen, &sx->seen));
      }
      sx->seen[sx->nseen++] = h;
      sx->zero_run++;
    } else {
      sx->bland       = PETSC_FALSE;
      sx->random_mode = PETSC_FALSE;
      sx->zero_run    = 0;
      sx->nseen       = 0;
    }
    PetscCall(Monitor(s, PETSC_FALSE));
  }
  PetscCall(PetscFree2(cur, flip));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- stage */

static PetscErrorCode Run_Simplex(LandStage s)
{
  Simplex       *sx  = (Simplex *)s->data;
  LandRun        run = s->run;
  PetscLogDouble t0, t1;
  PetscReal      out[15];
  char           buf[256];

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Simplex, 0, 0, 0, 0));
  PetscCall(PetscTime(&t0));
  if (!sx->th) PetscCall(SetUp(s));
  if (!run->stage_resumed) {
    if (sx->init_scale > 0)
      for (PetscInt j = 0; j < sx->n0; j++) sx->x[j] = sx->init_scale * (2.0 * LandRandUniform(sx->init_seed, 31, j) - 1.0);
    sx->phase = 1;
    sx->k     = 0;
    PetscCall(PassVertex(s, PETSC_TRUE));
    PetscCall(FullGradient(s));
    sx->loss0 = sx->loss;
    sx->cond  = 0;
    PetscCall(Record(s, 0, -1, -1, PETSC_FALSE, 0, PETSC_FALSE, 0));
    PetscCall(PetscPrintf(run->comm,
                          "simplex: layer %" PetscInt_FMT " (%" PetscInt_FMT " parameters), %" PetscInt_FMT " rows x %" PetscInt_FMT
                          " constraints, %s loss; start loss %.12e\n",
                          sx->l, sx->n0, sx->N, sx->ncs, LandLosses[run->obj->loss], (double)sx->loss));
  } else {
    PetscCall(PassVertex(s, PETSC_FALSE));
    PetscCall(PetscPrintf(run->comm, "simplex: resumed at vertex %" PetscInt_FMT " (phase %" PetscInt_FMT "), loss %.12e\n", sx->k, sx->phase,
                          (double)sx->loss));
  }
  if (sx->phase == 1) PetscCall(Phase1(s));
  if (!sx->halted) PetscCall(Phase2(s));
  PetscCall(SyncTheta(s));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscLogEventEnd(LAND_Simplex, 0, 0, 0, 0));
  if (sx->halted) PetscFunctionReturn(0);
  if (sx->certified) {
    PetscBool convex = (PetscBool)(sx->l == sx->L);
    PetscCall(PetscStrcpy(sx->verdict, convex ? "global minimum" : "local minimum"));
    PetscCall(PetscSNPrintf(
        sx->test, sizeof(sx->test), "edge test: all %" PetscInt_FMT " one-sided directional derivatives >= -%.1e ||g|| (%" PetscInt_FMT " flat)%s%s",
        2 * sx->n0, (double)sx->opt_tol, sx->nflat,
        sx->ntight ? (convex ? "; degenerate vertex" : "; degenerate vertex: the test covers the basis cone") : "; non-degenerate vertex",
        convex ? "; convex problem (no hidden layer after l): the edge test gives a dual feasible point, so the vertex is a global minimum" : ""));
    if (sx->ntight && !convex) {
      PetscCall(PetscSNPrintf(buf, sizeof(buf), " (%" PetscInt_FMT " more active constraints)", sx->ntight));
      PetscCall(PetscStrlcat(sx->test, buf, sizeof(sx->test)));
    }
  } else {
    PetscCall(PetscStrcpy(sx->verdict, "pivot limit"));
    PetscCall(PetscSNPrintf(sx->test, sizeof(sx->test),
                            "stopped after %" PetscInt_FMT " pivots (-simplex_max_pivots) with %" PetscInt_FMT " descent edges left", sx->pivots,
                            sx->ndescent));
  }
  PetscCall(PetscPrintf(run->comm,
                        "simplex: %s at vertex %" PetscInt_FMT ": loss %.12e (start %.6e, after phase 1 %.6e); %" PetscInt_FMT
                        " pivots, %" PetscInt_FMT " of length zero, %" PetscInt_FMT
                        " refactorisations, max drift %.1e, cond1 %.2e, %.2f s\nsimplex: %s\n",
                        sx->verdict, sx->k, (double)sx->loss, (double)sx->loss0, (double)sx->loss1, sx->pivots, sx->zero_pivots, sx->refactors,
                        (double)sx->drift_max, (double)sx->cond, t1 - t0, sx->test));
  /* results */
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "trajectory"), sx->nhist, NHIST, sx->hist));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "trajectory_columns", HistColumns));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "vertices"), sx->nhist, sx->n0, sx->verts));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "theta_layer"), 1, sx->n0, sx->x));
  {
    PetscReal *bt;
    PetscCall(PetscMalloc1(3 * sx->n0, &bt));
    for (PetscInt i = 0; i < sx->n0; i++) {
      PetscInt a, b, c;
      DecodeId(sx, sx->basis[i], &a, &b, &c);
      bt[3 * i]     = a;
      bt[3 * i + 1] = b;
      bt[3 * i + 2] = c;
    }
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "basis"), sx->n0, 3, bt));
    PetscCall(PetscFree(bt));
  }
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "basis_columns", "sample, layer, neuron"));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "verdict", sx->verdict));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "termination_test", sx->test));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "layer", sx->l));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "parameters", sx->n0));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "constraints_per_sample", sx->ncs));
  out[0]  = sx->loss0;
  out[1]  = sx->loss1;
  out[2]  = sx->loss;
  out[3]  = sx->phase1_steps;
  out[4]  = sx->pivots;
  out[5]  = sx->zero_pivots;
  out[6]  = sx->refactors;
  out[7]  = sx->drift_max;
  out[8]  = sx->cond;
  out[9]  = sx->ntight;
  out[10] = sx->nflat;
  out[11] = t1 - t0;
  out[12] = sx->cycles_broken;
  out[13] = sx->nsingular;
  out[14] = sx->excluded;
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "summary"), 1, 15, out));
  PetscCall(
      LandResultsWriteAttrString(run->results, s->group, "summary_columns",
                                 "loss_initial, loss_phase1, loss_final, phase1_steps, pivots, zero_pivots, refactorisations, max_drift, cond1, "
                                 "tight_constraints, flat_edges, time, cycles_broken, singular_flips, near_parallel_excluded"));
  {
    PetscReal *loss, *step;
    PetscInt   K = sx->nhist;
    PetscCall(PetscMalloc2(K, &loss, K, &step));
    for (PetscInt q = 0; q < K; q++) {
      loss[q] = sx->hist[NHIST * q + 2];
      step[q] = sx->hist[NHIST * q + 3];
    }
    PetscCall(LandSimplexAnalyze(run->results, s->group, K, loss, step, sx->n0, sx->verts, sx->window));
    PetscCall(PetscFree2(loss, step));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Save_Simplex(LandStage s, LandCheckpoint ck)
{
  Simplex   *sx = (Simplex *)s->data;
  PetscReal *ids, c[20];
  Vec        st;
  PetscInt   lo;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointPutArray(ck, "x", 1, sx->n0, sx->x));
  PetscCall(LandCheckpointPutArray(ck, "At", sx->n0, sx->n0, sx->At));
  PetscCall(LandCheckpointPutArray(ck, "B", sx->n0, sx->n0, sx->B));
  PetscCall(LandCheckpointPutArray(ck, "Q", sx->n0, sx->n0, sx->Q));
  PetscCall(LandCheckpointPutArray(ck, "R", sx->n0, sx->n0, sx->R));
  PetscCall(LandCheckpointPutArray(ck, "g", 1, sx->n0, sx->g));
  PetscCall(PetscMalloc1(2 * sx->n0, &ids));
  for (PetscInt i = 0; i < sx->n0; i++) {
    ids[i]          = (PetscReal)sx->basis[i]; /* exact below 2^53 */
    ids[sx->n0 + i] = sx->bstate[i];
  }
  PetscCall(LandCheckpointPutArray(ck, "basis", 1, 2 * sx->n0, ids));
  PetscCall(PetscFree(ids));
  PetscCall(PetscMalloc1(1 + 2 * sx->nseen, &ids));
  ids[0] = sx->nseen;
  for (PetscInt q = 0; q < sx->nseen; q++) {
    ids[1 + 2 * q]     = (PetscReal)(sx->seen[q] >> 32);
    ids[1 + 2 * q + 1] = (PetscReal)(sx->seen[q] & 0xffffffffLL);
  }
  PetscCall(LandCheckpointPutArray(ck, "seen", 1, 1 + 2 * sx->nseen, ids));
  PetscCall(PetscFree(ids));
  c[0]  = sx->phase;
  c[1]  = sx->k;
  c[2]  = sx->phase1_steps;
  c[3]  = sx->pivots;
  c[4]  = sx->zero_pivots;
  c[5]  = sx->since_refactor;
  c[6]  = sx->refactors;
  c[7]  = sx->bland;
  c[8]  = sx->zero_run;
  c[9]  = sx->nb;
  c[10] = sx->loss;
  c[11] = sx->loss0;
  c[12] = sx->loss1;
  c[13] = sx->drift_max;
  c[14] = sx->cond;
  c[15] = sx->ndescent;
  c[16] = sx->random_mode;
  c[17] = sx->cycles_broken;
  c[18] = sx->excluded;
  PetscCall(LandCheckpointPutArray(ck, "counters", 1, 19, c));
  PetscCall(LandCheckpointPutArray(ck, "history", sx->nhist, NHIST, sx->hist));
  PetscCall(LandCheckpointPutArray(ck, "vertices", sx->nhist, sx->n0, sx->verts));
  /* states and basis flags of every (row, constraint), in global row order: any rank count resumes */
  PetscCall(VecCreateMPI(s->run->comm, sx->nloc * sx->ncs, PETSC_DETERMINE, &st));
  PetscCall(VecGetOwnershipRange(st, &lo, NULL));
  PetscCall(VecGetArray(st, &a));
  for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++) a[q] = sx->state[q] + 2 * sx->crit[q];
  PetscCall(VecRestoreArray(st, &a));
  PetscCall(LandCheckpointPutVec(ck, "states", st));
  PetscCall(VecDestroy(&st));
  PetscFunctionReturn(0);
}

static PetscErrorCode GetExact(LandStage s, LandCheckpoint ck, const char name[], PetscInt m, PetscInt n, PetscReal *dst)
{
  PetscInt   mm, nn;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointGetArray(ck, name, &mm, &nn, &a));
  PetscCheck(mm * nn == m * n, s->run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint: simplex/%s has %" PetscInt_FMT " entries, expected %" PetscInt_FMT, name, mm * nn, m * n);
  PetscCall(PetscArraycpy(dst, a, m * n));
  PetscCall(PetscFree(a));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Simplex(LandStage s, LandCheckpoint ck)
{
  Simplex  *sx = (Simplex *)s->data;
  PetscReal c[19], *ids, *a;
  PetscInt  m, n;
  Vec       st;

  PetscFunctionBeginUser;
  PetscCall(SetUp(s));
  PetscCall(GetExact(s, ck, "x", 1, sx->n0, sx->x));
  PetscCall(GetExact(s, ck, "At", sx->n0, sx->n0, sx->At));
  PetscCall(GetExact(s, ck, "B", sx->n0, sx->n0, sx->B));
  PetscCall(GetExact(s, ck, "Q", sx->n0, sx->n0, sx->Q));
  PetscCall(GetExact(s, ck, "R", sx->n0, sx->n0, sx->R));
  PetscCall(GetExact(s, ck, "g", 1, sx->n0, sx->g));
  PetscCall(GetExact(s, ck, "counters", 1, 19, c));
  sx->phase          = (PetscInt)c[0];
  sx->k              = (PetscInt)c[1];
  sx->phase1_steps   = (PetscInt)c[2];
  sx->pivots         = (PetscInt)c[3];
  sx->zero_pivots    = (PetscInt)c[4];
  sx->since_refactor = (PetscInt)c[5];
  sx->refactors      = (PetscInt)c[6];
  sx->bland          = (PetscBool)(c[7] != 0);
  sx->zero_run       = (PetscInt)c[8];
  sx->nb             = (PetscInt)c[9];
  sx->loss           = c[10];
  sx->loss0          = c[11];
  sx->loss1          = c[12];
  sx->drift_max      = c[13];
  sx->cond           = c[14];
  sx->ndescent       = (PetscInt)c[15];
  sx->random_mode    = (PetscBool)(c[16] != 0);
  sx->cycles_broken  = (PetscInt)c[17];
  sx->excluded       = (PetscInt)c[18];
  PetscCheck((sx->phase == 1 || sx->phase == 2) && sx->nb >= 0 && sx->nb <= sx->n0, s->run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint: bad simplex/counters");
  PetscCall(GetExact(s, ck, "basis", 1, 2 * sx->n0, sx->u));
  for (PetscInt i = 0; i < sx->n0; i++) {
    sx->basis[i]  = (PetscInt64)sx->u[i];
    sx->bstate[i] = (PetscInt)sx->u[sx->n0 + i];
  }
  PetscCall(LandCheckpointGetArray(ck, "seen", &m, &n, &ids));
  PetscCheck(m * n >= 1 && m * n == 1 + 2 * (PetscInt)ids[0], s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad simplex/seen");
  sx->nseen = sx->maxseen = (PetscInt)ids[0];
  PetscCall(PetscFree(sx->seen));
  PetscCall(PetscMalloc1(sx->maxseen + 1, &sx->seen));
  for (PetscInt q = 0; q < sx->nseen; q++) sx->seen[q] = ((PetscInt64)ids[1 + 2 * q] << 32) | (PetscInt64)ids[2 + 2 * q];
  PetscCall(PetscFree(ids));
  PetscCall(LandCheckpointGetArray(ck, "history", &m, &n, &a));
  PetscCheck(m == 0 || n == NHIST, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad simplex/history");
  PetscCall(PetscFree(sx->hist));
  sx->hist  = a;
  sx->nhist = sx->maxhist = m;
  PetscCall(LandCheckpointGetArray(ck, "vertices", &m, &n, &a));
  PetscCheck(m == sx->nhist && (m == 0 || n == sx->n0), s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad simplex/vertices");
  PetscCall(PetscFree(sx->verts));
  sx->verts = a;
  PetscCall(VecCreateMPI(s->run->comm, sx->nloc * sx->ncs, PETSC_DETERMINE, &st));
  PetscCall(LandCheckpointGetVec(ck, "states", st));
  PetscCall(VecGetArray(st, &a));
  for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++) {
    PetscInt v = (PetscInt)a[q];
    PetscCheck(v >= 0 && v <= 3, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad simplex/states");
    sx->state[q] = (unsigned char)(v & 1);
    sx->crit[q]  = (unsigned char)(v >> 1);
  }
  PetscCall(VecRestoreArray(st, &a));
  PetscCall(VecDestroy(&st));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Simplex(LandStage s)
{
  Simplex *sx = (Simplex *)s->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree(sx->rstarts));
  PetscCall(PetscFree2(sx->th, sx->absW));
  PetscCall(PetscFree2(sx->xt, sx->xtn));
  PetscCall(PetscFree3(sx->state, sx->crit, sx->alpha));
  PetscCall(PetscFree(sx->beta));
  PetscCall(PetscFree(sx->kinks));
  PetscCall(PetscFree(sx->pend));
  PetscCall(PetscFree(sx->crossed));
  PetscCall(PetscFree4(sx->Z, sx->Zb, sx->tmp, sx->tmp2));
  PetscCall(PetscFree5(sx->acc, sx->buf, sx->rowz, sx->rowg, sx->rowa));
  PetscCall(PetscFree(sx->u));
  PetscCall(PetscFree5(sx->x, sx->At, sx->B, sx->g, sx->v));
  PetscCall(PetscFree2(sx->Q, sx->R));
  PetscCall(PetscFree2(sx->basis, sx->bstate));
  PetscCall(PetscFree(sx->seen));
  PetscCall(PetscFree(sx->hist));
  PetscCall(PetscFree(sx->verts));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Simplex(LandStage s)
{
  Simplex *sx;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sx));
  sx->layer         = 1;
  sx->max_pivots    = 1000000;
  sx->refactor      = 50;
  sx->batch         = 256;
  sx->pivot_tol     = 1e-8;
  sx->feas_tol      = 1e-8;
  sx->par_tol       = 1e-12;
  sx->tie_tol       = 1e-12;
  sx->tight_tol     = 1e-10;
  sx->opt_tol       = 1e-10;
  sx->zero_tol      = 1e-13;
  sx->loss_tol      = 1e-10;
  sx->drift_tol     = 1e-8;
  sx->window        = 20;
  sx->monitor       = 100;
  s->data           = sx;
  s->setfromoptions = SetFromOptions_Simplex;
  s->run_stage      = Run_Simplex;
  s->destroy        = Destroy_Simplex;
  s->save           = Save_Simplex;
  s->load           = Load_Simplex;
  PetscFunctionReturn(0);
}
