/* LandObjective: data + network + loss + regulariser, evaluated over the ranks.
   L(theta) = (1/N) sum_i loss_i + reg_l2 sum_l ||W_l||_F^2 (+ biases with -reg_l2_bias), with
   loss_i = 1/2 ||f_i - y_i||^2 (mse), ||f_i - y_i||_1 (l1), -log softmax(f_i)_{y_i} (ce) or the
   quantile (pinball) loss sum_j rho_alpha(y_ij - f_ij), rho_alpha(u) = u (alpha - [u < 0]).
   Every rank evaluates its own chunks of rows with a replicated theta; chunk results are summed
   in double-double and reduced across ranks (ddsum.c), so results do not depend on the rank count. */
#include <landscape/impl.h>

const char *const LandLosses[] = {"mse", "l1", "ce", "quantile", "LandLoss", "LAND_LOSS_", NULL};

enum { WANT_LOSS = 1, WANT_GRAD = 2, WANT_HESS = 4 };

PetscErrorCode LandObjectiveCreate(LandData data, LandNet net, LandObjective *obj)
{
  LandObjective o;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&o));
  o->comm     = data->comm;
  o->data     = data;
  o->net      = net;
  o->loss     = LAND_LOSS_MSE;
  o->quantile = 0.5;
  *obj        = o;
  PetscFunctionReturn(0);
}

/*@ LandObjectiveSetFromOptions - Collective. Options: -loss, -reg_l2, -reg_l2_bias @*/
PetscErrorCode LandObjectiveSetFromOptions(LandObjective obj)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(obj->comm, NULL, "Objective (LandObjective) options", NULL);
  PetscCall(PetscOptionsEnum("-loss",
                             "Loss per sample: mse (1/2 ||f-y||^2), l1 (||f-y||_1), ce (softmax cross-entropy), quantile (pinball, -loss_quantile)",
                             "LandObjectiveSetFromOptions", LandLosses, (PetscEnum)obj->loss, (PetscEnum *)&obj->loss, NULL));
  PetscCall(PetscOptionsReal("-loss_quantile", "Quantile alpha of -loss quantile, in (0, 1)", "LandObjectiveSetFromOptions", obj->quantile,
                             &obj->quantile, NULL));
  PetscCall(PetscOptionsReal("-reg_l2", "L2 regulariser gamma: adds gamma sum_l ||W_l||_F^2", "LandObjectiveSetFromOptions", obj->reg_l2,
                             &obj->reg_l2, NULL));
  PetscCall(PetscOptionsBool("-reg_l2_bias", "Include the biases in the L2 regulariser", "LandObjectiveSetFromOptions", obj->reg_l2_bias,
                             &obj->reg_l2_bias, NULL));
  PetscOptionsEnd();
  PetscCheck(obj->quantile > 0 && obj->quantile < 1, obj->comm, PETSC_ERR_ARG_OUTOFRANGE, "-loss_quantile %g must lie in (0, 1)",
             (double)obj->quantile);
  PetscCheck(obj->reg_l2 >= 0 && PetscIsNormalReal(obj->reg_l2 + 1), obj->comm, PETSC_ERR_ARG_OUTOFRANGE, "-reg_l2 %g must be finite and >= 0",
             (double)obj->reg_l2);
  PetscFunctionReturn(0);
}

/*@ LandObjectiveSetUp - Collective; safe to call twice. Needs the data and network set up. @*/
PetscErrorCode LandObjectiveSetUp(LandObjective obj)
{
  Vec      theta;
  PetscInt chunk;

  PetscFunctionBeginUser;
  if (obj->setupcalled) PetscFunctionReturn(0);
  PetscCall(LandDataGetSizes(obj->data, &obj->d, &obj->k, NULL));
  PetscCall(LandNetGetNumParams(obj->net, &obj->P));
  {
    PetscInt ncls;
    PetscCall(LandDataGetSizes(obj->data, NULL, NULL, &ncls));
    PetscCheck(obj->loss != LAND_LOSS_CE || ncls >= 2, obj->comm, PETSC_ERR_ARG_INCOMP,
               "-loss ce needs class labels (/train/labels or -data_classify); these data have real-valued targets");
  }
  PetscCall(LandNetCreateVec(obj->net, &theta));
  PetscCall(VecScatterCreateToAll(theta, &obj->toall, &obj->theta_all));
  PetscCall(VecDuplicate(obj->theta_all, &obj->v_all));
  PetscCall(VecDestroy(&theta));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  PetscCall(PetscMalloc2(2 * obj->P, &obj->acc, obj->P, &obj->buf));
  PetscCall(LandWorkCreate(obj->net, chunk, &obj->work));
  obj->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode LandObjectiveGetLoss(LandObjective obj, LandLoss *loss)
{
  PetscFunctionBeginUser;
  *loss = obj->loss;
  PetscFunctionReturn(0);
}

/* Copy a distributed parameter vector into a replicated one on every rank. Collective. */
PetscErrorCode LandObjectiveReplicate(LandObjective obj, Vec x, Vec x_all)
{
  PetscFunctionBeginUser;
  PetscCall(VecScatterBegin(obj->toall, x, x_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(obj->toall, x, x_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscFunctionReturn(0);
}

/* Loss of m rows of outputs f against targets y, with g_f = scale dloss/df and, when rf is given,
   rg_f = scale (d^2 loss/df^2) rf. Returns the plain row-order sum of the losses. */
static PetscReal LossRows(LandLoss loss, PetscReal alpha, PetscInt m, PetscInt k, const PetscReal *f, const PetscReal *y, PetscReal scale,
                          PetscReal *gf, const PetscReal *rf, PetscReal *rgf)
{
  PetscReal sum = 0;
  for (PetscInt i = 0; i < m; i++) {
    const PetscReal *fi = f + i * k, *yi = y + i * k;
    PetscReal       *gi = gf ? gf + i * k : NULL;
    switch (loss) {
      case LAND_LOSS_MSE:
        for (PetscInt j = 0; j < k; j++) {
          PetscReal r = fi[j] - yi[j];
          sum += 0.5 * r * r;
          if (gi) gi[j] = scale * r;
          if (rf) rgf[i * k + j] = scale * rf[i * k + j];
        }
        break;
      case LAND_LOSS_L1:
        for (PetscInt j = 0; j < k; j++) {
          PetscReal r = fi[j] - yi[j];
          sum += PetscAbsReal(r);
          if (gi) gi[j] = scale * (r > 0 ? 1.0 : (r < 0 ? -1.0 : 0.0));
          if (rf) rgf[i * k + j] = 0.0;
        }
        break;
      case LAND_LOSS_QUANTILE:
        for (PetscInt j = 0; j < k; j++) {
          PetscReal r = fi[j] - yi[j]; /* r = -u: above the target costs 1 - alpha per unit, below it alpha */
          sum += r > 0 ? (1.0 - alpha) * r : -alpha * r;
          if (gi) gi[j] = scale * (r > 0 ? 1.0 - alpha : (r < 0 ? -alpha : 0.0));
          if (rf) rgf[i * k + j] = 0.0;
        }
        break;
      case LAND_LOSS_CE: {
        PetscReal mx = fi[0], se = 0, sy = 0, fy = 0, lse;
        for (PetscInt j = 1; j < k; j++) mx = PetscMax(mx, fi[j]);
        for (PetscInt j = 0; j < k; j++) {
          se += PetscExpReal(fi[j] - mx);
          sy += yi[j];
          fy += yi[j] * fi[j];
        }
        lse = mx + PetscLogReal(se);
        sum += sy * lse - fy;
        if (gi || rf) {
          PetscReal pr = 0;
          for (PetscInt j = 0; j < k; j++) {
            PetscReal p = PetscExpReal(fi[j] - lse);
            if (gi) gi[j] = scale * (sy * p - yi[j]);
            if (rf) pr += p * rf[i * k + j];
          }
          if (rf)
            for (PetscInt j = 0; j < k; j++) {
              PetscReal p    = PetscExpReal(fi[j] - lse);
              rgf[i * k + j] = scale * sy * p * (rf[i * k + j] - pr);
            }
        }
      } break;
    }
  }
  return sum;
}

/* Loss of m rows of outputs f against targets y: the plain row-order sum LossRows computes. */
PetscReal LandObjectiveLossRows(LandObjective obj, PetscInt m, const PetscReal *f, const PetscReal *y)
{
  return LossRows(obj->loss, obj->quantile, m, obj->k, f, y, 0.0, NULL, NULL, NULL);
}

/* The one loop over chunks behind every evaluation. Over the chunks of 'set' in 'chunks' (all when
   NULL) that this rank owns: loss (dd in out[0..1]), and the gradient or Hessian product into
   obj->acc (dd, 2P), with per-row scale 1/nrows_total. Also counts correct argmax predictions. */
static PetscErrorCode ChunkLoop(LandObjective obj, LandSetKind kind, int want, PetscInt nc, const PetscInt chunks[], const PetscReal *theta,
                                const PetscReal *v, PetscReal loss_dd[2], PetscInt *ncorrect, PetscInt *nrows)
{
  const LandSet *set;
  LandWork      *w = &obj->work;
  PetscInt       chunk, total = 0, correct = 0, L = obj->net->nlayers, k = obj->k;
  PetscReal      scale;

  PetscFunctionBeginUser;
  PetscCall(LandDataGetSet(obj->data, kind, &set));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  if (!chunks)
    total = set->N;
  else
    for (PetscInt c = 0; c < nc; c++) total += PetscMin(chunk, set->N - chunks[c] * chunk);
  scale      = total > 0 ? 1.0 / total : 0.0;
  loss_dd[0] = loss_dd[1] = 0;
  if (want & (WANT_GRAD | WANT_HESS)) PetscCall(PetscArrayzero(obj->acc, 2 * obj->P));
  for (PetscInt ci = 0; ci < (chunks ? nc : set->cend - set->cstart); ci++) {
    PetscInt c = chunks ? chunks[ci] : set->cstart + ci, r0, m;
    if (c < set->cstart || c >= set->cend) continue;
    r0 = c * chunk - set->rstart;
    m  = PetscMin(chunk, set->N - c * chunk);
    /* training rows take the noise of -net_noise, keyed by their global index; test rows none */
    PetscCall(LandNetForward(obj->net, theta, m, set->X + r0 * obj->d, kind == LAND_SET_TRAIN ? (PetscInt64)c * chunk : -1, w));
    if (want & WANT_HESS) PetscCall(LandNetForwardR(obj->net, theta, v, m, w));
    {
      PetscReal s = LossRows(obj->loss, obj->quantile, m, k, w->a[L], set->Y + r0 * k, scale, (want & (WANT_GRAD | WANT_HESS)) ? w->gf : NULL,
                             (want & WANT_HESS) ? w->rz[L] : NULL, w->rgf);
      s *= scale;
      LandDDAccumulate(1, &s, loss_dd);
    }
    if (ncorrect && set->labels)
      for (PetscInt i = 0; i < m; i++) {
        const PetscReal *fi = w->a[L] + i * k;
        PetscInt         am = 0;
        for (PetscInt j = 1; j < k; j++)
          if (fi[j] > fi[am]) am = j;
        correct += (am == set->labels[r0 + i]);
      }
    if (want & WANT_HESS)
      PetscCall(LandNetBackwardR(obj->net, theta, v, m, w, obj->buf));
    else if (want & WANT_GRAD)
      PetscCall(LandNetBackward(obj->net, theta, m, w, obj->buf, PETSC_FALSE));
    if (want & (WANT_GRAD | WANT_HESS)) LandDDAccumulate(obj->P, obj->buf, obj->acc);
  }
  if (ncorrect) *ncorrect = correct;
  if (nrows) *nrows = total;
  PetscFunctionReturn(0);
}

/* Regulariser value (same on every rank: computed from the replicated theta in a fixed order). */
static PetscReal RegValue(LandObjective obj, const PetscReal *t)
{
  PetscReal dd[2] = {0, 0};
  if (obj->reg_l2 == 0) return 0;
  for (PetscInt l = 1; l <= obj->net->nlayers; l++) {
    PetscInt n0, n1, wo, bo;
    LandNetGetLayer(obj->net, l, &n1, &n0, &wo, &bo);
    for (PetscInt j = wo; j < wo + n0 * n1; j++) {
      PetscReal s = t[j] * t[j];
      LandDDAccumulate(1, &s, dd);
    }
    if (obj->reg_l2_bias && bo >= 0)
      for (PetscInt j = bo; j < bo + n1; j++) {
        PetscReal s = t[j] * t[j];
        LandDDAccumulate(1, &s, dd);
      }
  }
  return obj->reg_l2 * dd[0];
}

/* y += 2 gamma x on the regularised entries owned by this rank (elementwise: rank-count independent). */
static PetscErrorCode RegAddGradient(LandObjective obj, Vec x, Vec y)
{
  PetscInt         lo, hi;
  const PetscReal *xa;
  PetscReal       *ya;

  PetscFunctionBeginUser;
  if (obj->reg_l2 == 0) PetscFunctionReturn(0);
  PetscCall(VecGetOwnershipRange(y, &lo, &hi));
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(VecGetArray(y, &ya));
  for (PetscInt l = 1; l <= obj->net->nlayers; l++) {
    PetscInt n0, n1, wo, bo;
    PetscCall(LandNetGetLayer(obj->net, l, &n1, &n0, &wo, &bo));
    for (PetscInt j = PetscMax(lo, wo); j < PetscMin(hi, wo + n0 * n1); j++) ya[j - lo] += 2.0 * obj->reg_l2 * xa[j - lo];
    if (obj->reg_l2_bias && bo >= 0)
      for (PetscInt j = PetscMax(lo, bo); j < PetscMin(hi, bo + n1); j++) ya[j - lo] += 2.0 * obj->reg_l2 * xa[j - lo];
  }
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscCall(VecRestoreArray(y, &ya));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveEvaluateChunks - training loss (and gradient if g is not NULL) over the listed
  chunks of the training set (all chunks when 'chunks' is NULL), regulariser included.
  Collective; every rank passes the same list. @*/
PetscErrorCode LandObjectiveEvaluateChunks(LandObjective obj, Vec theta, PetscInt nc, const PetscInt chunks[], PetscReal *f, Vec g)
{
  PetscReal        dd[2];
  const PetscReal *t;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(LandObjectiveReplicate(obj, theta, obj->theta_all));
  PetscCall(VecGetArrayRead(obj->theta_all, &t));
  PetscCall(ChunkLoop(obj, LAND_SET_TRAIN, WANT_LOSS | (g ? WANT_GRAD : 0), nc, chunks, t, NULL, dd, NULL, NULL));
  PetscCall(LandDDAllreduce(obj->comm, 1, dd));
  *f = dd[0] + RegValue(obj, t);
  PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
  if (g) {
    PetscCall(LandDDReduceScatter(obj->comm, obj->P, obj->acc, g));
    PetscCall(RegAddGradient(obj, theta, g));
  }
  PetscFunctionReturn(0);
}

/*@ LandObjectiveEvaluate - training loss and (optionally) gradient over all training rows. Collective. @*/
PetscErrorCode LandObjectiveEvaluate(LandObjective obj, Vec theta, PetscReal *f, Vec g)
{
  PetscFunctionBeginUser;
  PetscCall(LandObjectiveEvaluateChunks(obj, theta, 0, NULL, f, g));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveHessianMult - exact Hessian-vector product Hv = (d^2 L / d theta^2) v by the R-op.
  Collective. @*/
PetscErrorCode LandObjectiveHessianMult(LandObjective obj, Vec theta, Vec v, Vec Hv)
{
  PetscReal        dd[2];
  const PetscReal *t, *va;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  obj->nhvp++;
  PetscCall(LandObjectiveReplicate(obj, theta, obj->theta_all));
  PetscCall(LandObjectiveReplicate(obj, v, obj->v_all));
  PetscCall(VecGetArrayRead(obj->theta_all, &t));
  PetscCall(VecGetArrayRead(obj->v_all, &va));
  PetscCall(ChunkLoop(obj, LAND_SET_TRAIN, WANT_HESS, 0, NULL, t, va, dd, NULL, NULL));
  PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
  PetscCall(VecRestoreArrayRead(obj->v_all, &va));
  PetscCall(LandDDReduceScatter(obj->comm, obj->P, obj->acc, Hv));
  PetscCall(RegAddGradient(obj, v, Hv));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveTestMetrics - loss (without regulariser) and accuracy (fraction of argmax hits; -1
  for regression data) on the train or test set. Collective. @*/
PetscErrorCode LandObjectiveTestMetrics(LandObjective obj, Vec theta, LandSetKind kind, PetscReal *loss, PetscReal *accuracy)
{
  PetscReal        dd[2];
  const PetscReal *t;
  PetscInt         correct = 0, n = 0;
  const LandSet   *set;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(LandDataGetSet(obj->data, kind, &set));
  if (set->N == 0) {
    if (loss) *loss = (PetscReal)NAN;
    if (accuracy) *accuracy = (PetscReal)NAN;
    PetscFunctionReturn(0);
  }
  PetscCall(LandObjectiveReplicate(obj, theta, obj->theta_all));
  PetscCall(VecGetArrayRead(obj->theta_all, &t));
  PetscCall(ChunkLoop(obj, kind, WANT_LOSS, 0, NULL, t, NULL, dd, &correct, &n));
  PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
  PetscCall(LandDDAllreduce(obj->comm, 1, dd));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &correct, 1, MPIU_INT, MPI_SUM, obj->comm));
  if (loss) *loss = dd[0];
  if (accuracy) *accuracy = set->labels ? (PetscReal)correct / n : -1.0;
  PetscFunctionReturn(0);
}

/* ---- Hessian shell ---- */
typedef struct {
  LandObjective obj;
  Vec           theta;
} HessCtx;

static PetscErrorCode HessMult_Shell(Mat H, Vec x, Vec y)
{
  HessCtx *ctx;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(H, &ctx));
  PetscCall(LandObjectiveHessianMult(ctx->obj, ctx->theta, x, y));
  PetscFunctionReturn(0);
}

/* The context is destroyed through MatShellSetContextDestroy, so that a MatDuplicate (SLEPc's
   spectral transformations make one) shares it by reference instead of freeing it twice. */
static PetscErrorCode HessDestroy_Shell(void *c)
{
  HessCtx *ctx = (HessCtx *)c;

  PetscFunctionBeginUser;
  PetscCall(VecDestroy(&ctx->theta));
  PetscCall(PetscFree(ctx));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveCreateHessian - the exact Hessian at theta as a symmetric MATSHELL with the layout of
  theta. The shell keeps its own copy of the point; LandObjectiveHessianSetPoint moves it. Collective. @*/
PetscErrorCode LandObjectiveCreateHessian(LandObjective obj, Vec theta, Mat *H)
{
  HessCtx *ctx;
  PetscInt n;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(PetscNew(&ctx));
  ctx->obj = obj;
  PetscCall(VecDuplicate(theta, &ctx->theta));
  PetscCall(VecCopy(theta, ctx->theta));
  PetscCall(VecGetLocalSize(theta, &n));
  PetscCall(MatCreateShell(obj->comm, n, n, obj->P, obj->P, ctx, H));
  PetscCall(MatShellSetOperation(*H, MATOP_MULT, (void (*)(void))HessMult_Shell));
  PetscCall(MatShellSetOperation(*H, MATOP_MULT_TRANSPOSE, (void (*)(void))HessMult_Shell));
  PetscCall(MatShellSetContextDestroy(*H, HessDestroy_Shell));
  PetscCall(MatSetOption(*H, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(*H, MAT_SYMMETRY_ETERNAL, PETSC_TRUE));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveHessianSetPoint - move the Hessian shell to a new point. Collective. @*/
PetscErrorCode LandObjectiveHessianSetPoint(Mat H, Vec theta)
{
  HessCtx *ctx;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(H, &ctx));
  PetscCall(VecCopy(theta, ctx->theta));
  PetscFunctionReturn(0);
}

/* ---- Residual and Jacobian: r = (f - y)/sqrt(N), one row per (sample, output), so that for mse
   L = 1/2 ||r||^2 + reg and grad L = J^T r + reg gradient. ---- */

/*@ LandObjectiveResidual - r = (f - y)/sqrt(N), a Vec with this rank's samples x outputs. Collective. @*/
PetscErrorCode LandObjectiveResidual(LandObjective obj, Vec theta, Vec r)
{
  const LandSet   *set;
  const PetscReal *t;
  PetscReal       *ra, s;
  PetscInt         chunk, L = obj->net->nlayers, k = obj->k;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  s = 1.0 / PetscSqrtReal((PetscReal)set->N);
  PetscCall(LandObjectiveReplicate(obj, theta, obj->theta_all));
  PetscCall(VecGetArrayRead(obj->theta_all, &t));
  PetscCall(VecGetArray(r, &ra));
  for (PetscInt c = set->cstart; c < set->cend; c++) {
    PetscInt r0 = c * chunk - set->rstart, m = PetscMin(chunk, set->N - c * chunk);
    PetscCall(LandNetForward(obj->net, t, m, set->X + r0 * obj->d, (PetscInt64)c * chunk, &obj->work));
    for (PetscInt i = 0; i < m * k; i++) ra[r0 * k + i] = s * (obj->work.a[L][i] - set->Y[r0 * k + i]);
  }
  PetscCall(VecRestoreArray(r, &ra));
  PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveCreateJacobian - the residual Jacobian J = dr/dtheta as MATMPIDENSE: rows = this
  rank's samples x outputs (row i*k + o), columns with the layout of theta. Memory: n_local k P.
  Collective. @*/
PetscErrorCode LandObjectiveCreateJacobian(LandObjective obj, Vec theta, Mat *J)
{
  const LandSet   *set;
  const PetscReal *t;
  PetscReal       *Ja, *rows, s;
  PetscInt         chunk, nloc, k = obj->k, P = obj->P, lda;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(PetscLogEventBegin(LAND_Jacobian, 0, 0, 0, 0));
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  PetscCall(VecGetLocalSize(theta, &nloc));
  PetscCall(MatCreateDense(obj->comm, set->n * k, nloc, PETSC_DETERMINE, P, NULL, J));
  PetscCall(MatDenseGetLDA(*J, &lda));
  s = 1.0 / PetscSqrtReal((PetscReal)set->N);
  PetscCall(LandObjectiveReplicate(obj, theta, obj->theta_all));
  PetscCall(VecGetArrayRead(obj->theta_all, &t));
  PetscCall(MatDenseGetArrayWrite(*J, &Ja));
  PetscCall(PetscMalloc1(chunk * P, &rows));
  for (PetscInt c = set->cstart; c < set->cend; c++) {
    PetscInt r0 = c * chunk - set->rstart, m = PetscMin(chunk, set->N - c * chunk);
    PetscCall(LandNetForward(obj->net, t, m, set->X + r0 * obj->d, (PetscInt64)c * chunk, &obj->work));
    for (PetscInt o = 0; o < k; o++) {
      PetscCall(PetscArrayzero(rows, m * P));
      PetscCall(LandNetRowGradients(obj->net, t, m, &obj->work, o, rows, P, s));
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < P; j++) Ja[j * lda + (r0 + i) * k + o] = rows[i * P + j]; /* column-major */
    }
  }
  PetscCall(PetscFree(rows));
  PetscCall(MatDenseRestoreArrayWrite(*J, &Ja));
  PetscCall(VecRestoreArrayRead(obj->theta_all, &t));
  PetscCall(MatAssemblyBegin(*J, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*J, MAT_FINAL_ASSEMBLY));
  PetscCall(PetscLogEventEnd(LAND_Jacobian, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

typedef struct {
  LandObjective obj;
  Vec           theta_all; /* replicated point */
} JacCtx;

/* J v = R f / sqrt(N): the forward R-op of every local row. */
static PetscErrorCode JacMult_Shell(Mat J, Vec v, Vec y)
{
  JacCtx          *ctx;
  LandObjective    obj;
  const LandSet   *set;
  const PetscReal *t, *va;
  PetscReal       *ya, s;
  PetscInt         chunk, L, k;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(J, &ctx));
  obj = ctx->obj;
  L   = obj->net->nlayers;
  k   = obj->k;
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  s = 1.0 / PetscSqrtReal((PetscReal)set->N);
  PetscCall(LandObjectiveReplicate(obj, v, obj->v_all));
  PetscCall(VecGetArrayRead(ctx->theta_all, &t));
  PetscCall(VecGetArrayRead(obj->v_all, &va));
  PetscCall(VecGetArray(y, &ya));
  for (PetscInt c = set->cstart; c < set->cend; c++) {
    PetscInt r0 = c * chunk - set->rstart, m = PetscMin(chunk, set->N - c * chunk);
    PetscCall(LandNetForward(obj->net, t, m, set->X + r0 * obj->d, (PetscInt64)c * chunk, &obj->work));
    PetscCall(LandNetForwardR(obj->net, t, va, m, &obj->work));
    for (PetscInt i = 0; i < m * k; i++) ya[r0 * k + i] = s * obj->work.rz[L][i];
  }
  PetscCall(VecRestoreArray(y, &ya));
  PetscCall(VecRestoreArrayRead(obj->v_all, &va));
  PetscCall(VecRestoreArrayRead(ctx->theta_all, &t));
  PetscFunctionReturn(0);
}

/* J^T u: the backward pass with g_f = u/sqrt(N), summed reproducibly. */
static PetscErrorCode JacMultTranspose_Shell(Mat J, Vec u, Vec y)
{
  JacCtx          *ctx;
  LandObjective    obj;
  const LandSet   *set;
  const PetscReal *t, *ua;
  PetscReal        s;
  PetscInt         chunk, k;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(J, &ctx));
  obj = ctx->obj;
  k   = obj->k;
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  PetscCall(LandDataGetChunkSize(obj->data, &chunk));
  s = 1.0 / PetscSqrtReal((PetscReal)set->N);
  PetscCall(VecGetArrayRead(ctx->theta_all, &t));
  PetscCall(VecGetArrayRead(u, &ua));
  PetscCall(PetscArrayzero(obj->acc, 2 * obj->P));
  for (PetscInt c = set->cstart; c < set->cend; c++) {
    PetscInt r0 = c * chunk - set->rstart, m = PetscMin(chunk, set->N - c * chunk);
    PetscCall(LandNetForward(obj->net, t, m, set->X + r0 * obj->d, (PetscInt64)c * chunk, &obj->work));
    for (PetscInt i = 0; i < m * k; i++) obj->work.gf[i] = s * ua[r0 * k + i];
    PetscCall(LandNetBackward(obj->net, t, m, &obj->work, obj->buf, PETSC_FALSE));
    LandDDAccumulate(obj->P, obj->buf, obj->acc);
  }
  PetscCall(VecRestoreArrayRead(u, &ua));
  PetscCall(VecRestoreArrayRead(ctx->theta_all, &t));
  PetscCall(LandDDReduceScatter(obj->comm, obj->P, obj->acc, y));
  PetscFunctionReturn(0);
}

static PetscErrorCode JacDestroy_Shell(void *c)
{
  JacCtx *ctx = (JacCtx *)c;

  PetscFunctionBeginUser;
  PetscCall(VecDestroy(&ctx->theta_all));
  PetscCall(PetscFree(ctx));
  PetscFunctionReturn(0);
}

/*@ LandObjectiveCreateJacobianShell - the residual Jacobian at theta as a MATSHELL (MatMult by the
  forward R-op, MatMultTranspose by backpropagation), for problems where n k P doubles do not fit.
  Collective. @*/
PetscErrorCode LandObjectiveCreateJacobianShell(LandObjective obj, Vec theta, Mat *J)
{
  JacCtx        *ctx;
  const LandSet *set;
  PetscInt       nloc;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  PetscCall(PetscNew(&ctx));
  ctx->obj = obj;
  PetscCall(VecDuplicate(obj->theta_all, &ctx->theta_all));
  PetscCall(LandObjectiveReplicate(obj, theta, ctx->theta_all));
  PetscCall(VecGetLocalSize(theta, &nloc));
  PetscCall(MatCreateShell(obj->comm, set->n * obj->k, nloc, PETSC_DETERMINE, obj->P, ctx, J));
  PetscCall(MatShellSetOperation(*J, MATOP_MULT, (void (*)(void))JacMult_Shell));
  PetscCall(MatShellSetOperation(*J, MATOP_MULT_TRANSPOSE, (void (*)(void))JacMultTranspose_Shell));
  PetscCall(MatShellSetContextDestroy(*J, JacDestroy_Shell));
  PetscFunctionReturn(0);
}

PetscErrorCode LandObjectiveView(LandObjective obj, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "Objective: loss %s, reg_l2 %g%s\n", LandLosses[obj->loss], (double)obj->reg_l2,
                                   obj->reg_l2_bias ? " (with biases)" : ""));
  PetscFunctionReturn(0);
}

PetscErrorCode LandObjectiveDestroy(LandObjective *obj)
{
  PetscFunctionBeginUser;
  if (!*obj) PetscFunctionReturn(0);
  if ((*obj)->setupcalled) {
    PetscCall(VecScatterDestroy(&(*obj)->toall));
    PetscCall(VecDestroy(&(*obj)->theta_all));
    PetscCall(VecDestroy(&(*obj)->v_all));
    PetscCall(PetscFree2((*obj)->acc, (*obj)->buf));
    PetscCall(LandWorkDestroy(&(*obj)->work));
  }
  PetscCall(PetscFree(*obj));
  PetscFunctionReturn(0);
}
