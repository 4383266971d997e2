/* Stage 'train': full-batch TAO (any -train_tao_type; Newton types get the Hessian shell), or
   mini-batch SGD with momentum / Adam on shuffled whole chunks.
   SGD and Adam are bitwise reproducible across rank counts: batches are whole chunks, gradients
   are summed in double-double, and the updates are elementwise. TAO's internal reductions (VecDot,
   VecNorm) are not, so TAO runs agree across rank counts to round-off only (docs/algorithms.md). */
#include <landscape/impl.h>
#include <petsctime.h>
#include <petscksp.h>

typedef enum { TRAIN_TAO, TRAIN_SGD, TRAIN_ADAM } TrainType;
static const char *const TrainTypes[] = {"tao", "sgd", "adam", "TrainType", "TRAIN_", NULL};

typedef struct {
  TrainType type;
  PetscInt  epochs, batch_size, max_it, monitor_interval, history_interval;
  PetscReal lr, momentum, beta1, beta2, eps, gatol, loss_target;
  PetscBool monitor;
  Tao       tao;
  Mat       H;
  Vec       g, m, v; /* gradient, SGD velocity or Adam first moment, Adam second moment */
  /* history */
  PetscInt       nhist, maxhist;
  PetscReal     *hist; /* rows: step, epoch, loss, gnorm, test_loss, test_acc, time */
  PetscLogDouble t0;
  PetscInt       step;
  /* position for an exact resume: the epoch in progress, the next mini-batch in it, and the sum of
     this epoch's mini-batch losses so far; TAO resumes from its iteration count step0 */
  PetscInt  epoch, batch, step0;
  PetscReal fsum[2];
  PetscBool resumed;

  LandPlateau plateau; /* -train_plateau: plateau detection and classification (plateau.c) */
} Train;

#define NHIST 7

static PetscErrorCode Record(LandStage s, PetscInt epoch, PetscReal loss, PetscReal gnorm, PetscBool print)
{
  Train         *tr  = (Train *)s->data;
  LandRun        run = s->run;
  PetscReal      tl, ta;
  PetscLogDouble t;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TEST, &tl, &ta));
  PetscCall(PetscTime(&t));
  if (tr->nhist == tr->maxhist) {
    tr->maxhist = 2 * tr->maxhist + 64;
    PetscCall(PetscRealloc(sizeof(PetscReal) * NHIST * tr->maxhist, &tr->hist));
  }
  {
    PetscReal *h = tr->hist + NHIST * tr->nhist++;
    h[0]         = tr->step;
    h[1]         = epoch;
    h[2]         = loss;
    h[3]         = gnorm;
    h[4]         = tl;
    h[5]         = ta;
    h[6]         = t - tr->t0;
  }
  if (print && tr->monitor) {
    PetscCall(PetscPrintf(run->comm, "train: %s %6" PetscInt_FMT "  loss %.6e  |g| %.3e", tr->type == TRAIN_TAO ? "it" : "epoch",
                          tr->type == TRAIN_TAO ? tr->step : epoch, (double)loss, (double)gnorm));
    if (!PetscIsNanReal(tl)) PetscCall(PetscPrintf(run->comm, "  test loss %.4e", (double)tl));
    if (ta >= 0) PetscCall(PetscPrintf(run->comm, "  acc %.4f", (double)ta));
    PetscCall(PetscPrintf(run->comm, "  %.1f s\n", t - tr->t0));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode TaoObjGrad(Tao tao, Vec x, PetscReal *f, Vec g, void *ctx)
{
  LandStage s = (LandStage)ctx;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveEvaluate(s->run->obj, x, f, g));
  PetscFunctionReturn(0);
}

static PetscErrorCode TaoHess(Tao tao, Vec x, Mat H, Mat Hpre, void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(LandObjectiveHessianSetPoint(H, x));
  PetscFunctionReturn(0);
}

static PetscErrorCode TaoMon(Tao tao, void *ctx)
{
  LandStage s  = (LandStage)ctx;
  Train    *tr = (Train *)s->data;
  PetscInt  it;
  PetscReal f, gnorm;
  PetscBool print;

  PetscFunctionBeginUser;
  PetscCall(TaoGetSolutionStatus(tao, &it, &f, &gnorm, NULL, NULL, NULL));
  tr->step = tr->step0 + it;
  print    = (PetscBool)(tr->step % tr->monitor_interval == 0);
  if ((tr->step % tr->history_interval == 0 || print) && !(it == 0 && tr->resumed)) PetscCall(Record(s, 0, f, gnorm, print));
  if (it > 0) {
    PetscBool halt;
    PetscCall(LandCheckpointPoll(s->run->ckpt, s, tr->step, &halt));
    if (halt) PetscCall(TaoSetConvergedReason(tao, TAO_CONVERGED_USER));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SetFromOptions_Train(LandStage s)
{
  Train *tr = (Train *)s->data;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage train: optimisation of the parameters", NULL);
  PetscCall(PetscOptionsEnum("-train_type", "Optimiser: tao (full batch, -train_tao_* options), sgd (momentum), adam", "", TrainTypes,
                             (PetscEnum)tr->type, (PetscEnum *)&tr->type, NULL));
  PetscCall(PetscOptionsInt("-train_epochs", "sgd/adam: passes over the training set", "", tr->epochs, &tr->epochs, NULL));
  PetscCall(PetscOptionsInt("-train_batch_size", "sgd/adam: rows per mini-batch, a multiple of -data_chunk_size (0: full batch)", "", tr->batch_size,
                            &tr->batch_size, NULL));
  PetscCall(PetscOptionsReal("-train_lr", "sgd/adam: learning rate", "", tr->lr, &tr->lr, NULL));
  PetscCall(PetscOptionsReal("-train_momentum", "sgd: momentum mu (v = mu v + g, theta -= lr v)", "", tr->momentum, &tr->momentum, NULL));
  PetscCall(PetscOptionsReal("-train_beta1", "adam: first-moment decay", "", tr->beta1, &tr->beta1, NULL));
  PetscCall(PetscOptionsReal("-train_beta2", "adam: second-moment decay", "", tr->beta2, &tr->beta2, NULL));
  PetscCall(PetscOptionsReal("-train_eps", "adam: epsilon", "", tr->eps, &tr->eps, NULL));
  PetscCall(
      PetscOptionsInt("-train_max_it", "Maximum number of steps (sgd/adam: optimizer steps; tao: iterations)", "", tr->max_it, &tr->max_it, NULL));
  PetscCall(PetscOptionsReal("-train_gatol", "sgd/adam with full batch: stop when ||grad|| <= gatol", "", tr->gatol, &tr->gatol, NULL));
  PetscCall(PetscOptionsReal("-train_loss_target", "Stop when the training loss is at or below this value (0: only at an exact zero)", "",
                             tr->loss_target, &tr->loss_target, NULL));
  PetscCall(PetscOptionsBool("-train_monitor", "Print progress lines", "", tr->monitor, &tr->monitor, NULL));
  PetscCall(PetscOptionsInt("-train_monitor_interval", "Print every this many epochs (tao/full batch: steps); 0: automatic", "", tr->monitor_interval,
                            &tr->monitor_interval, NULL));
  PetscCall(PetscOptionsInt("-train_history_interval", "Record history every this many epochs (tao/full batch: steps)", "", tr->history_interval,
                            &tr->history_interval, NULL));
  PetscOptionsEnd();
  PetscCheck(tr->epochs >= 0 && tr->max_it >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_epochs and -train_max_it must be >= 0");
  PetscCheck(tr->lr > 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_lr %g must be positive", (double)tr->lr);
  PetscCheck(tr->beta1 >= 0 && tr->beta1 < 1 && tr->beta2 >= 0 && tr->beta2 < 1, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_beta1 and -train_beta2 must lie in [0, 1)");
  PetscCheck(tr->history_interval >= 1 && tr->monitor_interval >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_history_interval must be >= 1 and -train_monitor_interval >= 0");
  PetscCheck(tr->batch_size >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_batch_size must be >= 0");
  PetscCall(LandPlateauCreateFromOptions(s, &tr->plateau));
  PetscCheck(!tr->plateau || tr->type == TRAIN_SGD, s->run->comm, PETSC_ERR_ARG_INCOMP,
             "-train_plateau needs -train_type sgd with -train_batch_size 0");
  if (tr->type != TRAIN_TAO) {
    PetscInt chunk;
    PetscCall(LandDataGetChunkSize(s->run->data, &chunk));
    PetscCheck(tr->batch_size % chunk == 0, s->run->comm, PETSC_ERR_ARG_INCOMP,
               "-train_batch_size %" PetscInt_FMT " is not a multiple of -data_chunk_size %" PetscInt_FMT " (mini-batches are whole chunks)",
               tr->batch_size, chunk);
  } else {
    /* TAO reads its own options now, so that -train_tao_* typos are caught like any other */
    PetscCall(TaoCreate(s->run->comm, &tr->tao));
    PetscCall(TaoSetOptionsPrefix(tr->tao, "train_"));
    PetscCall(TaoSetType(tr->tao, TAOLMVM));
    PetscCall(TaoSetFromOptions(tr->tao));
    {
      /* Newton types solve with a KSP on the Hessian shell, which has no entries to precondition
         with: default to no preconditioner unless the user picked one (-train_tao_<type>_pc_type). */
      KSP         ksp;
      PC          pc;
      const char *prefix;
      PetscBool   has;
      PetscCall(TaoGetKSP(tr->tao, &ksp));
      if (ksp) {
        PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
        PetscCall(PetscOptionsHasName(NULL, prefix, "-pc_type", &has));
        PetscCall(KSPGetPC(ksp, &pc));
        if (!has) PetscCall(PCSetType(pc, PCNONE));
      }
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RunTao(LandStage s)
{
  Train             *tr  = (Train *)s->data;
  LandRun            run = s->run;
  PetscInt           maxit;
  TaoConvergedReason reason;

  PetscFunctionBeginUser;
  PetscCall(TaoSetSolution(tr->tao, run->theta));
  PetscCall(TaoSetObjectiveAndGradient(tr->tao, NULL, TaoObjGrad, s));
  PetscCall(LandObjectiveCreateHessian(run->obj, run->theta, &tr->H));
  PetscCall(TaoSetHessian(tr->tao, tr->H, tr->H, TaoHess, s));
  PetscCall(TaoSetMonitor(tr->tao, TaoMon, s, NULL));
  PetscCall(TaoGetMaximumIterations(tr->tao, &maxit));
  if (tr->max_it > 0) maxit = tr->max_it;
  /* a resumed TAO run restarts the solver at the checkpointed theta (its internal state, such as
     the L-BFGS history, is not saved) for the iterations that remain */
  PetscCall(TaoSetMaximumIterations(tr->tao, PetscMax(maxit - tr->step0, 0)));
  if (tr->loss_target > 0) PetscCall(TaoSetFunctionLowerBound(tr->tao, tr->loss_target));
  if (tr->monitor_interval == 0) tr->monitor_interval = PetscMax(1, (tr->max_it > 0 ? tr->max_it : maxit) / 20);
  PetscCall(TaoSolve(tr->tao));
  if (s->run->stop) PetscFunctionReturn(0);
  PetscCall(TaoGetConvergedReason(tr->tao, &reason));
  PetscCall(PetscPrintf(run->comm, "train: TAO %s after %" PetscInt_FMT " iterations\n", TaoConvergedReasons[reason], tr->step));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "converged_reason", TaoConvergedReasons[reason]));
  PetscFunctionReturn(0);
}

/* Seeded permutation of the chunk ids for one epoch (Fisher-Yates; depends on seed and epoch only). */
static void ShuffleChunks(PetscInt64 seed, PetscInt epoch, PetscInt n, PetscInt *perm)
{
  for (PetscInt i = 0; i < n; i++) perm[i] = i;
  for (PetscInt i = n - 1; i > 0; i--) {
    PetscInt j = (PetscInt)(LandRandUniform(seed, 5000 + epoch, i) * (i + 1)), t;
    j          = PetscMin(j, i);
    t          = perm[i];
    perm[i]    = perm[j];
    perm[j]    = t;
  }
}

static PetscErrorCode RunFirstOrder(LandStage s)
{
  Train         *tr  = (Train *)s->data;
  LandRun        run = s->run;
  const LandSet *set;
  PetscInt       chunk, nchunks, bc, nbatch, *perm, epochs = tr->epochs;
  PetscReal      f = 0, gnorm = 0;
  PetscBool      full, stop   = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(LandDataGetSet(run->data, LAND_SET_TRAIN, &set));
  PetscCall(LandDataGetChunkSize(run->data, &chunk));
  nchunks = (set->N + chunk - 1) / chunk;
  bc      = tr->batch_size ? PetscMin(tr->batch_size / chunk, nchunks) : nchunks;
  full    = (PetscBool)(bc == nchunks);
  PetscCheck(full || !tr->plateau, run->comm, PETSC_ERR_ARG_INCOMP, "-train_plateau needs full-batch steps (-train_batch_size 0)");
  nbatch = (nchunks + bc - 1) / bc;
  if (full && tr->max_it > 0) epochs = tr->max_it; /* full batch: one step per epoch */
  if (tr->monitor_interval == 0) tr->monitor_interval = full ? PetscMax(1, epochs / 20) : 1;
  PetscCall(VecDuplicate(run->theta, &tr->g));
  if (!tr->m) {
    PetscCall(VecDuplicate(run->theta, &tr->m));
    PetscCall(VecZeroEntries(tr->m));
  }
  if (tr->type == TRAIN_ADAM && !tr->v) {
    PetscCall(VecDuplicate(run->theta, &tr->v));
    PetscCall(VecZeroEntries(tr->v));
  }
  PetscCall(PetscMalloc1(nchunks, &perm));
  for (PetscInt epoch = tr->epoch; epoch < epochs && !stop; epoch++) {
    PetscBool halt = PETSC_FALSE;
    tr->epoch      = epoch;
    if (tr->batch == 0) tr->fsum[0] = tr->fsum[1] = 0;
    if (full)
      for (PetscInt i = 0; i < nchunks; i++) perm[i] = i;
    else
      ShuffleChunks(run->seed, epoch, nchunks, perm);
    for (PetscInt b = tr->batch; b < nbatch && !stop; b++) {
      PetscInt         nb = PetscMin(bc, nchunks - b * bc), lo, hi;
      PetscReal       *th, *m, *v = NULL;
      const PetscReal *g;

      PetscCall(PetscLogEventBegin(LAND_Train, 0, 0, 0, 0));
      PetscCall(LandObjectiveEvaluateChunks(run->obj, run->theta, nb, full ? NULL : perm + b * bc, &f, tr->g));
      PetscCheck(!PetscIsInfOrNanReal(f), run->comm, PETSC_ERR_FP, "train: the loss became %g at step %" PetscInt_FMT "; lower -train_lr", (double)f,
                 tr->step);
      LandDDAccumulate(1, &f, tr->fsum);
      if (full) {
        /* f and g belong to theta after tr->step steps: record them under that step */
        PetscCall(LandVecNorm2(tr->g, &gnorm));
        if (tr->plateau) PetscCall(LandPlateauStep(tr->plateau, tr->step, f, gnorm, run->theta));
        if (tr->step > 0 && (tr->step % tr->history_interval == 0 || tr->step % tr->monitor_interval == 0))
          PetscCall(Record(s, epoch, f, gnorm, (PetscBool)(tr->step % tr->monitor_interval == 0)));
        if (gnorm <= tr->gatol || f <= tr->loss_target) {
          stop = PETSC_TRUE;
          PetscCall(PetscLogEventEnd(LAND_Train, 0, 0, 0, 0));
          break;
        }
      }
      tr->step++;
      PetscCall(VecGetOwnershipRange(run->theta, &lo, &hi));
      PetscCall(VecGetArray(run->theta, &th));
      PetscCall(VecGetArrayRead(tr->g, &g));
      PetscCall(VecGetArray(tr->m, &m));
      if (tr->type == TRAIN_SGD) {
        for (PetscInt i = 0; i < hi - lo; i++) {
          m[i] = tr->momentum * m[i] + g[i];
          th[i] -= tr->lr * m[i];
        }
      } else {
        const PetscReal c1 = 1.0 - PetscPowRealInt(tr->beta1, tr->step), c2 = 1.0 - PetscPowRealInt(tr->beta2, tr->step);
        PetscCall(VecGetArray(tr->v, &v));
        for (PetscInt i = 0; i < hi - lo; i++) {
          m[i] = tr->beta1 * m[i] + (1 - tr->beta1) * g[i];
          v[i] = tr->beta2 * v[i] + (1 - tr->beta2) * g[i] * g[i];
          th[i] -= tr->lr * (m[i] / c1) / (PetscSqrtReal(v[i] / c2) + tr->eps);
        }
        PetscCall(VecRestoreArray(tr->v, &v));
      }
      PetscCall(VecRestoreArray(tr->m, &m));
      PetscCall(VecRestoreArrayRead(tr->g, &g));
      PetscCall(VecRestoreArray(run->theta, &th));
      PetscCall(PetscLogEventEnd(LAND_Train, 0, 0, 0, 0));
      tr->batch = b + 1;
      if (tr->max_it > 0 && tr->step >= tr->max_it) stop = PETSC_TRUE;
      PetscCall(LandCheckpointPoll(run->ckpt, s, tr->step, &halt));
      if (halt) break;
    }
    if (halt) break;
    tr->batch = 0;
    if (!full) {
      /* epoch loss: mean of the mini-batch losses (each exact for its batch) */
      f = tr->fsum[0] / nbatch;
      PetscCall(LandVecNorm2(tr->g, &gnorm));
      if (f <= tr->loss_target) stop = PETSC_TRUE;
    }
    if (!full && ((epoch + 1) % tr->history_interval == 0 || (epoch + 1) % tr->monitor_interval == 0 || stop || epoch + 1 == epochs))
      PetscCall(Record(s, epoch + 1, f, gnorm, (PetscBool)((epoch + 1) % tr->monitor_interval == 0 || stop || epoch + 1 == epochs)));
  }
  PetscCall(PetscFree(perm));
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Train(LandStage s)
{
  Train    *tr  = (Train *)s->data;
  LandRun   run = s->run;
  PetscReal f, gnorm, tl, ta;
  Vec       g;

  PetscFunctionBeginUser;
  tr->resumed = run->stage_resumed;
  if (!tr->resumed) {
    PetscCall(PetscTime(&tr->t0));
    tr->step = tr->step0 = tr->epoch = tr->batch = tr->nhist = 0;
  }
  PetscCall(VecDuplicate(run->theta, &g));
  if (tr->type != TRAIN_TAO && !tr->resumed) {
    PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, g));
    PetscCall(LandVecNorm2(g, &gnorm));
    PetscCall(Record(s, 0, f, gnorm, PETSC_TRUE));
  }
  if (tr->type == TRAIN_TAO)
    PetscCall(RunTao(s));
  else
    PetscCall(RunFirstOrder(s));
  if (run->stop) { /* checkpointed for continuation: the results come from the run that finishes */
    PetscCall(VecDestroy(&g));
    PetscFunctionReturn(0);
  }
  /* final numbers on the full training set */
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, g));
  PetscCall(LandVecNorm2(g, &gnorm));
  PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TEST, &tl, &ta));
  if (tr->type != TRAIN_TAO && (tr->nhist == 0 || tr->hist[NHIST * (tr->nhist - 1)] != tr->step))
    PetscCall(Record(s, tr->hist[NHIST * (tr->nhist - 1) + 1], f, gnorm, PETSC_FALSE));
  if (tr->plateau) PetscCall(LandPlateauFinish(tr->plateau, tr->step, f, gnorm, run->theta));
  PetscCall(VecDestroy(&g));
  PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "history"), tr->nhist, NHIST, tr->hist));
  PetscCall(
      LandResultsWriteAttrString(run->results, LandStagePath(s, "history"), "columns", "step,epoch,loss,grad_norm,test_loss,test_accuracy,time_s"));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "type", TrainTypes[tr->type]));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "steps", tr->step));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "loss", f));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "grad_norm", gnorm));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "test_loss", tl));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "test_accuracy", ta));
  PetscCall(PetscPrintf(run->comm, "train: done: %s, %" PetscInt_FMT " steps, loss %.6e, |g| %.3e", TrainTypes[tr->type], tr->step, (double)f,
                        (double)gnorm));
  if (!PetscIsNanReal(tl)) PetscCall(PetscPrintf(run->comm, ", test loss %.4e", (double)tl));
  if (ta >= 0) PetscCall(PetscPrintf(run->comm, ", test accuracy %.4f", (double)ta));
  PetscCall(PetscPrintf(run->comm, "\n"));
  PetscFunctionReturn(0);
}

/* Checkpoint hook: everything the loop needs to continue bit for bit. */
static PetscErrorCode Save_Train(LandStage s, LandCheckpoint ck)
{
  Train         *tr = (Train *)s->data;
  PetscLogDouble now;

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&now));
  PetscCall(LandCheckpointPutInt(ck, "type", tr->type));
  PetscCall(LandCheckpointPutInt(ck, "step", tr->step));
  PetscCall(LandCheckpointPutInt(ck, "epoch", tr->epoch));
  PetscCall(LandCheckpointPutInt(ck, "batch", tr->batch));
  PetscCall(LandCheckpointPutReal(ck, "fsum_hi", tr->fsum[0]));
  PetscCall(LandCheckpointPutReal(ck, "fsum_lo", tr->fsum[1]));
  PetscCall(LandCheckpointPutReal(ck, "elapsed", now - tr->t0));
  PetscCall(LandCheckpointPutArray(ck, "history", tr->nhist, NHIST, tr->hist));
  if (tr->m) PetscCall(LandCheckpointPutVec(ck, "moment1", tr->m));
  if (tr->v) PetscCall(LandCheckpointPutVec(ck, "moment2", tr->v));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Train(LandStage s, LandCheckpoint ck)
{
  Train         *tr = (Train *)s->data;
  PetscInt       type, m, n;
  PetscReal      elapsed, *h;
  PetscLogDouble now;
  PetscBool      has;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointGetInt(ck, "type", &type));
  PetscCheck(type == (PetscInt)tr->type, s->run->comm, PETSC_ERR_ARG_INCOMP, "checkpoint was written by -train_type %s, this run uses %s",
             TrainTypes[type], TrainTypes[tr->type]);
  PetscCall(LandCheckpointGetInt(ck, "step", &tr->step));
  PetscCall(LandCheckpointGetInt(ck, "epoch", &tr->epoch));
  PetscCall(LandCheckpointGetInt(ck, "batch", &tr->batch));
  PetscCall(LandCheckpointGetReal(ck, "fsum_hi", &tr->fsum[0]));
  PetscCall(LandCheckpointGetReal(ck, "fsum_lo", &tr->fsum[1]));
  PetscCall(LandCheckpointGetReal(ck, "elapsed", &elapsed));
  tr->step0 = tr->step;
  PetscCall(PetscTime(&now));
  tr->t0 = now - elapsed;
  PetscCall(LandCheckpointGetArray(ck, "history", &m, &n, &h));
  tr->nhist   = (n == NHIST) ? m : 0;
  tr->maxhist = tr->nhist + 64;
  PetscCall(PetscFree(tr->hist));
  PetscCall(PetscMalloc1(NHIST * tr->maxhist, &tr->hist));
  PetscCall(PetscArraycpy(tr->hist, h, NHIST * tr->nhist));
  PetscCall(PetscFree(h));
  PetscCall(LandCheckpointHas(ck, "moment1", &has));
  if (has) {
    if (!tr->m) PetscCall(VecDuplicate(s->run->theta, &tr->m));
    PetscCall(LandCheckpointGetVec(ck, "moment1", tr->m));
  }
  PetscCall(LandCheckpointHas(ck, "moment2", &has));
  if (has) {
    if (!tr->v) PetscCall(VecDuplicate(s->run->theta, &tr->v));
    PetscCall(LandCheckpointGetVec(ck, "moment2", tr->v));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Train(LandStage s)
{
  Train *tr = (Train *)s->data;

  PetscFunctionBeginUser;
  PetscCall(TaoDestroy(&tr->tao));
  PetscCall(LandPlateauDestroy(&tr->plateau));
  PetscCall(MatDestroy(&tr->H));
  PetscCall(VecDestroy(&tr->g));
  PetscCall(VecDestroy(&tr->m));
  PetscCall(VecDestroy(&tr->v));
  PetscCall(PetscFree(tr->hist));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Train(LandStage s)
{
  Train *tr;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&tr));
  tr->type             = TRAIN_ADAM;
  tr->epochs           = 10;
  tr->lr               = 1e-3;
  tr->momentum         = 0.9;
  tr->beta1            = 0.9;
  tr->beta2            = 0.999;
  tr->eps              = 1e-8;
  tr->gatol            = 0;
  tr->loss_target      = 0;
  tr->monitor          = PETSC_TRUE;
  tr->history_interval = 1;
  s->data              = tr;
  s->setfromoptions    = SetFromOptions_Train;
  s->run_stage         = Run_Train;
  s->destroy           = Destroy_Train;
  s->save              = Save_Train;
  s->load              = Load_Train;
  PetscFunctionReturn(0);
}
