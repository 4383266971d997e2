/* Stage 'spectrum': the Hessian at the current point, seen through SLEPc.
   - extreme eigenpairs: the k smallest and the k largest algebraic eigenvalues of the exact Hessian
     shell with SLEPc EPS (Krylov-Schur unless -spectrum_eps_type says otherwise), each with its
     residual ||H v - lambda v||, computed again after the solve; every copy of a multiple eigenvalue
     counts, made sure of by deflated solves (locking and restarting) until none is missing;
   - Morse index: exact for P <= -spectrum_dense_max (the dense Hessian assembled from P products,
     all eigenvalues by LAPACK dsyev), otherwise the negative eigenvalues found plus a stochastic
     Lanczos quadrature estimate of the negative mass;
   - spectral density by stochastic Lanczos quadrature (SLQ) and the trace by Hutchinson;
   - a classification of the point (not stationary, local minimum, strict saddle of index k,
     degenerate, gradient-flat) with the numbers behind it.
   A checkpoint inside an eigensolve keeps the leading basis vectors; the resumed solve starts from
   them, and finished parts (smallest, largest, dense, SLQ) are not repeated. */
#include <landscape/impl.h>
#include <petsctime.h>
#include <petscblaslapack.h>
#include <slepceps.h>
#include <string.h>

typedef enum { WHICH_BOTH, WHICH_SMALLEST, WHICH_LARGEST, WHICH_NONE } Which;
static const char *const Whiches[] = {"both", "smallest", "largest", "none", "Which", "WHICH_", NULL};

enum { PART_SMALLEST, PART_LARGEST, PART_DENSE, PART_SLQ, PART_TRACE, NPART };
static const char *const PartNames[] = {"smallest", "largest", "dense", "slq", "trace"};

typedef struct {
  PetscInt  nconv;
  PetscReal values[64], residuals[64], relres[64];
  PetscInt  its, hvp; /* over all solves of the part */
  PetscReal time;
  /* the multiplicity check */
  PetscInt  solves;      /* EPSSolve calls: the first and the deflated ones */
  PetscInt  check_its;   /* iterations of the deflated solves */
  PetscInt  check_hvp;   /* Hessian products of the deflated solves */
  PetscInt  added;       /* of the k values, those first found by a deflated solve */
  PetscInt  kth_copies;  /* pairs found within cluster_tol of the k-th value: a lower bound on its multiplicity */
  PetscReal cluster_tol; /* tol * max(|lambda_k|, ||H||): values closer than this are copies of one eigenvalue */
  PetscInt  certified;   /* 1: a deflated solve found nothing beyond the k-th value; 0: not made sure (why: printed); -1: no check */
} Extreme;

typedef struct {
  Which     which;
  PetscInt  nev, dense_max, slq_probes, slq_steps, trace_probes;
  PetscReal zero_tol, grad_tol, flat_tol;
  PetscBool save_vectors, multiplicity_check;
  char      initial[PETSC_MAX_PATH_LEN];
  EPS       eps;
  EPS       deflated; /* the deflated solve in progress (multiplicity check), or NULL */
  Mat       H;
  /* progress: parts done, their results; the part in progress and its warm-start vectors */
  PetscBool done[NPART];
  PetscInt  part;
  Extreme   ext[2];
  Vec      *vecs[2]; /* converged eigenvectors of each part */
  Vec      *warm;    /* warm start for the part in progress */
  PetscInt  nwarm;
  /* the converged pairs of the part in progress, most extreme first: the deflation space */
  PetscInt   nlock, maxlock;
  PetscReal *lock_values;
  PetscInt  *lock_origin; /* the solve that found the pair: 0 the first, i > 0 the i-th deflated one */
  Vec       *lock_vecs;
  PetscReal *dense_eigs; /* P eigenvalues (PART_DENSE) */
  PetscReal  dense_asym;
  PetscReal *slq_nodes, *slq_weights; /* probes x steps */
  PetscInt   slq_done;                /* probes finished */
  PetscReal  trace_sum[2], trace_sq[2];
  PetscInt   trace_done;
  PetscInt64 hvp_start;
  PetscReal  hnorm;     /* ||H||_2 estimate: the scale of the default convergence test */
  PetscBool  user_conv; /* the user chose -spectrum_eps_conv_* */
} Spectrum;

static PetscErrorCode SetFromOptions_Spectrum(LandStage s)
{
  Spectrum *sp = (Spectrum *)s->data;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage spectrum: Hessian eigenpairs (SLEPc EPS, -spectrum_eps_*), Morse index, density, trace", NULL);
  PetscCall(PetscOptionsEnum("-spectrum_which", "Extreme eigenpairs to compute: both (k smallest and k largest algebraic), smallest, largest, none",
                             "", Whiches, (PetscEnum)sp->which, (PetscEnum *)&sp->which, NULL));
  PetscCall(PetscOptionsInt("-spectrum_dense_max", "Assemble the dense Hessian and compute all P eigenvalues (exact Morse index) when P <= this", "",
                            sp->dense_max, &sp->dense_max, NULL));
  PetscCall(PetscOptionsReal("-spectrum_zero_tol", "Eigenvalues with |lambda| <= zero_tol * max|lambda| count as zero", "", sp->zero_tol,
                             &sp->zero_tol, NULL));
  PetscCall(PetscOptionsReal("-spectrum_grad_tol", "A point with ||grad L|| <= grad_tol is stationary", "", sp->grad_tol, &sp->grad_tol, NULL));
  PetscCall(
      PetscOptionsReal("-spectrum_flat_tol",
                       "Gradient-flat when ||H g|| <= flat_tol * ||H|| ||g|| at a non-stationary point (the gradient lies in the near-null space)",
                       "", sp->flat_tol, &sp->flat_tol, NULL));
  PetscCall(PetscOptionsInt("-spectrum_slq_probes", "Stochastic Lanczos quadrature: number of Rademacher probes (0: no density)", "", sp->slq_probes,
                            &sp->slq_probes, NULL));
  PetscCall(PetscOptionsInt("-spectrum_slq_steps", "Stochastic Lanczos quadrature: Lanczos steps per probe (full reorthogonalisation)", "",
                            sp->slq_steps, &sp->slq_steps, NULL));
  PetscCall(PetscOptionsInt("-spectrum_trace_probes", "Hutchinson trace estimator: number of Rademacher probes (0: no trace)", "", sp->trace_probes,
                            &sp->trace_probes, NULL));
  PetscCall(PetscOptionsBool("-spectrum_multiplicity_check",
                             "After each extreme solve, deflate the pairs found and solve again until no eigenvalue beyond the k-th is missing "
                             "(every copy of a multiple eigenvalue among the k); costs one or more deflated solves",
                             "", sp->multiplicity_check, &sp->multiplicity_check, NULL));
  PetscCall(PetscOptionsBool("-spectrum_save_vectors", "Write the eigenvectors to results.h5 (<group>/smallest/vector_<i>)", "", sp->save_vectors,
                             &sp->save_vectors, NULL));
  PetscCall(PetscOptionsString("-spectrum_initial", "Warm start: an HDF5 file (results or checkpoint) with spectrum/{smallest,largest}/vector_<i>",
                               "", sp->initial, sp->initial, sizeof(sp->initial), NULL));
  PetscOptionsEnd();
  PetscCheck(sp->slq_steps >= 2 && sp->slq_probes >= 0 && sp->trace_probes >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-spectrum_slq_steps must be >= 2 and -spectrum_slq_probes, -spectrum_trace_probes >= 0");
  PetscCheck(sp->zero_tol >= 0 && sp->grad_tol >= 0 && sp->flat_tol >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-spectrum_zero_tol, -spectrum_grad_tol and -spectrum_flat_tol must be >= 0");
  if (sp->initial[0]) {
    PetscBool exists;
    PetscCall(PetscTestFile(sp->initial, 'r', &exists));
    PetscCheck(exists, s->run->comm, PETSC_ERR_FILE_OPEN, "-spectrum_initial %s: no such file", sp->initial);
  }
  /* The EPS reads its options now, so that a bad -spectrum_eps_* value fails before any work. */
  PetscCall(EPSCreate(s->run->comm, &sp->eps));
  PetscCall(EPSSetOptionsPrefix(sp->eps, "spectrum_"));
  PetscCall(EPSSetProblemType(sp->eps, EPS_HEP));
  PetscCall(EPSSetDimensions(sp->eps, 5, PETSC_DEFAULT, PETSC_DEFAULT));
  PetscCall(EPSSetWhichEigenpairs(sp->eps, EPS_LARGEST_IMAGINARY)); /* a sentinel: meaningless for a symmetric problem */
  PetscCall(EPSSetFromOptions(sp->eps));
  {
    /* which eigenvalues is the stage's choice (-spectrum_which), made per part: say so rather
       than override the user's -spectrum_eps_<which> in silence */
    EPSWhich which;
    PetscCall(EPSGetWhichEigenpairs(sp->eps, &which));
    PetscCheck(which == EPS_LARGEST_IMAGINARY, s->run->comm, PETSC_ERR_ARG_WRONG,
               "the spectrum stage chooses the eigenvalues itself: use -spectrum_which, not a -spectrum_eps_<largest|smallest|target>_* option");
  }
  PetscCall(EPSGetDimensions(sp->eps, &sp->nev, NULL, NULL));
  {
    /* The smallest eigenvalues of a network Hessian sit at the edge of a dense cluster around zero:
       a wide search space pays for itself in products (docs/algorithms.md). Defaults unless set. */
    PetscBool set_ncv, set_its;
    PetscReal tol;
    PetscInt  its;
    PetscCall(PetscOptionsHasName(NULL, NULL, "-spectrum_eps_ncv", &set_ncv));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-spectrum_eps_max_it", &set_its));
    if (!set_ncv) PetscCall(EPSSetDimensions(sp->eps, sp->nev, PetscMax(64, 2 * sp->nev), PETSC_DEFAULT));
    PetscCall(EPSGetTolerances(sp->eps, &tol, &its));
    /* the tolerance EPSSetUp would choose, set now: the multiplicity check and the dense
       reconciliation read it, also in a resumed run that has not set up this EPS */
    if (tol == (PetscReal)PETSC_DEFAULT) tol = SLEPC_DEFAULT_TOL;
    PetscCall(EPSSetTolerances(sp->eps, tol, set_its ? its : 1000));
  }
  {
    const char *conv[] = {"-spectrum_eps_conv_abs", "-spectrum_eps_conv_rel", "-spectrum_eps_conv_norm", "-spectrum_eps_conv_user"};
    for (PetscInt i = 0; i < 4; i++) {
      PetscBool has;
      PetscCall(PetscOptionsHasName(NULL, NULL, conv[i], &has));
      if (has) sp->user_conv = PETSC_TRUE;
    }
  }
  PetscCheck(sp->nev <= 64, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-spectrum_eps_nev %" PetscInt_FMT " is larger than 64", sp->nev);
  PetscFunctionReturn(0);
}

/* ---- checkpoint hooks ---- */

static PetscErrorCode Save_Spectrum(LandStage s, LandCheckpoint ck)
{
  Spectrum *sp = (Spectrum *)s->data;
  char      name[64];

  PetscFunctionBeginUser;
  for (PetscInt p = 0; p < NPART; p++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "done_%s", PartNames[p]));
    PetscCall(LandCheckpointPutInt(ck, name, sp->done[p]));
  }
  for (PetscInt p = PART_SMALLEST; p <= PART_LARGEST; p++) {
    Extreme *e = &sp->ext[p];
    if (!sp->done[p]) continue;
    PetscCall(PetscSNPrintf(name, sizeof(name), "%s_info", PartNames[p]));
    {
      PetscReal info[4] = {(PetscReal)e->nconv, (PetscReal)e->its, (PetscReal)e->hvp, e->time};
      PetscReal mult[7] = {(PetscReal)e->solves,     (PetscReal)e->check_its, (PetscReal)e->check_hvp, (PetscReal)e->added,
                           (PetscReal)e->kth_copies, e->cluster_tol,          (PetscReal)e->certified};
      PetscCall(LandCheckpointPutArray(ck, name, 1, 4, info));
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s_multiplicity", PartNames[p]));
      PetscCall(LandCheckpointPutArray(ck, name, 1, 7, mult));
    }
    if (e->nconv) {
      PetscReal tab[3 * 64];
      for (PetscInt i = 0; i < e->nconv; i++) {
        tab[3 * i]     = e->values[i];
        tab[3 * i + 1] = e->residuals[i];
        tab[3 * i + 2] = e->relres[i];
      }
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s_pairs", PartNames[p]));
      PetscCall(LandCheckpointPutArray(ck, name, e->nconv, 3, tab));
    }
    for (PetscInt i = 0; i < e->nconv; i++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s_vector_%" PetscInt_FMT, PartNames[p], i));
      PetscCall(LandCheckpointPutVec(ck, name, sp->vecs[p][i]));
    }
  }
  /* the eigensolve in progress: its leading basis vectors are the warm start of the resumed solve */
  if ((sp->part == PART_SMALLEST || sp->part == PART_LARGEST) && !sp->done[sp->part]) {
    BV       bv;
    PetscInt nb, nw;
    PetscCall(EPSGetBV(sp->deflated ? sp->deflated : sp->eps, &bv));
    PetscCall(BVGetActiveColumns(bv, NULL, &nb));
    nw = PetscMin(nb, sp->nev);
    PetscCall(LandCheckpointPutInt(ck, "warm_part", sp->part));
    PetscCall(LandCheckpointPutInt(ck, "warm_count", nw));
    for (PetscInt i = 0; i < nw; i++) {
      Vec v;
      PetscCall(BVGetColumn(bv, i, &v));
      PetscCall(PetscSNPrintf(name, sizeof(name), "warm_%" PetscInt_FMT, i));
      PetscCall(LandCheckpointPutVec(ck, name, v));
      PetscCall(BVRestoreColumn(bv, i, &v));
    }
    /* inside the multiplicity check: the pairs locked so far and the counts of the part */
    if (sp->nlock) {
      Extreme   *e       = &sp->ext[sp->part];
      PetscReal  prog[6] = {(PetscReal)e->its, (PetscReal)e->hvp, e->time, (PetscReal)e->solves, (PetscReal)e->check_its, (PetscReal)e->check_hvp};
      PetscReal *pairs;
      PetscCall(LandCheckpointPutArray(ck, "locked_progress", 1, 6, prog));
      PetscCall(PetscMalloc1(2 * sp->nlock, &pairs));
      for (PetscInt i = 0; i < sp->nlock; i++) {
        pairs[2 * i]     = sp->lock_values[i];
        pairs[2 * i + 1] = sp->lock_origin[i];
      }
      PetscCall(LandCheckpointPutArray(ck, "locked_pairs", sp->nlock, 2, pairs));
      PetscCall(PetscFree(pairs));
      for (PetscInt i = 0; i < sp->nlock; i++) {
        PetscCall(PetscSNPrintf(name, sizeof(name), "locked_vector_%" PetscInt_FMT, i));
        PetscCall(LandCheckpointPutVec(ck, name, sp->lock_vecs[i]));
      }
    }
  }
  if (sp->done[PART_DENSE] && sp->dense_eigs) {
    PetscCall(LandCheckpointPutArray(ck, "dense_eigenvalues", 1, s->run->obj->P, sp->dense_eigs));
    PetscCall(LandCheckpointPutReal(ck, "dense_asymmetry", sp->dense_asym));
  }
  PetscCall(LandCheckpointPutInt(ck, "slq_done", sp->slq_done));
  if (sp->slq_done) {
    PetscCall(LandCheckpointPutArray(ck, "slq_nodes", sp->slq_done, sp->slq_steps, sp->slq_nodes));
    PetscCall(LandCheckpointPutArray(ck, "slq_weights", sp->slq_done, sp->slq_steps, sp->slq_weights));
  }
  PetscCall(LandCheckpointPutInt(ck, "trace_done", sp->trace_done));
  PetscCall(LandCheckpointPutArray(ck, "trace_sums", 1, 4, (PetscReal[]){sp->trace_sum[0], sp->trace_sum[1], sp->trace_sq[0], sp->trace_sq[1]}));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Spectrum(LandStage s, LandCheckpoint ck)
{
  Spectrum  *sp = (Spectrum *)s->data;
  char       name[64];
  PetscInt   v, m, n;
  PetscReal *a;
  PetscBool  has;

  PetscFunctionBeginUser;
  for (PetscInt p = 0; p < NPART; p++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "done_%s", PartNames[p]));
    PetscCall(LandCheckpointGetInt(ck, name, &v));
    sp->done[p] = (PetscBool)v;
  }
  for (PetscInt p = PART_SMALLEST; p <= PART_LARGEST; p++) {
    Extreme *e = &sp->ext[p];
    if (!sp->done[p]) continue;
    PetscCall(PetscSNPrintf(name, sizeof(name), "%s_info", PartNames[p]));
    PetscCall(LandCheckpointGetArray(ck, name, &m, &n, &a));
    PetscCheck(m * n == 4, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/%s_info", PartNames[p]);
    e->nconv = (PetscInt)a[0];
    e->its   = (PetscInt)a[1];
    e->hvp   = (PetscInt)a[2];
    e->time  = a[3];
    PetscCall(PetscFree(a));
    PetscCall(PetscSNPrintf(name, sizeof(name), "%s_multiplicity", PartNames[p]));
    PetscCall(LandCheckpointHas(ck, name, &has));
    e->certified = -1; /* (a checkpoint written before the multiplicity check existed) */
    if (has) {
      PetscCall(LandCheckpointGetArray(ck, name, &m, &n, &a));
      PetscCheck(m * n == 7, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/%s", name);
      e->solves      = (PetscInt)a[0];
      e->check_its   = (PetscInt)a[1];
      e->check_hvp   = (PetscInt)a[2];
      e->added       = (PetscInt)a[3];
      e->kth_copies  = (PetscInt)a[4];
      e->cluster_tol = a[5];
      e->certified   = (PetscInt)a[6];
      PetscCall(PetscFree(a));
    }
    PetscCheck(e->nconv <= 64, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/%s_info", PartNames[p]);
    if (e->nconv) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s_pairs", PartNames[p]));
      PetscCall(LandCheckpointGetArray(ck, name, &m, &n, &a));
      PetscCheck(m == e->nconv && n == 3, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/%s_pairs", PartNames[p]);
      for (PetscInt i = 0; i < m; i++) {
        e->values[i]    = a[3 * i];
        e->residuals[i] = a[3 * i + 1];
        e->relres[i]    = a[3 * i + 2];
      }
      PetscCall(PetscFree(a));
      PetscCall(VecDuplicateVecs(s->run->theta, e->nconv, &sp->vecs[p]));
    }
    for (PetscInt i = 0; i < e->nconv; i++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s_vector_%" PetscInt_FMT, PartNames[p], i));
      PetscCall(LandCheckpointGetVec(ck, name, sp->vecs[p][i]));
    }
  }
  PetscCall(LandCheckpointHas(ck, "warm_0", &has)); /* (Has sees datasets, not scalar attributes) */
  if (has) {
    PetscCall(LandCheckpointGetInt(ck, "warm_count", &sp->nwarm));
    if (sp->nwarm > 0) {
      PetscCall(VecDuplicateVecs(s->run->theta, sp->nwarm, &sp->warm));
      for (PetscInt i = 0; i < sp->nwarm; i++) {
        PetscCall(PetscSNPrintf(name, sizeof(name), "warm_%" PetscInt_FMT, i));
        PetscCall(LandCheckpointGetVec(ck, name, sp->warm[i]));
      }
    }
  }
  PetscCall(LandCheckpointHas(ck, "locked_pairs", &has));
  if (has) {
    PetscInt part;
    Extreme *e;
    PetscCall(LandCheckpointGetInt(ck, "warm_part", &part));
    PetscCheck(part == PART_SMALLEST || part == PART_LARGEST, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/warm_part");
    e = &sp->ext[part];
    PetscCall(LandCheckpointGetArray(ck, "locked_progress", &m, &n, &a));
    PetscCheck(m * n == 6, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/locked_progress");
    e->its       = (PetscInt)a[0];
    e->hvp       = (PetscInt)a[1];
    e->time      = a[2];
    e->solves    = (PetscInt)a[3];
    e->check_its = (PetscInt)a[4];
    e->check_hvp = (PetscInt)a[5];
    PetscCall(PetscFree(a));
    PetscCall(LandCheckpointGetArray(ck, "locked_pairs", &m, &n, &a));
    PetscCheck(m > 0 && n == 2, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/locked_pairs");
    /* (three allocations: LockAppend grows each with PetscRealloc) */
    PetscCall(PetscMalloc1(m, &sp->lock_values));
    PetscCall(PetscMalloc1(m, &sp->lock_origin));
    PetscCall(PetscMalloc1(m, &sp->lock_vecs));
    sp->nlock = sp->maxlock = m;
    for (PetscInt i = 0; i < m; i++) {
      sp->lock_values[i] = a[2 * i];
      sp->lock_origin[i] = (PetscInt)a[2 * i + 1];
      PetscCall(VecDuplicate(s->run->theta, &sp->lock_vecs[i]));
      PetscCall(PetscSNPrintf(name, sizeof(name), "locked_vector_%" PetscInt_FMT, i));
      PetscCall(LandCheckpointGetVec(ck, name, sp->lock_vecs[i]));
    }
    PetscCall(PetscFree(a));
  }
  if (sp->done[PART_DENSE]) {
    PetscCall(LandCheckpointGetArray(ck, "dense_eigenvalues", &m, &n, &sp->dense_eigs));
    PetscCheck(m * n == s->run->obj->P, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad spectrum/dense_eigenvalues");
    PetscCall(LandCheckpointGetReal(ck, "dense_asymmetry", &sp->dense_asym));
  }
  PetscCall(LandCheckpointGetInt(ck, "slq_done", &sp->slq_done));
  if (sp->slq_done) {
    PetscCall(PetscFree(sp->slq_nodes));
    PetscCall(PetscFree(sp->slq_weights));
    PetscCall(LandCheckpointGetArray(ck, "slq_nodes", &m, &n, &sp->slq_nodes));
    PetscCheck(m == sp->slq_done && n == sp->slq_steps, s->run->comm, PETSC_ERR_ARG_INCOMP,
               "checkpoint has %" PetscInt_FMT " Lanczos steps per probe, -spectrum_slq_steps is %" PetscInt_FMT, n, sp->slq_steps);
    PetscCall(LandCheckpointGetArray(ck, "slq_weights", &m, &n, &sp->slq_weights));
    PetscCall(PetscRealloc(sizeof(PetscReal) * PetscMax(sp->slq_probes, 1) * sp->slq_steps, &sp->slq_nodes));
    PetscCall(PetscRealloc(sizeof(PetscReal) * PetscMax(sp->slq_probes, 1) * sp->slq_steps, &sp->slq_weights));
  }
  PetscCall(LandCheckpointGetInt(ck, "trace_done", &sp->trace_done));
  PetscCall(LandCheckpointGetArray(ck, "trace_sums", &m, &n, &a));
  sp->trace_sum[0] = a[0];
  sp->trace_sum[1] = a[1];
  sp->trace_sq[0]  = a[2];
  sp->trace_sq[1]  = a[3];
  PetscCall(PetscFree(a));
  PetscFunctionReturn(0);
}

/* ---- extreme eigenpairs ---- */

/* Stopping test: SLEPc's own, plus the checkpoint poll (signal, interval, wall clock). A stop
   request ends the solve; the checkpoint written by the poll holds the leading basis vectors (and,
   inside the multiplicity check, the pairs locked so far). The poll counts the iterations of the
   part, over its first and deflated solves. */
static PetscErrorCode StopTest(EPS eps, PetscInt its, PetscInt max_it, PetscInt nconv, PetscInt nev, EPSConvergedReason *reason, void *ctx)
{
  LandStage s  = (LandStage)ctx;
  Spectrum *sp = (Spectrum *)s->data;
  PetscBool halt;

  PetscFunctionBeginUser;
  PetscCall(EPSStoppingBasic(eps, its, max_it, nconv, nev, reason, NULL));
  if (*reason != EPS_CONVERGED_ITERATING || its == 0) PetscFunctionReturn(0);
  PetscCall(LandCheckpointPoll(s->run->ckpt, s, sp->ext[sp->part].its + its, &halt));
  if (halt) *reason = EPS_CONVERGED_USER;
  PetscFunctionReturn(0);
}

/* Default convergence test: ||H v - lambda v|| <= tol * max(|lambda|, ||H||). Relative to |lambda|
   alone (SLEPc's default) asks eigenvalues in the cluster near zero, where the smallest ones of a
   network Hessian live, for absolute accuracy far below round-off of the products; relative to
   ||H|| (SLEPc's EPS_CONV_NORM) needs a matrix norm that a shell does not have. */
static PetscErrorCode ConvTest(EPS eps, PetscScalar re, PetscScalar im, PetscReal res, PetscReal *errest, void *ctx)
{
  Spectrum *sp = (Spectrum *)ctx;

  PetscFunctionBeginUser;
  *errest = res / PetscMax(PetscMax(PetscAbsScalar(re), sp->hnorm), PETSC_MACHINE_EPSILON);
  PetscFunctionReturn(0);
}

/*@ LandHessianNormEstimate - ||H||_2 of a symmetric operator from a loose SLEPc solve (largest
  magnitude, tolerance 1e-3): the scale against which "near zero" is judged. Collective. @*/
PetscErrorCode LandHessianNormEstimate(Mat H, PetscReal *nrm)
{
  EPS       eps;
  PetscInt  nconv;
  PetscReal lam = 0;

  PetscFunctionBeginUser;
  PetscCall(EPSCreate(PetscObjectComm((PetscObject)H), &eps));
  PetscCall(EPSSetOperators(eps, H, NULL));
  PetscCall(EPSSetProblemType(eps, EPS_HEP));
  PetscCall(EPSSetWhichEigenpairs(eps, EPS_LARGEST_MAGNITUDE));
  PetscCall(EPSSetDimensions(eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
  PetscCall(EPSSetTolerances(eps, 1e-3, 1000));
  PetscCall(EPSSolve(eps));
  PetscCall(EPSGetConverged(eps, &nconv));
  if (nconv > 0) PetscCall(EPSGetEigenvalue(eps, 0, &lam, NULL));
  *nrm = PetscAbsReal(lam);
  PetscCall(EPSDestroy(&eps));
  PetscFunctionReturn(0);
}

/* Warm-start vectors from -spectrum_initial: <file>:/spectrum/<part>/vector_<i>, or the checkpoint
   layout /stage/spectrum/<part>_vector_<i>. */
static PetscErrorCode ReadInitial(LandStage s, PetscInt part)
{
  Spectrum *sp = (Spectrum *)s->data;
  hid_t     fid;
  char      ds[PETSC_MAX_PATH_LEN];
  PetscInt  n = 0;

  PetscFunctionBeginUser;
  fid = H5Fopen(sp->initial, H5F_ACC_RDONLY, H5P_DEFAULT);
  PetscCheck(fid >= 0, s->run->comm, PETSC_ERR_FILE_OPEN, "-spectrum_initial %s is not an HDF5 file", sp->initial);
  for (; n < sp->nev; n++) {
    PetscCall(PetscSNPrintf(ds, sizeof(ds), "spectrum/%s/vector_%" PetscInt_FMT, PartNames[part], n));
    if (H5Lexists(fid, "spectrum", H5P_DEFAULT) > 0 && H5Lexists(fid, ds, H5P_DEFAULT) <= 0) break;
    if (H5Lexists(fid, "spectrum", H5P_DEFAULT) <= 0) {
      PetscCall(PetscSNPrintf(ds, sizeof(ds), "stage/spectrum/%s_vector_%" PetscInt_FMT, PartNames[part], n));
      if (H5Lexists(fid, "stage", H5P_DEFAULT) <= 0 || H5Lexists(fid, "stage/spectrum", H5P_DEFAULT) <= 0 || H5Lexists(fid, ds, H5P_DEFAULT) <= 0)
        break;
    }
  }
  H5Fclose(fid);
  PetscCheck(n > 0, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "-spectrum_initial %s has no spectrum/%s/vector_0", sp->initial, PartNames[part]);
  PetscCall(VecDuplicateVecs(s->run->theta, n, &sp->warm));
  sp->nwarm = n;
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(PetscSNPrintf(ds, sizeof(ds), "spectrum/%s/vector_%" PetscInt_FMT, PartNames[part], i));
    fid = H5Fopen(sp->initial, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (H5Lexists(fid, "spectrum", H5P_DEFAULT) <= 0)
      PetscCall(PetscSNPrintf(ds, sizeof(ds), "stage/spectrum/%s_vector_%" PetscInt_FMT, PartNames[part], i));
    H5Fclose(fid);
    PetscCall(LandNetLoadTheta(s->run->net, sp->initial, ds, sp->warm[i]));
  }
  PetscFunctionReturn(0);
}

/* x on the part's own axis, where the most extreme eigenvalue is the smallest. Not Collective. */
static inline PetscReal Toward(PetscInt part, PetscReal x)
{
  return part == PART_SMALLEST ? x : -x;
}

/* The converged pairs of the solve of eps join the locked set. Collective. */
static PetscErrorCode LockAppend(LandStage s, EPS eps, PetscInt origin)
{
  Spectrum *sp = (Spectrum *)s->data;
  PetscInt  nc;

  PetscFunctionBeginUser;
  PetscCall(EPSGetConverged(eps, &nc));
  if (sp->nlock + nc > sp->maxlock) {
    PetscInt m = PetscMax(2 * sp->maxlock, sp->nlock + nc);
    PetscCall(PetscRealloc(sizeof(PetscReal) * m, &sp->lock_values));
    PetscCall(PetscRealloc(sizeof(PetscInt) * m, &sp->lock_origin));
    PetscCall(PetscRealloc(sizeof(Vec) * m, &sp->lock_vecs));
    sp->maxlock = m;
  }
  for (PetscInt i = 0; i < nc; i++, sp->nlock++) {
    PetscCall(VecDuplicate(s->run->theta, &sp->lock_vecs[sp->nlock]));
    PetscCall(EPSGetEigenpair(eps, i, &sp->lock_values[sp->nlock], NULL, sp->lock_vecs[sp->nlock], NULL));
    sp->lock_origin[sp->nlock] = origin;
  }
  PetscFunctionReturn(0);
}

/* The locked set, most extreme first (insertion sort: the set is short and nearly sorted). Not Collective. */
static PetscErrorCode LockSort(Spectrum *sp, PetscInt part)
{
  PetscFunctionBeginUser;
  for (PetscInt i = 1; i < sp->nlock; i++)
    for (PetscInt j = i; j > 0 && Toward(part, sp->lock_values[j]) < Toward(part, sp->lock_values[j - 1]); j--) {
      PetscReal x            = sp->lock_values[j];
      PetscInt  o            = sp->lock_origin[j];
      Vec       v            = sp->lock_vecs[j];
      sp->lock_values[j]     = sp->lock_values[j - 1];
      sp->lock_origin[j]     = sp->lock_origin[j - 1];
      sp->lock_vecs[j]       = sp->lock_vecs[j - 1];
      sp->lock_values[j - 1] = x;
      sp->lock_origin[j - 1] = o;
      sp->lock_vecs[j - 1]   = v;
    }
  PetscFunctionReturn(0);
}

/* Keep the n most extreme locked pairs. Collective (the vectors). */
static PetscErrorCode LockTruncate(Spectrum *sp, PetscInt n)
{
  PetscFunctionBeginUser;
  for (PetscInt i = n; i < sp->nlock; i++) PetscCall(VecDestroy(&sp->lock_vecs[i]));
  sp->nlock = PetscMin(sp->nlock, n);
  PetscFunctionReturn(0);
}

/* The warm-start vectors (a checkpoint's basis or -spectrum_initial), if any, for the next solve of eps. Collective. */
static PetscErrorCode WarmStart(LandStage s, EPS eps, PetscInt part)
{
  Spectrum *sp = (Spectrum *)s->data;
  EPSType   type;

  PetscFunctionBeginUser;
  if (!sp->nwarm) PetscFunctionReturn(0);
  /* Krylov methods start from one vector: give them the sum of the previous approximations */
  PetscCall(EPSGetType(eps, &type));
  if (sp->nwarm > 1 && (!strcmp(type, EPSKRYLOVSCHUR) || !strcmp(type, EPSLANCZOS) || !strcmp(type, EPSARNOLDI) || !strcmp(type, EPSPOWER))) {
    for (PetscInt i = 1; i < sp->nwarm; i++) PetscCall(VecAXPY(sp->warm[0], 1.0, sp->warm[i]));
    PetscCall(EPSSetInitialSpace(eps, 1, sp->warm));
  } else
    PetscCall(EPSSetInitialSpace(eps, sp->nwarm, sp->warm));
  PetscCall(PetscPrintf(s->run->comm, "spectrum: %s: warm start from %" PetscInt_FMT " vector(s)\n", PartNames[part], sp->nwarm));
  PetscFunctionReturn(0);
}

/* One EPSSolve of the part under a log event; its iterations, products and time add to the part's. Collective. */
static PetscErrorCode SolveOnce(LandStage s, EPS eps, PetscInt part, PetscLogEvent event, EPSConvergedReason *reason)
{
  Spectrum      *sp  = (Spectrum *)s->data;
  LandRun        run = s->run;
  Extreme       *e   = &sp->ext[part];
  PetscInt64     h0  = run->obj->nhvp;
  PetscInt       its;
  PetscLogDouble t0, t1;

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&t0));
  PetscCall(PetscLogEventBegin(event, 0, 0, 0, 0));
  PetscCall(EPSSolve(eps));
  PetscCall(PetscLogEventEnd(event, 0, 0, 0, 0));
  PetscCall(PetscTime(&t1));
  PetscCall(VecDestroyVecs(sp->nwarm, &sp->warm));
  sp->nwarm = 0;
  PetscCall(EPSGetConvergedReason(eps, reason));
  PetscCall(EPSGetIterationNumber(eps, &its));
  e->its += its;
  e->hvp += (PetscInt)(run->obj->nhvp - h0);
  e->time += t1 - t0;
  e->solves++;
  PetscFunctionReturn(0);
}

/* What the stage sets on an EPS for a part: the operator, the stopping and convergence tests, and
   which eigenvalues (the power method through a shift). Collective. */
static PetscErrorCode SetUpPart(LandStage s, EPS eps, PetscInt part)
{
  Spectrum *sp = (Spectrum *)s->data;
  EPSType   type;

  PetscFunctionBeginUser;
  PetscCall(EPSSetOperators(eps, sp->H, NULL));
  PetscCall(EPSSetStoppingTestFunction(eps, StopTest, s, NULL));
  PetscCall(EPSGetType(eps, &type));
  if (!strcmp(type, EPSPOWER)) {
    /* the power method finds the largest magnitude only: the smallest eigenvalues of H are the
       largest in magnitude of H - ||H|| I (a shift SLEPc undoes in the values it returns) */
    ST st;
    PetscCall(EPSGetST(eps, &st));
    PetscCall(STSetShift(st, part == PART_SMALLEST ? sp->hnorm : 0.0));
    PetscCall(EPSSetWhichEigenpairs(eps, EPS_LARGEST_MAGNITUDE));
  } else
    PetscCall(EPSSetWhichEigenpairs(eps, part == PART_SMALLEST ? EPS_SMALLEST_REAL : EPS_LARGEST_REAL));
  /* (SLEPc's power method accepts only its own convergence test) */
  if (!sp->user_conv && strcmp(type, EPSPOWER)) PetscCall(EPSSetConvergenceTestFunction(eps, ConvTest, sp, NULL));
  PetscFunctionReturn(0);
}

/* Locking and restarting, for multiplicities. A Krylov method started from one vector sees one
   direction of the eigenspace of a multiple eigenvalue; any further copies it returns come from
   round-off and restarts, so which copies go missing depends on the rank count and the BLAS. So:
   deflate every pair found (EPSSetDeflationSpace) and solve again. An eigenvalue of the deflated
   problem beyond the k-th value by more than cluster_tol is a copy that was missing: it joins the
   locked set and the deflated solve is repeated, until one finds none. Then no eigenvalue more
   extreme than the k-th is outside the locked set. Copies of the k-th value itself do not change
   the k values: those found are counted (kth_copies), the others are not hunted. A deflated solve
   that finds missing copies puts at least one among the k, so a first solve that converged needs
   fewer than k of them; the loop stops after 2k + 1 deflated solves, not made sure. Collective. */
static PetscErrorCode CheckMultiplicity(LandStage s, PetscInt part)
{
  Spectrum          *sp  = (Spectrum *)s->data;
  LandRun            run = s->run;
  Extreme           *e   = &sp->ext[part];
  PetscInt           P   = run->obj->P, ncv, mpd, maxit;
  PetscReal          tol;
  EPSConvergedReason reason;

  PetscFunctionBeginUser;
  PetscCall(EPSGetDimensions(sp->eps, NULL, &ncv, &mpd));
  PetscCall(EPSGetTolerances(sp->eps, &tol, &maxit));
  /* ||H||, the scale of the convergence test, known once the largest is found */
  if (part == PART_LARGEST) sp->hnorm = PetscMax(sp->hnorm, PetscAbsReal(sp->lock_values[0]));
  e->certified = 0;
  for (;;) {
    PetscInt  k = PetscMin(sp->nev, sp->nlock), n, rest, below = 0, h, it;
    PetscReal kth = Toward(part, sp->lock_values[k - 1]), delta = tol * PetscMax(PetscAbsReal(kth), sp->hnorm);

    /* beyond the cluster of the k-th value a pair can no longer be among the k */
    for (n = sp->nlock; n > k && Toward(part, sp->lock_values[n - 1]) > kth + delta; n--) {}
    PetscCall(LockTruncate(sp, n));
    rest = P - sp->nlock;
    if (e->solves - 1 >= 2 * sp->nev + 1) {
      PetscCall(PetscPrintf(run->comm,
                            "spectrum: %s: multiplicity check stopped after %" PetscInt_FMT " deflated solves, each finding missing copies\n",
                            PartNames[part], e->solves - 1));
      break;
    }
    if (rest == 0) { /* every eigenvalue is locked */
      e->certified = 1;
      break;
    }
    if (rest < 2) {
      PetscCall(
          PetscPrintf(run->comm, "spectrum: %s: multiplicity check stopped: one dimension left, too few for a Krylov solve\n", PartNames[part]));
      break;
    }
    /* A fresh EPS for each deflated solve, with the user's -spectrum_eps_* options. Reusing one is
       unsafe in SLEPc 3.18: after a deflated solve the basis keeps the deflation columns as regular
       ones (BVSetNumConstraints(V, 0)), and EPSAllocateSolution reallocates the eigenvalue arrays
       only when the basis size differs from the new request, so a later solve with other
       dimensions can find the sizes equal and write past arrays sized for the old ncv (valgrind). */
    PetscCall(EPSCreate(run->comm, &sp->deflated));
    PetscCall(EPSSetOptionsPrefix(sp->deflated, "spectrum_"));
    PetscCall(EPSSetProblemType(sp->deflated, EPS_HEP));
    PetscCall(EPSSetFromOptions(sp->deflated));
    {
      /* and the preconditioner the main solve ended up with: a preconditioned solver (gd, jd) set
         up first for the largest pairs has none on the shell, while a fresh one for the smallest
         pairs tried ILU or block Jacobi on it and failed, as -spectrum_which smallest did before
         this check ("Not for parallel matrix type shell"; -spectrum_st_pc_type none avoids it) */
      ST     st;
      KSP    ksp;
      PC     pc;
      PCType type;
      PetscCall(EPSGetST(sp->eps, &st));
      PetscCall(STGetKSP(st, &ksp));
      PetscCall(KSPGetPC(ksp, &pc));
      PetscCall(PCGetType(pc, &type));
      if (type) {
        PetscCall(EPSGetST(sp->deflated, &st));
        PetscCall(STGetKSP(st, &ksp));
        PetscCall(KSPGetPC(ksp, &pc));
        PetscCall(PCSetType(pc, type));
      }
    }
    PetscCall(EPSSetTolerances(sp->deflated, tol, maxit));
    /* the verdict rests on the most extreme eigenvalue of the deflated problem: ask for that one
       (further pairs the solve converges join too); asking for k cost 2.3 times the products on
       the smallest pairs of a 682-parameter tanh net (docs/algorithms.md) */
    PetscCall(EPSSetDimensions(sp->deflated, 1, PetscMin(ncv, rest), mpd > 0 ? PetscMin(mpd, PetscMin(ncv, rest)) : PETSC_DEFAULT));
    PetscCall(SetUpPart(s, sp->deflated, part));
    PetscCall(EPSSetDeflationSpace(sp->deflated, sp->nlock, sp->lock_vecs));
    PetscCall(WarmStart(s, sp->deflated, part)); /* a resumed deflated solve: its saved basis */
    h  = e->hvp;
    it = e->its;
    PetscCall(SolveOnce(s, sp->deflated, part, LAND_EPSMultiplicity, &reason));
    e->check_hvp += e->hvp - h;
    e->check_its += e->its - it;
    if (!run->stop) {
      n = sp->nlock;
      PetscCall(LockAppend(s, sp->deflated, e->solves - 1));
      for (PetscInt i = n; i < sp->nlock; i++)
        if (Toward(part, sp->lock_values[i]) < kth - delta) below++;
      PetscCall(LockSort(sp, part));
    }
    PetscCall(EPSDestroy(&sp->deflated));
    if (run->stop) break;
    if (reason <= 0) {
      PetscCall(PetscPrintf(run->comm,
                            "spectrum: %s: the deflated solve of the multiplicity check did not converge (%s): a copy of a multiple eigenvalue may "
                            "be missing; raise -spectrum_eps_max_it or -spectrum_eps_ncv\n",
                            PartNames[part], EPSConvergedReasons[reason]));
      break;
    }
    if (!below) {
      e->certified = 1;
      break;
    }
    PetscCall(PetscPrintf(run->comm,
                          "spectrum: %s: deflated solve %" PetscInt_FMT " found %" PetscInt_FMT " eigenvalue(s) beyond lambda_%" PetscInt_FMT
                          ": copies were missing\n",
                          PartNames[part], e->solves - 1, below, k));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SolveExtreme(LandStage s, PetscInt part)
{
  Spectrum          *sp  = (Spectrum *)s->data;
  LandRun            run = s->run;
  Extreme           *e   = &sp->ext[part];
  EPSConvergedReason reason;
  PetscReal          tol, kth;

  PetscFunctionBeginUser;
  sp->part = part;
  if (!sp->nlock) { /* a fresh part (a resumed multiplicity check keeps its locked pairs and counts) */
    if (sp->vecs[part]) PetscCall(VecDestroyVecs(PetscMax(e->nconv, 1), &sp->vecs[part]));
    PetscCall(PetscMemzero(e, sizeof(*e)));
  } else
    PetscCall(PetscPrintf(run->comm, "spectrum: %s: multiplicity check resumed with %" PetscInt_FMT " locked pairs\n", PartNames[part], sp->nlock));
  if (!sp->nwarm && !sp->nlock && sp->initial[0]) PetscCall(ReadInitial(s, part));
  if (sp->hnorm == 0 && part == PART_SMALLEST) {
    if (sp->done[PART_LARGEST] && sp->ext[1].nconv)
      sp->hnorm = PetscAbsReal(sp->ext[1].values[0]);
    else
      PetscCall(LandHessianNormEstimate(sp->H, &sp->hnorm));
  }
  PetscCall(SetUpPart(s, sp->eps, part));
  if (!sp->nlock) {
    PetscInt nc;
    PetscCall(WarmStart(s, sp->eps, part));
    PetscCall(SolveOnce(s, sp->eps, part, LAND_EPSSolve, &reason));
    if (run->stop) PetscFunctionReturn(0);
    PetscCall(EPSGetConverged(sp->eps, &nc));
    PetscCheck(reason > 0, run->comm, PETSC_ERR_NOT_CONVERGED,
               "spectrum: the %s eigensolve did not converge (%s after %" PetscInt_FMT " iterations, %" PetscInt_FMT " of %" PetscInt_FMT
               " pairs); raise -spectrum_eps_max_it or -spectrum_eps_ncv, or loosen -spectrum_eps_tol",
               PartNames[part], EPSConvergedReasons[reason], e->its, nc, sp->nev);
    PetscCall(LockAppend(s, sp->eps, 0));
    PetscCall(LockSort(sp, part));
  }
  e->certified = -1;
  if (sp->multiplicity_check) PetscCall(CheckMultiplicity(s, part));
  if (run->stop) PetscFunctionReturn(0);

  /* the k most extreme pairs, sorted: ascending for the smallest, descending for the largest */
  e->nconv = PetscMin(sp->nlock, sp->nev);
  PetscCall(VecDuplicateVecs(run->theta, PetscMax(e->nconv, 1), &sp->vecs[part]));
  for (PetscInt i = 0; i < e->nconv; i++) {
    Vec       r;
    PetscReal nv;
    e->values[i] = sp->lock_values[i];
    PetscCall(VecCopy(sp->lock_vecs[i], sp->vecs[part][i]));
    /* the residual computed again from a fresh product, not taken from the solver */
    PetscCall(VecDuplicate(run->theta, &r));
    PetscCall(MatMult(sp->H, sp->vecs[part][i], r));
    PetscCall(VecAXPY(r, -e->values[i], sp->vecs[part][i]));
    PetscCall(LandVecNorm2(r, &e->residuals[i]));
    PetscCall(LandVecNorm2(sp->vecs[part][i], &nv));
    e->residuals[i] /= nv;
    e->relres[i] = e->residuals[i] / PetscMax(PetscMax(PetscAbsReal(e->values[i]), sp->hnorm), PETSC_MACHINE_EPSILON);
    PetscCall(VecDestroy(&r));
  }
  /* the same denominator for both parts: max(|lambda|, ||H||), ||H|| known once the largest is found */
  if (part == PART_LARGEST && e->nconv) {
    PetscReal h = 0;
    for (PetscInt i = 0; i < e->nconv; i++) h = PetscMax(h, PetscAbsReal(e->values[i]));
    for (PetscInt i = 0; i < e->nconv; i++) e->relres[i] = e->residuals[i] / PetscMax(PetscMax(h, sp->hnorm), PETSC_MACHINE_EPSILON);
  }
  /* copies of the k-th value among the pairs found; copies the first solve had missed: positions
     where its sorted list (of which the locked set keeps a prefix) differs from the final one */
  PetscCall(EPSGetTolerances(sp->eps, &tol, NULL));
  if (e->nconv) {
    PetscInt j     = 0;
    kth            = Toward(part, e->values[e->nconv - 1]);
    e->cluster_tol = tol * PetscMax(PetscAbsReal(kth), sp->hnorm);
    for (PetscInt i = 0; i < sp->nlock; i++)
      if (PetscAbsReal(Toward(part, sp->lock_values[i]) - kth) <= e->cluster_tol) e->kth_copies++;
    for (PetscInt i = 0; i < sp->nlock && j < e->nconv; i++) {
      if (sp->lock_origin[i]) continue;
      if (PetscAbsReal(sp->lock_values[i] - e->values[j]) > tol * PetscMax(PetscAbsReal(e->values[j]), sp->hnorm)) e->added++;
      j++;
    }
    e->added += e->nconv - j;
  }
  PetscCall(LockTruncate(sp, 0));
  sp->done[part] = PETSC_TRUE;
  PetscCall(PetscPrintf(run->comm,
                        "spectrum: %s %" PetscInt_FMT " eigenpairs in %" PetscInt_FMT " iterations, %" PetscInt_FMT " Hessian products, %.2f s\n",
                        PartNames[part], e->nconv, e->its, e->hvp, e->time));
  if (e->certified >= 0)
    PetscCall(
        PetscPrintf(run->comm,
                    "spectrum:   multiplicity check: %" PetscInt_FMT " deflated solve(s), %" PetscInt_FMT " Hessian products; %s; %" PetscInt_FMT
                    " cop(ies) the first solve had missed; %" PetscInt_FMT " pair(s) found within %.1e of lambda_%" PetscInt_FMT "\n",
                    e->solves - 1, e->check_hvp, e->certified ? "no eigenvalue beyond the k-th is missing" : "NOT made sure that none is missing",
                    e->added, e->kth_copies, (double)e->cluster_tol, e->nconv));
  for (PetscInt i = 0; i < e->nconv; i++)
    PetscCall(PetscPrintf(run->comm, "spectrum:   lambda %+.10e  ||Hv - lambda v|| %.2e  (/max(|lambda|,||H||) %.2e)\n", (double)e->values[i],
                          (double)e->residuals[i], (double)e->relres[i]));
  PetscFunctionReturn(0);
}

/* ---- exact Morse index from the dense Hessian ---- */

static PetscErrorCode DenseSpectrum(LandStage s)
{
  Spectrum      *sp  = (Spectrum *)s->data;
  LandRun        run = s->run;
  PetscInt       P   = run->obj->P, lo, hi;
  PetscMPIInt    rank;
  Vec            e, he, h0;
  VecScatter     sc;
  PetscReal     *A = NULL, amax = 0, asym = 0;
  PetscLogDouble t0, t1;

  PetscFunctionBeginUser;
  sp->part = PART_DENSE;
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  PetscCall(PetscTime(&t0));
  PetscCall(VecDuplicate(run->theta, &e));
  PetscCall(VecDuplicate(run->theta, &he));
  PetscCall(VecScatterCreateToZero(he, &sc, &h0));
  PetscCall(VecGetOwnershipRange(e, &lo, &hi));
  if (rank == 0) PetscCall(PetscMalloc1((size_t)P * P, &A));
  for (PetscInt j = 0; j < P; j++) {
    /* column j = H e_j */
    PetscCall(VecZeroEntries(e));
    if (j >= lo && j < hi) PetscCall(VecSetValue(e, j, 1.0, INSERT_VALUES));
    PetscCall(VecAssemblyBegin(e));
    PetscCall(VecAssemblyEnd(e));
    PetscCall(MatMult(sp->H, e, he));
    PetscCall(VecScatterBegin(sc, he, h0, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecScatterEnd(sc, he, h0, INSERT_VALUES, SCATTER_FORWARD));
    if (rank == 0) {
      const PetscReal *c;
      PetscCall(VecGetArrayRead(h0, &c));
      PetscCall(PetscArraycpy(A + (size_t)j * P, c, P));
      PetscCall(VecRestoreArrayRead(h0, &c));
    }
    if ((j + 1) % 1000 == 0) PetscCall(PetscPrintf(run->comm, "spectrum: dense Hessian, %" PetscInt_FMT " of %" PetscInt_FMT " columns\n", j + 1, P));
  }
  PetscCall(PetscMalloc1(P, &sp->dense_eigs));
  if (rank == 0) {
    PetscBLASInt n, lwork = -1, info;
    PetscReal    wq, *work;
    for (PetscInt i = 0; i < P; i++)
      for (PetscInt j = 0; j < P; j++) {
        amax = PetscMax(amax, PetscAbsReal(A[(size_t)i * P + j]));
        asym = PetscMax(asym, PetscAbsReal(A[(size_t)i * P + j] - A[(size_t)j * P + i]));
      }
    for (PetscInt i = 0; i < P; i++)
      for (PetscInt j = i + 1; j < P; j++) A[(size_t)i * P + j] = A[(size_t)j * P + i] = 0.5 * (A[(size_t)i * P + j] + A[(size_t)j * P + i]);
    PetscCall(PetscBLASIntCast(P, &n));
    PetscCallBLAS("LAPACKsyev", LAPACKsyev_("N", "L", &n, A, &n, sp->dense_eigs, &wq, &lwork, &info));
    lwork = (PetscBLASInt)wq;
    PetscCall(PetscMalloc1(lwork, &work));
    PetscCallBLAS("LAPACKsyev", LAPACKsyev_("N", "L", &n, A, &n, sp->dense_eigs, work, &lwork, &info));
    PetscCall(PetscFree(work));
    PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK dsyev failed with info %d", (int)info);
    sp->dense_asym = amax > 0 ? asym / amax : 0;
  }
  PetscCallMPI(MPI_Bcast(sp->dense_eigs, (PetscMPIInt)P, MPIU_REAL, 0, run->comm));
  PetscCallMPI(MPI_Bcast(&sp->dense_asym, 1, MPIU_REAL, 0, run->comm));
  PetscCall(PetscFree(A));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&h0));
  PetscCall(VecDestroy(&e));
  PetscCall(VecDestroy(&he));
  PetscCall(PetscTime(&t1));
  sp->done[PART_DENSE] = PETSC_TRUE;
  PetscCall(PetscPrintf(run->comm, "spectrum: dense Hessian (P = %" PetscInt_FMT "): all eigenvalues in %.2f s, relative asymmetry %.2e\n", P,
                        t1 - t0, (double)sp->dense_asym));
  PetscFunctionReturn(0);
}

/* ---- stochastic Lanczos quadrature and Hutchinson's trace ---- */

/* A Rademacher probe: entry i depends only on (seed, stream, global index i), not on the ranks. */
static PetscErrorCode Rademacher(Vec z, PetscInt64 seed, PetscInt64 stream)
{
  PetscInt   lo, hi;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetOwnershipRange(z, &lo, &hi));
  PetscCall(VecGetArray(z, &a));
  for (PetscInt i = lo; i < hi; i++) a[i - lo] = LandRandUniform(seed, stream, i) < 0.5 ? -1.0 : 1.0;
  PetscCall(VecRestoreArray(z, &a));
  PetscFunctionReturn(0);
}

/* Lanczos with full reorthogonalisation on SLEPc's BV (Gram-Schmidt with refinement), then the
   Gauss quadrature of the tridiagonal T: nodes = eigenvalues of T, weights = squared first
   components of its eigenvectors. Written here because SLEPc has no SLQ; the numerics (BV
   orthogonalisation, LAPACK dsteqr) are the libraries'. */
static PetscErrorCode SLQProbe(LandStage s, PetscInt probe, PetscReal *nodes, PetscReal *weights)
{
  Spectrum    *sp  = (Spectrum *)s->data;
  LandRun      run = s->run;
  PetscInt     m   = sp->slq_steps, k;
  BV           bv;
  Vec          v, w;
  PetscReal   *alpha, *beta, *Z, *work, *h, nrm;
  PetscBool    lindep;
  PetscBLASInt n, ldz, info;

  PetscFunctionBeginUser;
  PetscCall(BVCreate(run->comm, &bv));
  PetscCall(BVSetSizesFromVec(bv, run->theta, m + 1));
  PetscCall(BVSetFromOptions(bv));
  PetscCall(PetscCalloc5(m, &alpha, m, &beta, m * m, &Z, 2 * m, &work, m + 1, &h));
  PetscCall(VecDuplicate(run->theta, &w));
  PetscCall(BVGetColumn(bv, 0, &v));
  PetscCall(Rademacher(v, run->seed, 1000 + probe));
  PetscCall(BVRestoreColumn(bv, 0, &v));
  PetscCall(BVNormColumn(bv, 0, NORM_2, &nrm));
  PetscCall(BVScaleColumn(bv, 0, 1.0 / nrm));
  for (k = 0; k < m; k++) {
    PetscCall(BVSetActiveColumns(bv, 0, k + 1));
    PetscCall(BVGetColumn(bv, k, &v));
    PetscCall(MatMult(sp->H, v, w));
    PetscCall(BVRestoreColumn(bv, k, &v));
    PetscCall(BVInsertVec(bv, k + 1, w));
    PetscCall(BVOrthogonalizeColumn(bv, k + 1, h, &nrm, &lindep));
    alpha[k] = h[k];
    beta[k]  = nrm;
    if (lindep || nrm < 1e-12 * PetscAbsReal(alpha[k])) {
      k++; /* an invariant subspace: the quadrature is exact with k nodes */
      break;
    }
    PetscCall(BVScaleColumn(bv, k + 1, 1.0 / nrm));
  }
  PetscCall(PetscBLASIntCast(k, &n));
  ldz = n;
  PetscCallBLAS("LAPACKsteqr", LAPACKsteqr_("I", &n, alpha, beta, Z, &ldz, work, &info));
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK dsteqr failed with info %d", (int)info);
  for (PetscInt j = 0; j < sp->slq_steps; j++) {
    nodes[j]   = j < k ? alpha[j] : 0;
    weights[j] = j < k ? Z[j * ldz] * Z[j * ldz] : 0; /* first component of eigenvector j */
  }
  PetscCall(PetscFree5(alpha, beta, Z, work, h));
  PetscCall(VecDestroy(&w));
  PetscCall(BVDestroy(&bv));
  PetscFunctionReturn(0);
}

static PetscErrorCode RunSLQ(LandStage s)
{
  Spectrum *sp  = (Spectrum *)s->data;
  LandRun   run = s->run;
  PetscBool halt;

  PetscFunctionBeginUser;
  sp->part = PART_SLQ;
  if (!sp->slq_nodes) {
    PetscCall(PetscCalloc1(sp->slq_probes * sp->slq_steps, &sp->slq_nodes));
    PetscCall(PetscCalloc1(sp->slq_probes * sp->slq_steps, &sp->slq_weights));
  }
  PetscCall(PetscLogEventBegin(LAND_SLQ, 0, 0, 0, 0));
  for (; sp->slq_done < sp->slq_probes;) {
    PetscInt p = sp->slq_done;
    PetscCall(SLQProbe(s, p, sp->slq_nodes + p * sp->slq_steps, sp->slq_weights + p * sp->slq_steps));
    sp->slq_done++;
    PetscCall(PetscPrintf(run->comm, "spectrum: SLQ probe %" PetscInt_FMT " of %" PetscInt_FMT " done\n", sp->slq_done, sp->slq_probes));
    PetscCall(LandCheckpointPoll(run->ckpt, s, sp->slq_done, &halt));
    if (halt) break;
  }
  PetscCall(PetscLogEventEnd(LAND_SLQ, 0, 0, 0, 0));
  if (sp->slq_done == sp->slq_probes) sp->done[PART_SLQ] = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscErrorCode RunTrace(LandStage s)
{
  Spectrum *sp  = (Spectrum *)s->data;
  LandRun   run = s->run;
  Vec       z, hz;
  PetscBool halt;

  PetscFunctionBeginUser;
  sp->part = PART_TRACE;
  PetscCall(VecDuplicate(run->theta, &z));
  PetscCall(VecDuplicate(run->theta, &hz));
  for (; sp->trace_done < sp->trace_probes;) {
    PetscReal q, dd[2] = {0, 0};
    PetscCall(Rademacher(z, run->seed, 500000 + sp->trace_done));
    PetscCall(MatMult(sp->H, z, hz));
    PetscCall(VecDot(z, hz, &q));
    LandDDAccumulate(1, &q, sp->trace_sum);
    dd[0] = q * q;
    LandDDAccumulate(1, dd, sp->trace_sq);
    sp->trace_done++;
    PetscCall(LandCheckpointPoll(run->ckpt, s, sp->trace_done, &halt));
    if (halt) break;
  }
  PetscCall(VecDestroy(&z));
  PetscCall(VecDestroy(&hz));
  if (sp->trace_done == sp->trace_probes) sp->done[PART_TRACE] = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* ---- classification and results ---- */

static PetscErrorCode Classify(LandStage s)
{
  Spectrum   *sp  = (Spectrum *)s->data;
  LandRun     run = s->run;
  LandResults R   = run->results;
  Vec         g, hg;
  PetscReal   f, gnorm, hgnorm, hnorm = 0, lmin = NAN, lmax = NAN, ztol, flat = NAN, negmass = NAN;
  PetscInt    nneg = 0, nzero = 0, npos = 0, P = run->obj->P;
  PetscBool   exact = sp->done[PART_DENSE], have_min;
  char        verdict[256], basis[512];

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(run->theta, &g));
  PetscCall(VecDuplicate(run->theta, &hg));
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, g));
  PetscCall(LandVecNorm2(g, &gnorm));
  PetscCall(MatMult(sp->H, g, hg));
  PetscCall(LandVecNorm2(hg, &hgnorm));
  /* what is known of the extremes */
  if (exact) {
    lmin = sp->dense_eigs[0];
    lmax = sp->dense_eigs[P - 1];
  } else {
    if (sp->done[PART_SMALLEST] && sp->ext[0].nconv) lmin = sp->ext[0].values[0];
    if (sp->done[PART_LARGEST] && sp->ext[1].nconv) lmax = sp->ext[1].values[0];
  }
  have_min = (PetscBool)!PetscIsNanReal(lmin);
  if (!PetscIsNanReal(lmin)) hnorm = PetscAbsReal(lmin);
  if (!PetscIsNanReal(lmax)) hnorm = PetscMax(hnorm, PetscAbsReal(lmax));
  ztol = sp->zero_tol * hnorm;
  if (exact) {
    for (PetscInt i = 0; i < P; i++) {
      if (sp->dense_eigs[i] < -ztol)
        nneg++;
      else if (sp->dense_eigs[i] <= ztol)
        nzero++;
      else
        npos++;
    }
  } else if (sp->done[PART_SMALLEST]) {
    for (PetscInt i = 0; i < sp->ext[0].nconv; i++) {
      if (sp->ext[0].values[i] < -ztol)
        nneg++;
      else if (sp->ext[0].values[i] <= ztol)
        nzero++;
    }
  }
  if (sp->done[PART_SLQ] && sp->slq_probes) {
    PetscReal m = 0;
    for (PetscInt p = 0; p < sp->slq_probes; p++)
      for (PetscInt j = 0; j < sp->slq_steps; j++)
        if (sp->slq_nodes[p * sp->slq_steps + j] < -ztol) m += sp->slq_weights[p * sp->slq_steps + j];
    negmass = m / sp->slq_probes;
  }
  if (hnorm > 0 && gnorm > 0) flat = hgnorm / (hnorm * gnorm);

  if (gnorm > sp->grad_tol) {
    if (!PetscIsNanReal(flat) && flat <= sp->flat_tol)
      PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "gradient-flat"));
    else
      PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "not stationary"));
  } else if (!have_min) {
    PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "stationary, unclassified (no smallest eigenvalues: -spectrum_which)"));
  } else if (nneg > 0) {
    PetscBool lower = (PetscBool)(!exact && nneg == sp->ext[0].nconv);
    PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "strict saddle of index %s%" PetscInt_FMT, lower ? ">= " : "", nneg));
  } else if (nzero > 0) {
    PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "degenerate"));
  } else {
    PetscCall(PetscSNPrintf(verdict, sizeof(verdict), "local minimum"));
  }
  {
    /* only what was computed: -spectrum_which largest has no lambda_min, a zero gradient no flat ratio */
    char   lams[96] = "", counts[128] = "", flats[96] = "";
    size_t len;
    if (!PetscIsNanReal(lmin)) PetscCall(PetscSNPrintf(lams, sizeof(lams), "lambda_min = %.6e", (double)lmin));
    if (!PetscIsNanReal(lmax)) {
      PetscCall(PetscStrlen(lams, &len));
      PetscCall(PetscSNPrintf(lams + len, sizeof(lams) - len, "%slambda_max = %.6e", len ? ", " : "", (double)lmax));
    }
    if (exact)
      PetscCall(PetscSNPrintf(counts, sizeof(counts),
                              "; all %" PetscInt_FMT " eigenvalues: %" PetscInt_FMT " negative, %" PetscInt_FMT " zero, %" PetscInt_FMT " positive",
                              P, nneg, nzero, npos));
    else if (sp->done[PART_SMALLEST])
      PetscCall(PetscSNPrintf(counts, sizeof(counts),
                              "; of the %" PetscInt_FMT " smallest computed: %" PetscInt_FMT " negative, %" PetscInt_FMT " zero", sp->ext[0].nconv,
                              nneg, nzero));
    if (!PetscIsNanReal(flat))
      PetscCall(PetscSNPrintf(flats, sizeof(flats), "; ||H g||/(||H|| ||g||) = %.3e (flat_tol %.1e)", (double)flat, (double)sp->flat_tol));
    PetscCall(PetscSNPrintf(basis, sizeof(basis), "||grad L|| = %.3e (grad_tol %.1e); %s%szero band |lambda| <= %.3e%s%s", (double)gnorm,
                            (double)sp->grad_tol, lams, lams[0] ? "; " : "", (double)ztol, counts, flats));
  }
  PetscCall(PetscPrintf(run->comm, "spectrum: verdict: %s\nspectrum:   because %s\n", verdict, basis));
  if (!PetscIsNanReal(negmass))
    PetscCall(PetscPrintf(run->comm, "spectrum:   SLQ negative mass %.4e: about %.1f negative eigenvalues of %" PetscInt_FMT "\n", (double)negmass,
                          (double)(negmass * P), P));

  {
    const char *grp = s->group;
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "loss"), 1, 1, &f));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "gradient_norm"), 1, 1, &gnorm));
    PetscCall(LandResultsWriteAttrString(R, grp, "verdict", verdict));
    PetscCall(LandResultsWriteAttrString(R, grp, "verdict_basis", basis));
    PetscCall(LandResultsWriteAttrReal(R, grp, "gradient_norm", gnorm));
    PetscCall(LandResultsWriteAttrReal(R, grp, "grad_tol", sp->grad_tol));
    PetscCall(LandResultsWriteAttrReal(R, grp, "zero_tol", sp->zero_tol));
    PetscCall(LandResultsWriteAttrReal(R, grp, "zero_band", ztol));
    PetscCall(LandResultsWriteAttrReal(R, grp, "flat_tol", sp->flat_tol));
    PetscCall(LandResultsWriteAttrReal(R, grp, "flat_ratio", flat));
    PetscCall(LandResultsWriteAttrReal(R, grp, "lambda_min", lmin));
    PetscCall(LandResultsWriteAttrReal(R, grp, "lambda_max", lmax));
    PetscCall(LandResultsWriteAttrInt(R, grp, "num_negative", nneg));
    PetscCall(LandResultsWriteAttrInt(R, grp, "num_zero", nzero));
    PetscCall(LandResultsWriteAttrInt(R, grp, "num_positive", exact ? npos : -1));
    PetscCall(LandResultsWriteAttrInt(R, grp, "morse_exact", exact));
    PetscCall(LandResultsWriteAttrInt(R, grp, "num_params", P));
    if (!PetscIsNanReal(negmass)) {
      PetscCall(LandResultsWriteAttrReal(R, grp, "slq_negative_mass", negmass));
      PetscCall(LandResultsWriteAttrReal(R, grp, "slq_negative_count", negmass * P));
    }
  }
  PetscCall(VecDestroy(&g));
  PetscCall(VecDestroy(&hg));
  PetscFunctionReturn(0);
}

/* The k values against the dense eigenvalues, position by position (P <= -spectrum_dense_max). The
   dense ones are exact up to dsyev's backward error, so a difference above the pair's own error
   bound, max(tol max(|lambda|, ||H||), ||H v - lambda v||) + P eps ||H||, means that a copy is
   missing or a pair misconverged: said in the file and printed, never left silent. Collective. */
static PetscErrorCode ReconcileDense(LandStage s, PetscInt part)
{
  Spectrum   *sp  = (Spectrum *)s->data;
  LandRun     run = s->run;
  LandResults R   = run->results;
  Extreme    *e   = &sp->ext[part];
  PetscInt    P = run->obj->P, bad = -1, dense_copies = 0;
  PetscReal  *de = sp->dense_eigs, hn, tol, maxdiff = 0, bad_bound = 0;
  char        grp[128], sentence[640];

  PetscFunctionBeginUser;
  if (!e->nconv) PetscFunctionReturn(0);
  hn = PetscMax(PetscMax(PetscAbsReal(de[0]), PetscAbsReal(de[P - 1])), PETSC_MACHINE_EPSILON);
  PetscCall(EPSGetTolerances(sp->eps, &tol, NULL));
  for (PetscInt i = 0; i < e->nconv; i++) {
    PetscReal d     = part == PART_SMALLEST ? de[i] : de[P - 1 - i];
    PetscReal diff  = PetscAbsReal(e->values[i] - d);
    PetscReal bound = PetscMax(tol * PetscMax(PetscAbsReal(e->values[i]), hn), e->residuals[i]) + P * PETSC_MACHINE_EPSILON * hn;
    maxdiff         = PetscMax(maxdiff, diff);
    if (diff > bound && bad < 0) {
      bad       = i;
      bad_bound = bound;
    }
  }
  {
    /* how many copies the dense spectrum has of its k-th value */
    PetscReal kth = part == PART_SMALLEST ? de[e->nconv - 1] : de[P - e->nconv];
    for (PetscInt i = 0; i < P; i++)
      if (PetscAbsReal(de[i] - kth) <= e->cluster_tol) dense_copies++;
  }
  if (bad < 0)
    PetscCall(PetscSNPrintf(sentence, sizeof(sentence),
                            "the %" PetscInt_FMT " values equal the %" PetscInt_FMT " %s dense eigenvalues position by position, copies included: "
                            "max |difference| %.1e ||H||; the dense lambda_%" PetscInt_FMT " has %" PetscInt_FMT " cop(ies) within %.1e",
                            e->nconv, e->nconv, PartNames[part], (double)(maxdiff / hn), e->nconv, dense_copies, (double)e->cluster_tol));
  else {
    PetscReal d = part == PART_SMALLEST ? de[bad] : de[P - 1 - bad];
    PetscCall(
        PetscSNPrintf(sentence, sizeof(sentence),
                      "lambda_%" PetscInt_FMT " = %.10e against the dense %.10e, %.1e ||H|| apart (bound %.1e ||H||): %s; the dense eigenvalues "
                      "(dense/eigenvalues) are exact",
                      bad + 1, (double)e->values[bad], (double)d, (double)(PetscAbsReal(e->values[bad] - d) / hn), (double)(bad_bound / hn),
                      e->certified < 0 ? "a copy of a multiple eigenvalue is missing (the multiplicity check was off: -spectrum_multiplicity_check)"
                      : e->certified == 0 ? "a copy of a multiple eigenvalue is missing (the multiplicity check could not make sure)"
                                          : "a pair misconverged or a copy is missing although the multiplicity check found none"));
  }
  PetscCall(PetscPrintf(run->comm, "spectrum: %s%s: %s\n", bad < 0 ? "" : "WARNING: ", PartNames[part], sentence));
  PetscCall(PetscStrncpy(grp, LandStagePath(s, PartNames[part]), sizeof(grp)));
  PetscCall(LandResultsWriteAttrInt(R, grp, "dense_agree", bad < 0));
  PetscCall(LandResultsWriteAttrReal(R, grp, "dense_max_difference", maxdiff / hn));
  PetscCall(LandResultsWriteAttrString(R, grp, "dense_agreement", sentence));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteResults(LandStage s)
{
  Spectrum   *sp  = (Spectrum *)s->data;
  LandRun     run = s->run;
  LandResults R   = run->results;
  char        sub[64];

  PetscFunctionBeginUser;
  for (PetscInt p = PART_SMALLEST; p <= PART_LARGEST; p++) {
    Extreme  *e = &sp->ext[p];
    PetscReal info[4];
    if (!sp->done[p]) continue;
    PetscCall(PetscSNPrintf(sub, sizeof(sub), "%s/values", PartNames[p]));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, sub), 1, e->nconv, e->values));
    PetscCall(PetscSNPrintf(sub, sizeof(sub), "%s/residuals", PartNames[p]));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, sub), 1, e->nconv, e->residuals));
    PetscCall(PetscSNPrintf(sub, sizeof(sub), "%s/relative_residuals", PartNames[p]));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, sub), 1, e->nconv, e->relres));
    info[0] = e->its;
    info[1] = e->hvp;
    info[2] = e->time;
    info[3] = e->nconv;
    PetscCall(PetscSNPrintf(sub, sizeof(sub), "%s/solver", PartNames[p]));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, sub), 1, 4, info));
    {
      char grp[128];
      PetscCall(PetscStrncpy(grp, LandStagePath(s, PartNames[p]), sizeof(grp)));
      PetscCall(LandResultsWriteAttrInt(R, grp, "multiplicity_check", e->certified));
      PetscCall(LandResultsWriteAttrInt(R, grp, "deflated_solves", PetscMax(e->solves - 1, 0)));
      PetscCall(LandResultsWriteAttrInt(R, grp, "deflated_iterations", e->check_its));
      PetscCall(LandResultsWriteAttrInt(R, grp, "deflated_products", e->check_hvp));
      PetscCall(LandResultsWriteAttrInt(R, grp, "copies_added", e->added));
      PetscCall(LandResultsWriteAttrInt(R, grp, "kth_copies", e->kth_copies));
      PetscCall(LandResultsWriteAttrReal(R, grp, "cluster_tol", e->cluster_tol));
    }
    if (sp->done[PART_DENSE]) PetscCall(ReconcileDense(s, p));
    if (sp->save_vectors)
      for (PetscInt i = 0; i < e->nconv; i++) {
        PetscCall(PetscSNPrintf(sub, sizeof(sub), "%s/vector_%" PetscInt_FMT, PartNames[p], i));
        PetscCall(LandResultsWriteVec(R, LandStagePath(s, sub), sp->vecs[p][i]));
      }
  }
  if (sp->done[PART_DENSE]) {
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "dense/eigenvalues"), 1, run->obj->P, sp->dense_eigs));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "dense/asymmetry"), 1, 1, &sp->dense_asym));
  }
  if (sp->done[PART_SLQ] && sp->slq_probes) {
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "slq/nodes"), sp->slq_probes, sp->slq_steps, sp->slq_nodes));
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "slq/weights"), sp->slq_probes, sp->slq_steps, sp->slq_weights));
  }
  if (sp->done[PART_TRACE] && sp->trace_probes) {
    PetscReal mean = sp->trace_sum[0] / sp->trace_probes, var, se, out[3];
    var            = sp->trace_probes > 1 ? (sp->trace_sq[0] - sp->trace_probes * mean * mean) / (sp->trace_probes - 1) : NAN;
    se             = sp->trace_probes > 1 ? PetscSqrtReal(PetscMax(var, 0) / sp->trace_probes) : NAN;
    out[0]         = mean;
    out[1]         = se;
    out[2]         = sp->trace_probes;
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "trace"), 1, 3, out));
    PetscCall(
        PetscPrintf(run->comm, "spectrum: Hutchinson trace %.6e +- %.2e (%" PetscInt_FMT " probes)\n", (double)mean, (double)se, sp->trace_probes));
  }
  {
    PetscReal hvp = (PetscReal)(run->obj->nhvp - sp->hvp_start);
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "hessian_products"), 1, 1, &hvp));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Spectrum(LandStage s)
{
  Spectrum *sp  = (Spectrum *)s->data;
  LandRun   run = s->run;

  PetscFunctionBeginUser;
  sp->hvp_start = run->obj->nhvp;
  if (!run->stage_resumed) {
    /* a fresh start of the stage (also after an earlier instance's state) */
    PetscCall(PetscArrayzero(sp->done, NPART));
  }
  PetscCall(MatDestroy(&sp->H));
  PetscCall(LandObjectiveCreateHessian(run->obj, run->theta, &sp->H));
  /* the largest first: they converge fast and give ||H||, the scale of the test for the smallest */
  if ((sp->which == WHICH_BOTH || sp->which == WHICH_LARGEST) && !sp->done[PART_LARGEST]) PetscCall(SolveExtreme(s, PART_LARGEST));
  if (run->stop) PetscFunctionReturn(0);
  if ((sp->which == WHICH_BOTH || sp->which == WHICH_SMALLEST) && !sp->done[PART_SMALLEST]) PetscCall(SolveExtreme(s, PART_SMALLEST));
  if (run->stop) PetscFunctionReturn(0);
  if (run->obj->P <= sp->dense_max && !sp->done[PART_DENSE]) PetscCall(DenseSpectrum(s));
  if (sp->slq_probes > 0 && !sp->done[PART_SLQ]) PetscCall(RunSLQ(s));
  if (run->stop) PetscFunctionReturn(0);
  if (sp->trace_probes > 0 && !sp->done[PART_TRACE]) PetscCall(RunTrace(s));
  if (run->stop) PetscFunctionReturn(0);
  PetscCall(WriteResults(s));
  PetscCall(Classify(s));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Spectrum(LandStage s)
{
  Spectrum *sp = (Spectrum *)s->data;

  PetscFunctionBeginUser;
  for (PetscInt p = 0; p < 2; p++)
    if (sp->vecs[p]) PetscCall(VecDestroyVecs(PetscMax(sp->ext[p].nconv, 1), &sp->vecs[p]));
  if (sp->warm) PetscCall(VecDestroyVecs(sp->nwarm, &sp->warm));
  PetscCall(LockTruncate(sp, 0));
  PetscCall(EPSDestroy(&sp->deflated));
  PetscCall(PetscFree(sp->lock_values));
  PetscCall(PetscFree(sp->lock_origin));
  PetscCall(PetscFree(sp->lock_vecs));
  PetscCall(EPSDestroy(&sp->eps));
  PetscCall(MatDestroy(&sp->H));
  PetscCall(PetscFree(sp->dense_eigs));
  PetscCall(PetscFree(sp->slq_nodes));
  PetscCall(PetscFree(sp->slq_weights));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Spectrum(LandStage s)
{
  Spectrum *sp;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sp));
  sp->which              = WHICH_BOTH;
  sp->dense_max          = 5000;
  sp->zero_tol           = 1e-8;
  sp->grad_tol           = 1e-6;
  sp->flat_tol           = 1e-3;
  sp->slq_probes         = 0;
  sp->slq_steps          = 80;
  sp->trace_probes       = 0;
  sp->save_vectors       = PETSC_TRUE;
  sp->multiplicity_check = PETSC_TRUE;
  sp->part               = -1;
  s->data                = sp;
  s->setfromoptions      = SetFromOptions_Spectrum;
  s->run_stage           = Run_Spectrum;
  s->destroy             = Destroy_Spectrum;
  s->save                = Save_Spectrum;
  s->load                = Load_Spectrum;
  PetscFunctionReturn(0);
}
