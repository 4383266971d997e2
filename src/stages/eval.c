/* Stage 'eval': loss, gradient and test metrics at the current theta, and a Hessian-vector product
   along a direction read from a file. Other programs script against these dataset names. */
#include <landscape/impl.h>
#include <petsctime.h>

typedef struct {
  char     direction[PETSC_MAX_PATH_LEN];
  PetscInt repeat;
} Eval;

static PetscErrorCode SetFromOptions_Eval(LandStage s)
{
  Eval *ev = (Eval *)s->data;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage eval: loss, gradient, test metrics, Hessian-vector product", NULL);
  PetscCall(PetscOptionsInt("-eval_repeat",
                            "Time this many extra loss+gradient evaluations (and Hessian products with -eval_hvp_direction); prints the best time",
                            "", ev->repeat, &ev->repeat, NULL));
  PetscCall(PetscOptionsString("-eval_hvp_direction", "HDF5 file with a direction v (dataset /direction, else /theta): writes /eval/hvp = H v", "",
                               ev->direction, ev->direction, sizeof(ev->direction), NULL));
  PetscOptionsEnd();
  if (ev->direction[0]) {
    PetscBool exists;
    PetscCall(PetscTestFile(ev->direction, 'r', &exists));
    PetscCheck(exists, s->run->comm, PETSC_ERR_FILE_OPEN, "-eval_hvp_direction %s: no such file", ev->direction);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Eval(LandStage s)
{
  Eval     *ev  = (Eval *)s->data;
  LandRun   run = s->run;
  Vec       g;
  PetscReal f, gnorm, tl, ta, trl, tra;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(run->theta, &g));
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, g));
  PetscCall(LandVecNorm2(g, &gnorm));
  PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TRAIN, &trl, &tra));
  PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TEST, &tl, &ta));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "loss"), 1, 1, &f));
  PetscCall(LandResultsWriteVec(run->results, LandStagePath(s, "gradient"), g));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "gradient_norm"), 1, 1, &gnorm));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "train_accuracy"), 1, 1, &tra));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "test_loss"), 1, 1, &tl));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "test_accuracy"), 1, 1, &ta));
  PetscCall(PetscPrintf(run->comm, "eval: loss %.10e  |g| %.4e", (double)f, (double)gnorm));
  if (!PetscIsNanReal(tl)) PetscCall(PetscPrintf(run->comm, "  test loss %.6e", (double)tl));
  if (ta >= 0) PetscCall(PetscPrintf(run->comm, "  train acc %.4f  test acc %.4f", (double)tra, (double)ta));
  PetscCall(PetscPrintf(run->comm, "\n"));
  if (ev->repeat > 0) {
    PetscLogDouble best = PETSC_MAX_REAL, t0, t1;
    const LandSet *set;
    PetscCall(LandDataGetSet(run->data, LAND_SET_TRAIN, &set));
    for (PetscInt r = 0; r < ev->repeat; r++) {
      PetscCall(MPI_Barrier(run->comm));
      PetscCall(PetscTime(&t0));
      PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, g));
      PetscCall(PetscTime(&t1));
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t1, 1, MPI_DOUBLE, MPI_MAX, run->comm));
      best = PetscMin(best, t1 - t0);
    }
    PetscCall(PetscPrintf(run->comm, "eval: loss+gradient best of %" PetscInt_FMT ": %.4f s, %.0f samples/s\n", ev->repeat, best, set->N / best));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "time_loss_gradient"), 1, 1, &best));
  }
  if (ev->direction[0]) {
    Vec       v, hv;
    hid_t     fid;
    PetscBool has_dir = PETSC_FALSE, exists;
    PetscCall(PetscTestFile(ev->direction, 'r', &exists));
    PetscCheck(exists, run->comm, PETSC_ERR_FILE_OPEN, "-eval_hvp_direction %s: no such file", ev->direction);
    fid = H5Fopen(ev->direction, H5F_ACC_RDONLY, H5P_DEFAULT);
    PetscCheck(fid >= 0, run->comm, PETSC_ERR_FILE_OPEN, "-eval_hvp_direction %s is not an HDF5 file", ev->direction);
    has_dir = (PetscBool)(H5Lexists(fid, "direction", H5P_DEFAULT) > 0);
    H5Fclose(fid);
    PetscCall(VecDuplicate(run->theta, &v));
    PetscCall(VecDuplicate(run->theta, &hv));
    PetscCall(LandNetLoadTheta(run->net, ev->direction, has_dir ? "direction" : "theta", v));
    PetscCall(LandObjectiveHessianMult(run->obj, run->theta, v, hv));
    if (ev->repeat > 0) {
      PetscLogDouble best = PETSC_MAX_REAL, t0, t1;
      for (PetscInt r = 0; r < ev->repeat; r++) {
        PetscCall(MPI_Barrier(run->comm));
        PetscCall(PetscTime(&t0));
        PetscCall(LandObjectiveHessianMult(run->obj, run->theta, v, hv));
        PetscCall(PetscTime(&t1));
        PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t1, 1, MPI_DOUBLE, MPI_MAX, run->comm));
        best = PetscMin(best, t1 - t0);
      }
      PetscCall(PetscPrintf(run->comm, "eval: Hessian-vector product best of %" PetscInt_FMT ": %.4f s\n", ev->repeat, best));
      PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "time_hvp"), 1, 1, &best));
    }
    PetscCall(LandResultsWriteVec(run->results, LandStagePath(s, "hvp"), hv));
    PetscCall(VecDestroy(&v));
    PetscCall(VecDestroy(&hv));
  }
  PetscCall(VecDestroy(&g));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Eval(LandStage s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Eval(LandStage s)
{
  Eval *ev;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&ev));
  s->data           = ev;
  s->setfromoptions = SetFromOptions_Eval;
  s->run_stage      = Run_Eval;
  s->destroy        = Destroy_Eval;
  PetscFunctionReturn(0);
}
