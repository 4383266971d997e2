/* Stage 'levelset': continuation along the level set M = {theta : L(theta) = L0} of the training
   loss, lowering a regulariser R (Tahir & Katz, arXiv 2011.04189; docs/levelset.md).
   L0 is the training loss at the point the stage starts from (after 'train'). Each predictor step
   projects grad R onto the tangent space of M, normalises it and steps against it; the step
   length grows x1.1 while the direction turns by less than -levelset_turn_angle degrees and
   shrinks x0.1 otherwise, within [h_min, h_max]. A corrector brings theta back to |L - L0| <= tol:
   the study's fixed-length normalised step on (L - L0)^2 orthogonal to the last predictor
   direction, or the Newton projection theta -= (L - L0) grad L / ||grad L||^2.
   At the end, PCA of the z-scored snapshots of the path by SLEPc SVD, distributed over the
   parameter dimension; other parameter vectors (the weight-decay baseline's endpoints) are put
   in the same coordinates.
   Every reduction is a double-double sum and every update elementwise, so the path is bitwise
   the same at any rank count; the PCA (SLEPc) agrees to round-off. */
#include <landscape/impl.h>
#include <petsctime.h>
#include <slepcsvd.h>

typedef enum { CORR_STUDY, CORR_NEWTON } Corrector;
static const char *const Correctors[] = {"study", "newton", "Corrector", "CORR_", NULL};
typedef enum { REG_L2, REG_L2_WEIGHTS, REG_L1_SMOOTH } Regulariser;
static const char *const Regularisers[] = {"l2", "l2_weights", "l1_smooth", "Regulariser", "REG_", NULL};

/* history columns, one row per point on the level set (before its predictor step) */
static const char *const HistColumns =
    "step,angle_deg,R,train_loss,level_error,test_loss,test_accuracy,train_accuracy,step_length,corrector_steps,"
    "turn_angle_deg,theta_norm";
enum { H_STEP, H_ANGLE, H_R, H_LOSS, H_ERR, H_TLOSS, H_TACC, H_TRACC, H_STEPLEN, H_CORR, H_TURN, H_NORM, NHIST };

#define MAX_POINTS 64

typedef struct {
  /* options */
  Corrector   corrector;
  Regulariser reg;
  PetscInt    steps, snapshot_interval, corrector_max_it, monitor_interval, test_interval;
  PetscReal   h_min, h_max, h_corrector, tol, turn_angle, stop_angle, reg_eps, grow, shrink, rms_min;
  PetscBool   monitor, h_reset;
  PetscInt    pca_components, pca_last, npoints;
  PetscReal   pca_std_tol;
  char       *points[MAX_POINTS];
  SVD         svd;
  /* state: everything below is saved by the checkpoint hook */
  PetscReal  L0, h;
  PetscInt   step, ncorr_total, ncorr_max;
  PetscBool  have_prev, after_corrector;
  Vec        d_prev;
  PetscInt   nhist, maxhist;
  PetscReal *hist, *times;
  PetscInt   nsnap, maxsnap, *snap_step;
  PetscReal *snap; /* nlocal x maxsnap, column j = this rank's part of snapshot j */
  PetscReal  elapsed;
  /* work */
  Vec            gL, gR, d;
  PetscReal     *mask; /* 1 on the entries the regulariser sees, 0 elsewhere (local) */
  PetscInt       lo, nlocal, P;
  PetscLogDouble t0;
  char           reason[128];
} Levelset;

static PetscErrorCode SetFromOptions_Levelset(LandStage s)
{
  Levelset *ls   = (Levelset *)s->data;
  MPI_Comm  comm = s->run->comm;
  PetscInt  n    = MAX_POINTS;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Stage levelset: continuation on {L = L0} lowering a regulariser, and PCA of the path (SLEPc SVD, -levelset_svd_*)",
                    NULL);
  PetscCall(PetscOptionsInt("-levelset_steps", "Maximum number of predictor steps", "", ls->steps, &ls->steps, NULL));
  PetscCall(PetscOptionsEnum("-levelset_reg",
                             "Regulariser R lowered along the path: l2 (sum theta_i^2, biases included: the study), l2_weights (weights only, as "
                             "-reg_l2), l1_smooth (sum sqrt(theta_i^2 + eps^2))",
                             "", Regularisers, (PetscEnum)ls->reg, (PetscEnum *)&ls->reg, NULL));
  PetscCall(PetscOptionsReal("-levelset_reg_eps", "l1_smooth: smoothing eps", "", ls->reg_eps, &ls->reg_eps, NULL));
  PetscCall(PetscOptionsReal("-levelset_h_min", "Smallest predictor step length (also the first one)", "", ls->h_min, &ls->h_min, NULL));
  PetscCall(PetscOptionsReal("-levelset_h_max", "Largest predictor step length", "", ls->h_max, &ls->h_max, NULL));
  PetscCall(PetscOptionsReal("-levelset_grow", "Step length factor when the direction turned less than -levelset_turn_angle", "", ls->grow, &ls->grow,
                             NULL));
  PetscCall(PetscOptionsReal("-levelset_shrink", "Step length factor when the direction turned by -levelset_turn_angle or more", "", ls->shrink,
                             &ls->shrink, NULL));
  PetscCall(PetscOptionsReal("-levelset_turn_angle", "Threshold (degrees) on the angle between consecutive predictor directions", "", ls->turn_angle,
                             &ls->turn_angle, NULL));
  PetscCall(PetscOptionsBool("-levelset_h_reset", "Reset the step length to h_min after a corrector step (the study's rule)", "", ls->h_reset,
                             &ls->h_reset, NULL));
  PetscCall(PetscOptionsReal(
      "-levelset_stop_angle",
      "Stop when the angle between grad R and grad L reaches this (degrees; 180: the first-order condition of min R on the level set)", "",
      ls->stop_angle, &ls->stop_angle, NULL));
  PetscCall(PetscOptionsEnum("-levelset_corrector",
                             "Corrector: study (fixed-length normalised step on (L-L0)^2 orthogonal to the last predictor direction) or newton", "",
                             Correctors, (PetscEnum)ls->corrector, (PetscEnum *)&ls->corrector, NULL));
  PetscCall(PetscOptionsReal("-levelset_tol", "Level tolerance: correct until abs(L - L0) <= tol", "", ls->tol, &ls->tol, NULL));
  PetscCall(PetscOptionsReal("-levelset_h_corrector", "study corrector: its fixed step length", "", ls->h_corrector, &ls->h_corrector, NULL));
  PetscCall(PetscOptionsInt("-levelset_corrector_max_it",
                            "Corrector steps allowed per predictor step; the path stops when they do not reach the level", "", ls->corrector_max_it,
                            &ls->corrector_max_it, NULL));
  PetscCall(PetscOptionsReal("-levelset_rms_min", "Below this RMS of grad L the predictor uses grad R unprojected (the study's fallback)", "",
                             ls->rms_min, &ls->rms_min, NULL));
  PetscCall(PetscOptionsInt("-levelset_snapshot_interval",
                            "Keep theta every this many predictor steps (and the last point) for /levelset/snapshots and the PCA", "",
                            ls->snapshot_interval, &ls->snapshot_interval, NULL));
  PetscCall(PetscOptionsInt("-levelset_test_interval", "Evaluate test loss and accuracy every this many steps (NaN in between; always at the ends)",
                            "", ls->test_interval, &ls->test_interval, NULL));
  PetscCall(PetscOptionsBool("-levelset_monitor", "Print progress lines", "", ls->monitor, &ls->monitor, NULL));
  PetscCall(PetscOptionsInt("-levelset_monitor_interval", "Print every this many predictor steps (0: automatic)", "", ls->monitor_interval,
                            &ls->monitor_interval, NULL));
  PetscCall(
      PetscOptionsInt("-levelset_pca_components", "Principal components of the path (0: no PCA)", "", ls->pca_components, &ls->pca_components, NULL));
  PetscCall(PetscOptionsInt("-levelset_pca_last", "PCA of the last this many snapshots (0: all)", "", ls->pca_last, &ls->pca_last, NULL));
  PetscCall(PetscOptionsReal("-levelset_pca_std_tol",
                             "Coordinates with std <= tol * max(abs(mean), 1e-300) along the path are left out of the z-scored PCA", "",
                             ls->pca_std_tol, &ls->pca_std_tol, NULL));
  PetscCall(PetscOptionsStringArray("-levelset_pca_points",
                                    "HDF5 files whose /theta (e.g. weight-decay endpoints) are projected on the path's components", "", ls->points,
                                    &n, NULL));
  PetscOptionsEnd();
  if (n == MAX_POINTS && !ls->points[0]) n = 0;
  ls->npoints = n;
  PetscCheck(ls->steps >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_steps %" PetscInt_FMT " must be >= 0", ls->steps);
  PetscCheck(ls->h_min > 0 && ls->h_max >= ls->h_min && PetscIsNormalReal(ls->h_max), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-levelset_h_min %g and -levelset_h_max %g must satisfy 0 < h_min <= h_max < inf", (double)ls->h_min, (double)ls->h_max);
  PetscCheck(ls->grow >= 1 && ls->shrink > 0 && ls->shrink <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-levelset_grow must be >= 1 and -levelset_shrink in (0, 1]");
  PetscCheck(ls->tol > 0 && PetscIsNormalReal(ls->tol), comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_tol %g must be positive and finite",
             (double)ls->tol);
  PetscCheck(ls->h_corrector > 0 && PetscIsNormalReal(ls->h_corrector), comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_h_corrector %g must be positive",
             (double)ls->h_corrector);
  PetscCheck(ls->turn_angle > 0 && ls->turn_angle <= 180, comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_turn_angle %g must lie in (0, 180] degrees",
             (double)ls->turn_angle);
  PetscCheck(ls->stop_angle > 0 && ls->stop_angle <= 180, comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_stop_angle %g must lie in (0, 180] degrees",
             (double)ls->stop_angle);
  PetscCheck(ls->reg_eps > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-levelset_reg_eps %g must be positive", (double)ls->reg_eps);
  PetscCheck(ls->corrector_max_it >= 1 && ls->snapshot_interval >= 1 && ls->test_interval >= 1 && ls->monitor_interval >= 0, comm,
             PETSC_ERR_ARG_OUTOFRANGE,
             "-levelset_corrector_max_it, -levelset_snapshot_interval and -levelset_test_interval must be >= 1, -levelset_monitor_interval >= 0");
  PetscCheck(ls->pca_components >= 0 && ls->pca_last >= 0 && ls->pca_std_tol >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-levelset_pca_components, -levelset_pca_last and -levelset_pca_std_tol must be >= 0");
  /* L is the data term alone: a weight-decay term in the objective would move the level set */
  PetscCheck(s->run->obj->reg_l2 == 0, comm, PETSC_ERR_ARG_INCOMP,
             "levelset: the level set is one of the training loss; use -reg_l2 0 (the path's regulariser is -levelset_reg)");
  for (PetscInt i = 0; i < ls->npoints; i++) {
    PetscBool exists;
    PetscCall(PetscTestFile(ls->points[i], 'r', &exists));
    PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "-levelset_pca_points: no such file %s", ls->points[i]);
  }
  PetscCheck(ls->npoints == 0 || ls->pca_components > 0, comm, PETSC_ERR_ARG_INCOMP, "-levelset_pca_points needs -levelset_pca_components > 0");
  /* SLEPc reads its options now, so that a -levelset_svd_* typo fails before any work */
  if (ls->pca_components > 0) {
    PetscCall(SVDCreate(comm, &ls->svd));
    PetscCall(SVDSetOptionsPrefix(ls->svd, "levelset_"));
    /* Lanczos bidiagonalisation works on the snapshots themselves: the cross product (SLEPc's default)
       squares the condition number and fails on the near-zero singular values of a path that is
       nearly a curve */
    PetscCall(SVDSetType(ls->svd, SVDTRLANCZOS));
    PetscCall(SVDSetTolerances(ls->svd, 1e-10, PETSC_DEFAULT));
    PetscCall(SVDSetFromOptions(ls->svd));
  }
  PetscFunctionReturn(0);
}

/* (hi, lo) += x: the double-double accumulation of LandDDAccumulate, inlined for the hot loops below
   (the same operations, so the same bits). */
static inline void DDAdd(PetscReal x, PetscReal *hl)
{
  PetscReal hi = hl[0], s = hi + x, bb = s - hi, e = (hi - (s - bb)) + (x - bb);
  e += hl[1];
  hl[0] = s + e;
  hl[1] = e - (hl[0] - s);
}

/* Sums of elementwise products of local arrays, reduced in double-double: the same at any rank count.
   out[i] = sum_j x[i][j] y[i][j], i < m <= 16, in one pass and one reduction. Collective. */
static PetscErrorCode Dots(MPI_Comm comm, PetscInt m, PetscInt n, const PetscReal *const x[], const PetscReal *const y[], PetscReal out[])
{
  PetscReal dd[32];

  PetscFunctionBeginUser;
  PetscCheck(m <= 16, comm, PETSC_ERR_PLIB, "Dots: at most 16 products");
  PetscCall(PetscArrayzero(dd, 2 * m));
  for (PetscInt j = 0; j < n; j++)
    for (PetscInt i = 0; i < m; i++) DDAdd(x[i][j] * y[i][j], dd + 2 * i);
  PetscCall(LandDDAllreduce(comm, m, dd));
  for (PetscInt i = 0; i < m; i++) out[i] = dd[2 * i];
  PetscFunctionReturn(0);
}

static PetscReal AngleDeg(PetscReal dot, PetscReal na, PetscReal nb)
{
  PetscReal c;
  if (!(na > 0 && nb > 0)) return (PetscReal)NAN;
  c = dot / (na * nb);
  c = PetscMax(-1.0, PetscMin(1.0, c));
  return 180.0 / PETSC_PI * PetscAcosReal(c);
}

/* R(theta) (local part, accumulated in dd) and grad R on the local entries. Not collective. */
static void Regulariser_Local(Levelset *ls, const PetscReal *t, PetscReal *g, PetscReal dd[2])
{
  for (PetscInt i = 0; i < ls->nlocal; i++) {
    PetscReal r, m = ls->mask[i];
    if (ls->reg == REG_L1_SMOOTH) {
      PetscReal q = PetscSqrtReal(t[i] * t[i] + ls->reg_eps * ls->reg_eps);
      r           = m * (q - ls->reg_eps);
      g[i]        = m * t[i] / q;
    } else {
      r    = m * t[i] * t[i];
      g[i] = 2.0 * m * t[i];
    }
    DDAdd(r, dd);
  }
}

static PetscErrorCode Record(LandStage s, const PetscReal row[NHIST])
{
  Levelset      *ls = (Levelset *)s->data;
  PetscLogDouble now;

  PetscFunctionBeginUser;
  if (ls->nhist == ls->maxhist) {
    ls->maxhist = 2 * ls->maxhist + 64;
    PetscCall(PetscRealloc(sizeof(PetscReal) * NHIST * ls->maxhist, &ls->hist));
    PetscCall(PetscRealloc(sizeof(PetscReal) * ls->maxhist, &ls->times));
  }
  PetscCall(PetscArraycpy(ls->hist + NHIST * ls->nhist, row, NHIST));
  PetscCall(PetscTime(&now));
  ls->times[ls->nhist++] = now - ls->t0;
  PetscFunctionReturn(0);
}

static PetscErrorCode Snapshot(LandStage s)
{
  Levelset        *ls = (Levelset *)s->data;
  const PetscReal *t;

  PetscFunctionBeginUser;
  if (ls->nsnap == ls->maxsnap) {
    ls->maxsnap = 2 * ls->maxsnap + 16;
    PetscCall(PetscRealloc(sizeof(PetscReal) * ls->nlocal * ls->maxsnap + 1, &ls->snap));
    PetscCall(PetscRealloc(sizeof(PetscInt) * ls->maxsnap, &ls->snap_step));
  }
  PetscCall(VecGetArrayRead(s->run->theta, &t));
  PetscCall(PetscArraycpy(ls->snap + ls->nlocal * ls->nsnap, t, ls->nlocal));
  PetscCall(VecRestoreArrayRead(s->run->theta, &t));
  ls->snap_step[ls->nsnap++] = ls->step;
  PetscFunctionReturn(0);
}

/* Bring theta back to |L - L0| <= tol. On entry f, gL belong to theta; on exit too. *nc counts the
   steps; *ok is false when corrector_max_it steps did not reach the level. Collective. */
static PetscErrorCode Correct(LandStage s, PetscReal *f, PetscInt *nc, PetscBool *ok)
{
  Levelset *ls  = (Levelset *)s->data;
  LandRun   run = s->run;

  PetscFunctionBeginUser;
  *nc = 0;
  *ok = PETSC_TRUE;
  if (PetscAbsReal(*f - ls->L0) <= ls->tol) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(LAND_Corrector, 0, 0, 0, 0));
  while (PetscAbsReal(*f - ls->L0) > ls->tol) {
    PetscReal       *t, dots[3];
    const PetscReal *g, *dp = NULL;

    if (*nc >= ls->corrector_max_it) {
      *ok = PETSC_FALSE;
      break;
    }
    PetscCall(VecGetArray(run->theta, &t));
    PetscCall(VecGetArrayRead(ls->gL, &g));
    if (ls->corrector == CORR_NEWTON) {
      const PetscReal *x[1] = {g}, *y[1] = {g};
      PetscCall(Dots(run->comm, 1, ls->nlocal, x, y, dots));
      PetscCheck(dots[0] > 0, run->comm, PETSC_ERR_NOT_CONVERGED,
                 "levelset: grad L = 0 off the level set at step %" PetscInt_FMT "; the Newton corrector cannot move", ls->step);
      for (PetscInt i = 0; i < ls->nlocal; i++) t[i] -= (*f - ls->L0) / dots[0] * g[i];
    } else {
      /* u = 2 (L - L0) grad L; the fixed-length step only needs its direction: the sign of (L - L0) times grad L,
         minus its component along the last predictor direction */
      PetscReal sgn = *f > ls->L0 ? 1.0 : -1.0, a = 0, nu2;
      if (ls->have_prev) {
        const PetscReal *x[2] = {g, g}, *y[2];
        PetscCall(VecGetArrayRead(ls->d_prev, &dp));
        y[0] = dp;
        y[1] = g;
        PetscCall(Dots(run->comm, 2, ls->nlocal, x, y, dots));
        a = dots[0];
      } else {
        const PetscReal *x[1] = {g}, *y[1] = {g};
        PetscCall(Dots(run->comm, 1, ls->nlocal, x, y, dots + 1));
      }
      nu2 = dots[1] - a * a; /* ||g - (g.d) d||^2 for a unit d */
      PetscCheck(nu2 > 0, run->comm, PETSC_ERR_NOT_CONVERGED,
                 "levelset: grad L is zero or parallel to the predictor direction off the level set at step %" PetscInt_FMT
                 "; try -levelset_corrector newton",
                 ls->step);
      {
        PetscReal c = sgn * ls->h_corrector / PetscSqrtReal(nu2);
        for (PetscInt i = 0; i < ls->nlocal; i++) t[i] -= c * (g[i] - (dp ? a * dp[i] : 0.0));
      }
      if (dp) PetscCall(VecRestoreArrayRead(ls->d_prev, &dp));
    }
    PetscCall(VecRestoreArrayRead(ls->gL, &g));
    PetscCall(VecRestoreArray(run->theta, &t));
    (*nc)++;
    PetscCall(LandObjectiveEvaluate(run->obj, run->theta, f, ls->gL));
    PetscCheck(!PetscIsInfOrNanReal(*f), run->comm, PETSC_ERR_FP, "levelset: the loss became %g in the corrector at step %" PetscInt_FMT, (double)*f,
               ls->step);
  }
  PetscCall(PetscLogEventEnd(LAND_Corrector, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* PCA of snapshots [first, nsnap) by SLEPc SVD of the z-scored P x n matrix (rows = parameters,
   distributed like theta; columns = snapshots), and projection of the -levelset_pca_points. */
static PetscErrorCode PathPCA(LandStage s)
{
  Levelset  *ls    = (Levelset *)s->data;
  LandRun    run   = s->run;
  PetscInt   first = ls->pca_last > 0 ? PetscMax(0, ls->nsnap - ls->pca_last) : 0, n = ls->nsnap - first, k, nconv, nzero = 0, ncoords;
  PetscReal *mean, *sdev, *Z, *sv, *coords, *err, *comps, *pts = NULL, *evr, total;
  Mat        A;
  Vec        u, v, vall;
  VecScatter toall;
  SVDType    type;

  PetscFunctionBeginUser;
  if (ls->pca_components == 0) PetscFunctionReturn(0);
  if (n < 2) {
    PetscCall(PetscPrintf(run->comm, "levelset: PCA skipped: %" PetscInt_FMT " snapshot(s)\n", n));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscLogEventBegin(LAND_PathPCA, 0, 0, 0, 0));
  /* z-score every coordinate over the snapshots: its row is on one rank, so this is local */
  PetscCall(PetscMalloc3(ls->nlocal, &mean, ls->nlocal, &sdev, ls->nlocal * n + 1, &Z));
  for (PetscInt i = 0; i < ls->nlocal; i++) {
    PetscReal m = 0, q = 0;
    for (PetscInt j = 0; j < n; j++) m += ls->snap[ls->nlocal * (first + j) + i];
    m /= n;
    for (PetscInt j = 0; j < n; j++) {
      PetscReal x = ls->snap[ls->nlocal * (first + j) + i] - m;
      q += x * x;
    }
    mean[i] = m;
    sdev[i] = PetscSqrtReal(q / n); /* population std, as sklearn's StandardScaler */
    if (!(sdev[i] > ls->pca_std_tol * PetscMax(PetscAbsReal(m), 1e-300))) {
      sdev[i] = 0; /* guarded: the coordinate does not move along the path (z = 0) */
      nzero++;
    }
    for (PetscInt j = 0; j < n; j++) Z[ls->nlocal * j + i] = sdev[i] > 0 ? (ls->snap[ls->nlocal * (first + j) + i] - m) / sdev[i] : 0.0;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nzero, 1, MPIU_INT, MPI_SUM, run->comm));
  ncoords = ls->P - nzero;
  total   = (PetscReal)n * ncoords; /* ||Z||_F^2: every kept column has variance 1 */
  k       = PetscMin(ls->pca_components, PetscMin(n - 1, ncoords));
  PetscCheck(k > 0, run->comm, PETSC_ERR_ARG_WRONGSTATE, "levelset: PCA impossible: no coordinate varies along the path");
  PetscCall(MatCreateDense(run->comm, ls->nlocal, PETSC_DECIDE, ls->P, n, Z, &A));
  PetscCall(SVDSetOperators(ls->svd, A, NULL));
  PetscCall(SVDSetDimensions(ls->svd, k, PETSC_DEFAULT, PETSC_DEFAULT));
  PetscCall(SVDSetWhichSingularTriplets(ls->svd, SVD_LARGEST));
  PetscCall(SVDSolve(ls->svd));
  PetscCall(SVDGetConverged(ls->svd, &nconv));
  PetscCheck(nconv >= k, run->comm, PETSC_ERR_NOT_CONVERGED,
             "levelset: SVD converged %" PetscInt_FMT " of %" PetscInt_FMT " singular triplets (see -levelset_svd_*)", nconv, k);
  PetscCall(MatCreateVecs(A, &v, &u)); /* v: length n (snapshots), u: length P (parameters) */
  PetscCall(VecScatterCreateToAll(v, &toall, &vall));
  PetscCall(PetscMalloc5(k, &sv, n * k, &coords, k, &err, ls->nlocal * k + 1, &comps, k, &evr));
  if (ls->npoints) PetscCall(PetscMalloc1(ls->npoints * k, &pts));
  for (PetscInt c = 0; c < k; c++) {
    const PetscReal *va, *ua;
    PetscReal        sgn = 1, big = -1;
    PetscCall(SVDGetSingularTriplet(ls->svd, c, &sv[c], u, v));
    PetscCall(SVDComputeError(ls->svd, c, SVD_ERROR_RELATIVE, &err[c]));
    PetscCall(VecScatterBegin(toall, v, vall, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecScatterEnd(toall, v, vall, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecGetArrayRead(vall, &va));
    /* sign convention: the snapshot with the largest |coordinate| has a positive one */
    for (PetscInt j = 0; j < n; j++)
      if (PetscAbsReal(va[j]) > big) {
        big = PetscAbsReal(va[j]);
        sgn = va[j] < 0 ? -1.0 : 1.0;
      }
    for (PetscInt j = 0; j < n; j++) coords[k * j + c] = sgn * sv[c] * va[j];
    PetscCall(VecRestoreArrayRead(vall, &va));
    PetscCall(VecGetArrayRead(u, &ua));
    for (PetscInt i = 0; i < ls->nlocal; i++) comps[ls->nlocal * c + i] = sdev[i] > 0 ? sgn * ua[i] : 0.0; /* exactly 0 on guarded coordinates */
    PetscCall(VecRestoreArrayRead(u, &ua));
    evr[c] = sv[c] * sv[c] / total;
  }
  /* other points in the same coordinates: z-scored with the path's mean and std, then onto the components */
  if (ls->npoints) {
    Vec th;
    PetscCall(VecDuplicate(run->theta, &th));
    for (PetscInt p = 0; p < ls->npoints; p++) {
      const PetscReal *t;
      PetscReal       *zp, *x[16], *y[16];
      PetscCall(LandNetLoadTheta(run->net, ls->points[p], "theta", th));
      PetscCall(PetscMalloc1(ls->nlocal + 1, &zp));
      PetscCall(VecGetArrayRead(th, &t));
      for (PetscInt i = 0; i < ls->nlocal; i++) zp[i] = sdev[i] > 0 ? (t[i] - mean[i]) / sdev[i] : 0.0;
      PetscCall(VecRestoreArrayRead(th, &t));
      for (PetscInt c0 = 0; c0 < k; c0 += 16) {
        PetscInt m = PetscMin(16, k - c0);
        for (PetscInt c = 0; c < m; c++) {
          x[c] = zp;
          y[c] = comps + ls->nlocal * (c0 + c);
        }
        PetscCall(Dots(run->comm, m, ls->nlocal, (const PetscReal *const *)x, (const PetscReal *const *)y, pts + k * p + c0));
      }
      PetscCall(PetscFree(zp));
    }
    PetscCall(VecDestroy(&th));
  }
  PetscCall(PetscLogEventEnd(LAND_PathPCA, 0, 0, 0, 0));
  {
    PetscReal *steps, cum = 0;
    PetscCall(PetscMalloc1(n, &steps));
    for (PetscInt j = 0; j < n; j++) steps[j] = ls->snap_step[first + j];
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/snapshot_steps"), 1, n, steps));
    PetscCall(PetscFree(steps));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/singular_values"), 1, k, sv));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/explained_variance_ratio"), 1, k, evr));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/relative_error"), 1, k, err));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/coordinates"), n, k, coords));
    PetscCall(LandResultsWriteRows(run->results, LandStagePath(s, "pca/components"), k, ls->P, ls->lo, ls->nlocal, comps));
    PetscCall(LandResultsWriteRows(run->results, LandStagePath(s, "pca/mean"), 1, ls->P, ls->lo, ls->nlocal, mean));
    PetscCall(LandResultsWriteRows(run->results, LandStagePath(s, "pca/std"), 1, ls->P, ls->lo, ls->nlocal, sdev));
    if (ls->npoints) {
      char names[4096] = "";
      for (PetscInt p = 0; p < ls->npoints; p++) {
        if (p) PetscCall(PetscStrlcat(names, ",", sizeof(names)));
        PetscCall(PetscStrlcat(names, ls->points[p], sizeof(names)));
      }
      PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "pca/points"), ls->npoints, k, pts));
      PetscCall(LandResultsWriteAttrString(run->results, LandStagePath(s, "pca/points"), "files", names));
    }
    PetscCall(SVDGetType(ls->svd, &type));
    PetscCall(LandResultsWriteAttrString(run->results, LandStagePath(s, "pca"), "svd_type", type));
    PetscCall(LandResultsWriteAttrInt(run->results, LandStagePath(s, "pca"), "zero_variance_coordinates", nzero));
    PetscCall(LandResultsWriteAttrInt(run->results, LandStagePath(s, "pca"), "snapshots", n));
    PetscCall(LandResultsWriteAttrReal(run->results, LandStagePath(s, "pca"), "total_variance", total));
    PetscCall(PetscPrintf(run->comm,
                          "levelset: PCA of %" PetscInt_FMT " snapshots (SLEPc %s, %" PetscInt_FMT " of %" PetscInt_FMT
                          " coordinates constant): explained variance",
                          n, type, nzero, ls->P));
    for (PetscInt c = 0; c < k; c++) {
      cum += evr[c];
      PetscCall(PetscPrintf(run->comm, " %.4f", (double)evr[c]));
    }
    for (PetscInt c = 1; c < k; c++) err[0] = PetscMax(err[0], err[c]);
    PetscCall(PetscPrintf(run->comm, " (cumulative %.4f), largest relative error %.1e\n", (double)cum, (double)err[0]));
  }
  PetscCall(PetscFree5(sv, coords, err, comps, evr));
  PetscCall(PetscFree(pts));
  PetscCall(VecScatterDestroy(&toall));
  PetscCall(VecDestroy(&vall));
  PetscCall(VecDestroy(&u));
  PetscCall(VecDestroy(&v));
  PetscCall(MatDestroy(&A));
  PetscCall(PetscFree3(mean, sdev, Z));
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Levelset(LandStage s)
{
  Levelset *ls  = (Levelset *)s->data;
  LandRun   run = s->run;
  PetscReal f;

  PetscFunctionBeginUser;
  PetscCall(VecGetSize(run->theta, &ls->P));
  PetscCall(VecGetLocalSize(run->theta, &ls->nlocal));
  PetscCall(VecGetOwnershipRange(run->theta, &ls->lo, NULL));
  if (!ls->gL) {
    PetscCall(VecDuplicate(run->theta, &ls->gL));
    PetscCall(VecDuplicate(run->theta, &ls->gR));
    PetscCall(VecDuplicate(run->theta, &ls->d));
  }
  if (!ls->d_prev) PetscCall(VecDuplicate(run->theta, &ls->d_prev));
  if (!ls->mask) {
    /* which entries R sees: all (l2, l1_smooth) or the weights only (l2_weights) */
    PetscCall(PetscMalloc1(ls->nlocal + 1, &ls->mask));
    for (PetscInt i = 0; i < ls->nlocal; i++) ls->mask[i] = ls->reg == REG_L2_WEIGHTS ? 0.0 : 1.0;
    if (ls->reg == REG_L2_WEIGHTS) {
      PetscInt L;
      PetscCall(LandNetGetNumLayers(run->net, &L));
      for (PetscInt l = 1; l <= L; l++) {
        PetscInt n0, n1, wo, bo;
        PetscCall(LandNetGetLayer(run->net, l, &n1, &n0, &wo, &bo));
        for (PetscInt j = PetscMax(ls->lo, wo); j < PetscMin(ls->lo + ls->nlocal, wo + n0 * n1); j++) ls->mask[j - ls->lo] = 1.0;
      }
    }
  }
  if (!run->stage_resumed) {
    PetscCall(PetscTime(&ls->t0));
    PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &ls->L0, NULL));
    PetscCheck(!PetscIsInfOrNanReal(ls->L0), run->comm, PETSC_ERR_FP, "levelset: the training loss at the start is %g", (double)ls->L0);
    ls->h               = ls->h_min;
    ls->step            = 0;
    ls->have_prev       = PETSC_FALSE;
    ls->after_corrector = PETSC_FALSE;
    ls->nhist = ls->nsnap = ls->ncorr_total = ls->ncorr_max = 0;
    PetscCall(PetscPrintf(run->comm, "levelset: L0 = %.10e; %s corrector to |L - L0| <= %.1e, R = %s, at most %" PetscInt_FMT " predictor steps\n",
                          (double)ls->L0, Correctors[ls->corrector], (double)ls->tol, Regularisers[ls->reg], ls->steps));
  } else {
    PetscLogDouble now;
    PetscCall(PetscTime(&now));
    ls->t0 = now - ls->elapsed;
  }
  if (ls->monitor_interval == 0) ls->monitor_interval = PetscMax(1, ls->steps / 20);
  PetscCall(PetscStrncpy(ls->reason, "steps", sizeof(ls->reason)));
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, ls->gL));
  for (;;) {
    PetscInt         nc;
    PetscBool        ok, last, halt;
    PetscReal        row[NHIST], dots[4], dd[2] = {0, 0}, R, angle, turn = (PetscReal)NAN, dn, nL, nt, coef;
    PetscReal        tl = (PetscReal)NAN, ta = (PetscReal)NAN, tra = (PetscReal)NAN;
    PetscReal       *t, *gr, *dv;
    const PetscReal *gl, *dp;

    /* ---- corrector: back to the level ---- */
    PetscCall(Correct(s, &f, &nc, &ok));
    if (nc > 0) ls->after_corrector = PETSC_TRUE;
    ls->ncorr_total += nc;
    ls->ncorr_max = PetscMax(ls->ncorr_max, nc);
    if (!ok) {
      PetscCall(PetscSNPrintf(ls->reason, sizeof(ls->reason), "corrector (|L - L0| = %.2e after %" PetscInt_FMT " steps)",
                              (double)PetscAbsReal(f - ls->L0), nc));
      PetscCall(PetscPrintf(run->comm,
                            "levelset: warning: the corrector did not reach the level in %" PetscInt_FMT " steps at step %" PetscInt_FMT
                            "; stopping the path\n",
                            ls->corrector_max_it, ls->step));
      break;
    }
    /* ---- predictor direction at this point of the level set ---- */
    PetscCall(PetscLogEventBegin(LAND_Predictor, 0, 0, 0, 0));
    PetscCall(VecGetArray(run->theta, &t));
    PetscCall(VecGetArray(ls->gR, &gr));
    PetscCall(VecGetArrayRead(ls->gL, &gl));
    Regulariser_Local(ls, t, gr, dd);
    {
      const PetscReal *x[4] = {gr, gl, gr, t}, *y[4] = {gl, gl, gr, t};
      PetscCall(Dots(run->comm, 4, ls->nlocal, x, y, dots)); /* gR.gL, gL.gL, gR.gR, theta.theta */
    }
    PetscCall(LandDDAllreduce(run->comm, 1, dd));
    R     = dd[0];
    nL    = PetscSqrtReal(dots[1]);
    nt    = PetscSqrtReal(dots[3]);
    angle = AngleDeg(dots[0], PetscSqrtReal(dots[2]), nL);
    /* the rejection of grad R from grad L (unprojected when grad L is tiny: the study's fallback) */
    coef = (nL / PetscSqrtReal((PetscReal)ls->P) >= ls->rms_min) ? dots[0] / dots[1] : 0.0;
    PetscCall(VecGetArray(ls->d, &dv));
    for (PetscInt i = 0; i < ls->nlocal; i++) dv[i] = gr[i] - coef * gl[i];
    PetscCall(VecGetArrayRead(ls->d_prev, &dp));
    {
      const PetscReal *x[2] = {dv, dv}, *y[2] = {dv, dp};
      PetscCall(Dots(run->comm, 2, ls->nlocal, x, y, dots)); /* d.d, d.d_prev */
    }
    PetscCall(VecRestoreArrayRead(ls->d_prev, &dp));
    PetscCall(VecRestoreArray(ls->d, &dv));
    PetscCall(VecRestoreArrayRead(ls->gL, &gl));
    PetscCall(VecRestoreArray(ls->gR, &gr));
    PetscCall(VecRestoreArray(run->theta, &t));
    dn = PetscSqrtReal(dots[0]);
    if (ls->have_prev) turn = AngleDeg(dots[1], dn, 1.0);
    /* step length: the study's rule (reset after a corrector, else grow or shrink with the turn of the direction) */
    if (!ls->have_prev || (ls->after_corrector && ls->h_reset))
      ls->h = ls->h_min;
    else if (turn >= ls->turn_angle)
      ls->h = PetscMax(ls->shrink * ls->h, ls->h_min);
    else
      ls->h = PetscMin(ls->grow * ls->h, ls->h_max);
    last = (PetscBool)(ls->step >= ls->steps || angle >= ls->stop_angle || !(dn > 0));
    if (angle >= ls->stop_angle)
      PetscCall(PetscSNPrintf(ls->reason, sizeof(ls->reason), "angle (%.6f >= %g degrees)", (double)angle, (double)ls->stop_angle));
    else if (!(dn > 0))
      PetscCall(PetscStrncpy(ls->reason, "zero tangent direction", sizeof(ls->reason)));
    PetscCall(PetscLogEventEnd(LAND_Predictor, 0, 0, 0, 0));
    /* ---- record this point ---- */
    if (ls->step % ls->test_interval == 0 || last) {
      PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TEST, &tl, &ta));
      PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TRAIN, NULL, &tra));
    }
    row[H_STEP]    = ls->step;
    row[H_ANGLE]   = angle;
    row[H_R]       = R;
    row[H_LOSS]    = f;
    row[H_ERR]     = f - ls->L0;
    row[H_TLOSS]   = tl;
    row[H_TACC]    = ta;
    row[H_TRACC]   = tra;
    row[H_STEPLEN] = last ? 0.0 : ls->h;
    row[H_CORR]    = nc;
    row[H_TURN]    = turn;
    row[H_NORM]    = nt;
    PetscCall(Record(s, row));
    if (ls->step % ls->snapshot_interval == 0 || last) PetscCall(Snapshot(s));
    if (ls->monitor && (ls->step % ls->monitor_interval == 0 || last)) {
      PetscCall(PetscPrintf(run->comm, "levelset: step %6" PetscInt_FMT "  angle %9.5f  R %.6e  L-L0 %+.1e  h %.2e  corr %3" PetscInt_FMT, ls->step,
                            (double)angle, (double)R, (double)(f - ls->L0), (double)row[H_STEPLEN], nc));
      if (!PetscIsNanReal(tl)) PetscCall(PetscPrintf(run->comm, "  test loss %.5e", (double)tl));
      if (ta >= 0) PetscCall(PetscPrintf(run->comm, "  acc %.4f", (double)ta));
      PetscCall(PetscPrintf(run->comm, "  %.1f s\n", ls->times[ls->nhist - 1]));
    }
    if (last) break;
    /* ---- predictor step: theta -= h d/||d||, and d/||d|| becomes the previous direction ---- */
    PetscCall(PetscLogEventBegin(LAND_Predictor, 0, 0, 0, 0));
    {
      PetscReal       *pv, c = ls->h / dn;
      const PetscReal *dr;
      PetscCall(VecGetArray(run->theta, &t));
      PetscCall(VecGetArray(ls->d_prev, &pv));
      PetscCall(VecGetArrayRead(ls->d, &dr));
      for (PetscInt i = 0; i < ls->nlocal; i++) {
        t[i] -= c * dr[i];
        pv[i] = dr[i] / dn;
      }
      PetscCall(VecRestoreArrayRead(ls->d, &dr));
      PetscCall(VecRestoreArray(ls->d_prev, &pv));
      PetscCall(VecRestoreArray(run->theta, &t));
    }
    ls->have_prev       = PETSC_TRUE;
    ls->after_corrector = PETSC_FALSE;
    ls->step++;
    PetscCall(PetscLogEventEnd(LAND_Predictor, 0, 0, 0, 0));
    PetscCall(LandCheckpointPoll(run->ckpt, s, ls->step, &halt));
    if (halt) PetscFunctionReturn(0);
    PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, ls->gL));
    PetscCheck(!PetscIsInfOrNanReal(f), run->comm, PETSC_ERR_FP,
               "levelset: the loss became %g after predictor step %" PetscInt_FMT "; lower -levelset_h_max", (double)f, ls->step);
  }
  {
    const PetscReal *last = ls->hist + NHIST * (ls->nhist - 1), *first = ls->hist;
    PetscReal        mean_corr = ls->nhist > 1 ? (PetscReal)ls->ncorr_total / (ls->nhist - 1) : 0;
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "history"), ls->nhist, NHIST, ls->hist));
    PetscCall(LandResultsWriteAttrString(run->results, LandStagePath(s, "history"), "columns", HistColumns));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "time_s"), 1, ls->nhist, ls->times));
    PetscCall(LandResultsWriteRows(run->results, LandStagePath(s, "snapshots"), ls->nsnap, ls->P, ls->lo, ls->nlocal, ls->snap));
    PetscCall(LandResultsWriteIntArray(run->results, LandStagePath(s, "snapshot_steps"), ls->nsnap, ls->snap_step));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "L0", ls->L0));
    PetscCall(LandResultsWriteAttrString(run->results, s->group, "stop_reason", ls->reason));
    PetscCall(LandResultsWriteAttrString(run->results, s->group, "corrector", Correctors[ls->corrector]));
    PetscCall(LandResultsWriteAttrString(run->results, s->group, "regulariser", Regularisers[ls->reg]));
    PetscCall(LandResultsWriteAttrInt(run->results, s->group, "steps", ls->step));
    PetscCall(LandResultsWriteAttrInt(run->results, s->group, "corrector_steps_total", ls->ncorr_total));
    PetscCall(LandResultsWriteAttrInt(run->results, s->group, "corrector_steps_max", ls->ncorr_max));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "corrector_steps_mean", mean_corr));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "final_angle", last[H_ANGLE]));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "final_R", last[H_R]));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "final_test_loss", last[H_TLOSS]));
    PetscCall(LandResultsWriteAttrReal(run->results, s->group, "final_test_accuracy", last[H_TACC]));
    PetscCall(PetscPrintf(run->comm,
                          "levelset: done after %" PetscInt_FMT
                          " predictor steps (stop: %s): R %.6e -> %.6e, angle %.4f -> %.4f degrees, |L - L0| %.1e, "
                          "corrector steps per predictor step %.3f (max %" PetscInt_FMT ")",
                          ls->step, ls->reason, (double)first[H_R], (double)last[H_R], (double)first[H_ANGLE], (double)last[H_ANGLE],
                          (double)PetscAbsReal(last[H_ERR]), (double)mean_corr, ls->ncorr_max));
    if (!PetscIsNanReal(last[H_TLOSS])) PetscCall(PetscPrintf(run->comm, ", test loss %.5e -> %.5e", (double)first[H_TLOSS], (double)last[H_TLOSS]));
    PetscCall(PetscPrintf(run->comm, "\n"));
  }
  PetscCall(PathPCA(s));
  PetscFunctionReturn(0);
}

/* Checkpoint hook: the path so far and the predictor state, so that the resumed run continues bit for bit. */
static PetscErrorCode Save_Levelset(LandStage s, LandCheckpoint ck)
{
  Levelset      *ls = (Levelset *)s->data;
  PetscLogDouble now;
  PetscReal     *steps;

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&now));
  PetscCall(LandCheckpointPutReal(ck, "L0", ls->L0));
  PetscCall(LandCheckpointPutReal(ck, "h", ls->h));
  PetscCall(LandCheckpointPutReal(ck, "elapsed", now - ls->t0));
  PetscCall(LandCheckpointPutInt(ck, "step", ls->step));
  PetscCall(LandCheckpointPutInt(ck, "have_prev", ls->have_prev));
  PetscCall(LandCheckpointPutInt(ck, "after_corrector", ls->after_corrector));
  PetscCall(LandCheckpointPutInt(ck, "corrector_steps_total", ls->ncorr_total));
  PetscCall(LandCheckpointPutInt(ck, "corrector_steps_max", ls->ncorr_max));
  PetscCall(LandCheckpointPutInt(ck, "corrector", ls->corrector));
  PetscCall(LandCheckpointPutInt(ck, "reg", ls->reg));
  PetscCall(LandCheckpointPutVec(ck, "direction", ls->d_prev));
  PetscCall(LandCheckpointPutArray(ck, "history", ls->nhist, NHIST, ls->hist));
  PetscCall(LandCheckpointPutArray(ck, "times", 1, ls->nhist, ls->times));
  PetscCall(PetscMalloc1(ls->nsnap + 1, &steps));
  for (PetscInt j = 0; j < ls->nsnap; j++) steps[j] = ls->snap_step[j];
  PetscCall(LandCheckpointPutArray(ck, "snapshot_steps", 1, ls->nsnap, steps));
  PetscCall(PetscFree(steps));
  PetscCall(LandCheckpointPutRows(ck, "snapshots", ls->nsnap, ls->P, ls->lo, ls->nlocal, ls->snap));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Levelset(LandStage s, LandCheckpoint ck)
{
  Levelset  *ls = (Levelset *)s->data;
  PetscInt   v, m, n, lo, hi, N;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointGetInt(ck, "corrector", &v));
  PetscCheck(v == (PetscInt)ls->corrector, s->run->comm, PETSC_ERR_ARG_INCOMP, "checkpoint was written with -levelset_corrector %s, this run uses %s",
             Correctors[v], Correctors[ls->corrector]);
  PetscCall(LandCheckpointGetInt(ck, "reg", &v));
  PetscCheck(v == (PetscInt)ls->reg, s->run->comm, PETSC_ERR_ARG_INCOMP, "checkpoint was written with -levelset_reg %s, this run uses %s",
             Regularisers[v], Regularisers[ls->reg]);
  PetscCall(LandCheckpointGetReal(ck, "L0", &ls->L0));
  PetscCall(LandCheckpointGetReal(ck, "h", &ls->h));
  PetscCall(LandCheckpointGetReal(ck, "elapsed", &ls->elapsed));
  PetscCall(LandCheckpointGetInt(ck, "step", &ls->step));
  PetscCall(LandCheckpointGetInt(ck, "have_prev", &v));
  ls->have_prev = (PetscBool)v;
  PetscCall(LandCheckpointGetInt(ck, "after_corrector", &v));
  ls->after_corrector = (PetscBool)v;
  PetscCall(LandCheckpointGetInt(ck, "corrector_steps_total", &ls->ncorr_total));
  PetscCall(LandCheckpointGetInt(ck, "corrector_steps_max", &ls->ncorr_max));
  if (!ls->d_prev) PetscCall(VecDuplicate(s->run->theta, &ls->d_prev));
  PetscCall(LandCheckpointGetVec(ck, "direction", ls->d_prev));
  PetscCall(LandCheckpointGetArray(ck, "history", &m, &n, &a));
  PetscCheck(m == 0 || n == NHIST || (m == 1 && n == NHIST), s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad levelset/history");
  if (n != NHIST) m = 0;
  PetscCall(PetscFree(ls->hist));
  ls->hist    = a;
  ls->nhist   = m;
  ls->maxhist = m;
  PetscCall(LandCheckpointGetArray(ck, "times", &m, &n, &a));
  PetscCall(PetscFree(ls->times));
  PetscCall(PetscMalloc1(ls->nhist + 1, &ls->times));
  PetscCall(PetscArraycpy(ls->times, a, PetscMin(m * n, ls->nhist)));
  PetscCall(PetscFree(a));
  PetscCall(LandCheckpointGetArray(ck, "snapshot_steps", &m, &n, &a));
  ls->nsnap = ls->maxsnap = m * n;
  PetscCall(PetscFree(ls->snap_step));
  PetscCall(PetscMalloc1(ls->nsnap + 1, &ls->snap_step));
  for (PetscInt j = 0; j < ls->nsnap; j++) ls->snap_step[j] = (PetscInt)a[j];
  PetscCall(PetscFree(a));
  PetscCall(VecGetSize(s->run->theta, &N));
  PetscCall(VecGetOwnershipRange(s->run->theta, &lo, &hi));
  PetscCall(PetscFree(ls->snap));
  PetscCall(LandCheckpointGetRows(ck, "snapshots", N, lo, hi - lo, &m, &ls->snap));
  PetscCheck(m == ls->nsnap, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: %" PetscInt_FMT " snapshots for %" PetscInt_FMT " snapshot steps",
             m, ls->nsnap);
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Levelset(LandStage s)
{
  Levelset *ls = (Levelset *)s->data;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < ls->npoints; i++) PetscCall(PetscFree(ls->points[i]));
  PetscCall(SVDDestroy(&ls->svd));
  PetscCall(VecDestroy(&ls->d_prev));
  PetscCall(VecDestroy(&ls->gL));
  PetscCall(VecDestroy(&ls->gR));
  PetscCall(VecDestroy(&ls->d));
  PetscCall(PetscFree(ls->mask));
  PetscCall(PetscFree(ls->hist));
  PetscCall(PetscFree(ls->times));
  PetscCall(PetscFree(ls->snap));
  PetscCall(PetscFree(ls->snap_step));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Levelset(LandStage s)
{
  Levelset *ls;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&ls));
  ls->corrector         = CORR_STUDY;
  ls->reg               = REG_L2;
  ls->steps             = 1000;
  ls->h_min             = 1e-4;
  ls->h_max             = 0.1;
  ls->grow              = 1.1;
  ls->shrink            = 0.1;
  ls->turn_angle        = 0.1;
  ls->h_reset           = PETSC_TRUE;
  ls->stop_angle        = 180.0;
  ls->tol               = 1e-5;
  ls->h_corrector       = 1e-4;
  ls->corrector_max_it  = 1000;
  ls->rms_min           = 1e-6;
  ls->reg_eps           = 1e-3;
  ls->snapshot_interval = 50;
  ls->test_interval     = 1;
  ls->monitor           = PETSC_TRUE;
  ls->pca_components    = 6;
  ls->pca_std_tol       = 1e-10;
  s->data               = ls;
  s->setfromoptions     = SetFromOptions_Levelset;
  s->run_stage          = Run_Levelset;
  s->destroy            = Destroy_Levelset;
  s->save               = Save_Levelset;
  s->load               = Load_Levelset;
  PetscFunctionReturn(0);
}
