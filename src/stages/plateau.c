/* Plateau monitor of full-batch gradient descent (the saddle-to-saddle dynamics of Wu, Simsek and
   Ged; docs/shallow-relu.md). The train stage calls it once per step with the loss and gradient
   norm at the current theta. Every -train_plateau_window steps it compares the loss with the one a
   window earlier: a relative decrease below -train_plateau_rtol is a quiet window, and at least
   -train_plateau_min_windows quiet windows in a row make a plateau. Within a plateau it keeps the
   parameters with the smallest gradient norm (the point nearest the saddle); when the loss leaves
   the plateau, or training ends on one, that point is classified with LandEscapeClassify using the
   tolerances -train_plateau_kink_tol, ... (looser by default than the escape stage's: a plateau
   point is only nearly stationary). Every -train_plateau_snapshot_interval steps it records |w_j|
   and |h_j| of every hidden neuron. Results: /train/plateaus (one row per plateau),
   /train/plateau_<i> (the classification), /train/neuron_norms. */
#include <landscape/impl.h>

struct _n_LandPlateau {
  LandStage         stage;
  LandEscapeOptions opt;
  PetscInt          window, min_windows, snapshot_interval;
  PetscReal         rtol;
  /* detection state */
  PetscReal prev_loss;
  PetscInt  quiet, start;
  PetscReal best_gnorm, best_loss;
  PetscInt  best_step;
  Vec       best; /* parameters at the smallest gradient norm of the current plateau */
  /* records */
  PetscInt   nplat, maxplat, nsnap, maxsnap;
  PetscReal *plat, *snap;
  VecScatter toall;
  Vec        all;
};

#define NPLAT 10 /* start, end, step classified, loss, loss (study), grad norm, verdict, escape neurons, certificate change, verified */

/*@ LandPlateauCreateFromOptions - the monitor of a train stage when -train_plateau is set, else NULL.
  Collective. Needs full-batch first-order training of a net the escape classifier covers. @*/
PetscErrorCode LandPlateauCreateFromOptions(LandStage s, LandPlateau *plateau)
{
  LandPlateau p;
  PetscBool   on = PETSC_FALSE;

  PetscFunctionBeginUser;
  *plateau = NULL;
  PetscCall(PetscNew(&p));
  p->stage       = s;
  p->window      = 1000;
  p->min_windows = 3;
  p->rtol        = 1e-4;
  PetscCall(LandEscapeOptionsDefault(&p->opt));
  p->opt.kink_tol = 1e-3; /* plateau points approach their kinks only slowly */
  p->opt.zero_tol = 1e-2;
  p->opt.stat_tol = 1e-3;
  PetscOptionsBegin(s->run->comm, NULL, "Stage train: plateau monitor (one-hidden-layer ReLU-like nets, full-batch sgd)", NULL);
  PetscCall(
      PetscOptionsBool("-train_plateau", "Detect loss plateaus and classify the point at each with the escape-neuron classifier", "", on, &on, NULL));
  PetscCall(PetscOptionsInt("-train_plateau_window", "Steps between loss comparisons", "", p->window, &p->window, NULL));
  PetscCall(PetscOptionsReal("-train_plateau_rtol", "A window is quiet when the loss fell by less than this fraction of itself", "", p->rtol,
                             &p->rtol, NULL));
  PetscCall(PetscOptionsInt("-train_plateau_min_windows", "Quiet windows in a row that make a plateau", "", p->min_windows, &p->min_windows, NULL));
  PetscCall(PetscOptionsInt("-train_plateau_snapshot_interval", "Record |w_j| and |h_j| every this many steps (0: at every window)", "",
                            p->snapshot_interval, &p->snapshot_interval, NULL));
  PetscOptionsEnd();
  PetscCall(LandEscapeOptionsSetFromOptions(s->run->comm, "train_plateau_", "Stage train: tolerances of the plateau classification", &p->opt));
  if (!on) {
    PetscCall(PetscFree(p));
    PetscFunctionReturn(0);
  }
  PetscCheck(p->window >= 1 && p->min_windows >= 1 && p->snapshot_interval >= 0 && p->rtol >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_plateau_window and -train_plateau_min_windows must be >= 1, -train_plateau_rtol and -train_plateau_snapshot_interval >= 0");
  if (!p->snapshot_interval) p->snapshot_interval = p->window;
  PetscCall(LandEscapeCheckObjective(s->run->obj, "-train_plateau"));
  p->prev_loss = NAN;
  *plateau     = p;
  PetscFunctionReturn(0);
}

static PetscErrorCode Snapshot(LandPlateau p, PetscInt step, PetscReal loss, Vec theta)
{
  LandNet          net = p->stage->run->net;
  PetscInt         m = net->width[1], d = net->width[0], k = net->width[2], nc = 2 + 2 * m;
  const PetscReal *t;
  PetscReal       *row;

  PetscFunctionBeginUser;
  if (!p->toall) PetscCall(VecScatterCreateToAll(theta, &p->toall, &p->all));
  PetscCall(VecScatterBegin(p->toall, theta, p->all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(p->toall, theta, p->all, INSERT_VALUES, SCATTER_FORWARD));
  if (p->nsnap == p->maxsnap) {
    p->maxsnap = 2 * p->maxsnap + 64;
    PetscCall(PetscRealloc(sizeof(PetscReal) * nc * p->maxsnap, &p->snap));
  }
  row    = p->snap + nc * p->nsnap++;
  row[0] = step;
  row[1] = loss;
  PetscCall(VecGetArrayRead(p->all, &t));
  for (PetscInt j = 0; j < m; j++) {
    PetscReal w = 0, h = 0;
    for (PetscInt c = 0; c < d; c++) w += PetscSqr(t[net->woff[0] + j * d + c]);
    if (net->bias) w += PetscSqr(t[net->boff[0] + j]);
    for (PetscInt o = 0; o < k; o++) h += PetscSqr(t[net->woff[1] + o * m + j]);
    row[2 + j]     = PetscSqrtReal(w);
    row[2 + m + j] = PetscSqrtReal(h);
  }
  PetscCall(VecRestoreArrayRead(p->all, &t));
  PetscFunctionReturn(0);
}

/* Classify the kept point of the plateau that ran from p->start to 'end'. */
static PetscErrorCode Classify(LandPlateau p, PetscInt end)
{
  LandStage        s = p->stage;
  LandEscapeResult res;
  char             group[128], who[64];
  PetscReal       *row;

  PetscFunctionBeginUser;
  PetscCall(LandEscapeClassify(s->run->obj, p->best, &p->opt, &res));
  PetscCall(PetscSNPrintf(who, sizeof(who), "train: plateau %" PetscInt_FMT, p->nplat + 1));
  PetscCall(PetscPrintf(s->run->comm, "%s: steps %" PetscInt_FMT "-%" PetscInt_FMT ", classified at step %" PetscInt_FMT " (|g| %.3e)\n", who,
                        p->start, end, p->best_step, (double)p->best_gnorm));
  PetscCall(LandEscapeResultPrint(&res, s->run->comm, who));
  PetscCall(PetscSNPrintf(group, sizeof(group), "%s/plateau_%" PetscInt_FMT, s->group, p->nplat + 1));
  PetscCall(LandEscapeResultWrite(&res, s->run->results, group));
  PetscCall(LandResultsWriteAttrInt(s->run->results, group, "step", p->best_step));
  PetscCall(PetscSNPrintf(group, sizeof(group), "%s/plateau_%" PetscInt_FMT "/theta", s->group, p->nplat + 1));
  PetscCall(LandResultsWriteVec(s->run->results, group, p->best));
  if (p->nplat == p->maxplat) {
    p->maxplat = 2 * p->maxplat + 8;
    PetscCall(PetscRealloc(sizeof(PetscReal) * NPLAT * p->maxplat, &p->plat));
  }
  row    = p->plat + NPLAT * p->nplat++;
  row[0] = p->start;
  row[1] = end;
  row[2] = p->best_step;
  row[3] = p->best_loss;
  row[4] = 2 * p->best_loss;
  row[5] = p->best_gnorm;
  row[6] = res.verdict;
  row[7] = res.nescape;
  row[8] = res.cert_measured;
  row[9] = res.cert_verified;
  PetscCall(LandEscapeResultReset(&res));
  PetscFunctionReturn(0);
}

/*@ LandPlateauStep - called by the train stage with the loss and gradient norm at theta after
  'step' steps. Collective. @*/
PetscErrorCode LandPlateauStep(LandPlateau p, PetscInt step, PetscReal loss, PetscReal gnorm, Vec theta)
{
  PetscFunctionBeginUser;
  if (step % p->snapshot_interval == 0) PetscCall(Snapshot(p, step, loss, theta));
  if (p->quiet > 0 && gnorm < p->best_gnorm) { /* inside a plateau (or a candidate): keep the point nearest the saddle */
    p->best_gnorm = gnorm;
    p->best_loss  = loss;
    p->best_step  = step;
    PetscCall(VecCopy(theta, p->best));
  }
  if (step % p->window) PetscFunctionReturn(0);
  if (!PetscIsNanReal(p->prev_loss)) {
    PetscBool quiet = (PetscBool)(p->prev_loss - loss < p->rtol * loss);
    if (quiet && p->quiet == 0) {
      p->start      = step - p->window;
      p->best_gnorm = gnorm;
      p->best_loss  = loss;
      p->best_step  = step;
      if (!p->best) PetscCall(VecDuplicate(theta, &p->best));
      PetscCall(VecCopy(theta, p->best));
    }
    if (quiet)
      p->quiet++;
    else {
      if (p->quiet >= p->min_windows) PetscCall(Classify(p, step));
      p->quiet = 0;
    }
  }
  p->prev_loss = loss;
  PetscFunctionReturn(0);
}

/*@ LandPlateauFinish - at the end of training: classify a plateau that is still running, and write
  the plateau table and the neuron-norm snapshots. Collective. @*/
PetscErrorCode LandPlateauFinish(LandPlateau p, PetscInt step, PetscReal loss, PetscReal gnorm, Vec theta)
{
  LandStage s = p->stage;
  PetscInt  m = s->run->net->width[1];

  PetscFunctionBeginUser;
  if (p->quiet > 0 && gnorm < p->best_gnorm) {
    p->best_gnorm = gnorm;
    p->best_loss  = loss;
    p->best_step  = step;
    PetscCall(VecCopy(theta, p->best));
  }
  if (p->quiet >= p->min_windows) PetscCall(Classify(p, step));
  if (p->nsnap == 0 || p->snap[(2 + 2 * m) * (p->nsnap - 1)] != step) PetscCall(Snapshot(p, step, loss, theta));
  PetscCall(LandResultsWriteArray(s->run->results, LandStagePath(s, "plateaus"), p->nplat, NPLAT, p->plat));
  PetscCall(LandResultsWriteAttrString(s->run->results, LandStagePath(s, "plateaus"), "columns",
                                       "start,end,step,loss,loss_study,grad_norm,verdict,escape_neurons,certificate_change,certificate_verified"));
  PetscCall(LandResultsWriteAttrString(s->run->results, LandStagePath(s, "plateaus"), "verdicts",
                                       "0 not stationary, 1 local min, 2 saddle, 3 undetermined"));
  PetscCall(LandResultsWriteArray(s->run->results, LandStagePath(s, "neuron_norms"), p->nsnap, 2 + 2 * m, p->snap));
  PetscCall(
      LandResultsWriteAttrString(s->run->results, LandStagePath(s, "neuron_norms"), "columns", "step, loss, |w_j| (m columns), |h_j| (m columns)"));
  PetscFunctionReturn(0);
}

PetscErrorCode LandPlateauDestroy(LandPlateau *p)
{
  PetscFunctionBeginUser;
  if (!*p) PetscFunctionReturn(0);
  PetscCall(VecDestroy(&(*p)->best));
  PetscCall(VecScatterDestroy(&(*p)->toall));
  PetscCall(VecDestroy(&(*p)->all));
  PetscCall(PetscFree((*p)->plat));
  PetscCall(PetscFree((*p)->snap));
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(0);
}
