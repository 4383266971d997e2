/* Stage 'embed': realise the run's one-hidden-layer ReLU-like net inside a wider one with the same
   function (Wu, Simsek and Ged; docs/shallow-relu.md), and classify the widened point.
     (E1) -embed_add n: n zero-output neurons (h = 0) with w = 0, or the w of -embed_add_w;
     (E2) -embed_split j -embed_split_beta b_1,...,b_K -embed_split_c c_1,...,c_K: neuron j becomes
          K copies (b_k h_j, c_k w_j), c_k > 0, sum_k b_k c_k = 1 (rho(c t) = c rho(t) for c > 0).
          Copy 1 stays at j, copies 2..K follow the original neurons; added neurons come last.
   The run object's network keeps its width (a run does not change its parameter layout mid-run):
   the stage builds a wider LandNet and LandObjective of its own on the same data, maps theta to
   theta', asserts that the loss is unchanged to round-off, and classifies theta' with
   LandEscapeClassify. Results: /embed/theta (theta', with /embed attributes hidden_width etc.) and
   the classification. Continue from it with
     -net_hidden <hidden_width> -net_theta <dir>/results.h5 -net_theta_dataset embed/theta. */
#include <landscape/impl.h>

#define MAX_COPIES 16

typedef struct {
  PetscInt          add, split, ncopies, nc;
  PetscReal         add_w[LAND_MAX_LAYERS], beta[MAX_COPIES], c[MAX_COPIES], check_tol;
  PetscInt          nadd_w;
  LandEscapeOptions opt;
} Embed;

static PetscErrorCode SetFromOptions_Embed(LandStage s)
{
  Embed    *e    = (Embed *)s->data;
  MPI_Comm  comm = s->run->comm;
  LandNet   net  = s->run->net;
  PetscInt  dt;
  PetscBool set_w;

  PetscFunctionBeginUser;
  e->nadd_w  = LAND_MAX_LAYERS;
  e->ncopies = MAX_COPIES;
  e->nc      = MAX_COPIES;
  PetscOptionsBegin(comm, NULL, "Stage embed: widen a one-hidden-layer ReLU-like net without changing its function", NULL);
  PetscCall(PetscOptionsInt("-embed_add", "(E1) Number of zero-output neurons (h = 0) to add", "", e->add, &e->add, NULL));
  PetscCall(PetscOptionsRealArray("-embed_add_w", "(E1) Input weights of the added neurons, with the hidden bias last (default: w = 0)", "", e->add_w,
                                  &e->nadd_w, &set_w));
  PetscCall(PetscOptionsInt("-embed_split", "(E2) Neuron (0-based) to split into copies (-1: none)", "", e->split, &e->split, NULL));
  PetscCall(
      PetscOptionsRealArray("-embed_split_beta", "(E2) Output factors beta_k of the copies (b_k h_j, c_k w_j)", "", e->beta, &e->ncopies, NULL));
  PetscCall(PetscOptionsRealArray("-embed_split_c", "(E2) Input factors c_k > 0 of the copies; sum_k beta_k c_k = 1", "", e->c, &e->nc, NULL));
  PetscCall(PetscOptionsReal("-embed_check_tol", "Largest relative change of the loss accepted for the widened network (round-off)", "", e->check_tol,
                             &e->check_tol, NULL));
  PetscOptionsEnd();
  PetscCall(LandEscapeOptionsSetFromOptions(comm, "embed_", "Stage embed: tolerances of the classification of the widened point", &e->opt));
  PetscCall(LandEscapeCheckObjective(s->run->obj, "-stages embed"));
  dt = net->width[0] + (net->bias ? 1 : 0);
  if (!set_w) e->nadd_w = 0;
  PetscCheck(e->add >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-embed_add %" PetscInt_FMT " must be >= 0", e->add);
  PetscCheck(!set_w || e->nadd_w == dt, comm, PETSC_ERR_ARG_SIZ,
             "-embed_add_w has %" PetscInt_FMT " entries; this net needs %" PetscInt_FMT " (inputs%s)", e->nadd_w, dt,
             net->bias ? " and the hidden bias" : "");
  if (e->split >= 0) {
    PetscReal sum = 0;
    PetscCheck(e->split < net->width[1], comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-embed_split %" PetscInt_FMT ": the hidden layer has neurons 0..%" PetscInt_FMT, e->split, net->width[1] - 1);
    PetscCheck(e->ncopies >= 1 && e->ncopies == e->nc, comm, PETSC_ERR_ARG_SIZ,
               "-embed_split_beta (%" PetscInt_FMT " values) and -embed_split_c (%" PetscInt_FMT " values) must give one value per copy", e->ncopies,
               e->nc);
    for (PetscInt k = 0; k < e->ncopies; k++) {
      PetscCheck(e->c[k] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-embed_split_c: c_%" PetscInt_FMT " = %g must be > 0 (rho(c t) = c rho(t) needs c > 0)", k + 1, (double)e->c[k]);
      sum += e->beta[k] * e->c[k];
    }
    PetscCheck(PetscAbsReal(sum - 1) <= 1e-12, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-embed_split_beta and -embed_split_c: sum_k beta_k c_k = %.15g must be 1 for the function to stay the same", (double)sum);
  } else
    e->ncopies = 1;
  PetscCheck(e->add > 0 || e->split >= 0, comm, PETSC_ERR_ARG_WRONG, "-stages embed: nothing to do; give -embed_add and/or -embed_split");
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Embed(LandStage s)
{
  Embed           *e   = (Embed *)s->data;
  LandRun          run = s->run;
  LandNet          net = run->net, wide;
  LandObjective    obj;
  LandEscapeResult res;
  PetscInt         d = net->width[0], m = net->width[1], k = net->width[2], mw, lo, hi, widths[3];
  PetscReal       *tw, L0, L1, *a;
  const PetscReal *t;
  Vec              theta_all, thetaw;
  VecScatter       toall;

  PetscFunctionBeginUser;
  mw = m + (e->ncopies - 1) + e->add;
  /* the wider net: same input, output, activation and biases */
  PetscCall(LandNetCreate(run->comm, &wide));
  wide->nlayers     = 2;
  wide->act         = net->act;
  wide->leaky_slope = net->leaky_slope;
  wide->bias        = net->bias;
  wide->use_skip    = PETSC_FALSE;
  wide->width[1]    = mw;
  PetscCall(LandNetSetSizes(wide, d, k));
  PetscCall(LandNetSetUp(wide));
  PetscCall(LandObjectiveCreate(run->data, wide, &obj));
  obj->loss = run->obj->loss;
  PetscCall(LandObjectiveSetUp(obj));

  /* theta -> theta' on the replicated copies */
  PetscCall(VecScatterCreateToAll(run->theta, &toall, &theta_all));
  PetscCall(VecScatterBegin(toall, run->theta, theta_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(toall, run->theta, theta_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(theta_all, &t));
  PetscCall(PetscCalloc1(wide->P, &tw));
  for (PetscInt jw = 0; jw < mw; jw++) {
    PetscInt  j  = jw; /* source neuron */
    PetscReal cf = 1, bf = 1;
    if (jw >= m + e->ncopies - 1)
      j = -1; /* an added zero-output neuron */
    else if (jw >= m) {
      j  = e->split;
      cf = e->c[jw - m + 1];
      bf = e->beta[jw - m + 1];
    } else if (jw == e->split) {
      cf = e->c[0];
      bf = e->beta[0];
    }
    for (PetscInt c = 0; c < d; c++) tw[wide->woff[0] + jw * d + c] = j >= 0 ? cf * t[net->woff[0] + j * d + c] : (e->nadd_w ? e->add_w[c] : 0);
    if (net->bias) tw[wide->boff[0] + jw] = j >= 0 ? cf * t[net->boff[0] + j] : (e->nadd_w ? e->add_w[d] : 0);
    for (PetscInt o = 0; o < k; o++) tw[wide->woff[1] + o * mw + jw] = j >= 0 ? bf * t[net->woff[1] + o * m + j] : 0;
  }
  if (net->bias)
    for (PetscInt o = 0; o < k; o++) tw[wide->boff[1] + o] = t[net->boff[1] + o];
  PetscCall(VecRestoreArrayRead(theta_all, &t));
  PetscCall(LandNetCreateVec(wide, &thetaw));
  PetscCall(VecGetOwnershipRange(thetaw, &lo, &hi));
  PetscCall(VecGetArray(thetaw, &a));
  for (PetscInt i = lo; i < hi; i++) a[i - lo] = tw[i];
  PetscCall(VecRestoreArray(thetaw, &a));
  PetscCall(PetscFree(tw));

  /* the function must not change: the loss agrees to round-off */
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &L0, NULL));
  PetscCall(LandObjectiveEvaluate(obj, thetaw, &L1, NULL));
  PetscCheck(PetscAbsReal(L1 - L0) <= e->check_tol * PetscMax(L0, PETSC_SMALL), run->comm, PETSC_ERR_PLIB,
             "embed: the widened network changed the loss from %.17g to %.17g (more than -embed_check_tol %g)", (double)L0, (double)L1,
             (double)e->check_tol);
  PetscCall(PetscPrintf(run->comm, "embed: hidden width %" PetscInt_FMT " -> %" PetscInt_FMT ", loss %.10e -> %.10e (relative change %.1e)\n", m, mw,
                        (double)L0, (double)L1, (double)(PetscAbsReal(L1 - L0) / PetscMax(L0, PETSC_SMALL))));

  PetscCall(LandEscapeClassify(obj, thetaw, &e->opt, &res));
  PetscCall(LandEscapeResultPrint(&res, run->comm, "embed"));
  PetscCall(LandEscapeResultWrite(&res, run->results, s->group));
  PetscCall(LandEscapeResultReset(&res));
  PetscCall(LandResultsWriteVec(run->results, LandStagePath(s, "theta"), thetaw));
  widths[0] = d;
  widths[1] = mw;
  widths[2] = k;
  PetscCall(LandResultsWriteIntArray(run->results, LandStagePath(s, "widths"), 3, widths));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "hidden_width", mw));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "num_params", wide->P));
  PetscCall(LandResultsWriteAttrString(run->results, s->group, "activation", LandActivations[wide->act]));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "bias", wide->bias));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "added", e->add));
  PetscCall(LandResultsWriteAttrInt(run->results, s->group, "split", e->split));
  if (e->split >= 0) {
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "split_beta"), 1, e->ncopies, e->beta));
    PetscCall(LandResultsWriteArray(run->results, LandStagePath(s, "split_c"), 1, e->ncopies, e->c));
  }
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "loss_before", L0));
  PetscCall(LandResultsWriteAttrReal(run->results, s->group, "loss_after", L1));
  PetscCall(VecDestroy(&thetaw));
  PetscCall(VecScatterDestroy(&toall));
  PetscCall(VecDestroy(&theta_all));
  PetscCall(LandObjectiveDestroy(&obj));
  PetscCall(LandNetDestroy(&wide));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Embed(LandStage s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Embed(LandStage s)
{
  Embed *e;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&e));
  e->split     = -1;
  e->check_tol = 1e-12;
  PetscCall(LandEscapeOptionsDefault(&e->opt));
  s->data           = e;
  s->setfromoptions = SetFromOptions_Embed;
  s->run_stage      = Run_Embed;
  s->destroy        = Destroy_Embed;
  PetscFunctionReturn(0);
}
