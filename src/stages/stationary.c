/* Stage 'stationary': find a point where grad L = 0, saddles included.
   - newton (default): SNES on F(theta) = grad L(theta) with the exact Hessian shell as Jacobian and
     MINRES (symmetric, indefinite) with no preconditioner as the linear solver; the line search
     works on ||F||^2, so the iteration is attracted by critical points of any index, not only by
     minima. Every -stationary_snes_*, -stationary_ksp_*, -stationary_pc_* option applies.
   - gradnorm: TAO minimises phi = 1/2 ||grad L||^2, whose gradient H grad L costs one more product.
   At the end the stage says whether the point was reached (||grad L|| <= -stationary_grad_tol) or
   is gradient-flat (Frye et al.): the gradient norm stalls while grad L lies in the near-null
   space of H, measured by ||H g|| / (||H|| ||g||) with ||H|| from a SLEPc estimate. */
#include <landscape/impl.h>
#include <petscsnes.h>
#include <petsctime.h>

typedef enum { STAT_NEWTON, STAT_GRADNORM } StatType;
static const char *const StatTypes[] = {"newton", "gradnorm", "StatType", "STAT_", NULL};

typedef struct {
  StatType  type;
  PetscReal grad_tol, flat_tol, stall;
  PetscInt  stall_window, max_it;
  PetscBool monitor, reached, halt;
  SNES      snes;
  Tao       tao;
  Mat       H;
  Vec       g, g2;
  Mat       GN;
  /* history rows: iteration, loss, ||grad L||, linear iterations */
  PetscInt   nhist, maxhist, it0, it;
  PetscReal *hist;
} Stationary;

#define NHIST 4

static PetscErrorCode Record(LandStage s, PetscInt it, PetscReal loss, PetscReal gnorm, PetscInt lits)
{
  Stationary *st = (Stationary *)s->data;

  PetscFunctionBeginUser;
  if (st->nhist == st->maxhist) {
    st->maxhist = 2 * st->maxhist + 64;
    PetscCall(PetscRealloc(sizeof(PetscReal) * NHIST * st->maxhist, &st->hist));
  }
  st->hist[NHIST * st->nhist + 0] = it;
  st->hist[NHIST * st->nhist + 1] = loss;
  st->hist[NHIST * st->nhist + 2] = gnorm;
  st->hist[NHIST * st->nhist + 3] = lits;
  st->nhist++;
  if (st->monitor)
    PetscCall(PetscPrintf(s->run->comm, "stationary: it %4" PetscInt_FMT "  loss %.10e  |grad L| %.4e  linear its %" PetscInt_FMT "\n", it,
                          (double)loss, (double)gnorm, lits));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetFromOptions_Stationary(LandStage s)
{
  Stationary *st = (Stationary *)s->data;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage stationary: Newton on grad L = 0 (SNES + MINRES) or minimisation of 1/2 ||grad L||^2 (TAO)", NULL);
  PetscCall(PetscOptionsEnum(
      "-stationary_type",
      "newton (SNES, -stationary_snes_*/ksp_*/pc_*) or gradnorm (TAO, default nls with the Gauss-Newton Hessian H^2, -stationary_tao_*)", "",
      StatTypes, (PetscEnum)st->type, (PetscEnum *)&st->type, NULL));
  PetscCall(
      PetscOptionsReal("-stationary_grad_tol", "Stop when ||grad L|| <= grad_tol: the point is reached", "", st->grad_tol, &st->grad_tol, NULL));
  PetscCall(PetscOptionsInt("-stationary_max_it", "Maximum number of Newton or TAO iterations", "", st->max_it, &st->max_it, NULL));
  PetscCall(PetscOptionsReal("-stationary_flat_tol", "Gradient-flat when ||H g|| <= flat_tol ||H|| ||g|| at the end and the norm stalled", "",
                             st->flat_tol, &st->flat_tol, NULL));
  PetscCall(PetscOptionsInt("-stationary_stall_window", "Iterations over which a stall of ||grad L|| is judged", "", st->stall_window,
                            &st->stall_window, NULL));
  PetscCall(PetscOptionsReal("-stationary_stall_factor", "Stalled when ||grad L|| fell by less than this factor over the window", "", st->stall,
                             &st->stall, NULL));
  PetscCall(PetscOptionsBool("-stationary_monitor", "Print one line per iteration", "", st->monitor, &st->monitor, NULL));
  PetscOptionsEnd();
  PetscCheck(st->max_it >= 0 && st->grad_tol >= 0 && st->stall_window >= 1 && st->stall > 1, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-stationary_max_it, -stationary_grad_tol must be >= 0, -stationary_stall_window >= 1, -stationary_stall_factor > 1");
  /* the solvers read their options now, so that a bad value fails before any work */
  if (st->type == STAT_NEWTON) {
    KSP ksp;
    PC  pc;
    PetscCall(SNESCreate(s->run->comm, &st->snes));
    PetscCall(SNESSetOptionsPrefix(st->snes, "stationary_"));
    PetscCall(SNESSetTolerances(st->snes, 0.0, 0.0, 0.0, st->max_it, PETSC_MAX_INT));
    PetscCall(SNESSetMaxLinearSolveFailures(st->snes, PETSC_MAX_INT)); /* an unconverged MINRES step is still an inexact Newton step */
    PetscCall(SNESGetKSP(st->snes, &ksp));
    PetscCall(KSPSetType(ksp, KSPMINRES));
    PetscCall(KSPSetTolerances(ksp, 1e-3, PETSC_DEFAULT, PETSC_DEFAULT, 500)); /* inexact Newton */
    {
      /* the critical-point line search looks for F . d = 0 along the step, i.e. a critical point of
         L on the line, not a decrease of ||F||: it follows Newton into saddles and does not give
         up when MINRES's inexact step is not a descent direction of ||F||^2 */
      SNESLineSearch ls;
      PetscCall(SNESGetLineSearch(st->snes, &ls));
      PetscCall(SNESLineSearchSetType(ls, SNESLINESEARCHCP));
      /* its default absolute floor on F . d stops Newton short of -stationary_grad_tol */
      PetscCall(SNESLineSearchSetTolerances(ls, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 0.0, PETSC_DEFAULT, PETSC_DEFAULT));
    }
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCNONE));
    PetscCall(SNESSetFromOptions(st->snes));
  } else {
    PetscCall(TaoCreate(s->run->comm, &st->tao));
    PetscCall(TaoSetOptionsPrefix(st->tao, "stationary_"));
    PetscCall(TaoSetType(st->tao, TAONLS));
    PetscCall(TaoSetMaximumIterations(st->tao, st->max_it));
    PetscCall(TaoSetTolerances(st->tao, 0.0, 0.0, 0.0));
    PetscCall(TaoSetFromOptions(st->tao));
  }
  PetscFunctionReturn(0);
}

/* ---- Newton: F = grad L, J = H ---- */

static PetscErrorCode FormFunction(SNES snes, Vec x, Vec F, void *ctx)
{
  LandStage s = (LandStage)ctx;
  PetscReal f;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveEvaluate(s->run->obj, x, &f, F));
  PetscFunctionReturn(0);
}

static PetscErrorCode FormJacobian(SNES snes, Vec x, Mat J, Mat P, void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(LandObjectiveHessianSetPoint(J, x));
  PetscFunctionReturn(0);
}

/* Progress, history and the checkpoint poll; stop when ||grad L|| <= grad_tol. */
static PetscErrorCode Monitor(LandStage s, PetscInt it, Vec x, PetscInt lits, PetscBool *halt, PetscBool *reached)
{
  Stationary *st = (Stationary *)s->data;
  PetscReal   f, gnorm;

  PetscFunctionBeginUser;
  st->it = st->it0 + it;
  PetscCall(LandObjectiveEvaluate(s->run->obj, x, &f, st->g));
  PetscCall(LandVecNorm2(st->g, &gnorm));
  if (!(it == 0 && st->nhist > 0)) PetscCall(Record(s, st->it, f, gnorm, lits));
  *reached = (PetscBool)(gnorm <= st->grad_tol);
  *halt    = PETSC_FALSE;
  if (it > 0 && !*reached) PetscCall(LandCheckpointPoll(s->run->ckpt, s, st->it, halt));
  PetscFunctionReturn(0);
}

static PetscErrorCode SNESMon(SNES snes, PetscInt it, PetscReal fnorm, void *ctx)
{
  LandStage s = (LandStage)ctx;
  Vec       x;
  PetscInt  lits = 0;
  PetscBool halt, reached;

  PetscFunctionBeginUser;
  PetscCall(SNESGetSolution(snes, &x));
  if (it > 0) PetscCall(SNESGetLinearSolveIterations(snes, &lits));
  PetscCall(Monitor(s, it, x, lits, &halt, &reached));
  ((Stationary *)s->data)->reached = reached;
  ((Stationary *)s->data)->halt    = halt;
  PetscFunctionReturn(0);
}

/* SNES's own test, plus: ||grad L|| <= grad_tol (reproducible norm), and a checkpoint stop. */
static PetscErrorCode SNESConverged(SNES snes, PetscInt it, PetscReal xnorm, PetscReal snorm, PetscReal fnorm, SNESConvergedReason *reason, void *ctx)
{
  Stationary *st = (Stationary *)((LandStage)ctx)->data;

  PetscFunctionBeginUser;
  PetscCall(SNESConvergedDefault(snes, it, xnorm, snorm, fnorm, reason, NULL));
  if (st->reached)
    *reason = SNES_CONVERGED_FNORM_ABS;
  else if (st->halt)
    *reason = SNES_CONVERGED_ITS;
  PetscFunctionReturn(0);
}

/* ---- gradient-norm minimisation: phi = 1/2 ||g||^2, grad phi = H g ---- */

static PetscErrorCode GradNormObjGrad(Tao tao, Vec x, PetscReal *phi, Vec G, void *ctx)
{
  LandStage   s  = (LandStage)ctx;
  Stationary *st = (Stationary *)s->data;
  PetscReal   f, gn;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveEvaluate(s->run->obj, x, &f, st->g));
  PetscCall(LandVecNorm2(st->g, &gn));
  *phi = 0.5 * gn * gn;
  PetscCall(LandObjectiveHessianMult(s->run->obj, x, st->g, G));
  PetscFunctionReturn(0);
}

/* The Hessian of phi is H^2 + sum_i g_i d^2 g_i; its Gauss-Newton part H^2 (two products, positive
   semi-definite) is what TAO's Newton methods get. */
static PetscErrorCode GNMult(Mat A, Vec x, Vec y)
{
  LandStage   s;
  Stationary *st;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(A, &s));
  st = (Stationary *)s->data;
  PetscCall(MatMult(st->H, x, st->g2));
  PetscCall(MatMult(st->H, st->g2, y));
  PetscFunctionReturn(0);
}

static PetscErrorCode GradNormHess(Tao tao, Vec x, Mat A, Mat B, void *ctx)
{
  LandStage s = (LandStage)ctx;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveHessianSetPoint(((Stationary *)s->data)->H, x));
  PetscFunctionReturn(0);
}

static PetscErrorCode TaoMon(Tao tao, void *ctx)
{
  LandStage s = (LandStage)ctx;
  Vec       x;
  PetscInt  it;
  PetscBool halt, reached;

  PetscFunctionBeginUser;
  PetscCall(TaoGetSolution(tao, &x));
  PetscCall(TaoGetIterationNumber(tao, &it));
  PetscCall(Monitor(s, it, x, 0, &halt, &reached));
  if (reached || halt) PetscCall(TaoSetConvergedReason(tao, TAO_CONVERGED_USER));
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Stationary(LandStage s)
{
  Stationary    *st  = (Stationary *)s->data;
  LandRun        run = s->run;
  PetscReal      f, gnorm, hnorm = 0, hgnorm, flat = NAN, out[6];
  Vec            hg;
  PetscLogDouble t0, t1;
  PetscBool      stalled = PETSC_FALSE, reached;
  const char    *verdict, *reason;
  PetscInt64     h0 = run->obj->nhvp;

  PetscFunctionBeginUser;
  if (!run->stage_resumed) {
    st->nhist = 0;
    st->it0   = 0;
  } else
    st->it0 = st->it;
  PetscCall(VecDuplicate(run->theta, &st->g));
  PetscCall(LandObjectiveCreateHessian(run->obj, run->theta, &st->H));
  PetscCall(PetscTime(&t0));
  PetscCall(PetscLogEventBegin(LAND_SNESSolve, 0, 0, 0, 0));
  if (st->type == STAT_NEWTON) {
    SNESConvergedReason r;
    Vec                 F;
    PetscCall(VecDuplicate(run->theta, &F));
    PetscCall(SNESSetFunction(st->snes, F, FormFunction, s));
    PetscCall(SNESSetJacobian(st->snes, st->H, st->H, FormJacobian, s));
    PetscCall(SNESMonitorSet(st->snes, SNESMon, s, NULL));
    PetscCall(SNESSetConvergenceTest(st->snes, SNESConverged, s, NULL));
    PetscCall(SNESSolve(st->snes, NULL, run->theta));
    PetscCall(SNESGetConvergedReason(st->snes, &r));
    reason = SNESConvergedReasons[r];
    PetscCall(VecDestroy(&F));
  } else {
    TaoConvergedReason r;
    PetscCall(TaoSetSolution(st->tao, run->theta));
    PetscCall(TaoSetObjectiveAndGradient(st->tao, NULL, GradNormObjGrad, s));
    {
      PetscInt n;
      KSP      ksp;
      PetscCall(VecDuplicate(run->theta, &st->g2));
      PetscCall(VecGetLocalSize(run->theta, &n));
      PetscCall(MatCreateShell(run->comm, n, n, run->obj->P, run->obj->P, s, &st->GN));
      PetscCall(MatShellSetOperation(st->GN, MATOP_MULT, (void (*)(void))GNMult));
      PetscCall(MatSetOption(st->GN, MAT_SYMMETRIC, PETSC_TRUE));
      PetscCall(TaoSetHessian(st->tao, st->GN, st->GN, GradNormHess, s));
      PetscCall(TaoGetKSP(st->tao, &ksp));
      if (ksp) {
        PC          pc;
        PetscBool   set;
        const char *prefix;
        PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
        PetscCall(PetscOptionsHasName(NULL, prefix, "-pc_type", &set));
        PetscCall(KSPGetPC(ksp, &pc));
        if (!set) PetscCall(PCSetType(pc, PCNONE)); /* a shell has no entries to precondition with */
      }
    }
    PetscCall(TaoSetMonitor(st->tao, TaoMon, s, NULL));
    PetscCall(TaoSolve(st->tao));
    PetscCall(TaoGetConvergedReason(st->tao, &r));
    reason = TaoConvergedReasons[r];
  }
  PetscCall(PetscLogEventEnd(LAND_SNESSolve, 0, 0, 0, 0));
  PetscCall(PetscTime(&t1));
  if (run->stop) PetscFunctionReturn(0);

  /* verdict */
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, st->g));
  PetscCall(LandVecNorm2(st->g, &gnorm));
  reached = (PetscBool)(gnorm <= st->grad_tol);
  PetscCall(LandObjectiveHessianSetPoint(st->H, run->theta));
  PetscCall(VecDuplicate(run->theta, &hg));
  PetscCall(MatMult(st->H, st->g, hg));
  PetscCall(LandVecNorm2(hg, &hgnorm));
  PetscCall(VecDestroy(&hg));
  PetscCall(LandHessianNormEstimate(st->H, &hnorm));
  if (hnorm > 0 && gnorm > 0) flat = hgnorm / (hnorm * gnorm);
  if (st->nhist > st->stall_window) {
    PetscReal before = st->hist[NHIST * (st->nhist - 1 - st->stall_window) + 2];
    stalled          = (PetscBool)(before < st->stall * gnorm);
  }
  if (reached)
    verdict = "reached";
  else if (stalled && !PetscIsNanReal(flat) && flat <= st->flat_tol)
    verdict = "gradient-flat";
  else
    verdict = "not reached";
  PetscCall(PetscPrintf(run->comm,
                        "stationary: %s after %" PetscInt_FMT " iterations (%s): loss %.10e, ||grad L|| %.3e (tol %.1e), ||H g||/(||H|| ||g||) %.3e, "
                        "%s, %.2f s\n",
                        verdict, st->it, reason, (double)f, (double)gnorm, (double)st->grad_tol, (double)flat, stalled ? "stalled" : "not stalled",
                        t1 - t0));
  out[0] = f;
  out[1] = gnorm;
  out[2] = st->it;
  out[3] = flat;
  out[4] = (PetscReal)(run->obj->nhvp - h0);
  out[5] = t1 - t0;
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "summary"), 1, 6, out));
  PetscCall(
      LandResultsWriteAttrString(run->results, s->group, "summary_columns", "loss, gradient_norm, iterations, flat_ratio, hessian_products, time"));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "history"), st->nhist, NHIST, st->hist));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "history_columns", "iteration, loss, gradient_norm, linear_iterations"));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "verdict", verdict));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "solver_reason", reason));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "gradient_norm", gnorm));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "grad_tol", st->grad_tol));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "flat_ratio", flat));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "hessian_norm", hnorm));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "iterations", st->it));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "stalled", stalled));
  PetscFunctionReturn(0);
}

static PetscErrorCode Save_Stationary(LandStage s, LandCheckpoint ck)
{
  Stationary *st = (Stationary *)s->data;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointPutInt(ck, "iteration", st->it));
  PetscCall(LandCheckpointPutArray(ck, "history", st->nhist, NHIST, st->hist));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Stationary(LandStage s, LandCheckpoint ck)
{
  Stationary *st = (Stationary *)s->data;
  PetscInt    m, n;
  PetscReal  *h;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointGetInt(ck, "iteration", &st->it));
  PetscCall(LandCheckpointGetArray(ck, "history", &m, &n, &h));
  PetscCheck(m == 0 || n == NHIST, s->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint: bad stationary/history");
  PetscCall(PetscFree(st->hist));
  st->hist    = h;
  st->nhist   = m;
  st->maxhist = m;
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Stationary(LandStage s)
{
  Stationary *st = (Stationary *)s->data;

  PetscFunctionBeginUser;
  PetscCall(SNESDestroy(&st->snes));
  PetscCall(TaoDestroy(&st->tao));
  PetscCall(MatDestroy(&st->H));
  PetscCall(VecDestroy(&st->g));
  PetscCall(VecDestroy(&st->g2));
  PetscCall(MatDestroy(&st->GN));
  PetscCall(PetscFree(st->hist));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Stationary(LandStage s)
{
  Stationary *st;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&st));
  st->type          = STAT_NEWTON;
  st->grad_tol      = 1e-10;
  st->flat_tol      = 1e-3;
  st->stall         = 2.0;
  st->stall_window  = 10;
  st->max_it        = 100;
  st->monitor       = PETSC_TRUE;
  s->data           = st;
  s->setfromoptions = SetFromOptions_Stationary;
  s->run_stage      = Run_Stationary;
  s->destroy        = Destroy_Stationary;
  s->save           = Save_Stationary;
  s->load           = Load_Stationary;
  PetscFunctionReturn(0);
}
