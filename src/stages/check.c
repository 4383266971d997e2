/* Stage 'check': validate the derivatives before anything is measured (the HPCG habit).
   - gradient against central differences of the loss along random directions;
   - Hessian-vector product against central differences of the gradient;
   - symmetry x^T (H y) = y^T (H x);
   - for mse: J^T r equals the gradient of the data term, and the dense and shell Jacobians agree.
   Each verdict is printed and written to /check; a failure is an error (non-zero exit).
   Central differences have error O(h^2 |f'''|) + O(eps |f| / h). At a point on a kink of a
   piecewise-linear activation (relu with zero biases and a sample whose previous layer is all dead
   gives z = b = 0 exactly) the loss is not differentiable and central differences disagree with
   the one-sided convention relu'(0) = 0: check such nets at a generic point, e.g. after training. */
#include <landscape/impl.h>

typedef struct {
  PetscReal tol, h;
  PetscInt  ndir;
  PetscBool jacobian;
} Check;

static PetscErrorCode SetFromOptions_Check(LandStage s)
{
  Check *c = (Check *)s->data;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage check: derivative and symmetry tests", NULL);
  PetscCall(PetscOptionsReal("-check_tol", "Largest accepted relative error", "", c->tol, &c->tol, NULL));
  PetscCall(PetscOptionsReal("-check_h", "Finite-difference step along unit directions", "", c->h, &c->h, NULL));
  PetscCall(PetscOptionsInt("-check_directions", "Number of random directions", "", c->ndir, &c->ndir, NULL));
  PetscCall(
      PetscOptionsBool("-check_jacobian", "Also check the residual Jacobian (mse only; dense: n k P doubles)", "", c->jacobian, &c->jacobian, NULL));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/* Unit random direction; entries depend on (seed, index) only. */
static PetscErrorCode RandomDirection(Vec v, PetscInt64 seed, PetscInt64 stream)
{
  PetscInt   lo, hi;
  PetscReal *a, nrm;

  PetscFunctionBeginUser;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt i = lo; i < hi; i++) a[i - lo] = LandRandNormal(seed, stream, i);
  PetscCall(VecRestoreArray(v, &a));
  PetscCall(VecNormalize(v, &nrm));
  PetscFunctionReturn(0);
}

static PetscErrorCode Verdict(LandStage s, const char name[], PetscReal err, PetscReal tol, PetscInt *nfail)
{
  char path[128];

  PetscFunctionBeginUser;
  PetscCall(
      PetscPrintf(s->run->comm, "check: %-28s relative error %.3e  (tol %.1e)  %s\n", name, (double)err, (double)tol, err <= tol ? "ok" : "FAILED"));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", s->group, name));
  PetscCall(LandResultsWriteArray(s->run->results, path, 1, 1, &err));
  if (!(err <= tol)) (*nfail)++;
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Check(LandStage s)
{
  Check    *c   = (Check *)s->data;
  LandRun   run = s->run;
  Vec       th  = run->theta, x, y, g, gp, gm, hx, hy, tp;
  PetscReal f, fp, fm, gu, errg = 0, errh = 0, errs = 0, nrm;
  PetscInt  nfail = 0;
  LandLoss  loss;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(th, &x));
  PetscCall(VecDuplicate(th, &y));
  PetscCall(VecDuplicate(th, &g));
  PetscCall(VecDuplicate(th, &gp));
  PetscCall(VecDuplicate(th, &gm));
  PetscCall(VecDuplicate(th, &hx));
  PetscCall(VecDuplicate(th, &hy));
  PetscCall(VecDuplicate(th, &tp));
  PetscCall(LandObjectiveEvaluate(run->obj, th, &f, g));
  for (PetscInt k = 0; k < c->ndir; k++) {
    PetscReal fd, e, hd;
    PetscCall(RandomDirection(x, run->seed, 7000 + k));
    PetscCall(VecDot(g, x, &gu));
    PetscCall(VecWAXPY(tp, c->h, x, th));
    PetscCall(LandObjectiveEvaluate(run->obj, tp, &fp, gp));
    PetscCall(VecWAXPY(tp, -c->h, x, th));
    PetscCall(LandObjectiveEvaluate(run->obj, tp, &fm, gm));
    fd   = (fp - fm) / (2 * c->h);
    e    = PetscAbsReal(fd - gu) / PetscMax(PetscAbsReal(gu), 1e-8 * PetscMax(1.0, PetscAbsReal(f)));
    errg = PetscMax(errg, e);
    /* Hessian: (g(th + h x) - g(th - h x)) / 2h against H x */
    PetscCall(LandObjectiveHessianMult(run->obj, th, x, hx));
    PetscCall(VecAXPY(gp, -1.0, gm));
    PetscCall(VecScale(gp, 1.0 / (2 * c->h)));
    PetscCall(VecNorm(hx, NORM_2, &nrm));
    PetscCall(VecAXPY(gp, -1.0, hx));
    PetscCall(VecNorm(gp, NORM_2, &hd));
    errh = PetscMax(errh, hd / PetscMax(nrm, 1e-8));
    /* symmetry with a second direction */
    PetscCall(RandomDirection(y, run->seed, 8000 + k));
    PetscCall(LandObjectiveHessianMult(run->obj, th, y, hy));
    {
      /* scaled as in HPCG: |y'Hx - x'Hy| / (|x||Hy| + |y||Hx|), with unit x and y */
      PetscReal a, b, nx, ny;
      PetscCall(VecDot(y, hx, &a));
      PetscCall(VecDot(x, hy, &b));
      PetscCall(VecNorm(hx, NORM_2, &nx));
      PetscCall(VecNorm(hy, NORM_2, &ny));
      errs = PetscMax(errs, PetscAbsReal(a - b) / PetscMax(nx + ny, 1e-300));
    }
  }
  PetscCall(Verdict(s, "gradient_fd", errg, c->tol, &nfail));
  PetscCall(Verdict(s, "hessian_fd", errh, c->tol, &nfail));
  PetscCall(Verdict(s, "hessian_symmetry", errs, 1e-12, &nfail));
  PetscCall(LandObjectiveGetLoss(run->obj, &loss));
  if (loss == LAND_LOSS_MSE && c->jacobian) {
    Mat       J, Js;
    Vec       r, jtr, jtr2, jv, jv2;
    PetscReal a, e;
    PetscCall(LandObjectiveCreateJacobian(run->obj, th, &J));
    PetscCall(LandObjectiveCreateJacobianShell(run->obj, th, &Js));
    PetscCall(MatCreateVecs(J, &jtr, &r));
    PetscCall(VecDuplicate(jtr, &jtr2));
    PetscCall(VecDuplicate(r, &jv));
    PetscCall(VecDuplicate(r, &jv2));
    PetscCall(LandObjectiveResidual(run->obj, th, r));
    PetscCall(MatMultTranspose(J, r, jtr));
    /* the data term's gradient: the full gradient minus the regulariser's (evaluate with reg off) */
    {
      PetscReal gamma  = run->obj->reg_l2, fz;
      run->obj->reg_l2 = 0;
      PetscCall(LandObjectiveEvaluate(run->obj, th, &fz, g));
      run->obj->reg_l2 = gamma;
    }
    PetscCall(VecNorm(g, NORM_2, &a));
    PetscCall(VecAXPY(jtr, -1.0, g));
    PetscCall(VecNorm(jtr, NORM_2, &e));
    PetscCall(Verdict(s, "jacobian_JTr_vs_gradient", e / PetscMax(a, 1e-300), 1e-12, &nfail));
    PetscCall(MatMultTranspose(Js, r, jtr2));
    PetscCall(VecAXPY(jtr2, -1.0, g));
    PetscCall(VecNorm(jtr2, NORM_2, &e));
    PetscCall(Verdict(s, "jacobian_shell_JTr", e / PetscMax(a, 1e-300), 1e-12, &nfail));
    PetscCall(MatMult(J, x, jv));
    PetscCall(MatMult(Js, x, jv2));
    PetscCall(VecNorm(jv, NORM_2, &a));
    PetscCall(VecAXPY(jv2, -1.0, jv));
    PetscCall(VecNorm(jv2, NORM_2, &e));
    PetscCall(Verdict(s, "jacobian_shell_Jv", e / PetscMax(a, 1e-300), 1e-12, &nfail));
    PetscCall(MatDestroy(&J));
    PetscCall(MatDestroy(&Js));
    PetscCall(VecDestroy(&r));
    PetscCall(VecDestroy(&jtr));
    PetscCall(VecDestroy(&jtr2));
    PetscCall(VecDestroy(&jv));
    PetscCall(VecDestroy(&jv2));
  }
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&y));
  PetscCall(VecDestroy(&g));
  PetscCall(VecDestroy(&gp));
  PetscCall(VecDestroy(&gm));
  PetscCall(VecDestroy(&hx));
  PetscCall(VecDestroy(&hy));
  PetscCall(VecDestroy(&tp));
  PetscCheck(nfail == 0, run->comm, PETSC_ERR_NOT_CONVERGED, "check: %" PetscInt_FMT " derivative check(s) failed", nfail);
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Check(LandStage s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Check(LandStage s)
{
  Check *c;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&c));
  c->tol            = 1e-6;
  c->h              = 1e-5;
  c->ndir           = 3;
  c->jacobian       = PETSC_TRUE;
  s->data           = c;
  s->setfromoptions = SetFromOptions_Check;
  s->run_stage      = Run_Check;
  s->destroy        = Destroy_Check;
  PetscFunctionReturn(0);
}
