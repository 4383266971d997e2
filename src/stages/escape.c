/* Escape neurons of one-hidden-layer ReLU-like networks (Wu, Simsek and Ged; docs/shallow-relu.md).

   f(x) = sum_j h_j rho(w_j . x) (+ c), rho(t) = t (t > 0), alpha t (t <= 0); a hidden bias b_j is
   the weight on a constant input column: w_j <- (w_j, b_j), x <- (x, 1). Loss L = (1/N) sum_i 1/2 |r_i|^2,
   r_i = f(x_i) - y_i. For neuron j, with the points split by the sign of z_ij = w_j . x_i into
   I+, I- and the kink set I0 (|z_ij| <= kink_tol |w_j| |x_i|):

     D_j = sum_{I+} r_i x_i^T + alpha sum_{I-} r_i x_i^T,   E_j = sum_{I0} r_i x_i^T          (k x d)
     g_j(u) = D_j u + sum_{I0} r_i rho(x_i . u) = M_j u + sum_c sigma_c |l_c . u|
       with M_j = D_j + (1+alpha)/2 E_j and, for the kink points grouped by the line l_c (unit) they
       span, sigma_c = (1-alpha)/2 sum_{i in c} r_i |x_i|                  (rho(t) = (1+a)/2 t + (1-a)/2 |t|)
     (S1) dL/dh_j = (1/N) D_j w_j = 0
     (S2) the one-sided derivative along any u of w_j, (1/N) phi_j(u), phi_j = h_j . g_j, is >= 0:
          phi_j(u) = a_j . u + sum_c b_c |l_c . u|, a_j = M_j^T h_j, b_c = h_j . sigma_c. When the
          lines l_c are linearly independent, phi_j >= 0 iff a_j = sum_c mu_c l_c with |mu_c| <= b_c.
     The functions |l_c . u| of distinct lines are linearly independent and not linear, so
     g_j == 0 iff M_j = 0 and sigma_c = 0 for every c.
   Neuron j is an escape neuron when h_j = 0 (up to zero_tol) and g_j is not identically zero. For a
   scalar output such a neuron makes a stationary point a saddle: with g_j(u*) != 0, the step
   h_j <- -eps sign(g_j(u*)), w_j <- w_j + sqrt(eps) u* changes the loss by
   (1/N)(-eps sign g)(D_j w_j + sqrt(eps) g_j(u*)) + O(eps^2) = -(1/N) eps^{3/2} |g_j(u*)| + O(eps^2)
   at a point that satisfies (S1). The classifier evaluates the loss there with the real objective.
   A zero neuron (|h_j| and |w_j| both below zero_tol times the reference) that is not dead is judged
   at w_j = 0, the saddle it sits next to: its g is g_0(u) = sum_i r_i rho(x_i . u), its (S1) holds,
   and the certificate sets w_j <- sqrt(eps) u* instead of adding. A dead neuron (ReLU, every point
   strictly inactive) keeps its pattern under perturbations smaller than its margin: g_j == 0, never
   an escape neuron, whatever its size.

   Sums over the data are double-double and reduced across ranks (ddsum.c); the kink points are
   gathered in global row order, so the verdicts do not depend on the rank count. */
#include <landscape/impl.h>

const char *const LandEscapeVerdicts[] = {"not stationary", "local min", "saddle", "undetermined", NULL};
const char *const LandEscapeColumns =
    "w_norm,h_norm,n_kink,n_kink_lines,zero_output,dead,escape,s1,s2,s2_status,g_norm,g_witness,n_active,zero_neuron";

#define NRANDOM_DIRECTIONS 64

/*@ LandEscapeOptionsDefault - default tolerances of the classifier. Not collective. @*/
PetscErrorCode LandEscapeOptionsDefault(LandEscapeOptions *o)
{
  PetscFunctionBeginUser;
  o->kink_tol        = 1e-6;
  o->zero_tol        = 1e-3;
  o->stat_tol        = 1e-6;
  o->escape_tol      = 1e-6;
  o->eps             = 0;
  o->max_kink_points = 1000000;
  o->certify         = PETSC_TRUE;
  PetscCall(PetscStrcpy(o->prefix, "escape_"));
  PetscFunctionReturn(0);
}

/*@ LandEscapeOptionsSetFromOptions - read the classifier's tolerances with an options prefix
  ("escape_" for the stage, "train_plateau_" for the plateau monitor). Collective.
  Options: -<prefix>kink_tol, zero_tol, stat_tol, escape_tol, cert_eps, certify, max_kink_points @*/
PetscErrorCode LandEscapeOptionsSetFromOptions(MPI_Comm comm, const char prefix[], const char title[], LandEscapeOptions *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(o->prefix, prefix, sizeof(o->prefix)));
  PetscOptionsBegin(comm, prefix, title, NULL);
  PetscCall(PetscOptionsReal("-kink_tol", "Point i is on neuron j's kink when |w_j.x_i| <= tol |w_j| |x_i| (x with the bias column)", "", o->kink_tol,
                             &o->kink_tol, NULL));
  PetscCall(PetscOptionsReal("-zero_tol", "Neuron j has zero output when |h_j| <= tol max(max_l |h_l|, sqrt(rms y)); zero neuron: |w_j| too", "",
                             o->zero_tol, &o->zero_tol, NULL));
  PetscCall(PetscOptionsReal("-stat_tol", "Largest relative residual of the stationarity conditions (S1), (S2) and of the output-bias gradient", "",
                             o->stat_tol, &o->stat_tol, NULL));
  PetscCall(PetscOptionsReal("-escape_tol", "g_j counts as non-zero when max(|M_j|, |sigma_c|) > tol sum_i |r_i| |x_i|", "", o->escape_tol,
                             &o->escape_tol, NULL));
  PetscCall(PetscOptionsReal("-cert_eps", "First eps of the saddle certificate (divided by 4 until the measured decrease matches; 0: automatic)", "",
                             o->eps, &o->eps, NULL));
  PetscCall(PetscOptionsBool("-certify", "Evaluate the loss at the escape perturbation (scalar output)", "", o->certify, &o->certify, NULL));
  PetscCall(PetscOptionsInt("-max_kink_points", "Largest number of (neuron, kink point) pairs gathered on every rank", "", o->max_kink_points,
                            &o->max_kink_points, NULL));
  PetscOptionsEnd();
  PetscCheck(o->kink_tol >= 0 && o->kink_tol < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-%skink_tol %g must lie in [0, 1)", prefix, (double)o->kink_tol);
  PetscCheck(o->zero_tol >= 0 && o->stat_tol >= 0 && o->escape_tol >= 0 && o->eps >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-%szero_tol, -%sstat_tol, -%sescape_tol and -%scert_eps must be >= 0", prefix, prefix, prefix, prefix);
  PetscFunctionReturn(0);
}

/*@ LandEscapeCheckObjective - error unless the objective is what the classifier covers: one hidden
  layer of relu or leaky_relu, mse loss, no regulariser. Collective. @*/
PetscErrorCode LandEscapeCheckObjective(LandObjective obj, const char who[])
{
  LandNet net = obj->net;

  PetscFunctionBeginUser;
  PetscCheck(net->nlayers == 2, obj->comm, PETSC_ERR_SUP, "%s: needs one hidden layer (-net_hidden with one width); this net has %" PetscInt_FMT, who,
             net->nlayers - 1);
  PetscCheck(net->act == LAND_ACT_RELU || net->act == LAND_ACT_LEAKY_RELU, obj->comm, PETSC_ERR_SUP,
             "%s: -net_activation %s is not ReLU-like; the escape-neuron classifier needs relu or leaky_relu", who, LandActivations[net->act]);
  PetscCheck(obj->loss == LAND_LOSS_MSE, obj->comm, PETSC_ERR_SUP, "%s: -loss %s; the escape-neuron classifier needs -loss mse", who,
             LandLosses[obj->loss]);
  PetscCheck(obj->reg_l2 == 0, obj->comm, PETSC_ERR_SUP, "%s: -reg_l2 %g; the escape-neuron classifier needs an unregularised loss", who,
             (double)obj->reg_l2);
  PetscFunctionReturn(0);
}

/* Orthonormalise the n rows of V (length dt) into Q by modified Gram-Schmidt, twice for stability;
   returns the rank (rows whose remainder is below rtol of their norm are dropped). */
static PetscInt Orthonormalise(PetscInt n, PetscInt dt, const PetscReal *V, PetscReal rtol, PetscReal *Q)
{
  PetscInt r = 0;
  for (PetscInt i = 0; i < n; i++) {
    PetscReal *q = Q + r * dt, nrm0 = 0, nrm = 0;
    for (PetscInt t = 0; t < dt; t++) {
      q[t] = V[i * dt + t];
      nrm0 += q[t] * q[t];
    }
    if (nrm0 == 0) continue;
    for (PetscInt pass = 0; pass < 2; pass++)
      for (PetscInt p = 0; p < r; p++) {
        PetscReal dot = 0;
        for (PetscInt t = 0; t < dt; t++) dot += Q[p * dt + t] * q[t];
        for (PetscInt t = 0; t < dt; t++) q[t] -= dot * Q[p * dt + t];
      }
    for (PetscInt t = 0; t < dt; t++) nrm += q[t] * q[t];
    if (nrm <= rtol * rtol * nrm0) continue;
    nrm = PetscSqrtReal(nrm);
    for (PetscInt t = 0; t < dt; t++) q[t] /= nrm;
    r++;
  }
  return r;
}

/* Solve the n x n system A x = b (A overwritten) by Gaussian elimination with partial pivoting. */
static void SmallSolve(PetscInt n, PetscReal *A, PetscReal *b)
{
  for (PetscInt c = 0; c < n; c++) {
    PetscInt p = c;
    for (PetscInt i = c + 1; i < n; i++)
      if (PetscAbsReal(A[i * n + c]) > PetscAbsReal(A[p * n + c])) p = i;
    for (PetscInt t = 0; t < n; t++) {
      PetscReal s  = A[c * n + t];
      A[c * n + t] = A[p * n + t];
      A[p * n + t] = s;
    }
    {
      PetscReal s = b[c];
      b[c]        = b[p];
      b[p]        = s;
    }
    for (PetscInt i = c + 1; i < n; i++) {
      PetscReal l = A[i * n + c] / A[c * n + c];
      for (PetscInt t = c; t < n; t++) A[i * n + t] -= l * A[c * n + t];
      b[i] -= l * b[c];
    }
  }
  for (PetscInt c = n - 1; c >= 0; c--) {
    for (PetscInt t = c + 1; t < n; t++) b[c] -= A[c * n + t] * b[t];
    b[c] /= A[c * n + c];
  }
}

/* g(u) = M u + sum_c sigma_c |l_c . u| in R^k. */
static void GEval(PetscInt k, PetscInt dt, const PetscReal *M, PetscInt C, const PetscReal *ell, const PetscReal *sig, const PetscReal *u,
                  PetscReal *g)
{
  for (PetscInt o = 0; o < k; o++) {
    g[o] = 0;
    for (PetscInt t = 0; t < dt; t++) g[o] += M[o * dt + t] * u[t];
  }
  for (PetscInt c = 0; c < C; c++) {
    PetscReal a = 0;
    for (PetscInt t = 0; t < dt; t++) a += ell[c * dt + t] * u[t];
    for (PetscInt o = 0; o < k; o++) g[o] += sig[c * k + o] * PetscAbsReal(a);
  }
}

static PetscReal Norm(PetscInt n, const PetscReal *v)
{
  PetscReal s = 0;
  for (PetscInt i = 0; i < n; i++) s += v[i] * v[i];
  return PetscSqrtReal(s);
}

/* Witness u* = argmax |g(u)| over unit u among the kink lines, the rows of M and seeded random
   directions (the same on every rank). gbest is g(u*) for scalar output, |g(u*)| otherwise. */
static void Witness(PetscInt k, PetscInt dt, const PetscReal *M, PetscInt C, const PetscReal *ell, const PetscReal *sig, PetscReal *u, PetscReal *g,
                    PetscReal *gbest, PetscReal *ubest)
{
  PetscInt ncand = 2 * C + 2 * k + NRANDOM_DIRECTIONS;
  *gbest         = 0;
  for (PetscInt q = 0; q < ncand; q++) {
    PetscReal un, gv;
    if (q < 2 * C)
      for (PetscInt c = 0; c < dt; c++) u[c] = (q % 2 ? -1 : 1) * ell[(q / 2) * dt + c];
    else if (q < 2 * C + 2 * k)
      for (PetscInt c = 0; c < dt; c++) u[c] = ((q - 2 * C) % 2 ? -1 : 1) * M[((q - 2 * C) / 2) * dt + c];
    else
      for (PetscInt c = 0; c < dt; c++) u[c] = LandRandNormal(20240205, 7, (q - 2 * C - 2 * k) * dt + c);
    un = Norm(dt, u);
    if (un == 0) continue;
    for (PetscInt c = 0; c < dt; c++) u[c] /= un;
    GEval(k, dt, M, C, ell, sig, u, g);
    gv = k == 1 ? g[0] : Norm(k, g);
    if (PetscAbsReal(gv) > PetscAbsReal(*gbest)) {
      *gbest = gv;
      for (PetscInt c = 0; c < dt; c++) ubest[c] = u[c];
    }
  }
}

/* Set (or add to) entry i of a distributed vector: only its owner acts. Not collective. */
static PetscErrorCode VecSetEntry(Vec v, PetscInt i, PetscReal value, PetscBool add)
{
  PetscInt   lo, hi;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  if (i < lo || i >= hi) PetscFunctionReturn(0);
  PetscCall(VecGetArray(v, &a));
  a[i - lo] = add ? a[i - lo] + value : value;
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}

/* The saddle certificate: evaluate the loss at h_j <- -eps sign(g), w_j <- w_j + sqrt(eps) u*,
   and decrease eps until the measured change is negative and within 25% of the prediction
   -(1/N) eps^{3/2} |g(u*)| at two successive eps (eps and eps/4), or until the prediction sinks
   into the round-off of the loss. */
static PetscErrorCode Certify(LandObjective obj, Vec theta, const LandEscapeOptions *opt, PetscInt j, PetscBool replace, const PetscReal *u,
                              PetscReal gu, LandEscapeResult *res)
{
  LandNet        net = obj->net;
  PetscInt       d   = net->width[0], N;
  PetscReal      L0, L1, eps, pred = 0, meas = 0, sgn = gu > 0 ? 1.0 : -1.0;
  PetscBool      prev_match = PETSC_FALSE;
  Vec            t1;
  const LandSet *set;

  PetscFunctionBeginUser;
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  N = set->N;
  PetscCall(LandObjectiveEvaluate(obj, theta, &L0, NULL));
  PetscCall(VecDuplicate(theta, &t1));
  eps                = opt->eps > 0 ? opt->eps : PetscMin(1.0, PetscPowReal(0.01 * PetscMax(L0, PETSC_SMALL) * N / PetscAbsReal(gu), 2.0 / 3.0));
  res->cert_verified = PETSC_FALSE;
  for (PetscInt it = 0; it < 40; it++, eps /= 4) {
    PetscReal se = PetscSqrtReal(eps);
    PetscBool match;
    pred = -PetscPowReal(eps, 1.5) * PetscAbsReal(gu) / N;
    if (PetscAbsReal(pred) < 1e-11 * PetscMax(L0, PETSC_SMALL)) break; /* below what the loss can resolve */
    PetscCall(VecCopy(theta, t1));
    PetscCall(VecSetEntry(t1, net->woff[1] + j, -eps * sgn, PETSC_FALSE)); /* scalar output: W2 is 1 x m */
    for (PetscInt t = 0; t < d; t++) PetscCall(VecSetEntry(t1, net->woff[0] + j * d + t, se * u[t], (PetscBool)!replace));
    if (net->bias) PetscCall(VecSetEntry(t1, net->boff[0] + j, se * u[d], (PetscBool)!replace));
    PetscCall(LandObjectiveEvaluate(obj, t1, &L1, NULL));
    meas  = L1 - L0;
    match = (PetscBool)(meas < 0 && PetscAbsReal(meas - pred) <= 0.25 * PetscAbsReal(pred));
    /* the eps^{3/2} law must hold at two successive eps: report the larger */
    if (match && prev_match) {
      res->cert_verified = PETSC_TRUE;
      break;
    }
    res->cert_eps       = eps;
    res->cert_predicted = pred;
    res->cert_measured  = meas;
    prev_match          = match;
  }
  PetscCall(VecDestroy(&t1));
  PetscFunctionReturn(0);
}

/*@ LandEscapeClassify - stationarity (S1, S2), escape neurons and a verdict for a one-hidden-layer
  ReLU-like net with mse loss at theta. Collective on the objective's communicator.

  Input: obj (its net and training data), theta, the tolerances opt.
  Output: res, filled (free its arrays with LandEscapeResultReset). The verdict is one of
  not stationary, local min, saddle (scalar output, with a certificate whose loss decrease was
  measured), undetermined (dependent kink lines at a neuron with h_j != 0, or vector output with
  escape neurons). Identical at any rank count. @*/
PetscErrorCode LandEscapeClassify(LandObjective obj, Vec theta, const LandEscapeOptions *opt, LandEscapeResult *res)
{
  LandNet          net = obj->net;
  const LandSet   *set;
  PetscInt         d, m, k, dt, N, nacc, nrec_local = 0, maxrec = 0, rs, nrec, *rec_start;
  PetscReal        alpha, *acc, *W, *H, *rec_local = NULL, *rec = NULL, *z, *f, *r, *xt, *Mall, yscale, G, href, wref;
  const PetscReal *t;
  Vec              theta_all;
  VecScatter       toall;
  PetscMPIInt      size, *counts, *displs;
  PetscInt         iD, iPos, iKink, iG, iR2, iAbsR, iRsum;
  PetscReal        best_g = 0;
  PetscInt         best_j = -1, mz, has_zero = 0;
  PetscReal       *best_u, gnorm0 = 0, gbest0 = 0, *bestu0;
  PetscBool       *small, best_zero = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(LandEscapeCheckObjective(obj, "escape"));
  PetscCall(LandDataGetSet(obj->data, LAND_SET_TRAIN, &set));
  d     = net->width[0];
  m     = net->width[1];
  k     = net->width[2];
  dt    = d + (net->bias ? 1 : 0);
  N     = set->N;
  alpha = net->act == LAND_ACT_LEAKY_RELU ? net->leaky_slope : 0.0;
  PetscCheck(dt <= 64 && k <= 64, obj->comm, PETSC_ERR_SUP,
             "escape: inputs (with the bias column) and outputs of dimension <= 64 are supported; this net has %" PetscInt_FMT " and %" PetscInt_FMT,
             dt, k);
  PetscCall(PetscMemzero(res, sizeof(*res)));
  res->m           = m;
  res->k           = k;
  res->dt          = dt;
  res->worst       = -1;
  res->cert_neuron = -1;
  res->cert_eps = res->cert_g = res->cert_predicted = res->cert_measured = NAN;
  PetscCall(PetscCalloc2(m * LAND_ESCAPE_NCOL, &res->table, dt, &res->cert_u));

  /* replicated parameters: W[j*dt + t] = (w_j, b_j), H[o*m + j] = h_j */
  PetscCall(VecScatterCreateToAll(theta, &toall, &theta_all));
  PetscCall(VecScatterBegin(toall, theta, theta_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(toall, theta, theta_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(theta_all, &t));
  PetscCall(PetscCalloc6((m + 1) * dt, &W, k * m, &H, m + 1, &z, k, &f, k, &r, dt, &xt));
  for (PetscInt j = 0; j < m; j++) {
    for (PetscInt c = 0; c < d; c++) W[j * dt + c] = t[net->woff[0] + j * d + c];
    if (net->bias) W[j * dt + d] = t[net->boff[0] + j];
  }
  for (PetscInt i = 0; i < k * m; i++) H[i] = t[net->woff[1] + i];

  /* scales: a neuron is small next to max(largest neuron, sqrt(rms y)), the size of one balanced
     neuron that alone carries the targets */
  {
    PetscReal y2[2] = {0, 0};
    for (PetscInt i = 0; i < set->n * k; i++) {
      PetscReal v = set->Y[i] * set->Y[i];
      LandDDAccumulate(1, &v, y2);
    }
    PetscCall(LandDDAllreduce(obj->comm, 1, y2));
    yscale = PetscSqrtReal(y2[0] / N);
  }
  href = wref = PetscSqrtReal(yscale);
  for (PetscInt j = 0; j < m; j++) {
    PetscReal hn = 0;
    for (PetscInt o = 0; o < k; o++) hn += H[o * m + j] * H[o * m + j];
    href = PetscMax(href, PetscSqrtReal(hn));
    wref = PetscMax(wref, Norm(dt, W + j * dt));
  }
  /* zero neurons (|h_j| and |w_j| both small) that are not dead are judged at w_j = 0, the saddle
     they sit next to: a pseudo-neuron m with w = 0 (every point on its kink) provides g_0 */
  PetscCall(PetscMalloc2(m, &small, dt, &bestu0));
  for (PetscInt j = 0; j < m; j++) {
    PetscReal hn = 0;
    for (PetscInt o = 0; o < k; o++) hn += H[o * m + j] * H[o * m + j];
    small[j] = (PetscBool)(PetscSqrtReal(hn) <= opt->zero_tol * href && Norm(dt, W + j * dt) <= opt->zero_tol * wref);
    if (small[j]) has_zero = 1;
  }
  mz = m + has_zero; /* neurons in the data pass */

  /* one pass over this rank's rows: residuals, D_j, counts, scales; kink points kept as records
     (j, global row, x (dt), r (k)) */
  iD    = 0;
  iPos  = iD + mz * k * dt;
  iKink = iPos + mz;
  iG    = iKink + mz;
  iR2   = iG + 1;
  iAbsR = iR2 + 1;
  iRsum = iAbsR + 1;
  nacc  = iRsum + k;
  rs    = 2 + dt + k;
  PetscCall(PetscCalloc1(2 * nacc, &acc));
  for (PetscInt i = 0; i < set->n; i++) {
    const PetscReal *x = set->X + i * d, *y = set->Y + i * k;
    PetscReal        xn, rn, one = 1, v;
    for (PetscInt c = 0; c < d; c++) xt[c] = x[c];
    if (net->bias) xt[d] = 1.0;
    xn = Norm(dt, xt);
    for (PetscInt o = 0; o < k; o++) f[o] = net->bias ? t[net->boff[1] + o] : 0.0;
    for (PetscInt j = 0; j < m; j++) {
      z[j] = 0;
      for (PetscInt c = 0; c < dt; c++) z[j] += W[j * dt + c] * xt[c];
      for (PetscInt o = 0; o < k; o++) f[o] += H[o * m + j] * (z[j] > 0 ? z[j] : alpha * z[j]);
    }
    for (PetscInt o = 0; o < k; o++) r[o] = f[o] - y[o];
    rn = Norm(k, r);
    v  = rn * xn;
    LandDDAccumulate(1, &v, acc + 2 * iG);
    v = rn * rn;
    LandDDAccumulate(1, &v, acc + 2 * iR2);
    LandDDAccumulate(1, &rn, acc + 2 * iAbsR);
    LandDDAccumulate(k, r, acc + 2 * iRsum);
    if (has_zero) z[m] = 0;
    for (PetscInt j = 0; j < mz; j++) {
      PetscReal wn = Norm(dt, W + j * dt), s;
      if (PetscAbsReal(z[j]) <= opt->kink_tol * wn * xn) {
        if (xn == 0) continue; /* a zero input row touches nothing */
        LandDDAccumulate(1, &one, acc + 2 * (iKink + j));
        if (nrec_local == maxrec) {
          maxrec = 2 * maxrec + 16;
          PetscCall(PetscRealloc(sizeof(PetscReal) * rs * maxrec, &rec_local));
        }
        rec_local[rs * nrec_local + 0] = j;
        rec_local[rs * nrec_local + 1] = set->rstart + i;
        for (PetscInt c = 0; c < dt; c++) rec_local[rs * nrec_local + 2 + c] = xt[c];
        for (PetscInt o = 0; o < k; o++) rec_local[rs * nrec_local + 2 + dt + o] = r[o];
        nrec_local++;
        continue;
      }
      s = z[j] > 0 ? 1.0 : alpha;
      if (z[j] > 0) LandDDAccumulate(1, &one, acc + 2 * (iPos + j));
      if (s == 0) continue;
      for (PetscInt o = 0; o < k; o++)
        for (PetscInt c = 0; c < dt; c++) {
          PetscReal e = s * r[o] * xt[c];
          LandDDAccumulate(1, &e, acc + 2 * (iD + (j * k + o) * dt + c));
        }
    }
  }
  PetscCall(VecRestoreArrayRead(theta_all, &t));
  PetscCall(LandDDAllreduce(obj->comm, nacc, acc));

  /* the kink records of all ranks, in global row order (ranks own increasing row ranges) */
  PetscCallMPI(MPI_Comm_size(obj->comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  {
    PetscMPIInt mine = (PetscMPIInt)(rs * nrec_local);
    PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, obj->comm));
  }
  nrec = 0;
  for (PetscMPIInt p = 0; p < size; p++) {
    displs[p] = (PetscMPIInt)nrec;
    nrec += counts[p];
  }
  nrec /= rs;
  PetscCheck(nrec <= opt->max_kink_points, obj->comm, PETSC_ERR_MEM,
             "escape: %" PetscInt_FMT " (neuron, kink point) pairs exceed -%smax_kink_points %" PetscInt_FMT
             " (raise it, or lower the kink tolerance)",
             nrec, opt->prefix, opt->max_kink_points);
  PetscCall(PetscMalloc1(rs * nrec + 1, &rec));
  PetscCallMPI(MPI_Allgatherv(rec_local, (PetscMPIInt)(rs * nrec_local), MPIU_REAL, rec, counts, displs, MPIU_REAL, obj->comm));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree(rec_local));
  /* records of neuron j: a stable counting sort by neuron keeps the global row order */
  PetscCall(PetscCalloc1(mz + 1, &rec_start));
  {
    PetscReal *sorted;
    PetscInt  *next;
    PetscCall(PetscMalloc1(rs * nrec + 1, &sorted));
    PetscCall(PetscMalloc1(mz + 1, &next));
    for (PetscInt q = 0; q < nrec; q++) rec_start[(PetscInt)rec[rs * q] + 1]++;
    for (PetscInt j = 0; j < mz; j++) rec_start[j + 1] += rec_start[j];
    for (PetscInt j = 0; j <= mz; j++) next[j] = rec_start[j];
    for (PetscInt q = 0; q < nrec; q++) PetscCall(PetscArraycpy(sorted + rs * next[(PetscInt)rec[rs * q]]++, rec + rs * q, rs));
    PetscCall(PetscFree(rec));
    rec = sorted;
    PetscCall(PetscFree(next));
  }

  /* global scales */
  G                  = acc[2 * iG];
  res->loss          = 0.5 * acc[2 * iR2] / N;
  res->bias_residual = 0;
  if (net->bias) {
    PetscReal rsum = 0;
    for (PetscInt o = 0; o < k; o++) rsum += acc[2 * (iRsum + o)] * acc[2 * (iRsum + o)];
    res->bias_residual = acc[2 * iAbsR] > 0 ? PetscSqrtReal(rsum) / acc[2 * iAbsR] : 0;
  }

  /* per neuron */
  PetscCall(PetscMalloc1(dt, &best_u));
  {
    PetscInt   maxc = 0;
    PetscReal *ell, *sig, *Q, *E, *h, *a, *g, *u, *bestu_j, *V, *bc, *Gm, *mu;
    for (PetscInt j = 0; j < mz; j++) maxc = PetscMax(maxc, rec_start[j + 1] - rec_start[j]);
    PetscCall(PetscMalloc6(maxc * dt + 1, &ell, maxc * k + 1, &sig, (maxc + 1) * dt + 1, &Q, k * dt, &E, k, &h, dt, &a));
    PetscCall(PetscMalloc6(k, &g, dt, &u, dt, &bestu_j, (maxc + 1) * dt + 1, &V, maxc + 1, &bc, (maxc + 1) * (maxc + 1), &Gm));
    PetscCall(PetscMalloc2(k * dt, &Mall, maxc + 1, &mu));
    for (PetscInt jj = 0; jj < mz; jj++) {
      PetscInt         j   = has_zero ? (jj == 0 ? m : jj - 1) : jj; /* the pseudo-neuron first */
      PetscReal       *row = res->table + j * LAND_ESCAPE_NCOL, *wj = W + j * dt, hn, wn, s1, s2 = 0, gnorm, gbest = 0;
      PetscInt         C = 0, nk = rec_start[j + 1] - rec_start[j], status;
      PetscBool        zero_out, dead, escape = PETSC_FALSE, zero_neuron, replace = PETSC_FALSE;
      const PetscReal *Dj = NULL;
      PetscReal       *M  = Mall;

      for (PetscInt o = 0; o < k; o++) h[o] = j < m ? H[o * m + j] : 0;
      hn = Norm(k, h);
      wn = Norm(dt, wj);
      /* D_j, then E_j and the line classes from the records in global row order */
      for (PetscInt o = 0; o < k; o++)
        for (PetscInt c = 0; c < dt; c++) M[o * dt + c] = acc[2 * (iD + (j * k + o) * dt + c)];
      Dj = M; /* M = D_j for now, E_j added below */
      {
        PetscReal *Edd;
        PetscCall(PetscCalloc1(2 * k * dt, &Edd));
        for (PetscInt q = rec_start[j]; q < rec_start[j + 1]; q++) {
          const PetscReal *x = rec + rs * q + 2, *rr = x + dt;
          PetscReal        xn = Norm(dt, x), lt[64], sg = 1;
          PetscInt         c, first = -1;
          for (PetscInt o = 0; o < k; o++)
            for (PetscInt cc = 0; cc < dt; cc++) {
              PetscReal e = rr[o] * x[cc];
              LandDDAccumulate(1, &e, Edd + 2 * (o * dt + cc));
            }
          /* unit direction with its first clearly non-zero entry positive */
          for (PetscInt cc = 0; cc < dt && first < 0; cc++)
            if (PetscAbsReal(x[cc]) > 1e-12 * xn) first = cc;
          if (x[first] < 0) sg = -1;
          for (PetscInt cc = 0; cc < dt; cc++) lt[cc] = sg * x[cc] / xn;
          for (c = 0; c < C; c++) {
            PetscReal dist = 0;
            for (PetscInt cc = 0; cc < dt; cc++) dist += (lt[cc] - ell[c * dt + cc]) * (lt[cc] - ell[c * dt + cc]);
            if (dist <= PetscMax(opt->kink_tol, 1e-12) * PetscMax(opt->kink_tol, 1e-12)) break;
          }
          if (c == C) {
            for (PetscInt cc = 0; cc < dt; cc++) ell[C * dt + cc] = lt[cc];
            for (PetscInt o = 0; o < k; o++) sig[C * k + o] = 0;
            C++;
          }
          for (PetscInt o = 0; o < k; o++) sig[c * k + o] += 0.5 * (1 - alpha) * rr[o] * xn;
        }
        for (PetscInt i = 0; i < k * dt; i++) E[i] = Edd[2 * i];
        PetscCall(PetscFree(Edd));
      }
      /* (S1): |D_j w_j| */
      {
        PetscReal dw[64], dwn;
        for (PetscInt o = 0; o < k; o++) {
          dw[o] = 0;
          for (PetscInt c = 0; c < dt; c++) dw[o] += Dj[o * dt + c] * wj[c];
        }
        dwn = Norm(k, dw);
        s1  = G > 0 ? dwn / (G * wref) : 0;
      }
      for (PetscInt i = 0; i < k * dt; i++) M[i] += 0.5 * (1 + alpha) * E[i];
      gnorm = Norm(k * dt, M);
      for (PetscInt c = 0; c < C; c++) gnorm = PetscMax(gnorm, Norm(k, sig + c * k));
      gnorm = G > 0 ? gnorm / G : 0;
      if (j == m) { /* the pseudo-neuron at w = 0 */
        gnorm0 = gnorm;
        Witness(k, dt, M, C, ell, sig, u, g, &gbest0, bestu0);
        continue;
      }
      zero_out    = (PetscBool)(hn <= opt->zero_tol * href);
      dead        = (PetscBool)(alpha == 0 && nk == 0 && acc[2 * (iPos + j)] == 0);
      zero_neuron = (PetscBool)(small[j] && !dead);
      /* (S2): phi_j(u) = a.u + sum_c b_c |l_c.u| >= 0 */
      if (zero_out) {
        status = 0; /* h_j = 0: phi_j == 0 */
      } else {
        for (PetscInt c = 0; c < dt; c++) {
          a[c] = 0;
          for (PetscInt o = 0; o < k; o++) a[c] += M[o * dt + c] * h[o];
        }
        for (PetscInt c = 0; c < C; c++) {
          bc[c] = 0;
          for (PetscInt o = 0; o < k; o++) bc[c] += h[o] * sig[c * k + o];
        }
        if (C == 0) {
          status = 1;
          s2     = Norm(dt, a);
        } else if (C <= dt && Orthonormalise(C, dt, ell, 1e-8, Q) == C) {
          /* least squares a ~ sum_c mu_c l_c by the normal equations (the l_c are independent) */
          PetscReal viol = 0, aperp[64];
          status         = 1;
          for (PetscInt c = 0; c < C; c++) {
            mu[c] = 0;
            for (PetscInt cc = 0; cc < dt; cc++) mu[c] += ell[c * dt + cc] * a[cc];
            for (PetscInt e = 0; e < C; e++) {
              Gm[c * C + e] = 0;
              for (PetscInt cc = 0; cc < dt; cc++) Gm[c * C + e] += ell[c * dt + cc] * ell[e * dt + cc];
            }
          }
          SmallSolve(C, Gm, mu);
          for (PetscInt cc = 0; cc < dt; cc++) {
            aperp[cc] = a[cc];
            for (PetscInt c = 0; c < C; c++) aperp[cc] -= mu[c] * ell[c * dt + cc];
          }
          for (PetscInt c = 0; c < C; c++) viol = PetscMax(viol, PetscAbsReal(mu[c]) - bc[c]);
          s2 = PetscMax(Norm(dt, aperp), viol);
        } else {
          status = 2; /* dependent kink lines: an LP over the cones would decide (not implemented) */
          s2     = NAN;
        }
        if (status == 1) s2 = G > 0 ? s2 / (G * href) : 0; /* relative to the scale of the net, like S1 */
      }
      /* escape neuron: h_j = 0 and g_j not identically zero (vector output, h_j != 0: M_j
         non-zero on the directions where phi_j vanishes linearly, a sufficient test) */
      if (zero_out)
        escape = (PetscBool)(gnorm > opt->escape_tol);
      else if (k > 1 && status == 1) {
        PetscInt  nq;
        PetscReal mp = 0;
        for (PetscInt c = 0; c < C * dt; c++) V[c] = ell[c];
        for (PetscInt c = 0; c < dt; c++) V[C * dt + c] = a[c];
        nq = Orthonormalise(C + 1, dt, V, 1e-8, Q);
        for (PetscInt o = 0; o < k; o++) {
          PetscReal mo[64];
          for (PetscInt c = 0; c < dt; c++) mo[c] = M[o * dt + c];
          for (PetscInt q = 0; q < nq; q++) {
            PetscReal dot = 0;
            for (PetscInt c = 0; c < dt; c++) dot += Q[q * dt + c] * mo[c];
            for (PetscInt c = 0; c < dt; c++) mo[c] -= dot * Q[q * dt + c];
          }
          mp += PetscSqr(Norm(dt, mo));
        }
        escape = (PetscBool)(G > 0 && PetscSqrtReal(mp) / G > opt->escape_tol);
      }
      /* an alive zero neuron: (S1) is not asked of it (it holds at w_j = 0, next to it); when it is an
         escape neuron, the certificate moves it to w_j = sqrt(eps) u*, beyond its tiny margin, so the
         witness comes from g_0 of the pseudo-neuron at w = 0 */
      if (zero_neuron) s1 = 0;
      if (zero_neuron && escape && gnorm0 > opt->escape_tol) {
        replace = PETSC_TRUE;
        gbest   = gbest0;
        for (PetscInt c = 0; c < dt; c++) bestu_j[c] = bestu0[c];
      } else if (escape)
        Witness(k, dt, M, C, ell, sig, u, g, &gbest, bestu_j); /* certified at its own w_j */
      if (escape && PetscAbsReal(gbest) > PetscAbsReal(best_g)) {
        best_g    = gbest;
        best_j    = j;
        best_zero = replace;
        for (PetscInt c = 0; c < dt; c++) best_u[c] = bestu_j[c];
      }
      row[0]  = wn;
      row[1]  = hn;
      row[2]  = nk;
      row[3]  = C;
      row[4]  = zero_out;
      row[5]  = dead;
      row[6]  = escape;
      row[7]  = s1;
      row[8]  = s2;
      row[9]  = status;
      row[10] = gnorm;
      row[11] = gbest;
      row[12] = acc[2 * (iPos + j)];
      row[13] = zero_neuron;
      res->nescape += escape;
      res->nzero += zero_out;
      res->ndead += dead;
      res->nundetermined += (status == 2);
      {
        PetscReal worst = PetscMax(s1, PetscIsNanReal(s2) ? 0 : s2);
        if (res->worst < 0 || worst > res->worst_residual) {
          res->worst          = j;
          res->worst_residual = worst;
        }
      }
    }
    PetscCall(PetscFree6(ell, sig, Q, E, h, a));
    PetscCall(PetscFree6(g, u, bestu_j, V, bc, Gm));
    PetscCall(PetscFree2(Mall, mu));
  }

  /* verdict */
  if (res->worst_residual > opt->stat_tol || res->bias_residual > opt->stat_tol)
    res->verdict = LAND_ESCAPE_NOT_STATIONARY;
  else if (res->nundetermined > 0)
    res->verdict = LAND_ESCAPE_UNDETERMINED;
  else if (res->nescape == 0)
    res->verdict = LAND_ESCAPE_LOCAL_MIN;
  else
    res->verdict = k == 1 ? LAND_ESCAPE_SADDLE : LAND_ESCAPE_UNDETERMINED;

  /* certificate of descent (scalar output): also at points that are only nearly stationary */
  if (best_j >= 0 && k == 1) {
    res->cert_neuron = best_j;
    res->cert_g      = best_g;
    PetscCall(PetscArraycpy(res->cert_u, best_u, dt));
    res->cert_replace = best_zero;
    if (opt->certify) PetscCall(Certify(obj, theta, opt, best_j, best_zero, best_u, best_g, res));
  }

  /* a one-line account */
  {
    const PetscReal *w = res->table + PetscMax(res->worst, 0) * LAND_ESCAPE_NCOL;
    switch (res->verdict) {
      case LAND_ESCAPE_NOT_STATIONARY:
        if (res->bias_residual > opt->stat_tol && res->bias_residual >= res->worst_residual)
          PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary), "not stationary: output-bias gradient |sum_i r_i| / sum_i |r_i| = %.3e > %.1e",
                                  (double)res->bias_residual, (double)opt->stat_tol));
        else
          PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary),
                                  "not stationary: neuron %" PetscInt_FMT
                                  " has S1 residual %.3e, S2 residual %.3e (tol %.1e; |w| %.3e, |h| %.3e, %d kink points)",
                                  res->worst, (double)w[7], (double)w[8], (double)opt->stat_tol, (double)w[0], (double)w[1], (int)w[2]));
        break;
      case LAND_ESCAPE_LOCAL_MIN:
        PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary),
                                "local min: stationary, no escape neuron (%" PetscInt_FMT " zero-output, %" PetscInt_FMT " dead)", res->nzero,
                                res->ndead));
        break;
      case LAND_ESCAPE_SADDLE:
        PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary),
                                "saddle: %" PetscInt_FMT " escape neuron%s; neuron %" PetscInt_FMT
                                " with g(u*) = %.3e at eps %.3e: loss change %.3e (predicted %.3e)%s",
                                res->nescape, res->nescape > 1 ? "s" : "", res->cert_neuron, (double)res->cert_g, (double)res->cert_eps,
                                (double)res->cert_measured, (double)res->cert_predicted, res->cert_verified ? "" : " NOT VERIFIED"));
        break;
      case LAND_ESCAPE_UNDETERMINED:
        if (res->nundetermined > 0)
          PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary),
                                  "undetermined: %" PetscInt_FMT " neuron%s with h != 0 and linearly dependent kink lines (S2 not decided)",
                                  res->nundetermined, res->nundetermined > 1 ? "s" : ""));
        else
          PetscCall(PetscSNPrintf(res->summary, sizeof(res->summary),
                                  "stationary with %" PetscInt_FMT " escape neuron%s, undetermined (vector output)", res->nescape,
                                  res->nescape > 1 ? "s" : ""));
        break;
    }
  }
  PetscCall(PetscFree(best_u));
  PetscCall(PetscFree2(small, bestu0));
  PetscCall(PetscFree(rec_start));
  PetscCall(PetscFree(rec));
  PetscCall(PetscFree(acc));
  PetscCall(PetscFree6(W, H, z, f, r, xt));
  PetscCall(VecScatterDestroy(&toall));
  PetscCall(VecDestroy(&theta_all));
  PetscFunctionReturn(0);
}

/*@ LandEscapeResultReset - free the arrays of a result. Not collective. @*/
PetscErrorCode LandEscapeResultReset(LandEscapeResult *res)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(res->table, res->cert_u));
  PetscFunctionReturn(0);
}

/*@ LandEscapeResultWrite - the verdict and numbers as attributes of 'group', the per-neuron table
  as group/neurons and the certificate as group/certificate. Collective. @*/
PetscErrorCode LandEscapeResultWrite(const LandEscapeResult *res, LandResults out, const char group[])
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(LandResultsWriteAttrString(out, group, "verdict", LandEscapeVerdicts[res->verdict]));
  PetscCall(LandResultsWriteAttrString(out, group, "summary", res->summary));
  PetscCall(LandResultsWriteAttrReal(out, group, "loss", res->loss));
  PetscCall(LandResultsWriteAttrReal(out, group, "loss_study", 2 * res->loss));
  PetscCall(LandResultsWriteAttrInt(out, group, "escape_neurons", res->nescape));
  PetscCall(LandResultsWriteAttrInt(out, group, "zero_output_neurons", res->nzero));
  PetscCall(LandResultsWriteAttrInt(out, group, "dead_neurons", res->ndead));
  PetscCall(LandResultsWriteAttrInt(out, group, "undetermined_neurons", res->nundetermined));
  PetscCall(LandResultsWriteAttrInt(out, group, "worst_neuron", res->worst));
  PetscCall(LandResultsWriteAttrReal(out, group, "worst_residual", res->worst_residual));
  PetscCall(LandResultsWriteAttrReal(out, group, "output_bias_residual", res->bias_residual));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/neurons", group));
  PetscCall(LandResultsWriteArray(out, path, res->m, LAND_ESCAPE_NCOL, res->table));
  PetscCall(LandResultsWriteAttrString(out, path, "columns", LandEscapeColumns));
  if (res->cert_neuron >= 0) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/certificate", group));
    PetscCall(LandResultsWriteArray(out, path, 1, res->dt, res->cert_u));
    PetscCall(LandResultsWriteAttrString(
        out, path, "description",
        "u*: h_j <- -eps sign(g), w_j <- w_j + sqrt(eps) u* (replace: w_j <- sqrt(eps) u*; w_j with the hidden bias last); loss change measured"));
    PetscCall(LandResultsWriteAttrInt(out, path, "neuron", res->cert_neuron));
    PetscCall(LandResultsWriteAttrReal(out, path, "g", res->cert_g));
    PetscCall(LandResultsWriteAttrReal(out, path, "eps", res->cert_eps));
    PetscCall(LandResultsWriteAttrReal(out, path, "predicted_change", res->cert_predicted));
    PetscCall(LandResultsWriteAttrReal(out, path, "measured_change", res->cert_measured));
    PetscCall(LandResultsWriteAttrInt(out, path, "verified", res->cert_verified));
    PetscCall(LandResultsWriteAttrInt(out, path, "replace", res->cert_replace));
  }
  PetscFunctionReturn(0);
}

/*@ LandEscapeResultPrint - a short human summary: the verdict line and the escape neurons. Collective. @*/
PetscErrorCode LandEscapeResultPrint(const LandEscapeResult *res, MPI_Comm comm, const char who[])
{
  PetscInt shown = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(comm, "%s: loss %.6e (study convention %.6e): %s\n", who, (double)res->loss, (double)(2 * res->loss), res->summary));
  for (PetscInt j = 0; j < res->m && shown < 8; j++) {
    const PetscReal *row = res->table + j * LAND_ESCAPE_NCOL;
    if (!row[6]) continue;
    PetscCall(PetscPrintf(comm, "%s:   escape neuron %3" PetscInt_FMT ": |w| %.3e |h| %.3e kinks %d |g| %.3e\n", who, j, (double)row[0],
                          (double)row[1], (int)row[2], (double)row[10]));
    shown++;
  }
  if (res->nescape > shown)
    PetscCall(PetscPrintf(comm, "%s:   ... %" PetscInt_FMT " more escape neurons in the results file\n", who, res->nescape - shown));
  PetscFunctionReturn(0);
}

/* ---------------- Stage 'escape' ---------------- */

typedef struct {
  LandEscapeOptions opt;
} Escape;

static PetscErrorCode SetFromOptions_Escape(LandStage s)
{
  Escape *e = (Escape *)s->data;

  PetscFunctionBeginUser;
  PetscCall(
      LandEscapeOptionsSetFromOptions(s->run->comm, "escape_", "Stage escape: escape neurons and stationarity of a shallow ReLU-like net", &e->opt));
  PetscCall(LandEscapeCheckObjective(s->run->obj, "-stages escape"));
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Escape(LandStage s)
{
  Escape          *e = (Escape *)s->data;
  LandEscapeResult res;

  PetscFunctionBeginUser;
  PetscCall(LandEscapeClassify(s->run->obj, s->run->theta, &e->opt, &res));
  PetscCall(LandEscapeResultPrint(&res, s->run->comm, "escape"));
  PetscCall(LandEscapeResultWrite(&res, s->run->results, s->group));
  PetscCall(LandEscapeResultReset(&res));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Escape(LandStage s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Escape(LandStage s)
{
  Escape *e;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&e));
  PetscCall(LandEscapeOptionsDefault(&e->opt));
  s->data           = e;
  s->setfromoptions = SetFromOptions_Escape;
  s->run_stage      = Run_Escape;
  s->destroy        = Destroy_Escape;
  PetscFunctionReturn(0);
}
