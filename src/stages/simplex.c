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
   the verdict says so).

   Degenerate vertices (more than n0 constraints active: ties of integer data, duplicated rows, a
   neuron whose weights went to zero with all N of its constraints) are resolved by a symbolic
   perturbation (Charnes 1952; the lexicographic simplex): constraint c's pre-activation gets
   + eps_c, eps_c = eps^(1 + rank of c), eps -> 0, which makes every vertex of the perturbed
   arrangement simple. A value at the perturbed vertex is a real part plus a linear form in the
   eps_c; active constraints beyond the basis take the side of the sign of their form, ties of the
   ratio test go to the smallest form, and every pivot lowers the perturbed loss strictly (in the
   lexicographic order), so no basis repeats: the walk cannot cycle, and it cannot lose its region.
   At a final degenerate vertex the active constraints beyond the basis are examined: convex kinks
   (residuals, units whose loss sensitivity is >= 0) cannot make a descent direction, so the edge
   test covers the whole fan; otherwise the exact directional derivative of the loss is taken along
   the edges of the basis cone and along random directions, and the walk leaves along one that
   descends (phase 1 again), or the verdict says that the basis cone is covered (and the probes). */
#include <landscape/impl.h>
#include <petscblaslapack.h>
#include <petsctime.h>

#define LAND_INT64_MAX ((PetscInt64)9223372036854775807LL)

/* PETSc 3.18's petscblaslapack.h has no condition-number estimator: LAPACK's own dgecon. */
extern void dgecon_(const char *, const PetscBLASInt *, const PetscReal *, const PetscBLASInt *, const PetscReal *, PetscReal *, PetscReal *,
                    PetscBLASInt *, PetscBLASInt *);

/* A residual kink on the line of a long step: where it is, how much it raises the slope, its id. */
typedef struct {
  PetscReal  tau, inc, slack; /* slack: how far tau is from the next kink still counts as a tie */
  PetscInt64 id;
} Kink;

/* One term of a perturbation form: the coefficient of eps_id (the smaller id dominates). */
typedef struct {
  PetscInt64 id;
  PetscReal  c;
} Term;

/* What an active constraint beyond the basis is at a final vertex (ClassifyKinks). */
enum { KINK_NONE, KINK_CONVEX, KINK_SLAVED, KINK_CONCAVE };

typedef struct {
  /* options */
  PetscInt  layer, max_pivots, refactor, window, monitor, init_seed;
  PetscReal init_scale, feas_tol, par_tol, opt_tol, loss_tol, drift_tol, pivot_tol, zero_tol, tight_tol, lex_tol;
  PetscInt  probes; /* random directions whose exact derivative is taken at a degenerate final vertex */
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
  PetscReal       *ztol, *slk;   /* nloc x ncs: |zeta| <= ztol is active (round-off); slack of a ratio (ztol / rate) */
  unsigned char   *flat;         /* nloc x ncs: identically zero near the vertex (MarkFlat) */
  unsigned char   *reach;        /* ncs: scratch of MarkFlat */
  unsigned char   *kind;         /* nloc x ncs: KINK_* of the active constraints at a final vertex */
  PetscReal       *th;           /* replicated theta (layers != l fixed) */
  PetscReal       *absW;         /* |W_m| of layers m > l, same offsets as th */
  /* replicated state */
  PetscReal  *x, *At, *B, *g, *Q, *R, *v;
  PetscInt64 *basis;
  PetscInt    nb, *bstate;
  /* walk */
  PetscInt  nsingular, excluded, illcond;
  PetscInt  phase, k, phase1_steps, pivots, zero_pivots, since_refactor, refactors, ndescent, ntight, nflat;
  PetscReal loss, loss0, loss1, drift_max, cond;
  PetscReal xmax;                                 /* the largest ||x|| of the walk: x carries round-off of at least eps xmax */
  PetscBool certified, cone_only, halted, broken; /* broken: numerical breakdown, why[] says how */
  char      why[320];
  char      verdict[64], test[512];
  /* degeneracy: counters; forced: phase 1's next direction is sx->v (after Escape) */
  PetscInt       group, nlex, nset, nconcave, nslaved, nprobed, escapes;
  PetscBool      forced;
  PetscReal     *bform;                /* nb x ncs: perturbation forms of the basis constraints over their rows' constraints */
  PetscReal     *sens;                 /* ncs x ncs: d zhat / d eps within one row */
  Term          *terms;                /* a form being built */
  PetscInt      *setq, nsetq, maxsetq; /* local constraints whose side Settle set, to restore them */
  unsigned char *known;                /* nloc x ncs: active, and its side checked at an earlier vertex (CheckActive) */
  PetscBool      checkall;             /* CheckActive looks at every active constraint, not only the new ones */
  /* history: one row per vertex */
  PetscInt   nhist, maxhist;
  PetscReal *hist, *verts;
  /* long steps: kinks of this rank, merged kinks, crossed residual ids */
  Kink       *kinks, *pend;
  PetscInt    maxpend, ncrossed, maxcrossed;
  PetscInt64 *crossed;
  /* work */
  PetscReal *Z, *Zb, *tmp, *tmp2, *acc, *buf, *rowz, *rowg, *rowa, *u, *back, *an, *un;
} Simplex;

#define NHIST     19
#define NCOUNTERS 23 /* the walk's counters in a checkpoint */
static const char HistColumns[] =
    "vertex, phase, loss, step, entering_sample, entering_layer, entering_neuron, leaving_sample, leaving_layer, "
    "leaving_neuron, crossed, flips_tested, descent_edges, cond1, zero_step, drift, tight, kinks_crossed, tie_group";

/* ---------------------------------------------------------------- helpers */

static PetscReal Dot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal t = 0;
  for (PetscInt i = 0; i < n; i++) t += a[i] * b[i];
  return t;
}

/* ||a||_2 without underflow: at a vertex x* = 0 the re-projections shrink x geometrically (1e-16,
   1e-31, ...), and the sum of squares would reach zero long before x does. */
static PetscReal Norm2(PetscInt n, const PetscReal *a)
{
  PetscReal big = 0, t = 0;
  for (PetscInt i = 0; i < n; i++) big = PetscMax(big, PetscAbsReal(a[i]));
  if (big == 0) return 0;
  for (PetscInt i = 0; i < n; i++) t += (a[i] / big) * (a[i] / big);
  return big * PetscSqrtReal(t);
}

/* Local constraint q is active beyond the basis at the vertex: not basic, not identically zero
   (MarkFlat), within its round-off tolerance of zero (PassVertex). */
static inline PetscBool ActiveBeyond(const Simplex *sx, PetscInt q)
{
  return (PetscBool)(!sx->crit[q] && !sx->flat[q] && PetscAbsReal(sx->alpha[q]) <= sx->ztol[q]);
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

/* Carry gamma (a sensitivity to the pre-activations of layer m, width[m] entries, overwritten)
   back to the pre-activations of layer k < m through the masks of st. */
static void BackThrough(Simplex *sx, LandNet net, const unsigned char *st, PetscInt m, PetscInt k, PetscReal *gam)
{
  PetscReal *t = sx->back;
  for (PetscInt mm = m; mm > k; mm--) {
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
}

/* Backpropagate gamma (given at layer m, width[m] entries, overwritten) to layer l through the
   masks of st, and write d(gamma . z_m)/dx = (gamma_l x~^T, gamma_l) into a (n0), scaled by c. */
static void RowBack(Simplex *sx, LandNet net, PetscInt r, const unsigned char *st, PetscInt m, PetscReal *gam, PetscReal c, PetscReal *a)
{
  BackThrough(sx, net, st, m, sx->l, gam);
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

/* Zb = scales of Z entry by entry, the tolerances of the walk are relative to them: xs ||(x~, 1)||
   at layer l, then |W_m| (|mask| o Zb) (+ |b_m|, |y|), with xs the norm of the point or direction.
   The norm of all of x, not of neuron j's row: x carries round-off of order eps ||x|| from the walk,
   and a neuron whose weights went to zero would otherwise make every one of its constraints look
   violated. */
static void ChunkBound(Simplex *sx, LandNet net, PetscInt r0, PetscInt m, PetscReal s, PetscBool dir, PetscReal *Zb)
{
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

/* flat[] of local row r: the constraints that are identically zero near the vertex, and so no kink
   there. A unit behind units that are all off (ReLU: mask 0) has a zero normal; with zero biases
   (the default initialisation) its value is zero too, and it stays so while no constraint before it
   in its row is active or basic. Such constraints are never met by a step (rate zero) and their
   side does not matter; they are left out of the degeneracy count, the perturbation and the
   verdict. */
static void MarkFlat(Simplex *sx, LandNet net, PetscInt r)
{
  unsigned char *st = sx->state + r * sx->ncs, *fl = sx->flat + r * sx->ncs, *reach = sx->reach;
  PetscBool      before = PETSC_FALSE; /* an active or basic constraint in an earlier layer */

  for (PetscInt m = sx->l; m <= sx->L; m++) {
    PetscInt o = sx->off[m], w = net->width[m];
    if (m == sx->l)
      for (PetscInt q = 0; q < w; q++) reach[o + q] = (unsigned char)(sx->xtn[r] > 0);
    else {
      PetscInt         nin = net->width[m - 1], op = sx->off[m - 1];
      const PetscReal *Wm = sx->th + net->woff[m - 1];
      for (PetscInt q = 0; q < w; q++) {
        reach[o + q] = 0;
        for (PetscInt i = 0; i < nin && !reach[o + q]; i++)
          reach[o + q] = (unsigned char)(Wm[q * nin + i] != 0 && MaskVal(sx, st[op + i]) != 0 && reach[op + i]);
      }
    }
    for (PetscInt q = 0; q < w; q++) fl[o + q] = (unsigned char)(!reach[o + q] && !before);
    for (PetscInt q = 0; q < w; q++) {
      PetscInt  c    = r * sx->ncs + o + q;
      PetscReal zeta = st[o + q] ? sx->alpha[c] : -sx->alpha[c];
      if (sx->crit[c] || PetscAbsReal(zeta) <= sx->ztol[c]) before = PETSC_TRUE;
    }
  }
}

/* The pass at a vertex: alpha (all pre-activations), the loss (double-double, / N), the
   consistency of every non-basic state with the sign of its constraint, and the non-basic
   constraints that are active (degeneracy: |zeta_c| <= ztol_c, whose side the perturbation
   decides, CheckActive); init sets the states from the signs. alpha is recomputed from the data at
   every vertex rather than updated by alpha += tau beta: at a degenerate vertex such as x = 0 of
   integer data the true values are exact zeros, and the round-off that updates carry along the
   path puts constraints on the wrong side.
   The tolerance of constraint c is tight_tol times its scale at ||x|| + 2 e / tight_tol: the
   round-off of the product, plus (twice) what x's own distance from the exact vertex can move it,
   e = eps cond1 xmax: a backward-stable solve of the basis system errs by eps cond1 times the size
   of the points it is formed from, and every x is formed from earlier ones (xmax, the largest ||x||
   of the walk). Relative to ||x|| alone, a vertex at x* = 0 (rows with y = 0 of integer data)
   would see its 1e-31 residue as a violation of 100 % of the scale, and the re-projections would
   shrink x into denormal numbers. Collective. */
static PetscErrorCode PassVertex(LandStage s, PetscBool init)
{
  Simplex   *sx    = (Simplex *)s->data;
  LandNet    net   = s->run->net;
  PetscReal  dd[2] = {0, 0}, worst = 0, xs;
  PetscInt64 bad = -1, ntight = 0;
  PetscInt64 badall;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexPass, 0, 0, 0, 0));
  xs       = Norm2(sx->n0, sx->x);
  sx->xmax = PetscMax(sx->xmax, xs);

  xs += 2 * PETSC_MACHINE_EPSILON * PetscMax(sx->cond, 1.0) * sx->xmax / sx->tight_tol;
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
    ChunkBound(sx, net, r0, m, xs, PETSC_FALSE, sx->Zb);
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt o = 0; o < sx->nk; o++) {
        PetscReal r = Z[i * sx->ncs + sx->first_out + o];
        f += r > 0 ? sx->wpos * r : -sx->wneg * r;
      }
      for (PetscInt j = 0; j < sx->ncs; j++) {
        PetscInt  q    = (r0 + i) * sx->ncs + j;
        PetscReal zeta = sx->state[q] ? Z[i * sx->ncs + j] : -Z[i * sx->ncs + j];
        sx->ztol[q]    = sx->tight_tol * sx->Zb[i * sx->ncs + j];
        if (sx->crit[q]) continue;
        if (zeta < -sx->feas_tol * sx->Zb[i * sx->ncs + j] && bad < 0) {
          bad   = (PetscInt64)(sx->rstart + r0 + i) * sx->ncs + j;
          worst = zeta / sx->Zb[i * sx->ncs + j];
        }
      }
    }
    for (PetscInt i = 0; i < m; i++) { /* flat[] matters only in rows with an active non-basic constraint */
      PetscInt  q0  = (r0 + i) * sx->ncs;
      PetscBool any = PETSC_FALSE;
      for (PetscInt q = q0; q < q0 + sx->ncs && !any; q++) any = (PetscBool)(!sx->crit[q] && PetscAbsReal(sx->alpha[q]) <= sx->ztol[q]);
      if (any)
        MarkFlat(sx, net, r0 + i);
      else
        PetscCall(PetscArrayzero(sx->flat + q0, sx->ncs));
      for (PetscInt q = q0; q < q0 + sx->ncs && any; q++) ntight += ActiveBeyond(sx, q);
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
    PetscCheck(!init, s->run->comm, PETSC_ERR_PLIB, "simplex: a constraint is on the wrong side of its state at the start");
    sx->broken = PETSC_TRUE;
    PetscCall(PetscSNPrintf(sx->why, sizeof(sx->why),
                            "at vertex %" PetscInt_FMT " constraint (sample %" PetscInt_FMT ", layer %" PetscInt_FMT ", neuron %" PetscInt_FMT
                            ") lies on the wrong side of its state by %.3e of its scale (-simplex_feas_tol %.1e), cond1 %.2e",
                            sx->k, sm, ly, un, (double)-worst, (double)sx->feas_tol, (double)sx->cond));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the symbolic perturbation */

/* sens (ncs x ncs, row-major) = d zhat_j / d eps_k within one row with the pattern st: eps_k shifts
   its own pre-activation and, through the units that pass it on, every later constraint of the row. */
static void RowSens(Simplex *sx, LandNet net, const unsigned char *st, PetscReal *P)
{
  PetscInt n = sx->ncs;

  PetscArrayzero(P, n * n);
  for (PetscInt j = 0; j < n; j++) P[j * n + j] = 1.0;
  for (PetscInt m = sx->l + 1; m <= sx->L; m++) {
    PetscInt         nin = net->width[m - 1], no = net->width[m], o = sx->off[m - 1];
    const PetscReal *Wm = sx->th + net->woff[m - 1];
    for (PetscInt q = 0; q < no; q++) {
      PetscReal *Pj = P + (sx->off[m] + q) * n;
      for (PetscInt i = 0; i < nin; i++) {
        PetscReal w = Wm[q * nin + i] * MaskVal(sx, st[o + i]);
        if (w != 0)
          for (PetscInt k = 0; k <= o + i; k++) Pj[k] += w * P[(o + i) * n + k];
      }
    }
  }
}

/* The forms of the basis constraints, sigma_B sens[B, :] over the constraints of B's row, from the
   owners of the rows (a sum of zero-padded arrays: exact). Collective. */
static PetscErrorCode BasisForms(LandStage s)
{
  Simplex *sx = (Simplex *)s->data;
  PetscInt n  = sx->ncs;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(sx->bform, sx->nb * n));
  for (PetscInt i = 0; i < sx->nb; i++) {
    PetscInt64 row = sx->basis[i] / n;
    if (Owner(sx, row) == sx->rank) {
      PetscInt             r = (PetscInt)(row - sx->rstart), j = (PetscInt)(sx->basis[i] % n);
      const unsigned char *st = sx->state + r * n;
      RowSens(sx, s->run->net, st, sx->sens);
      for (PetscInt k = 0; k <= j; k++) sx->bform[i * n + k] = (st[j] ? 1.0 : -1.0) * sx->sens[j * n + k];
    }
  }
  if (sx->nb) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sx->bform, (PetscMPIInt)(sx->nb * n), MPIU_REAL, MPI_SUM, s->run->comm));
  PetscFunctionReturn(0);
}

static int TermCmp(const void *a, const void *b)
{
  const Term *x = (const Term *)a, *y = (const Term *)b;
  return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/* u (nb entries) = the coordinates of the normal a in the basis: u_i = r_i . a = (B a)_i at a vertex
   of phase 2, u = R^{-1} Q^T a on phase 1's partial basis. */
static void BasisCoords(Simplex *sx, const PetscReal *a, PetscReal *u)
{
  PetscInt n0 = sx->n0, nb = sx->nb;
  if (sx->phase == 2 && nb == n0) {
    for (PetscInt i = 0; i < n0; i++) u[i] = Dot(n0, sx->B + i * n0, a);
  } else {
    for (PetscInt i = 0; i < nb; i++) u[i] = Dot(n0, sx->Q + i * n0, a);
    for (PetscInt i = nb - 1; i >= 0; i--) { /* R u = Q^T a, R upper triangular (row-major) */
      for (PetscInt p = i + 1; p < nb; p++) u[i] -= sx->R[i * n0 + p] * u[p];
      u[i] /= sx->R[i * n0 + i];
    }
  }
}

/* The form of constraint j of local row r at the perturbed point: its oriented value there is
   zeta_c + E_c . eps with E_c = sigma_c sens[c, :] - sum_i u_i sigma_B_i sens[B_i, :], u = B a_c in
   phase 2 (u_i = r_i . a_c) and R^{-1} Q^T a_c in phase 1 (the perturbed point moves by
   d = -sum_i r_i (E_B_i . eps) to keep the basis at zero). Writes the terms sorted by id, scaled
   by 1/den, with equal ids merged, and the largest term before cancellation (the scale that the
   zero test of a coefficient is relative to). The basis forms must be current (BasisForms). */
static PetscErrorCode BuildForm(LandStage s, PetscInt r, PetscInt j, PetscReal den, PetscInt *nt, PetscReal *scale)
{
  Simplex             *sx  = (Simplex *)s->data;
  LandNet              net = s->run->net;
  PetscInt             n = sx->ncs, nb = sx->nb, t = 0, w = 0;
  const unsigned char *st  = sx->state + r * n;
  PetscInt64           row = sx->rstart + r;
  PetscReal            sg = st[j] ? 1.0 : -1.0, big = 0, *u = sx->un;
  Term                *T = sx->terms;

  PetscFunctionBeginUser;
  RowSens(sx, net, st, sx->sens);
  RowNormal(sx, net, r, st, j, sx->an);
  BasisCoords(sx, sx->an, u);
  for (PetscInt k = 0; k <= j; k++)
    if (sx->sens[j * n + k] != 0) {
      T[t].id  = row * n + k;
      T[t++].c = sg * sx->sens[j * n + k] / den;
    }
  for (PetscInt i = 0; i < nb; i++)
    if (u[i] != 0)
      for (PetscInt k = 0; k < n; k++)
        if (sx->bform[i * n + k] != 0) {
          T[t].id  = (sx->basis[i] / n) * n + k;
          T[t++].c = -u[i] * sx->bform[i * n + k] / den;
        }
  for (PetscInt q = 0; q < t; q++) big = PetscMax(big, PetscAbsReal(T[q].c));
  qsort(T, (size_t)t, sizeof(Term), TermCmp);
  for (PetscInt q = 0; q < t; q++) {
    if (w > 0 && T[w - 1].id == T[q].id)
      T[w - 1].c += T[q].c;
    else
      T[w++] = T[q];
  }
  *nt    = w;
  *scale = big;
  PetscFunctionReturn(0);
}

/* Compare two forms (terms sorted by id): -1 if a < b in the lexicographic order of the
   perturbation, 1 if a > b, 0 if equal. A difference below tol times the larger scale is zero: the
   coefficients carry the round-off of u = B a, of order eps cond(A) of the scale. */
static int FormCmp(const Term *a, PetscInt na, PetscReal sa, const Term *b, PetscInt nb, PetscReal sb, PetscReal tol)
{
  PetscReal thr = tol * PetscMax(sa, sb);
  PetscInt  i = 0, j = 0;

  while (i < na || j < nb) {
    PetscReal d;
    if (j >= nb || (i < na && a[i].id < b[j].id))
      d = a[i++].c;
    else if (i >= na || b[j].id < a[i].id)
      d = -b[j++].c;
    else {
      d = a[i].c - b[j].c;
      i++;
      j++;
    }
    if (PetscAbsReal(d) > thr) return d < 0 ? -1 : 1;
  }
  return 0;
}

/* The entering constraint among a tie of the ratio test (the candidates q of this rank with
   T[q] - ts <= slk[q]): the one whose perturbed step E_q . eps / (-delta_q) is smallest. Every rank
   gathers all candidates (few: the constraints that meet at one point) and scans them in global id
   order, so the choice is the same at any rank count. Collective. */
static PetscErrorCode LexMin(LandStage s, PetscReal ts, PetscInt64 *win)
{
  Simplex    *sx = (Simplex *)s->data;
  PetscInt    n = sx->ncs, len = 0, cap = 0, nt;
  PetscReal  *snd = NULL, *all, scale;
  PetscMPIInt mine, *cnt, *displ, size = sx->size;
  PetscInt64  best   = -1;
  Term       *bt     = NULL, *ct;
  PetscInt    nbt    = 0;
  PetscReal   bscale = 0;

  PetscFunctionBeginUser;
  PetscCall(BasisForms(s));
  for (PetscInt q = 0; q < sx->nloc * n; q++) {
    PetscReal T = sx->tmp2[q], delta;
    if (T == PETSC_MAX_REAL || T < ts || T - ts > sx->slk[q]) continue;
    delta = sx->state[q] ? sx->beta[q] : -sx->beta[q];
    PetscCall(BuildForm(s, q / n, q % n, -delta, &nt, &scale));
    if (len + 3 + 2 * nt > cap) {
      cap = 2 * (len + 3 + 2 * nt) + 64;
      PetscCall(PetscRealloc(sizeof(PetscReal) * cap, &snd));
    }
    snd[len++] = (PetscReal)((PetscInt64)sx->rstart * n + q); /* ids are exact below 2^53 */
    snd[len++] = nt;
    snd[len++] = scale;
    for (PetscInt t = 0; t < nt; t++) {
      snd[len++] = (PetscReal)sx->terms[t].id;
      snd[len++] = sx->terms[t].c;
    }
  }
  mine = (PetscMPIInt)len;
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &displ));
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, s->run->comm));
  displ[0] = 0;
  for (PetscMPIInt p = 0; p < size; p++) displ[p + 1] = displ[p] + cnt[p];
  PetscCall(PetscMalloc1(displ[size] + 1, &all));
  PetscCallMPI(MPI_Allgatherv(snd, mine, MPIU_REAL, all, cnt, displ, MPIU_REAL, s->run->comm));
  PetscCall(PetscMalloc1(n * (sx->nb + 1) + 1, &bt));
  PetscCall(PetscMalloc1(n * (sx->nb + 1) + 1, &ct));
  for (PetscInt p = 0; p < displ[size];) {
    PetscInt64 id = (PetscInt64)all[p];
    PetscInt   m  = (PetscInt)all[p + 1];
    PetscReal  sc = all[p + 2];
    for (PetscInt t = 0; t < m; t++) {
      ct[t].id = (PetscInt64)all[p + 3 + 2 * t];
      ct[t].c  = all[p + 4 + 2 * t];
    }
    p += 3 + 2 * m;
    if (best < 0 || FormCmp(ct, m, sc, bt, nbt, bscale, sx->lex_tol) < 0) {
      Term *x = bt;
      bt      = ct;
      ct      = x;
      nbt     = m;
      bscale  = sc;
      best    = id;
    }
  }
  *win = best;
  PetscCall(PetscFree(bt));
  PetscCall(PetscFree(ct));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree2(cnt, displ));
  PetscCall(PetscFree(snd));
  PetscFunctionReturn(0);
}

static int KinkCmp(const void *a, const void *b)
{
  const Kink *x = (const Kink *)a, *y = (const Kink *)b;
  if (x->tau != y->tau) return x->tau < y->tau ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/* Ratio test along the unit direction v from the current vertex (beta = dz/dt is kept). first: the
   smallest step ts >= 0 at which a non-basic constraint heading for its boundary reaches it (an
   active one, |zeta| <= ztol, at once). long (-simplex_step long, phase 2): the residual kinks
   before the first hidden-neuron hit are crossed as long as the loss still falls along v (slope0 < 0
   at the start; each crossing raises the slope by (wpos + wneg) |dr/dt| / N and bends no other
   constraint), the Barrodale-Roberts step; the kinks are merged across ranks in (tau, id) order in
   batches, and a kink that ties with the next one (within round-off) is not crossed: the step ends
   there and the perturbation decides. The crossed residual ids are returned in sx->crossed.
   The constraints met at ts within round-off (the tie group: ts <= T_c <= ts + ztol_c / rate_c) are
   all active at the new vertex; the one with the smallest perturbed step enters (LexMin), so the
   others stay on their side in the perturbed problem. Returns id = -1 when nothing is hit.
   Collective. */
static PetscErrorCode PassRatio(LandStage s, const PetscReal *v, PetscBool longstep, PetscReal slope0, PetscReal *tau, PetscInt64 *id)
{
  Simplex   *sx   = (Simplex *)s->data;
  LandNet    net  = s->run->net;
  PetscReal  tmin = PETSC_MAX_REAL, thid = PETSC_MAX_REAL, ts, vn = PetscSqrtReal(Dot(sx->n0, v, v));
  PetscInt64 first = LAND_INT64_MAX, ngroup = 0;
  PetscInt   nk = 0;
  Kink      *kl = sx->kinks;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexPass, 0, 0, 0, 0));
  sx->ncrossed = 0;
  for (PetscInt c = sx->cstart; c < sx->cend; c++) {
    PetscInt   r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0);
    PetscReal *T = sx->tmp2 + r0 * sx->ncs, *Bt = sx->beta + r0 * sx->ncs;
    ChunkForward(sx, net, r0, m, v, PETSC_TRUE, Bt);
    ChunkBound(sx, net, r0, m, vn, PETSC_TRUE, sx->Zb);
    for (PetscInt i = 0; i < m; i++)
      for (PetscInt j = 0; j < sx->ncs; j++) {
        PetscInt  q = (r0 + i) * sx->ncs + j;
        PetscReal a = sx->alpha[q], b = Bt[i * sx->ncs + j], zeta, delta;
        T[i * sx->ncs + j] = PETSC_MAX_REAL;
        if (sx->crit[q]) continue;
        zeta  = sx->state[q] ? a : -a;
        delta = sx->state[q] ? b : -b;
        if (delta < -sx->par_tol * sx->Zb[i * sx->ncs + j]) {
          PetscReal t        = PetscAbsReal(zeta) <= sx->ztol[q] ? 0.0 : PetscMax(zeta, 0.0) / -delta;
          T[i * sx->ncs + j] = t;
          sx->slk[q]         = sx->ztol[q] / -delta;
          tmin               = PetscMin(tmin, t);
          if (j < sx->first_out) thid = PetscMin(thid, t);
        }
      }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &tmin, 1, MPIU_REAL, MPI_MIN, s->run->comm));
  if (longstep) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &thid, 1, MPIU_REAL, MPI_MIN, s->run->comm));
  ts = tmin;
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
          kl[nk].tau   = sx->tmp2[q];
          kl[nk].inc   = (sx->wpos + sx->wneg) * PetscAbsReal(sx->beta[q]) / sx->N;
          kl[nk].slack = sx->slk[q];
          kl[nk].id    = (PetscInt64)sx->rstart * sx->ncs + q;
          nk++;
        }
      }
    qsort(kl, (size_t)nk, sizeof(Kink), KinkCmp);
    PetscCall(PetscMalloc2(size, &cnt, size + 1, &displ));
    while (!stop) {
      PetscInt    nb   = PetscMin(sx->batch, nk - pos), k;
      PetscMPIInt mine = (PetscMPIInt)(4 * nb);
      PetscReal   h    = pos + nb < nk ? kl[pos + nb - 1].tau : PETSC_MAX_REAL, *snd, *all;
      PetscInt    ntot;
      PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, s->run->comm));
      displ[0] = 0;
      for (PetscMPIInt p = 0; p < size; p++) displ[p + 1] = displ[p] + cnt[p];
      ntot = displ[size] / 4;
      PetscCall(PetscMalloc2(4 * nb + 1, &snd, displ[size] + 1, &all));
      for (PetscInt q = 0; q < nb; q++) {
        snd[4 * q]     = kl[pos + q].tau;
        snd[4 * q + 1] = kl[pos + q].inc;
        snd[4 * q + 2] = kl[pos + q].slack;
        snd[4 * q + 3] = (PetscReal)kl[pos + q].id; /* exact below 2^53 */
      }
      pos += nb;
      PetscCallMPI(MPI_Allgatherv(snd, mine, MPIU_REAL, all, cnt, displ, MPIU_REAL, s->run->comm));
      PetscCallMPI(MPI_Allreduce(&h, &H, 1, MPIU_REAL, MPI_MIN, s->run->comm));
      if (npend + ntot > sx->maxpend) {
        sx->maxpend = 2 * (npend + ntot) + 64;
        PetscCall(PetscRealloc(sizeof(Kink) * sx->maxpend, &sx->pend));
      }
      for (PetscInt q = 0; q < ntot; q++) {
        sx->pend[npend].tau   = all[4 * q];
        sx->pend[npend].inc   = all[4 * q + 1];
        sx->pend[npend].slack = all[4 * q + 2];
        sx->pend[npend].id    = (PetscInt64)all[4 * q + 3];
        npend++;
      }
      PetscCall(PetscFree2(snd, all));
      qsort(sx->pend, (size_t)npend, sizeof(Kink), KinkCmp);
      /* below H every rank has offered all its kinks: a kink is decided once its successor is known */
      for (k = 0; k < npend; k++) {
        PetscBool last = (PetscBool)(k + 1 == npend);
        PetscReal next, gap;
        if (H != PETSC_MAX_REAL && (last || sx->pend[k + 1].tau >= H)) break;
        next = last ? thid : sx->pend[k + 1].tau;
        gap  = PetscMax(sx->pend[k].slack, last ? 0 : sx->pend[k + 1].slack);
        slope += sx->pend[k].inc;
        if (next - sx->pend[k].tau <= gap || slope >= 0) { /* a tie, or the loss along v stops falling here */
          ts   = sx->pend[k].tau;
          stop = PETSC_TRUE;
          break;
        }
        if (sx->ncrossed == sx->maxcrossed) {
          sx->maxcrossed = 2 * sx->maxcrossed + 64;
          PetscCall(PetscRealloc(sizeof(PetscInt64) * sx->maxcrossed, &sx->crossed));
        }
        sx->crossed[sx->ncrossed++] = sx->pend[k].id;
      }
      if (stop) break;
      PetscCall(PetscArraymove(sx->pend, sx->pend + k, npend - k));
      npend -= k;
      if (H == PETSC_MAX_REAL) break; /* every kink crossed and the loss still falls: the hidden hit */
    }
    PetscCall(PetscFree2(cnt, displ));
    if (!stop) ts = thid;
  }
  /* the tie group at ts */
  if (ts < PETSC_MAX_REAL)
    for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++) {
      PetscReal T = sx->tmp2[q];
      if (T == PETSC_MAX_REAL || T < ts || T - ts > sx->slk[q]) continue;
      if (!ngroup) first = (PetscInt64)sx->rstart * sx->ncs + q; /* rows and constraints are in global-id order */
      ngroup++;
    }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ngroup, 1, MPIU_INT64, MPI_SUM, s->run->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPIU_INT64, MPI_MIN, s->run->comm));
  sx->group = (PetscInt)ngroup;
  if (ngroup > 1) {
    PetscCall(LexMin(s, ts, &first));
    sx->nlex++;
  }
  PetscCall(PetscLogEventEnd(LAND_SimplexPass, 0, 0, 0, 0));
  *tau = ngroup ? ts + 0.0 : PETSC_MAX_REAL; /* + 0.0: no negative zero */
  *id  = ngroup ? first : -1;
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
   from gecon. Every rank computes the same. A singular A is an error, or, with singular != NULL,
   reported there (B is then not valid), as is a numerically singular one (1/cond1 < 1e3 eps).
   Collective only through errors. */
static PetscErrorCode Refactor(LandStage s, PetscBool *singular)
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
  if (info == 0) {
    const char   norm = '1';
    PetscBLASInt info2;
    PetscCallBLAS("LAPACKgecon", dgecon_(&norm, &n, sx->B, &n, &anorm, &rcond, work, iwork, &info2));
  }
  if (singular) {
    *singular = (PetscBool)(info != 0 || !(rcond >= 1e3 * PETSC_MACHINE_EPSILON));
    if (*singular) {
      PetscCall(PetscFree3(ipiv, iwork, work));
      PetscCall(PetscLogEventEnd(LAND_SimplexBasis, 0, 0, 0, 0));
      PetscFunctionReturn(0);
    }
  }
  PetscCheck(info == 0, s->run->comm, PETSC_ERR_MAT_LU_ZRPVT,
             "simplex: the basis at vertex %" PetscInt_FMT " is singular (LAPACK getrf info %d): its constraints are linearly dependent", sx->k,
             (int)info);
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
   refactorise and recompute g: removes the drift of the updates. With singular != NULL a singular
   basis is reported there instead of an error. Collective. */
static PetscErrorCode RebuildChecked(LandStage s, PetscBool *singular)
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
  PetscCall(Refactor(s, singular));
  if (singular && *singular) PetscFunctionReturn(0);
  PetscCall(FullGradient(s));
  PetscFunctionReturn(0);
}

static PetscErrorCode Rebuild(LandStage s)
{
  PetscFunctionBeginUser;
  PetscCall(RebuildChecked(s, NULL));
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
  if (PetscAbsReal(ui) <= sx->pivot_tol * umax || sx->since_refactor >= sx->refactor || sx->cond > 1e6) {
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
  PetscReal rel = 0, *zeta = sx->u, xn = Norm2(n0, sx->x);

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
      ChunkBound(sx, net, r, 1, xn, PETSC_FALSE, sx->rowa); /* scale of the constraint */
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

/* The ratio test, then the entering constraint's normal (in sx->buf, its state in *st). A constraint
   that would make the basis singular (EnterOK) is excluded and the test repeated, but only if the
   step then found leaves it within its round-off tolerance (its normal is, numerically, in the span
   of the others, so the edge runs along it): otherwise it is crossed for real, and it enters after
   all, however ill-conditioned the basis becomes (the refactorisation takes care of that).
   Collective. */
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
    if (EnterOK(sx, pos, sx->buf) || nex == 64) break;
    excl[nex++] = *id;
    SetCrit(sx, *id, 2);
  }
  if (nex) {
    PetscInt crossed = 0;
    for (PetscInt e = 0; e < nex; e++) {
      PetscInt64 row = excl[e] / sx->ncs;
      if (Owner(sx, row) == sx->rank) {
        PetscInt  q     = (PetscInt)(excl[e] - (PetscInt64)sx->rstart * sx->ncs);
        PetscReal zeta  = sx->state[q] ? sx->alpha[q] : -sx->alpha[q];
        PetscReal delta = sx->state[q] ? sx->beta[q] : -sx->beta[q];
        if (*id < 0 || zeta + *tau * delta < -sx->ztol[q]) crossed++;
      }
      SetCrit(sx, excl[e], 0);
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &crossed, 1, MPIU_INT, MPI_SUM, s->run->comm));
    if (crossed) { /* the first one met enters */
      PetscCall(PassRatio(s, sx->v, longstep, slope0, tau, id));
      PetscCall(BasisNormal(s, *id, sx->buf, st));
      sx->illcond++;
      PetscCall(
          PetscInfo(NULL, "simplex: vertex %" PetscInt_FMT ": a constraint nearly parallel to the edge is crossed by the step: it enters\n", sx->k));
    } else
      sx->excluded += nex;
  }
  PetscFunctionReturn(0);
}

/* The perturbation decides the side of each non-basic constraint that is active at the vertex
   (|zeta_c| <= ztol_c): the sign of its form E_c (BuildForm). A state that disagrees is set to that
   side; the value at the vertex does not change (it is zero), only which region the vertex is seen
   from. Rows are visited in layer order, so a changed unit is seen by the later constraints of its
   row. The ratio test keeps every state consistent by construction; this is where the first vertex
   gets its states and where a decision of the round-off tolerances is mended. A constraint that was
   active and checked at the previous vertex keeps a consistent side through the pivot (the ratio
   test is lexicographic), so only the newly active ones are looked at, unless sx->checkall (the
   first vertex, after an escape or a resume, and after sides were set). Returns the number of
   states set. Collective. */
static PetscErrorCode CheckActive(LandStage s, PetscInt *nset)
{
  Simplex  *sx = (Simplex *)s->data;
  PetscInt  n = sx->ncs, set = 0, nt;
  PetscReal scale;

  PetscFunctionBeginUser;
  *nset = 0;
  if (!sx->ntight) {
    PetscCall(PetscArrayzero(sx->known, sx->nloc * n));
    PetscFunctionReturn(0);
  }
  PetscCall(BasisForms(s));
  for (PetscInt q = 0; q < sx->nloc * n; q++) {
    if (!ActiveBeyond(sx, q)) {
      sx->known[q] = 0;
      continue;
    }
    if (sx->known[q] && !sx->checkall) continue;
    sx->known[q] = 1;
    PetscCall(BuildForm(s, q / n, q % n, 1.0, &nt, &scale));
    if (FormCmp(sx->terms, nt, scale, NULL, 0, 0, sx->lex_tol) < 0) {
      sx->state[q] = (unsigned char)!sx->state[q];
      if (sx->nsetq == sx->maxsetq) {
        sx->maxsetq = 2 * sx->maxsetq + 64;
        PetscCall(PetscRealloc(sizeof(PetscInt) * sx->maxsetq, &sx->setq));
      }
      sx->setq[sx->nsetq++] = q;
      set++;
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &set, 1, MPIU_INT, MPI_SUM, s->run->comm));
  *nset        = set;
  sx->checkall = (PetscBool)(set > 0); /* new sides can change the forms of the others */
  PetscFunctionReturn(0);
}

/* Phase 1's factors from the states: the basis normals, their QR factorisation and g. With
   singular != NULL, normals that are (numerically) dependent are reported there. Collective. */
static PetscErrorCode RebuildPartial(LandStage s, PetscBool *singular)
{
  Simplex *sx = (Simplex *)s->data;
  PetscInt nb = sx->nb;

  PetscFunctionBeginUser;
  if (singular) *singular = PETSC_FALSE;
  PetscCall(PetscArrayzero(sx->At, sx->n0 * sx->n0));
  for (PetscInt i = 0; i < nb; i++) {
    PetscInt64 row = sx->basis[i] / sx->ncs;
    if (Owner(sx, row) == sx->rank) {
      PetscInt r = (PetscInt)(row - sx->rstart);
      RowNormal(sx, s->run->net, r, sx->state + r * sx->ncs, (PetscInt)(sx->basis[i] % sx->ncs), sx->At + i * sx->n0);
    }
  }
  if (nb) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sx->At, (PetscMPIInt)(nb * sx->n0), MPIU_REAL, MPI_SUM, s->run->comm));
  for (sx->nb = 0; sx->nb < nb; sx->nb++) {
    if (singular && !EnterOK(sx, sx->nb, sx->At + sx->nb * sx->n0)) {
      *singular = PETSC_TRUE;
      sx->nb    = nb;
      PetscFunctionReturn(0);
    }
    QRAppend(sx, sx->At + sx->nb * sx->n0);
  }
  PetscCall(FullGradient(s));
  PetscFunctionReturn(0);
}

/* After the pass at a vertex: the active constraints take their perturbed sides; where one changed,
   the factors and the pass are redone (a changed unit can change the normals of the basis
   constraints after it in its row, and with them the other forms). If the new sides make the basis
   singular, or do not settle in 8 passes (the basis then defines no consistent perturbed vertex),
   the sides are restored and *reverted says so. Collective. */
static PetscErrorCode Settle(LandStage s, PetscBool *reverted)
{
  Simplex  *sx   = (Simplex *)s->data;
  PetscInt  nset = 0;
  PetscBool sing = PETSC_FALSE;

  PetscFunctionBeginUser;
  if (reverted) *reverted = PETSC_FALSE;
  sx->nsetq = 0;
  for (PetscInt it = 0; !sing; it++) {
    PetscInt n;
    PetscCall(CheckActive(s, &n));
    if (!n) break;
    PetscCall(PetscInfo(NULL, "simplex: vertex %" PetscInt_FMT ": settle pass %" PetscInt_FMT " set %" PetscInt_FMT " sides\n", sx->k, it, n));
    nset += n;
    if (it == 8) {
      sing = PETSC_TRUE;
      break;
    }
    if (sx->phase == 2)
      PetscCall(RebuildChecked(s, &sing));
    else
      PetscCall(RebuildPartial(s, &sing));
    if (!sing) PetscCall(PassVertex(s, PETSC_FALSE));
    if (sx->broken) PetscFunctionReturn(0);
  }
  if (sing) {
    PetscCall(PetscInfo(NULL, "simplex: vertex %" PetscInt_FMT ": the sides make the basis singular or do not settle: restored\n", sx->k));
    for (PetscInt i = 0; i < sx->nsetq; i++) sx->state[sx->setq[i]] = (unsigned char)!sx->state[sx->setq[i]];
    if (sx->phase == 2)
      PetscCall(Rebuild(s));
    else
      PetscCall(RebuildPartial(s, NULL));
    PetscCall(PassVertex(s, PETSC_FALSE));
    nset         = 0;
    sx->checkall = PETSC_TRUE;
    if (reverted) *reverted = PETSC_TRUE;
  }
  sx->nset += nset;
  PetscFunctionReturn(0);
}

/* d loss_row / d h at unit `unit` of layer m (its output), for the pattern st of local row r: the
   residual weights carried back through layers L..m+1. */
static PetscReal UnitSensitivity(Simplex *sx, LandNet net, const unsigned char *st, PetscInt m, PetscInt unit)
{
  PetscReal *gam = sx->rowg, b = 0;
  for (PetscInt o = 0; o < sx->nk; o++) gam[o] = st[sx->first_out + o] ? sx->wpos : -sx->wneg;
  BackThrough(sx, net, st, sx->L, m + 1, gam);
  {
    PetscInt         nin = net->width[m], no = net->width[m + 1];
    const PetscReal *Wm = sx->th + net->woff[m];
    for (PetscInt j = 0; j < no; j++) b += Wm[j * nin + unit] * gam[j];
  }
  return b;
}

/* At a final vertex with constraints active beyond the basis, each of them (kind[]): KINK_SLAVED, a
   constraint whose hyperplane is one of the basis (u = B a has one nonzero entry: a duplicated row)
   and whose normal no active constraint before it in its row can change, so that its side is fixed
   on each cone of the basis fan (exact); else KINK_CONVEX, a kink that cannot make a descent
   direction: a residual (|r| >= s r for either side s), or a unit whose loss sensitivity beta =
   d loss_row / d h is >= 0 while nothing after it in its row is active or basic (beta max(z, slope z)
   is convex for beta >= 0); else KINK_CONCAVE. Replacing the convex kinks by the piece of their
   state gives a lower bound of the loss that is linear on each cone of the basis fan, once the
   slaved ones take the side of that cone. Collective (the counts). */
static PetscErrorCode ClassifyKinks(LandStage s, PetscInt *nconcave, PetscInt *nslaved)
{
  Simplex *sx  = (Simplex *)s->data;
  LandNet  net = s->run->net;
  PetscInt n = sx->ncs, cnt[2] = {0, 0};

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(sx->kind, sx->nloc * n));
  for (PetscInt q = 0; q < sx->nloc * n; q++) {
    PetscInt             r = q / n, j = q % n, layer, unit;
    const unsigned char *st    = sx->state + r * n;
    PetscReal            umax  = 0;
    PetscBool            after = PETSC_FALSE, before = PETSC_FALSE;
    PetscInt             nu = 0;
    if (!ActiveBeyond(sx, q)) continue;
    ConstraintLayer(sx, j, &layer, &unit);
    for (PetscInt k = 0; k < n; k++) {
      PetscInt  p   = r * n + k;
      PetscBool act = (PetscBool)(sx->crit[p] || ActiveBeyond(sx, p));
      if (act && k < sx->off[layer]) before = PETSC_TRUE;
      if (act && layer < sx->L && k >= sx->off[layer + 1]) after = PETSC_TRUE;
    }
    if (!before) { /* on one basis hyperplane: its side on each cone is known, which is exact */
      RowNormal(sx, net, r, st, j, sx->an);
      BasisCoords(sx, sx->an, sx->un);
      for (PetscInt i = 0; i < sx->n0; i++) umax = PetscMax(umax, PetscAbsReal(sx->un[i]));
      for (PetscInt i = 0; i < sx->n0; i++) nu += PetscAbsReal(sx->un[i]) > sx->lex_tol * umax;
    }
    if (nu == 1)
      sx->kind[q] = KINK_SLAVED;
    else if (j >= sx->first_out || (!after && UnitSensitivity(sx, net, st, layer, unit) >= 0))
      sx->kind[q] = KINK_CONVEX;
    else
      sx->kind[q] = KINK_CONCAVE;
    if (sx->kind[q] != KINK_CONVEX) cnt[sx->kind[q] == KINK_SLAVED]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 2, MPIU_INT, MPI_SUM, s->run->comm));
  *nconcave = cnt[0];
  *nslaved  = cnt[1];
  PetscFunctionReturn(0);
}

/* The exact one-sided directional derivative F'(x; d) of the loss at the vertex, from the data: the
   rates of every constraint along d, layer by layer, where an active constraint (basic, or
   |zeta| <= ztol) takes the side its rate points to, so the units after it see the mask of the side
   that the step enters. With slaved, only the basic and the KINK_SLAVED constraints do, the others
   keep their states: the slope of the lower bound of ClassifyKinks. With setsides the states of the
   active constraints become those sides. Collective. */
static PetscErrorCode DirDeriv(LandStage s, const PetscReal *d, PetscBool slaved, PetscBool setsides, PetscReal *slope)
{
  Simplex  *sx    = (Simplex *)s->data;
  LandNet   net   = s->run->net;
  PetscReal dd[2] = {0, 0};

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_SimplexPass, 0, 0, 0, 0));
  for (PetscInt c = sx->cstart; c < sx->cend; c++) {
    PetscInt   r0 = c * sx->chunk - sx->rstart, m = PetscMin(sx->chunk, sx->nloc - r0);
    PetscReal *R = sx->Z, f = 0;
    LandGemm('N', 'T', m, sx->nout, sx->nin, 1.0, sx->xt + r0 * sx->nin, sx->nin, d, sx->nin, 0.0, R, sx->ncs);
    if (net->bias)
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < sx->nout; j++) R[i * sx->ncs + j] += d[sx->nout * sx->nin + j];
    for (PetscInt mm = sx->l; mm <= sx->L; mm++) {
      PetscInt o = sx->off[mm], w = net->width[mm];
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt q = 0; q < w; q++) {
          PetscInt      cq     = (r0 + i) * sx->ncs + o + q;
          PetscReal     rho    = R[i * sx->ncs + o + q];
          PetscBool     active = (PetscBool)(sx->crit[cq] == 1 || (slaved ? sx->kind[cq] == KINK_SLAVED : ActiveBeyond(sx, cq)));
          unsigned char side   = active && rho != 0 ? (unsigned char)(rho > 0) : sx->state[cq];
          if (setsides) sx->state[cq] = side;
          if (mm < sx->L)
            sx->tmp[i * w + q] = MaskVal(sx, side) * rho;
          else
            f += side ? sx->wpos * rho : -sx->wneg * rho;
        }
      if (mm < sx->L) LandGemm('N', 'T', m, net->width[mm + 1], w, 1.0, sx->tmp, w, sx->th + net->woff[mm], w, 0.0, R + sx->off[mm + 1], sx->ncs);
    }
    LandDDAccumulate(1, &f, dd);
  }
  PetscCall(LandDDAllreduce(s->run->comm, 1, dd));
  *slope = dd[0] / sx->N;
  PetscCall(PetscLogEventEnd(LAND_SimplexPass, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Edge i of the basis fan (unit length): row i of B (current side of basis constraint i), or with
   across the edge on the other side, row i of the flipped basis's inverse (FlipUpdate), computed by
   the owner of the row and sent to all. *none: the flipped basis is singular, no edge there.
   Collective. */
static PetscErrorCode EdgeVector(LandStage s, PetscInt i, PetscBool across, PetscReal *d, PetscBool *none)
{
  Simplex    *sx  = (Simplex *)s->data;
  PetscInt    n0  = sx->n0, dep[64], nd;
  PetscMPIInt own = Owner(sx, sx->basis[i] / sx->ncs);
  PetscReal  *buf, nr;

  PetscFunctionBeginUser;
  *none = PETSC_FALSE;
  if (!across)
    PetscCall(PetscArraycpy(d, sx->B + i * n0, n0));
  else {
    PetscCall(PetscMalloc1(65 * n0 + 1, &buf));
    if (own == sx->rank) {
      PetscBool sing;
      nd = Dependents(sx, i, dep);
      FlipData(sx, s->run->net, i, nd, dep, buf);
      PetscCall(FlipUpdate(s, i, nd, dep, buf, PETSC_FALSE, d, &sing));
      d[n0] = sing;
    }
    PetscCallMPI(MPI_Bcast(d, (PetscMPIInt)n0 + 1, MPIU_REAL, own, s->run->comm));
    *none = (PetscBool)(d[n0] != 0);
    PetscCall(PetscFree(buf));
  }
  nr = Norm2(n0, d);
  for (PetscInt j = 0; j < n0 && !*none; j++) d[j] /= nr;
  PetscFunctionReturn(0);
}

/* No edge of the basis cone descends at a degenerate vertex (constraints active beyond the basis).
   A local minimum of the perturbed problem need not be one of the loss: the active constraints cut
   the basis cones, whose edges the perturbed walk sees, into smaller ones. Certified at once: a
   non-degenerate vertex and the convex problem (the edge slopes give a dual feasible point). Then
   the active constraints are classified (ClassifyKinks): with convex kinks only, the edge test
   covers the whole fan; with slaved ones too, the exact slopes of the 2 n0 edges of the basis fan,
   the slaved constraints on the sides each edge enters, decide it. With concave kinks, the exact
   directional derivative is taken along those edges and -simplex_probes seeded random directions.
   The steepest direction that descends is returned in sx->v (*escape: the walk leaves along it);
   if none does the verdict says that only the basis cone is covered. Collective. */
static PetscErrorCode Degenerate(LandStage s, PetscBool *escape)
{
  Simplex  *sx = (Simplex *)s->data;
  PetscInt  n0 = sx->n0, nd;
  PetscReal gn = PetscSqrtReal(Dot(n0, sx->g, sx->g)), tol = sx->opt_tol * gn, best = -tol, *d = sx->an;
  PetscBool covered = PETSC_TRUE; /* the lower bound's slopes are >= 0 on every edge */

  PetscFunctionBeginUser;
  *escape       = PETSC_FALSE;
  sx->certified = PETSC_TRUE;
  sx->cone_only = PETSC_FALSE;
  sx->nconcave  = 0;
  sx->nslaved   = 0;
  if (!sx->ntight || sx->l == sx->L) PetscFunctionReturn(0);
  PetscCall(ClassifyKinks(s, &sx->nconcave, &sx->nslaved));
  if (!sx->nconcave && !sx->nslaved) PetscFunctionReturn(0);
  nd = 2 * n0 + (sx->nconcave ? sx->probes : 0);
  for (PetscInt p = 0; p < nd; p++) {
    PetscReal D    = 0;
    PetscBool none = PETSC_FALSE;
    if (p < 2 * n0)
      PetscCall(EdgeVector(s, p / 2, (PetscBool)(p % 2), d, &none));
    else {
      for (PetscInt j = 0; j < n0; j++) d[j] = LandRandNormal(sx->init_seed, 79, ((PetscInt64)sx->k * sx->probes + p - 2 * n0) * n0 + j);
      PetscReal nr = Norm2(n0, d);
      for (PetscInt j = 0; j < n0; j++) d[j] /= nr;
    }
    if (none) continue;
    if (!sx->nconcave) { /* the slope of the lower bound; the true one only where it is negative */
      PetscCall(DirDeriv(s, d, PETSC_TRUE, PETSC_FALSE, &D));
      sx->nprobed++;
      if (D >= -tol) continue;
      covered = PETSC_FALSE;
    }
    PetscCall(DirDeriv(s, d, PETSC_FALSE, PETSC_FALSE, &D));
    sx->nprobed++;
    if (D < best) {
      best    = D;
      *escape = PETSC_TRUE;
      PetscCall(PetscArraycpy(sx->v, d, n0));
    }
  }
  if (*escape) {
    sx->certified = PETSC_FALSE;
    PetscCall(PetscInfo(NULL, "simplex: degenerate vertex %" PetscInt_FMT ": a direction outside the basis cone descends at rate %g\n", sx->k,
                        (double)best));
  } else
    sx->cone_only = (PetscBool)(sx->nconcave > 0 || !covered);
  PetscFunctionReturn(0);
}

/* Leave a degenerate vertex along the descent direction sx->v found by Degenerate: the active
   constraints take the sides the direction enters, the basis is given up, and phase 1 starts again
   from here with sx->v as its first direction (the ratio test then meets no active constraint at
   step zero, so the loss falls strictly). Collective. */
static PetscErrorCode Escape(LandStage s)
{
  Simplex  *sx = (Simplex *)s->data;
  PetscReal D;

  PetscFunctionBeginUser;
  PetscCall(DirDeriv(s, sx->v, PETSC_FALSE, PETSC_TRUE, &D));
  for (PetscInt i = 0; i < sx->nb; i++) SetCrit(sx, sx->basis[i], 0);
  sx->nb       = 0;
  sx->phase    = 3; /* phase 1 again, recorded apart */
  sx->checkall = PETSC_TRUE;
  sx->forced   = PETSC_TRUE;
  sx->escapes++;
  PetscCall(FullGradient(s));
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
  h[18] = sx->group;
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
  PetscCall(PetscOptionsEList(
      "-simplex_rule",
      "Edge choice: steepest (the normalised steepest edge) or bland (the lowest global id); ties of the ratio test: the perturbation", "simplex",
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
  PetscCall(PetscOptionsReal("-simplex_feas_tol",
                             "A constraint on the wrong side of its state by more than tol times its scale ends the walk: numerical breakdown",
                             "simplex", sx->feas_tol, &sx->feas_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_parallel_tol", "A direction with |d z_c| <= tol * scale does not move constraint c (parallel)", "simplex",
                             sx->par_tol, &sx->par_tol, NULL));
  PetscCall(
      PetscOptionsReal("-simplex_tight_tol",
                       "A non-basic constraint with |z_c| <= tol * scale (+ the vertex's own error) is active: degenerate vertex, ratio-test tie",
                       "simplex", sx->tight_tol, &sx->tight_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_lex_tol",
                             "A coefficient of a perturbation form below tol times the form's largest term is zero (must exceed eps cond1)",
                             "simplex", sx->lex_tol, &sx->lex_tol, NULL));
  PetscCall(PetscOptionsInt("-simplex_probes",
                            "Random directions whose exact directional derivative is taken at a degenerate final vertex (with the 2 n0 edges)",
                            "simplex", sx->probes, &sx->probes, NULL));
  PetscCall(PetscOptionsReal("-simplex_opt_tol", "An edge descends when its normalised slope is below -tol * ||g||", "simplex", sx->opt_tol,
                             &sx->opt_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_zero_tol", "A step shorter than tol * (1 + ||x||) is a zero-length pivot", "simplex", sx->zero_tol,
                             &sx->zero_tol, NULL));
  PetscCall(PetscOptionsReal("-simplex_loss_tol",
                             "Round-off allowed in the monotone decrease: L_k+1 <= L_k + tol (L_k + ||g|| ||x||), else numerical breakdown",
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
  PetscCheck(sx->probes >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_probes %" PetscInt_FMT " must be >= 0", sx->probes);
  PetscCheck(sx->window >= 3, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-simplex_window %" PetscInt_FMT " must be >= 3", sx->window);
  PetscCheck(sx->init_scale >= 0 && PetscIsNormalReal(sx->init_scale + 1), s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-simplex_init_scale must be finite and >= 0");
  {
    PetscReal tols[] = {sx->pivot_tol, sx->feas_tol, sx->par_tol, sx->tight_tol, sx->opt_tol, sx->zero_tol, sx->loss_tol, sx->drift_tol, sx->lex_tol};
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
  PetscCall(PetscCalloc3(sx->nloc * sx->ncs + 1, &sx->beta, sx->nloc * sx->ncs + 1, &sx->ztol, sx->nloc * sx->ncs + 1, &sx->slk));
  PetscCall(PetscMalloc3(sx->n0 * sx->ncs + 1, &sx->bform, sx->ncs * sx->ncs + 1, &sx->sens, (sx->n0 + 1) * sx->ncs + 1, &sx->terms));
  PetscCall(PetscMalloc3(w + 1, &sx->back, sx->n0 + 1, &sx->an, sx->n0 + 1, &sx->un));
  PetscCall(PetscCalloc3(sx->nloc * sx->ncs + 1, &sx->flat, sx->ncs + 1, &sx->reach, sx->nloc * sx->ncs + 1, &sx->kind));
  PetscCall(PetscCalloc1(sx->nloc * sx->ncs + 1, &sx->known));
  sx->checkall = PETSC_TRUE; /* the first vertex (a resumed walk reads it from the checkpoint) */
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
  if (!sx->broken && !(sx->loss <= prev + tol)) {
    sx->broken = PETSC_TRUE;
    PetscCall(PetscSNPrintf(sx->why, sizeof(sx->why),
                            "the loss rose from %.17g to %.17g at vertex %" PetscInt_FMT
                            " (more than the round-off allowance %.2e, -simplex_loss_tol), cond1 %.2e",
                            (double)prev, (double)sx->loss, sx->k, (double)tol, (double)sx->cond));
  }
  if (sx->broken) { /* back to the last vertex recorded; its loss from the data, on the sides of the signs */
    const PetscReal *h = sx->hist + NHIST * (sx->nhist - 1);
    PetscCall(PetscArraycpy(sx->x, sx->verts + sx->n0 * (sx->nhist - 1), sx->n0));
    sx->k = (PetscInt)h[0];
    PetscCall(PetscArrayzero(sx->crit, sx->nloc * sx->ncs));
    PetscCall(PassVertex(s, PETSC_TRUE));
    PetscCall(PetscInfo(NULL, "simplex: numerical breakdown: %s\n", sx->why));
  }
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
    if (sx->forced) { /* leaving a degenerate vertex along a descent direction (Escape) */
      sx->forced = PETSC_FALSE;
      vn         = Norm2(n0, sx->v);
    } else {
      for (PetscInt j = 0; j < n0; j++) sx->v[j] = -sx->g[j];
      ProjectOut(sx, sx->v);
      vn = PetscSqrtReal(Dot(n0, sx->v, sx->v));
    }
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
    if (sx->phase == 1) sx->phase1_steps++;
    PetscCall(PassVertex(s, PETSC_FALSE));
    if (!sx->broken) PetscCall(Settle(s, NULL));
    PetscCall(CheckDecrease(s, prev));
    if (sx->broken) PetscFunctionReturn(0);
    PetscCall(Record(s, tau, id, -1, PETSC_FALSE, 0, (PetscBool)(tau <= sx->zero_tol * (1 + PetscSqrtReal(Dot(n0, sx->x, sx->x)))), drift));
    PetscCall(Monitor(s, PETSC_FALSE));
  }
  if (sx->phase == 1) sx->loss1 = sx->loss;
  sx->phase = 2;
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
        } else if (sx->bland_always) {
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
    if (best < 0) {
      PetscBool escape;
      PetscCall(Degenerate(s, &escape));
      if (escape) PetscCall(Escape(s)); /* back to phase 1 (Run_Simplex) */
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
    /* A step of length zero (a tie of active constraints) leaves the point where it is: projecting
       it onto the new basis would move it by cond1 times the round-off of the entering constraint's
       value, and move the other active constraints with it. */
    if (tau > 0)
      PetscCall(Reproject(s, &drift));
    else
      drift = 0;
    if (drift > sx->drift_tol)
      PetscCall(PetscInfo(NULL, "simplex: drift %.3e at vertex %" PetscInt_FMT " before re-projection\n", (double)drift, sx->k + 1));
    sx->drift_max = PetscMax(sx->drift_max, drift);
    prev          = sx->loss;
    sx->k++;
    sx->pivots++;
    PetscCall(PassVertex(s, PETSC_FALSE));
    if (!sx->broken) PetscCall(Settle(s, NULL));
    PetscCall(CheckDecrease(s, prev));
    if (sx->broken) break;
    xn   = PetscSqrtReal(Dot(n0, sx->x, sx->x));
    zero = (PetscBool)(tau <= sx->zero_tol * (1 + xn));
    PetscCall(Record(s, tau, id, leave, (PetscBool)side, n0, zero, drift));
    if (zero) sx->zero_pivots++;
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
  PetscReal      out[20];
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
    PetscCall(Settle(s, NULL));
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
  do { /* phase 1 again after each Escape from a degenerate vertex */
    if (sx->phase != 2) PetscCall(Phase1(s));
    if (!sx->halted && !sx->broken) PetscCall(Phase2(s));
  } while (!sx->halted && !sx->broken && sx->phase != 2);
  PetscCall(SyncTheta(s));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscLogEventEnd(LAND_Simplex, 0, 0, 0, 0));
  if (sx->halted) PetscFunctionReturn(0);
  if (sx->broken) {
    /* no certificate: the decisions of the walk were no longer exact in double precision */
    PetscCall(PetscStrcpy(sx->verdict, "numerical breakdown"));
    PetscCall(PetscSNPrintf(sx->test, sizeof(sx->test), "%s; the results hold the last vertex before it", sx->why));
  } else if (sx->certified) {
    PetscBool convex = (PetscBool)(sx->l == sx->L);
    PetscCall(PetscStrcpy(sx->verdict, convex ? "global minimum" : (sx->cone_only ? "local minimum of the basis cone" : "local minimum")));
    PetscCall(PetscSNPrintf(sx->test, sizeof(sx->test),
                            "edge test: all %" PetscInt_FMT " one-sided directional derivatives >= -%.1e ||g|| (%" PetscInt_FMT " flat); ",
                            2 * sx->n0, (double)sx->opt_tol, sx->nflat));
    if (!sx->ntight)
      PetscCall(PetscStrlcat(sx->test, "non-degenerate vertex", sizeof(sx->test)));
    else if (convex)
      PetscCall(PetscSNPrintf(buf, sizeof(buf), "degenerate vertex (%" PetscInt_FMT " more active constraints)", sx->ntight));
    else if (!sx->cone_only)
      PetscCall(PetscSNPrintf(buf, sizeof(buf),
                              "degenerate vertex: the %" PetscInt_FMT
                              " constraints active beyond the basis are convex kinks or lie on basis hyperplanes (%" PetscInt_FMT
                              "); on the sides each edge enters, the exact slopes of the %" PetscInt_FMT
                              " edges of the basis fan are >= 0, so the test covers the whole fan",
                              sx->ntight, sx->nslaved, 2 * sx->n0));
    else
      PetscCall(PetscSNPrintf(buf, sizeof(buf),
                              "degenerate vertex: %" PetscInt_FMT " constraints active beyond the basis, %" PetscInt_FMT
                              " of them units that may bend the loss down; the test covers the basis cone, and the exact directional derivative is "
                              ">= 0 along the %" PetscInt_FMT " edges of the basis fan and %" PetscInt_FMT " random directions",
                              sx->ntight, sx->nconcave, 2 * sx->n0, sx->nconcave ? sx->probes : 0));
    if (sx->ntight) PetscCall(PetscStrlcat(sx->test, buf, sizeof(sx->test)));
    if (convex)
      PetscCall(PetscStrlcat(
          sx->test, "; convex problem (no hidden layer after l): the edge test gives a dual feasible point, so the vertex is a global minimum",
          sizeof(sx->test)));
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
  out[12] = sx->nsingular;
  out[13] = sx->excluded;
  out[14] = sx->nlex;
  out[15] = sx->nset;
  out[16] = sx->escapes;
  out[17] = sx->nconcave;
  out[18] = sx->illcond;
  out[19] = sx->nprobed;
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "summary"), 1, 20, out));
  PetscCall(
      LandResultsWriteAttrString(run->results, s->group, "summary_columns",
                                 "loss_initial, loss_phase1, loss_final, phase1_steps, pivots, zero_pivots, refactorisations, max_drift, cond1, "
                                 "tight_constraints, flat_edges, time, singular_flips, near_parallel_excluded, tie_groups, sides_set, "
                                 "escapes, concave_kinks, near_parallel_entered, directions_probed"));
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
  PetscReal *ids, c[NCOUNTERS];
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
  PetscCall(LandCheckpointPutArray(ck, "v", 1, sx->n0, sx->v));
  PetscCall(PetscMalloc1(2 * sx->n0, &ids));
  for (PetscInt i = 0; i < sx->n0; i++) {
    ids[i]          = (PetscReal)sx->basis[i]; /* exact below 2^53 */
    ids[sx->n0 + i] = sx->bstate[i];
  }
  PetscCall(LandCheckpointPutArray(ck, "basis", 1, 2 * sx->n0, ids));
  PetscCall(PetscFree(ids));
  c[0]  = sx->phase;
  c[1]  = sx->k;
  c[2]  = sx->phase1_steps;
  c[3]  = sx->pivots;
  c[4]  = sx->zero_pivots;
  c[5]  = sx->since_refactor;
  c[6]  = sx->refactors;
  c[7]  = sx->nb;
  c[8]  = sx->loss;
  c[9]  = sx->loss0;
  c[10] = sx->loss1;
  c[11] = sx->drift_max;
  c[12] = sx->cond;
  c[13] = sx->ndescent;
  c[14] = sx->excluded;
  c[15] = sx->escapes;
  c[16] = sx->nlex;
  c[17] = sx->nset;
  c[18] = sx->illcond;
  c[19] = sx->forced;
  c[20] = sx->nprobed;
  c[21] = sx->xmax;
  c[22] = sx->checkall;
  PetscCall(LandCheckpointPutArray(ck, "counters", 1, NCOUNTERS, c));
  PetscCall(LandCheckpointPutArray(ck, "history", sx->nhist, NHIST, sx->hist));
  PetscCall(LandCheckpointPutArray(ck, "vertices", sx->nhist, sx->n0, sx->verts));
  /* states, basis flags and known[] of every (row, constraint), in global row order: any rank count resumes */
  PetscCall(VecCreateMPI(s->run->comm, sx->nloc * sx->ncs, PETSC_DETERMINE, &st));
  PetscCall(VecGetOwnershipRange(st, &lo, NULL));
  PetscCall(VecGetArray(st, &a));
  for (PetscInt q = 0; q < sx->nloc * sx->ncs; q++) a[q] = sx->state[q] + 2 * sx->crit[q] + 4 * sx->known[q];
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
  PetscReal c[NCOUNTERS], *a;
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
  PetscCall(GetExact(s, ck, "v", 1, sx->n0, sx->v));
  PetscCall(GetExact(s, ck, "counters", 1, NCOUNTERS, c));
  sx->phase          = (PetscInt)c[0];
  sx->k              = (PetscInt)c[1];
  sx->phase1_steps   = (PetscInt)c[2];
  sx->pivots         = (PetscInt)c[3];
  sx->zero_pivots    = (PetscInt)c[4];
  sx->since_refactor = (PetscInt)c[5];
  sx->refactors      = (PetscInt)c[6];
  sx->nb             = (PetscInt)c[7];
  sx->loss           = c[8];
  sx->loss0          = c[9];
  sx->loss1          = c[10];
  sx->drift_max      = c[11];
  sx->cond           = c[12];
  sx->ndescent       = (PetscInt)c[13];
  sx->excluded       = (PetscInt)c[14];
  sx->escapes        = (PetscInt)c[15];
  sx->nlex           = (PetscInt)c[16];
  sx->nset           = (PetscInt)c[17];
  sx->illcond        = (PetscInt)c[18];
  sx->forced         = (PetscBool)(c[19] != 0);
  sx->nprobed        = (PetscInt)c[20];
  sx->xmax           = c[21];
  sx->checkall       = (PetscBool)(c[22] != 0);
  PetscCheck(sx->phase >= 1 && sx->phase <= 3 && sx->nb >= 0 && sx->nb <= sx->n0, s->run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint: bad simplex/counters");
  PetscCall(GetExact(s, ck, "basis", 1, 2 * sx->n0, sx->u));
  for (PetscInt i = 0; i < sx->n0; i++) {
    sx->basis[i]  = (PetscInt64)sx->u[i];
    sx->bstate[i] = (PetscInt)sx->u[sx->n0 + i];
  }
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
    PetscCheck(v >= 0 && v <= 7, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad simplex/states");
    sx->state[q] = (unsigned char)(v & 1);
    sx->crit[q]  = (unsigned char)((v >> 1) & 1);
    sx->known[q] = (unsigned char)(v >> 2);
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
  PetscCall(PetscFree3(sx->beta, sx->ztol, sx->slk));
  PetscCall(PetscFree3(sx->bform, sx->sens, sx->terms));
  PetscCall(PetscFree3(sx->back, sx->an, sx->un));
  PetscCall(PetscFree3(sx->flat, sx->reach, sx->kind));
  PetscCall(PetscFree(sx->known));
  PetscCall(PetscFree(sx->kinks));
  PetscCall(PetscFree(sx->pend));
  PetscCall(PetscFree(sx->crossed));
  PetscCall(PetscFree4(sx->Z, sx->Zb, sx->tmp, sx->tmp2));
  PetscCall(PetscFree5(sx->acc, sx->buf, sx->rowz, sx->rowg, sx->rowa));
  PetscCall(PetscFree(sx->u));
  PetscCall(PetscFree5(sx->x, sx->At, sx->B, sx->g, sx->v));
  PetscCall(PetscFree2(sx->Q, sx->R));
  PetscCall(PetscFree2(sx->basis, sx->bstate));
  PetscCall(PetscFree(sx->hist));
  PetscCall(PetscFree(sx->verts));
  PetscCall(PetscFree(sx->setq));
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
  sx->lex_tol       = 1e-9;
  sx->probes        = 64;
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
