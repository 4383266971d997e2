/* Stage 'linear': exact solutions of a deep linear network with weight decay and stochastic neurons
   (Ziyin, Li and Meng; docs/deep-linear.md has the derivations and the conventions).

   The network is the run's: D >= 1 hidden linear layers, no biases, a scalar output,
     f(x) = U (eps_D o W_D (... (eps_1 o W_1 x))),   E eps = 1, Var eps = sigma^2 (-net_noise_var).
   Data enter only through A = E[x x^T], b = E[x y] and E[y^2], summed reproducibly over the
   training rows.

   Conventions. landscape minimises L = (1/N) sum 1/2 (f - y)^2 + gamma' ||theta||^2 (gamma' = -reg_l2);
   the paper writes L_p = E (f - y)^2 + gamma ||theta||^2. With gamma = 2 gamma', L_p = 2 L: the same
   minimisers, every loss doubled. The closed form and the thresholds are stated in the paper's
   convention; results carry both.

   (a) The noise-averaged loss, exactly: S_0 = A, S_l = N(W_l S_{l-1} W_l^T), N(M) = M + sigma^2 diag(M),
       E f^2 = U S_D U^T and E f y = U W_D ... W_1 b, so L = 1/2 (U S_D U^T - 2 U W_D ... W_1 b + E y^2) + gamma' ||theta||^2.
       Its gradient by the adjoint: G_D = 1/2 U^T U, Gh_l = N(G_l), G_{l-1} = W_l^T Gh_l W_l,
       dL/dW_l = 2 Gh_l W_l S_{l-1} - q_l^T r_{l-1}^T + 2 gamma' W_l, dL/dU = U S_D - r_D^T + 2 gamma' U,
       with r_l = W_l ... W_1 b and q_l = U W_D ... W_{l+1}.
   (b) TAO (-linear_tao_*, lmvm by default; Newton types get a finite-difference Hessian of the exact
       gradient) minimises it from the origin and -linear_starts seeded random points. The
       problem is small (P parameters, d x d moments): every rank solves it redundantly on
       PETSC_COMM_SELF, so the stage's results do not depend on the rank count, bit for bit.
   (c) Closed form: at a global minimum the layers are balanced and rank one along the end-to-end
       predictor v, which minimises l(v) = -2 v.b + kappa v^T A v + gamma (D+1) |v|^{2/(D+1)} with
       kappa = prod_k (1 + sigma^2/d_k). Non-zero stationary points are v(t) = (kappa A + gamma t^{-2D/(D+1)} I)^{-1} b
       with |v(t)| = t: a scalar equation, solved by bisection in the eigenbasis of A. The largest root is
       the non-trivial local minimum; it is the global one when l < 0 = l(0).
   (d) The Hessian of the run's objective at the origin, by SLEPc (-linear_eps_*) on the Hessian shell:
       D >= 2: 2 gamma' I; D = 1: 2 gamma' -+ |b_i| for hidden unit i, b_i = (1/N) sum_n eps_{n,i} y_n x_n
       (= b without noise), and 2 gamma'.
   (e) A phase table over -linear_phase_depths x -linear_phase_reg_l2 (hidden widths -linear_phase_width):
       the origin is the global minimum, a bad local minimum (D >= 2, gamma < gamma_c) or a saddle
       (D = 1, gamma < |b|); gamma_c and gamma_e by bisection in gamma. */
#include <landscape/impl.h>
#include <petscblaslapack.h>
#include <slepceps.h>

#define LINEAR_MAX_LIST 256

/* The reduced problem in the eigenbasis of A (paper convention). */
typedef struct {
  PetscInt   n;           /* components kept: eigenvalues of A that are not zero */
  PetscReal *lam, *beta;  /* eigenvalues of A and Q^T b on those components */
  PetscReal  normb, tmax; /* |b|, |(kappa A)^{-1} b| (the largest possible |v|) */
  PetscInt   D;
  PetscReal  kappa, gamma;
} Reduced;

typedef struct {
  PetscBool exists;           /* a non-zero stationary point exists */
  PetscReal t_large, t_small; /* its roots |v| (NaN when absent; t_small only for D >= 2) */
  PetscReal ell;              /* l at the larger root (NaN when absent) */
  PetscBool origin_global;    /* l >= 0: the origin is a global minimum */
} Solution;

typedef struct {
  /* options */
  PetscInt  starts, phase_width, ndepths, ngammas;
  PetscReal init_std, tol, check_tol;
  PetscInt  depths[LINEAR_MAX_LIST];
  PetscReal gammas[LINEAR_MAX_LIST]; /* -reg_l2 values (landscape convention) */
  PetscBool hessian;
  Tao       tao; /* on PETSC_COMM_SELF: every rank solves the same small problem */
  EPS       eps; /* on the run's communicator, for the Hessian shell at the origin */
  /* the network and the moments, replicated */
  PetscInt   D, d, P;
  PetscInt   n[LAND_MAX_LAYERS + 1], off[LAND_MAX_LAYERS]; /* widths d_0..d_{D+1}; W_l at off[l-1] */
  PetscReal  sigma2, reg;                                  /* noise variance, gamma' */
  PetscReal *A, *b, Ey2, *Q, *lam;                         /* moments; A = Q diag(lam) Q^T */
  /* work of the exact loss */
  PetscReal *S[LAND_MAX_LAYERS + 1], *r[LAND_MAX_LAYERS + 1];
  PetscReal *T, *T2, *G, *Gh, *q, *qn;
} Linear;

/* ---------------- (a) the exact noise-averaged loss and its gradient ---------------- */

/* M <- N(M) = M + sigma^2 diag(M) for an n x n matrix. */
static void NoiseMoment(PetscInt n, PetscReal sigma2, PetscReal *M)
{
  for (PetscInt i = 0; i < n; i++) M[i * n + i] *= 1.0 + sigma2;
}

/* Landscape-convention loss at replicated parameters th; gradient into grad when not NULL. */
static PetscReal ExpectedLoss(Linear *lin, const PetscReal *th, PetscReal *grad)
{
  const PetscInt   D = lin->D, *n = lin->n;
  const PetscReal *U    = th + lin->off[D];
  PetscReal        quad = 0, mean = 0, reg = 0;

  for (PetscInt l = 1; l <= D; l++) {
    const PetscReal *W = th + lin->off[l - 1], *Sp = lin->S[l - 1];
    PetscInt         no = n[l], ni = n[l - 1];
    for (PetscInt i = 0; i < no; i++)
      for (PetscInt j = 0; j < ni; j++) {
        PetscReal s = 0;
        for (PetscInt k = 0; k < ni; k++) s += W[i * ni + k] * Sp[k * ni + j];
        lin->T[i * ni + j] = s;
      }
    for (PetscInt i = 0; i < no; i++)
      for (PetscInt j = 0; j < no; j++) {
        PetscReal s = 0;
        for (PetscInt k = 0; k < ni; k++) s += lin->T[i * ni + k] * W[j * ni + k];
        lin->S[l][i * no + j] = s;
      }
    NoiseMoment(no, lin->sigma2, lin->S[l]);
    for (PetscInt i = 0; i < no; i++) {
      PetscReal s = 0;
      for (PetscInt k = 0; k < ni; k++) s += W[i * ni + k] * lin->r[l - 1][k];
      lin->r[l][i] = s;
    }
  }
  for (PetscInt i = 0; i < n[D]; i++) {
    PetscReal s = 0;
    for (PetscInt j = 0; j < n[D]; j++) s += lin->S[D][i * n[D] + j] * U[j];
    quad += U[i] * s;
    mean += U[i] * lin->r[D][i];
    if (grad) grad[lin->off[D] + i] = s - lin->r[D][i] + 2.0 * lin->reg * U[i];
  }
  for (PetscInt j = 0; j < lin->P; j++) reg += th[j] * th[j];
  if (grad) {
    /* adjoint sweep: G = 1/2 U^T U, q = U */
    for (PetscInt i = 0; i < n[D]; i++) {
      lin->q[i] = U[i];
      for (PetscInt j = 0; j < n[D]; j++) lin->G[i * n[D] + j] = 0.5 * U[i] * U[j];
    }
    for (PetscInt l = D; l >= 1; l--) {
      const PetscReal *W = th + lin->off[l - 1], *Sp = lin->S[l - 1];
      PetscReal       *gW = grad + lin->off[l - 1];
      PetscInt         no = n[l], ni = n[l - 1];
      for (PetscInt i = 0; i < no * no; i++) lin->Gh[i] = lin->G[i];
      NoiseMoment(no, lin->sigma2, lin->Gh);
      for (PetscInt i = 0; i < no; i++) /* T = W S_{l-1} */
        for (PetscInt j = 0; j < ni; j++) {
          PetscReal s = 0;
          for (PetscInt k = 0; k < ni; k++) s += W[i * ni + k] * Sp[k * ni + j];
          lin->T[i * ni + j] = s;
        }
      for (PetscInt i = 0; i < no; i++) /* T2 = Gh W */
        for (PetscInt j = 0; j < ni; j++) {
          PetscReal s = 0, t = 0;
          for (PetscInt k = 0; k < no; k++) {
            s += lin->Gh[i * no + k] * lin->T[k * ni + j];
            t += lin->Gh[i * no + k] * W[k * ni + j];
          }
          gW[i * ni + j]      = 2.0 * s - lin->q[i] * lin->r[l - 1][j] + 2.0 * lin->reg * W[i * ni + j];
          lin->T2[i * ni + j] = t;
        }
      if (l > 1) {
        for (PetscInt a = 0; a < ni; a++) /* G = W^T Gh W, q = q W */
          for (PetscInt c = 0; c < ni; c++) {
            PetscReal s = 0;
            for (PetscInt i = 0; i < no; i++) s += W[i * ni + a] * lin->T2[i * ni + c];
            lin->G[a * ni + c] = s;
          }
        for (PetscInt j = 0; j < ni; j++) {
          PetscReal s = 0;
          for (PetscInt i = 0; i < no; i++) s += lin->q[i] * W[i * ni + j];
          lin->qn[j] = s;
        }
        for (PetscInt j = 0; j < ni; j++) lin->q[j] = lin->qn[j];
      }
    }
  }
  return 0.5 * (quad - 2.0 * mean + lin->Ey2) + lin->reg * reg;
}

static PetscErrorCode FormFunctionGradient(Tao tao, Vec x, PetscReal *f, Vec g, void *ctx)
{
  const PetscReal *th;
  PetscReal       *ga;

  PetscFunctionBeginUser;
  PetscCall(VecGetArrayRead(x, &th));
  PetscCall(VecGetArray(g, &ga));
  *f = ExpectedLoss((Linear *)ctx, th, ga);
  PetscCall(VecRestoreArray(g, &ga));
  PetscCall(VecRestoreArrayRead(x, &th));
  PetscFunctionReturn(0);
}

/* Dense Hessian of the exact loss by central differences of its gradient, for the Newton types of
   TAO (-linear_tao_type nls, ntr, ...). P is small, and only the steps depend on it: the minimiser is
   where the exact gradient vanishes. */
static PetscErrorCode FormHessian(Tao tao, Vec x, Mat H, Mat Hpre, void *ctx)
{
  Linear          *lin = (Linear *)ctx;
  const PetscReal *th;
  PetscReal       *tp, *gp, *gm, *Ha;
  PetscInt         P = lin->P;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(P, &tp, P, &gp, P, &gm));
  PetscCall(VecGetArrayRead(x, &th));
  PetscCall(MatDenseGetArrayWrite(H, &Ha)); /* column-major, leading dimension P */
  PetscCall(PetscArraycpy(tp, th, P));
  for (PetscInt j = 0; j < P; j++) {
    PetscReal h = 1e-5 * PetscMax(1.0, PetscAbsReal(th[j]));
    tp[j]       = th[j] + h;
    ExpectedLoss(lin, tp, gp);
    tp[j] = th[j] - h;
    ExpectedLoss(lin, tp, gm);
    tp[j] = th[j];
    for (PetscInt i = 0; i < P; i++) Ha[j * P + i] = (gp[i] - gm[i]) / (2 * h);
  }
  for (PetscInt j = 0; j < P; j++)
    for (PetscInt i = 0; i < j; i++) Ha[j * P + i] = Ha[i * P + j] = 0.5 * (Ha[j * P + i] + Ha[i * P + j]);
  PetscCall(MatDenseRestoreArrayWrite(H, &Ha));
  PetscCall(VecRestoreArrayRead(x, &th));
  PetscCall(PetscFree3(tp, gp, gm));
  PetscCall(MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

/* End-to-end predictor v^T = U W_D ... W_1 and squared Frobenius norms of the D+1 layers. */
static void Invariants(Linear *lin, const PetscReal *th, PetscReal *v, PetscReal *fro2)
{
  const PetscInt D = lin->D, *n = lin->n;
  for (PetscInt i = 0; i < n[D]; i++) lin->q[i] = th[lin->off[D] + i];
  for (PetscInt l = D; l >= 1; l--) {
    const PetscReal *W = th + lin->off[l - 1];
    for (PetscInt j = 0; j < n[l - 1]; j++) {
      PetscReal s = 0;
      for (PetscInt i = 0; i < n[l]; i++) s += lin->q[i] * W[i * n[l - 1] + j];
      lin->qn[j] = s;
    }
    for (PetscInt j = 0; j < n[l - 1]; j++) lin->q[j] = lin->qn[j];
  }
  for (PetscInt j = 0; j < lin->d; j++) v[j] = lin->q[j];
  for (PetscInt l = 1; l <= D + 1; l++) {
    PetscReal s = 0;
    for (PetscInt j = 0; j < n[l] * n[l - 1]; j++) s += th[lin->off[l - 1] + j] * th[lin->off[l - 1] + j];
    fro2[l - 1] = s;
  }
}

/* E_x Var_eps f = E f^2 - E_x (E_eps f)^2 = U S_D U^T - v^T A v at th, whose end-to-end map is v. */
static PetscReal PredictionVariance(Linear *lin, const PetscReal *th, const PetscReal *v)
{
  const PetscInt   D = lin->D, nD = lin->n[D];
  const PetscReal *U    = th + lin->off[D];
  PetscReal        quad = 0, vAv = 0;

  (void)ExpectedLoss(lin, th, NULL); /* S_D at th */
  for (PetscInt i = 0; i < nD; i++)
    for (PetscInt j = 0; j < nD; j++) quad += U[i] * lin->S[D][i * nD + j] * U[j];
  for (PetscInt i = 0; i < lin->d; i++)
    for (PetscInt j = 0; j < lin->d; j++) vAv += v[i] * lin->A[i * lin->d + j] * v[j];
  return quad - vAv;
}

/* ---------------- (c) the closed form ---------------- */

/* log |v(t)| - log t at t = e^s: positive where |v(t)| > t. */
static PetscReal Psi(const Reduced *red, PetscReal s)
{
  PetscReal c = red->gamma * PetscExpReal(-2.0 * red->D / (red->D + 1.0) * s), v2 = 0;
  for (PetscInt i = 0; i < red->n; i++) {
    PetscReal vi = red->beta[i] / (red->kappa * red->lam[i] + c);
    v2 += vi * vi;
  }
  return 0.5 * PetscLogReal(v2) - s;
}

/* v(t) in the eigenbasis (n entries) and l(v(t)), with |v| taken from v itself. */
static PetscReal ReducedPoint(const Reduced *red, PetscReal t, PetscReal *v)
{
  PetscReal c = red->gamma * PetscPowReal(t, -2.0 * red->D / (red->D + 1.0)), vb = 0, vAv = 0, v2 = 0;
  for (PetscInt i = 0; i < red->n; i++) {
    PetscReal vi = red->beta[i] / (red->kappa * red->lam[i] + c);
    if (v) v[i] = vi;
    vb += vi * red->beta[i];
    vAv += red->lam[i] * vi * vi;
    v2 += vi * vi;
  }
  return -2.0 * vb + red->kappa * vAv + red->gamma * (red->D + 1) * PetscPowReal(v2, 1.0 / (red->D + 1));
}

/* Bisection for a sign change of Psi on [s0, s1] (Psi(s0) >= 0 > Psi(s1) or the reverse). */
static PetscReal BisectPsi(const Reduced *red, PetscReal s0, PetscReal s1)
{
  PetscReal p0 = Psi(red, s0);
  for (PetscInt it = 0; it < 200 && s1 - s0 > 1e-15 * (1 + PetscAbsReal(s0)); it++) {
    PetscReal sm = 0.5 * (s0 + s1), pm = Psi(red, sm);
    if ((pm >= 0) == (p0 >= 0)) {
      s0 = sm;
      p0 = pm;
    } else
      s1 = sm;
  }
  return 0.5 * (s0 + s1);
}

/* All non-zero stationary points of l and the global minimum. Psi is scanned on a log grid below
   tmax (where Psi < 0), its maximum refined by golden section, and each sign change bisected:
   the root nearest tmax is the non-trivial local minimum, the next one (D >= 2) a saddle. */
static void ReducedSolve(const Reduced *red, Solution *sol)
{
  const PetscInt  K    = 480;
  const PetscReal s_hi = PetscLogReal(red->tmax), s_lo = s_hi - 48.0, h = (s_hi - s_lo) / K, gr = 0.5 * (PetscSqrtReal(5.0) - 1);
  PetscInt        kmax = K, klarge = -1;
  PetscReal       pmax = -PETSC_MAX_REAL, a, b, smax;

  sol->exists  = PETSC_FALSE;
  sol->t_large = sol->t_small = sol->ell = (PetscReal)NAN;
  if (red->gamma == 0) { /* no weight decay: v = (kappa A)^{-1} b */
    sol->exists        = PETSC_TRUE;
    sol->t_large       = red->tmax;
    sol->ell           = ReducedPoint(red, red->tmax, NULL);
    sol->origin_global = PETSC_FALSE;
    return;
  }
  for (PetscInt k = K; k >= 0; k--) {
    PetscReal p = Psi(red, s_lo + k * h);
    if (p > pmax) {
      pmax = p;
      kmax = k;
    }
    if (p >= 0 && klarge < 0) klarge = k;
  }
  /* golden section for max Psi around the best grid point */
  a = s_lo + PetscMax(kmax - 1, 0) * h;
  b = s_lo + PetscMin(kmax + 1, K) * h;
  for (PetscInt it = 0; it < 120; it++) {
    PetscReal c = b - gr * (b - a), d = a + gr * (b - a);
    if (Psi(red, c) > Psi(red, d))
      b = d;
    else
      a = c;
  }
  smax = 0.5 * (a + b);
  if (Psi(red, smax) < 0 && klarge < 0) {
    sol->origin_global = PETSC_TRUE;
    return;
  }
  sol->exists = PETSC_TRUE;
  if (klarge < 0) klarge = kmax; /* the two roots lie within one grid cell of the maximum */
  {
    PetscReal s0 = klarge < K ? s_lo + klarge * h : s_hi, s1 = PetscMin(s0 + h, s_hi);
    if (Psi(red, s0) < 0) s0 = smax; /* tangency between grid points */
    sol->t_large = PetscExpReal(BisectPsi(red, s0, s1));
  }
  if (red->D >= 2) {
    PetscReal s1 = PetscMin(smax, PetscLogReal(sol->t_large)), s0 = s1;
    for (PetscInt k = PetscMin(kmax, (PetscInt)PetscFloorReal((s1 - s_lo) / h)); k >= 0 && Psi(red, s0) >= 0; k--) s0 = s_lo + k * h;
    if (Psi(red, s0) < 0) sol->t_small = PetscExpReal(BisectPsi(red, s0, s1));
  }
  sol->ell           = ReducedPoint(red, sol->t_large, NULL);
  sol->origin_global = (PetscBool)(sol->ell >= 0);
}

/* Reduced problem at depth D, noise factor kappa and paper gamma, from the eigenpairs of A. */
static PetscErrorCode ReducedSetUp(MPI_Comm comm, Linear *lin, PetscInt D, PetscReal kappa, PetscReal gamma, Reduced *red)
{
  PetscReal lmax = 0, t2 = 0;

  PetscFunctionBeginUser;
  red->D     = D;
  red->kappa = kappa;
  red->gamma = gamma;
  red->n     = 0;
  red->normb = 0;
  for (PetscInt i = 0; i < lin->d; i++) lmax = PetscMax(lmax, lin->lam[i]);
  for (PetscInt j = 0; j < lin->d; j++) red->normb += lin->b[j] * lin->b[j];
  red->normb = PetscSqrtReal(red->normb);
  for (PetscInt i = 0; i < lin->d; i++) {
    PetscReal bi = 0;
    for (PetscInt j = 0; j < lin->d; j++) bi += lin->Q[i * lin->d + j] * lin->b[j]; /* row i of Q^T: eigenvector i */
    if (lin->lam[i] > 1e-12 * lmax) {
      red->lam[red->n]  = lin->lam[i];
      red->beta[red->n] = bi;
      t2 += bi * bi / (kappa * kappa * lin->lam[i] * lin->lam[i]);
      red->n++;
    } else /* x.u = 0 on every row gives b.u = 0: only round-off is dropped here */
      PetscCheck(PetscAbsReal(bi) <= 1e-8 * red->normb, comm, PETSC_ERR_ARG_WRONG,
                 "-stages linear: b = E[x y] has a component %g in the null space of A = E[x x^T] (|b| = %g)", (double)bi, (double)red->normb);
  }
  red->tmax = PetscSqrtReal(t2);
  PetscCheck(red->tmax > 0, comm, PETSC_ERR_ARG_WRONG, "-stages linear: b = E[x y] is zero: the origin is the only stationary point");
  PetscFunctionReturn(0);
}

/* v in the input basis: Q v_eig (components of zero eigenvalues are zero). */
static void ReducedVector(Linear *lin, const Reduced *red, PetscReal t, PetscReal *v)
{
  PetscReal *ve = lin->qn, lmax = 0; /* d scratch entries */
  PetscInt   m = 0;
  ReducedPoint(red, t, ve);
  for (PetscInt k = 0; k < lin->d; k++) lmax = PetscMax(lmax, lin->lam[k]);
  for (PetscInt j = 0; j < lin->d; j++) v[j] = 0;
  for (PetscInt i = 0; i < lin->d; i++) {
    if (!(lin->lam[i] > 1e-12 * lmax)) continue; /* as in ReducedSetUp */
    for (PetscInt j = 0; j < lin->d; j++) v[j] += lin->Q[i * lin->d + j] * ve[m];
    m++;
  }
}

/* Thresholds gamma_e (non-zero stationary points exist iff gamma <= gamma_e) and gamma_c (the non-zero
   minimum is global iff gamma < gamma_c) by bisection in gamma; D = 1: both |b| exactly. */
static void Thresholds(Reduced *red, PetscReal *gc, PetscReal *ge)
{
  PetscReal hi = red->normb, g0 = red->gamma;
  Solution  sol;

  if (red->D == 1) {
    *gc = *ge = red->normb;
    return;
  }
  for (;;) { /* an upper bound: no root */
    red->gamma = hi;
    ReducedSolve(red, &sol);
    if (!sol.exists) break;
    hi *= 2;
  }
  for (PetscInt which = 0; which < 2; which++) {
    PetscReal a = 0, b = hi;
    for (PetscInt it = 0; it < 100 && b - a > 1e-15 * b; it++) {
      PetscReal m = 0.5 * (a + b);
      PetscBool in;
      red->gamma = m;
      ReducedSolve(red, &sol);
      in = which == 0 ? sol.exists : (PetscBool)(sol.exists && sol.ell < 0);
      if (in)
        a = m;
      else
        b = m;
    }
    if (which == 0)
      *ge = 0.5 * (a + b);
    else
      *gc = 0.5 * (a + b);
  }
  red->gamma = g0;
}

/* ---------------- the stage ---------------- */

static PetscErrorCode SetFromOptions_Linear(LandStage s)
{
  Linear   *lin = (Linear *)s->data;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->run->comm, NULL, "Stage linear: exact solutions of a deep linear network with weight decay and stochastic neurons", NULL);
  PetscCall(PetscOptionsInt("-linear_starts", "Seeded random starts of TAO (options -linear_tao_*) on the exact expected loss, besides the origin",
                            "", lin->starts, &lin->starts, NULL));
  PetscCall(PetscOptionsReal("-linear_init_std", "Standard deviation of the random starts", "", lin->init_std, &lin->init_std, NULL));
  PetscCall(PetscOptionsReal("-linear_tol", "Largest accepted relative difference of the TAO and closed-form minimum losses", "", lin->tol, &lin->tol,
                             NULL));
  PetscCall(PetscOptionsReal("-linear_check_tol", "Largest accepted relative error of the exact gradient against central differences", "",
                             lin->check_tol, &lin->check_tol, NULL));
  PetscCall(PetscOptionsBool("-linear_hessian", "Eigenvalues of the Hessian at the origin by SLEPc (-linear_eps_*), against 2 reg_l2 (D >= 2)", "",
                             lin->hessian, &lin->hessian, NULL));
  lin->ndepths = LINEAR_MAX_LIST;
  PetscCall(PetscOptionsIntArray("-linear_phase_depths", "Phase table: depths D, the numbers of hidden layers (default 1,2,3,4,5)", "", lin->depths,
                                 &lin->ndepths, &set));
  if (!set) lin->ndepths = 5;
  lin->ngammas = LINEAR_MAX_LIST;
  PetscCall(PetscOptionsRealArray("-linear_phase_reg_l2",
                                  "Phase table: weight decays in -reg_l2 units, gamma/2 of the paper (default none: the thresholds only)", "",
                                  lin->gammas, &lin->ngammas, &set));
  if (!set) lin->ngammas = 0;
  PetscCall(PetscOptionsInt("-linear_phase_width", "Phase table: width of every hidden layer (0: the run's first hidden width)", "", lin->phase_width,
                            &lin->phase_width, NULL));
  PetscOptionsEnd();
  /* the solvers read their options now: a misspelt -linear_tao_* or -linear_eps_* option is an error before anything runs */
  PetscCall(TaoCreate(PETSC_COMM_SELF, &lin->tao));
  PetscCall(TaoSetOptionsPrefix(lin->tao, "linear_"));
  PetscCall(TaoSetType(lin->tao, TAOLMVM));
  PetscCall(TaoSetTolerances(lin->tao, 1e-9, 0, 0));
  PetscCall(TaoSetMaximumIterations(lin->tao, 20000));
  PetscCall(TaoSetMaximumFunctionEvaluations(lin->tao, 100000));
  PetscCall(TaoSetFromOptions(lin->tao));
  PetscCall(EPSCreate(s->run->comm, &lin->eps));
  PetscCall(EPSSetOptionsPrefix(lin->eps, "linear_"));
  PetscCall(EPSSetProblemType(lin->eps, EPS_HEP));
  PetscCall(EPSSetTolerances(lin->eps, 1e-12, PETSC_DEFAULT));
  PetscCall(EPSSetFromOptions(lin->eps));
  PetscCheck(lin->starts >= 0 && lin->init_std > 0 && lin->phase_width >= 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-linear_starts and -linear_phase_width must be >= 0, -linear_init_std > 0");
  for (PetscInt i = 0; i < lin->ndepths; i++)
    PetscCheck(lin->depths[i] >= 1 && lin->depths[i] < LAND_MAX_LAYERS, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-linear_phase_depths: depth %" PetscInt_FMT " must lie in [1, %d]", lin->depths[i], LAND_MAX_LAYERS - 1);
  for (PetscInt i = 0; i < lin->ngammas; i++)
    PetscCheck(lin->gammas[i] > 0, s->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-linear_phase_reg_l2: %g must be positive", (double)lin->gammas[i]);
  PetscFunctionReturn(0);
}

/* The run's network must be a deep linear one (a one-line error otherwise); its widths, noise and weight decay. */
static PetscErrorCode NetworkSetUp(LandStage s)
{
  Linear  *lin = (Linear *)s->data;
  LandRun  run = s->run;
  LandNet  net = run->net;
  LandLoss loss;

  PetscFunctionBeginUser;
  PetscCall(LandObjectiveGetLoss(run->obj, &loss));
  PetscCheck(
      net->act == LAND_ACT_LINEAR && !net->bias && net->width[net->nlayers] == 1 && net->nlayers >= 2 && !net->use_skip && loss == LAND_LOSS_MSE,
      run->comm, PETSC_ERR_ARG_INCOMP,
      "-stages linear needs a deep linear network: -net_activation linear -net_bias 0 -net_hidden with at least one layer, no -net_skip, "
      "-loss mse and one real-valued target (got %s, bias %s, %" PetscInt_FMT " hidden layers, %" PetscInt_FMT " outputs, loss %s)",
      LandActivations[net->act], net->bias ? "on" : "off", net->nlayers - 1, net->width[net->nlayers], LandLosses[loss]);
  lin->D      = net->nlayers - 1;
  lin->d      = net->width[0];
  lin->P      = net->P;
  lin->sigma2 = net->noise == LAND_NOISE_NONE ? 0.0 : net->noise_var;
  lin->reg    = run->obj->reg_l2;
  for (PetscInt l = 0; l <= lin->D + 1; l++) lin->n[l] = net->width[l];
  for (PetscInt l = 1; l <= lin->D + 1; l++) PetscCall(LandNetGetLayer(net, l, NULL, NULL, &lin->off[l - 1], NULL));
  if (!lin->phase_width) lin->phase_width = lin->n[1];
  PetscFunctionReturn(0);
}

/* A = (1/N) sum x x^T, b = (1/N) sum x y, E y^2, in double-double over the ranks; A = Q diag(lam) Q^T. */
static PetscErrorCode Moments(LandStage s)
{
  Linear        *lin = (Linear *)s->data;
  const LandSet *set;
  PetscInt       d = lin->d, nm = d * d + d + 1;
  PetscReal     *dd, *row;

  PetscFunctionBeginUser;
  PetscCall(LandDataGetSet(s->run->data, LAND_SET_TRAIN, &set));
  PetscCall(PetscCalloc2(2 * nm, &dd, nm, &row));
  for (PetscInt i = 0; i < set->n; i++) {
    const PetscReal *x = set->X + i * d, y = set->Y[i];
    for (PetscInt j = 0; j < d; j++)
      for (PetscInt k = 0; k < d; k++) row[j * d + k] = x[j] * x[k];
    for (PetscInt j = 0; j < d; j++) row[d * d + j] = x[j] * y;
    row[d * d + d] = y * y;
    LandDDAccumulate(nm, row, dd);
  }
  PetscCall(LandDDAllreduce(s->run->comm, nm, dd));
  PetscCall(PetscMalloc4(d * d, &lin->A, d, &lin->b, d * d, &lin->Q, d, &lin->lam));
  for (PetscInt j = 0; j < d * d; j++) lin->A[j] = dd[2 * j] / set->N;
  for (PetscInt j = 0; j < d; j++) lin->b[j] = dd[2 * (d * d + j)] / set->N;
  lin->Ey2 = dd[2 * (d * d + d)] / set->N;
  PetscCall(PetscFree2(dd, row));
  {
    /* column-major LAPACK on the symmetric A: the eigenvectors come out as rows of Q (row-major) */
    PetscBLASInt n = (PetscBLASInt)d, lwork = (PetscBLASInt)(8 * d), info;
    PetscReal   *work;
    PetscCall(PetscMalloc1(lwork, &work));
    PetscCall(PetscArraycpy(lin->Q, lin->A, d * d));
    LAPACKsyev_("V", "U", &n, lin->Q, &n, lin->lam, work, &lwork, &info);
    PetscCall(PetscFree(work));
    PetscCheck(info == 0, s->run->comm, PETSC_ERR_LIB, "LAPACK syev failed on A = E[x x^T] (info %d)", (int)info);
  }
  PetscFunctionReturn(0);
}

/* (b) TAO from the origin and from seeded random starts; the best point into best (replicated). */
static PetscErrorCode Minimise(LandStage s, PetscReal *best, PetscReal *fbest, PetscReal *gnorm, PetscInt *ibest)
{
  Linear *lin = (Linear *)s->data;
  Tao     tao = lin->tao;
  Vec     x;
  Mat     H;

  PetscFunctionBeginUser;
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, lin->P, &x));
  PetscCall(MatCreateSeqDense(PETSC_COMM_SELF, lin->P, lin->P, NULL, &H));
  PetscCall(TaoSetSolution(tao, x));
  PetscCall(TaoSetObjectiveAndGradient(tao, NULL, FormFunctionGradient, lin));
  PetscCall(TaoSetHessian(tao, H, H, FormHessian, lin));
  *fbest = PETSC_MAX_REAL;
  for (PetscInt k = 0; k <= lin->starts; k++) {
    PetscReal         *xa, f, gn;
    PetscInt           its;
    TaoConvergedReason reason;
    PetscCall(VecGetArray(x, &xa));
    for (PetscInt j = 0; j < lin->P; j++) xa[j] = k == 0 ? 0.0 : lin->init_std * LandRandNormal(s->run->seed, 9000 + k, j);
    PetscCall(VecRestoreArray(x, &xa));
    PetscCall(TaoSolve(tao));
    PetscCall(TaoGetSolutionStatus(tao, &its, &f, &gn, NULL, NULL, &reason));
    PetscCall(PetscPrintf(s->run->comm, "linear: TAO from %s %2" PetscInt_FMT ": loss %.12e  |g| %.2e  %" PetscInt_FMT " iterations, %s\n",
                          k ? "random start" : "the origin  ", k, (double)f, (double)gn, its, TaoConvergedReasons[reason]));
    if (f < *fbest) {
      const PetscReal *xr;
      *fbest = f;
      *gnorm = gn;
      *ibest = k;
      PetscCall(VecGetArrayRead(x, &xr));
      PetscCall(PetscArraycpy(best, xr, lin->P));
      PetscCall(VecRestoreArrayRead(x, &xr));
    }
  }
  PetscCall(VecDestroy(&x));
  PetscCall(MatDestroy(&H));
  PetscFunctionReturn(0);
}

/* Central differences of the exact loss along seeded random unit directions at a random point. */
static PetscErrorCode GradientCheck(LandStage s, PetscReal *err)
{
  Linear    *lin = (Linear *)s->data;
  PetscInt   P   = lin->P;
  PetscReal *th, *g, *u, *tp, h = 1e-5;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(P, &th, P, &g, P, &u, P, &tp));
  for (PetscInt j = 0; j < P; j++) th[j] = lin->init_std * LandRandNormal(s->run->seed, 8900, j);
  *err = 0;
  {
    PetscReal f = ExpectedLoss(lin, th, g);
    for (PetscInt k = 0; k < 3; k++) {
      PetscReal nrm = 0, gu = 0, fp, fm, fd;
      for (PetscInt j = 0; j < P; j++) {
        u[j] = LandRandNormal(s->run->seed, 8901 + k, j);
        nrm += u[j] * u[j];
      }
      for (PetscInt j = 0; j < P; j++) {
        u[j] /= PetscSqrtReal(nrm);
        gu += g[j] * u[j];
      }
      for (PetscInt j = 0; j < P; j++) tp[j] = th[j] + h * u[j];
      fp = ExpectedLoss(lin, tp, NULL);
      for (PetscInt j = 0; j < P; j++) tp[j] = th[j] - h * u[j];
      fm   = ExpectedLoss(lin, tp, NULL);
      fd   = (fp - fm) / (2 * h);
      *err = PetscMax(*err, PetscAbsReal(fd - gu) / PetscMax(PetscAbsReal(gu), 1e-8 * PetscMax(1.0, PetscAbsReal(f))));
    }
  }
  PetscCall(PetscFree4(th, g, u, tp));
  PetscFunctionReturn(0);
}

/* (d) Extreme eigenvalues of the run's Hessian at the origin by SLEPc, and their predictions. */
static PetscErrorCode HessianAtOrigin(LandStage s, PetscReal ev[2], PetscReal pred[2], PetscReal res[2])
{
  Linear        *lin = (Linear *)s->data;
  LandRun        run = s->run;
  Vec            zero;
  Mat            H;
  EPS            eps      = lin->eps;
  PetscReal      bmax     = 0;
  EPSWhich       which[2] = {EPS_SMALLEST_REAL, EPS_LARGEST_REAL};
  const LandSet *set;

  PetscFunctionBeginUser;
  if (lin->D == 1) {
    /* b_i = (1/N) sum_n eps_{n,i} y_n x_n with the objective's own noise multipliers */
    PetscInt   d = lin->d, h = lin->n[1];
    PetscReal *dd, *row;
    PetscCall(LandDataGetSet(run->data, LAND_SET_TRAIN, &set));
    PetscCall(PetscCalloc2(2 * h * d, &dd, h * d, &row));
    for (PetscInt i = 0; i < set->n; i++) {
      for (PetscInt u = 0; u < h; u++) {
        PetscReal e = run->net->noise == LAND_NOISE_NONE ? 1.0 : LandNetNoiseMultiplier(run->net, set->rstart + i, 1, u);
        for (PetscInt j = 0; j < d; j++) row[u * d + j] = e * set->Y[i] * set->X[i * d + j];
      }
      LandDDAccumulate(h * d, row, dd);
    }
    PetscCall(LandDDAllreduce(run->comm, h * d, dd));
    for (PetscInt u = 0; u < h; u++) {
      PetscReal nb = 0;
      for (PetscInt j = 0; j < d; j++) nb += (dd[2 * (u * d + j)] / set->N) * (dd[2 * (u * d + j)] / set->N);
      bmax = PetscMax(bmax, PetscSqrtReal(nb));
    }
    PetscCall(PetscFree2(dd, row));
  }
  pred[0] = 2.0 * lin->reg - bmax;
  pred[1] = 2.0 * lin->reg + bmax;
  PetscCall(VecDuplicate(run->theta, &zero));
  PetscCall(VecZeroEntries(zero));
  PetscCall(LandObjectiveCreateHessian(run->obj, zero, &H));
  PetscCall(EPSSetOperators(eps, H, NULL));
  for (PetscInt k = 0; k < 2; k++) {
    PetscInt    nconv;
    PetscScalar kr;
    PetscCall(EPSSetWhichEigenpairs(eps, which[k]));
    PetscCall(EPSSolve(eps));
    PetscCall(EPSGetConverged(eps, &nconv));
    PetscCheck(nconv >= 1, run->comm, PETSC_ERR_NOT_CONVERGED,
               "-stages linear: SLEPc found no eigenvalue of the Hessian at the origin (see -linear_eps_*)");
    PetscCall(EPSGetEigenpair(eps, 0, &kr, NULL, NULL, NULL));
    PetscCall(EPSComputeError(eps, 0, EPS_ERROR_RELATIVE, &res[k]));
    ev[k] = PetscRealPart(kr);
  }
  PetscCall(MatDestroy(&H));
  PetscCall(VecDestroy(&zero));
  PetscFunctionReturn(0);
}

static PetscErrorCode Verdict(LandStage s, const char name[], PetscReal err, PetscReal tol, PetscInt *nfail)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(s->run->comm, "linear: %-28s %.3e  (tol %.1e)  %s\n", name, (double)err, (double)tol, err <= tol ? "ok" : "FAILED"));
  PetscCall(LandResultsWriteArray(s->run->results, LandStagePath(s, name), 1, 1, &err));
  if (!(err <= tol)) (*nfail)++;
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Linear(LandStage s)
{
  Linear     *lin = (Linear *)s->data;
  LandRun     run = s->run;
  LandResults res = run->results;
  PetscInt    D, d, P, nfail = 0, ibest = 0, maxw = 1, maxww = 1;
  PetscReal   var_tao, var_cf = 0, kappa = 1, gamma, *best, *v_tao, *v_cf, *fro2, f_tao, gnorm, f_cf, errfd = 0, vdiff = 0, vnorm_tao = 0;
  Reduced     red;
  Solution    sol;

  PetscFunctionBeginUser;
  PetscCall(NetworkSetUp(s));
  PetscCall(Moments(s));
  D = lin->D;
  d = lin->d;
  P = lin->P;
  for (PetscInt l = 0; l <= D + 1; l++) {
    maxw = PetscMax(maxw, lin->n[l]);
    if (l > 0) maxww = PetscMax(maxww, lin->n[l] * lin->n[l - 1]);
  }
  lin->S[0] = lin->A;
  lin->r[0] = lin->b;
  for (PetscInt l = 1; l <= D; l++) PetscCall(PetscMalloc2(lin->n[l] * lin->n[l], &lin->S[l], lin->n[l], &lin->r[l]));
  PetscCall(PetscMalloc6(maxww, &lin->T, maxww, &lin->T2, maxw * maxw, &lin->G, maxw * maxw, &lin->Gh, maxw, &lin->q, maxw, &lin->qn));
  PetscCall(PetscMalloc4(P, &best, d, &v_tao, d, &v_cf, D + 1, &fro2));
  PetscCall(PetscMalloc2(d, &red.lam, d, &red.beta));

  // ---- (a) the exact gradient against central differences ----
  PetscCall(GradientCheck(s, &errfd));
  PetscCall(Verdict(s, "gradient_fd", errfd, lin->check_tol, &nfail));

  // ---- (b) TAO on the exact expected loss ----
  PetscCall(Minimise(s, best, &f_tao, &gnorm, &ibest));
  Invariants(lin, best, v_tao, fro2);
  var_tao = PredictionVariance(lin, best, v_tao);

  // ---- (c) the closed form ----
  for (PetscInt l = 1; l <= D; l++) kappa *= 1.0 + lin->sigma2 / lin->n[l];
  gamma = 2.0 * lin->reg;
  PetscCall(ReducedSetUp(run->comm, lin, D, kappa, gamma, &red));
  ReducedSolve(&red, &sol);
  if (sol.origin_global) {
    for (PetscInt j = 0; j < d; j++) v_cf[j] = 0;
    f_cf = 0.5 * lin->Ey2;
  } else {
    ReducedVector(lin, &red, sol.t_large, v_cf);
    f_cf = 0.5 * (lin->Ey2 + sol.ell);
  }
  for (PetscInt j = 0; j < d; j++) {
    vdiff += (v_tao[j] - v_cf[j]) * (v_tao[j] - v_cf[j]);
    vnorm_tao += v_tao[j] * v_tao[j];
  }
  for (PetscInt i = 0; i < d; i++) /* at the balanced minimum Var_eps f(x) = (kappa - 1) (v.x)^2 */
    for (PetscInt j = 0; j < d; j++) var_cf += (kappa - 1) * v_cf[i] * lin->A[i * d + j] * v_cf[j];
  vdiff     = PetscSqrtReal(vdiff);
  vnorm_tao = PetscSqrtReal(vnorm_tao);

  // ---- (d) report ----
  {
    PetscReal tcf = sol.origin_global ? 0 : sol.t_large, lam2 = PetscPowReal(tcf, 2.0 / (D + 1)),
              rel      = PetscAbsReal(f_tao - f_cf) / PetscAbsReal(f_cf);
    PetscReal roots[2] = {sol.t_large, sol.t_small}, vals[1];
    PetscCall(PetscPrintf(run->comm,
                          "linear: D = %" PetscInt_FMT ", d = %" PetscInt_FMT
                          ", sigma^2 = %g, kappa = %.6f, reg_l2 = %g (paper gamma = %g), |b| = %.6f, E y^2 = %.6f\n",
                          D, d, (double)lin->sigma2, (double)kappa, (double)lin->reg, (double)gamma, (double)red.normb, (double)lin->Ey2));
    PetscCall(PetscPrintf(run->comm, "linear: closed form: %s; |v*| = %.9f, per-layer |W|_F^2 = %.9f, loss %.12e (paper %.12e)\n",
                          sol.origin_global ? (sol.exists ? "the origin is the global minimum, a non-zero local minimum exists"
                                                          : "the origin is the global minimum, no non-zero stationary point")
                                            : "the non-zero minimum is global",
                          (double)tcf, (double)lam2, (double)f_cf, (double)(2 * f_cf)));
    PetscCall(PetscPrintf(run->comm, "linear: TAO best (start %" PetscInt_FMT "): |v| = %.9f, loss %.12e; |W_l|_F^2 =", ibest, (double)vnorm_tao,
                          (double)f_tao));
    for (PetscInt l = 0; l <= D; l++) PetscCall(PetscPrintf(run->comm, " %.6f", (double)fro2[l]));
    PetscCall(PetscPrintf(run->comm, "\n"));
    PetscCall(PetscPrintf(run->comm, "linear: prediction variance E_x Var_eps f: TAO %.9e, closed form (kappa - 1) v*^T A v* %.9e\n", (double)var_tao,
                          (double)var_cf));
    PetscCall(Verdict(s, "loss_rel_diff", rel, lin->tol, &nfail));
    PetscCall(Verdict(s, "v_diff", vdiff / PetscMax(tcf, 1.0), PetscSqrtReal(lin->tol), &nfail));
    PetscCall(LandResultsWriteAttrString(res, s->group, "conventions",
                                         "loss = (1/N) sum 1/2 (f - y)^2 + reg_l2 ||theta||^2 (landscape); "
                                         "loss_paper = E (f - y)^2 + gamma ||theta||^2 = 2 loss with gamma = 2 reg_l2"));
    PetscCall(LandResultsWriteAttrInt(res, s->group, "depth", D));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "sigma2", lin->sigma2));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "kappa", kappa));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "reg_l2", lin->reg));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "gamma_paper", gamma));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "norm_b", red.normb));
    PetscCall(LandResultsWriteAttrReal(res, s->group, "Ey2", lin->Ey2));
    PetscCall(LandResultsWriteAttrInt(res, s->group, "origin_global", sol.origin_global));
    PetscCall(LandResultsWriteAttrInt(res, s->group, "nonzero_stationary", sol.exists));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "A"), d, d, lin->A));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "b"), 1, d, lin->b));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "loss_closed"), 1, 1, &f_cf));
    vals[0] = 2 * f_cf;
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "loss_closed_paper"), 1, 1, vals));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "loss_tao"), 1, 1, &f_tao));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "grad_norm_tao"), 1, 1, &gnorm));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "v_closed"), 1, d, v_cf));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "v_tao"), 1, d, v_tao));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "v_norm_closed"), 1, 1, &tcf));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "v_norm_tao"), 1, 1, &vnorm_tao));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "layer_norm2_closed"), 1, 1, &lam2));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "layer_norm2_tao"), 1, D + 1, fro2));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "prediction_variance_tao"), 1, 1, &var_tao));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "prediction_variance_closed"), 1, 1, &var_cf));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "roots"), 1, 2, roots));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "ell_nonzero"), 1, 1, &sol.ell));
    PetscCall(LandResultsWriteAttrString(res, LandStagePath(s, "ell_nonzero"), "meaning",
                                         "l = L_paper - E[y^2] at the non-zero local minimum (NaN when absent)"));
    PetscCall(LandResultsWriteAttrString(res, LandStagePath(s, "roots"), "meaning",
                                         "|v| at the non-zero stationary points: the local minimum, then the saddle (D >= 2); NaN when absent"));
  }
  {
    /* the run continues from the best minimiser */
    PetscInt   lo, hi;
    PetscReal *t;
    PetscCall(VecGetOwnershipRange(run->theta, &lo, &hi));
    PetscCall(VecGetArray(run->theta, &t));
    for (PetscInt j = lo; j < hi; j++) t[j - lo] = best[j];
    PetscCall(VecRestoreArray(run->theta, &t));
  }

  // ---- Hessian at the origin (SLEPc) ----
  if (lin->hessian) {
    PetscReal ev[2], pred[2], resid[2], err;
    PetscCall(HessianAtOrigin(s, ev, pred, resid));
    PetscCall(PetscPrintf(
        run->comm, "linear: Hessian at the origin: lambda_min %.12g (predicted %.12g), lambda_max %.12g (predicted %.12g), residuals %.1e %.1e\n",
        (double)ev[0], (double)pred[0], (double)ev[1], (double)pred[1], (double)resid[0], (double)resid[1]));
    err = PetscMax(PetscAbsReal(ev[0] - pred[0]), PetscAbsReal(ev[1] - pred[1])) / PetscMax(PetscAbsReal(pred[1]), PETSC_SMALL);
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "hessian_origin_eigenvalues"), 1, 2, ev));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "hessian_origin_predicted"), 1, 2, pred));
    PetscCall(Verdict(s, "hessian_origin_rel_diff", err, 1e-8, &nfail));
  }

  // ---- (e) phase table: the reduced problem is set up again for each depth ----
  {
    PetscInt   nD = lin->ndepths, nG = lin->ngammas;
    PetscReal *gc, *ge, *gcf, *gef, *code, *vn, *lp, *dep, a = 0, aniso = 0;
    PetscCall(PetscMalloc4(nD, &gc, nD, &ge, nD, &gcf, nD, &gef));
    PetscCall(PetscMalloc4(nD * PetscMax(nG, 1), &code, nD * PetscMax(nG, 1), &vn, nD * PetscMax(nG, 1), &lp, nD, &dep));
    for (PetscInt j = 0; j < d; j++) a += lin->A[j * d + j] / d;
    for (PetscInt j = 0; j < d * d; j++) aniso = PetscMax(aniso, PetscAbsReal(lin->A[j] - (j % (d + 1) == 0 ? a : 0)));
    PetscCall(PetscPrintf(run->comm,
                          "linear: phase of the origin, hidden widths %" PetscInt_FMT
                          ", sigma^2 = %g (G: global minimum, B: bad local minimum, S: saddle; +: a non-zero local minimum exists)\n",
                          lin->phase_width, (double)lin->sigma2));
    PetscCall(PetscPrintf(run->comm, "linear:  D  reg_l2_c    reg_l2_e   |"));
    for (PetscInt k = 0; k < nG; k++) PetscCall(PetscPrintf(run->comm, " %7.4g", (double)lin->gammas[k]));
    PetscCall(PetscPrintf(run->comm, "\n"));
    for (PetscInt i = 0; i < nD; i++) {
      PetscInt  Di = lin->depths[i];
      PetscReal ka = PetscPowReal(1.0 + lin->sigma2 / lin->phase_width, (PetscReal)Di), nb = red.normb;
      dep[i] = Di;
      PetscCall(ReducedSetUp(run->comm, lin, Di, ka, 0, &red));
      Thresholds(&red, &gc[i], &ge[i]);
      /* the isotropic formulas (A = a I); NaN otherwise */
      if (aniso <= 1e-12 * a) {
        gcf[i] = nb / Di * PetscPowReal((Di - 1) * nb / (Di * ka * a), (Di - 1.0) / (Di + 1.0));
        gef[i] = (Di + 1.0) / (2.0 * Di) * nb * PetscPowReal((Di - 1) * nb / (2.0 * Di * ka * a), (Di - 1.0) / (Di + 1.0));
      } else
        gcf[i] = gef[i] = (PetscReal)NAN;
      PetscCall(PetscPrintf(run->comm, "linear: %2" PetscInt_FMT "  %-10.6g %-10.6g |", Di, (double)(gc[i] / 2), (double)(ge[i] / 2)));
      for (PetscInt k = 0; k < nG; k++) {
        Solution  so;
        PetscInt  c;
        PetscBool saddle = (PetscBool)(Di == 1 && 2 * lin->gammas[k] < nb);
        red.gamma        = 2 * lin->gammas[k];
        ReducedSolve(&red, &so);
        c                = saddle ? 2 : (so.origin_global ? 0 : 1);
        code[i * nG + k] = c;
        vn[i * nG + k]   = so.origin_global ? 0 : so.t_large;
        lp[i * nG + k]   = lin->Ey2 + (so.origin_global ? 0 : so.ell);
        PetscCall(PetscPrintf(run->comm, " %6s%s", c == 0 ? "G" : (c == 1 ? "B" : "S"), so.exists ? "+" : " "));
      }
      PetscCall(PetscPrintf(run->comm, "\n"));
    }
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "phase_depths"), 1, nD, dep));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "gamma_c"), 1, nD, gc));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "gamma_e"), 1, nD, ge));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "gamma_c_formula"), 1, nD, gcf));
    PetscCall(LandResultsWriteArray(res, LandStagePath(s, "gamma_e_formula"), 1, nD, gef));
    PetscCall(LandResultsWriteAttrString(res, LandStagePath(s, "gamma_c"), "convention", "paper gamma = 2 reg_l2"));
    PetscCall(LandResultsWriteAttrInt(res, LandStagePath(s, "gamma_c"), "phase_width", lin->phase_width));
    if (nG > 0) {
      PetscCall(LandResultsWriteArray(res, LandStagePath(s, "phase_reg_l2"), 1, nG, lin->gammas));
      PetscCall(LandResultsWriteArray(res, LandStagePath(s, "phase"), nD, nG, code));
      PetscCall(LandResultsWriteAttrString(
          res, LandStagePath(s, "phase"), "codes",
          "rows: phase_depths, columns: phase_reg_l2; 0: the origin is the global minimum, 1: a bad local minimum, 2: a saddle"));
      PetscCall(LandResultsWriteArray(res, LandStagePath(s, "phase_v_norm"), nD, nG, vn));
      PetscCall(LandResultsWriteArray(res, LandStagePath(s, "phase_loss_paper"), nD, nG, lp));
    }
    PetscCall(PetscFree4(gc, ge, gcf, gef));
    PetscCall(PetscFree4(code, vn, lp, dep));
  }
  PetscCall(PetscFree4(best, v_tao, v_cf, fro2));
  PetscCall(PetscFree2(red.lam, red.beta));
  PetscCheck(nfail == 0, run->comm, PETSC_ERR_NOT_CONVERGED, "linear: %" PetscInt_FMT " check(s) failed", nfail);
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Linear(LandStage s)
{
  Linear *lin = (Linear *)s->data;

  PetscFunctionBeginUser;
  for (PetscInt l = 1; l <= lin->D; l++) PetscCall(PetscFree2(lin->S[l], lin->r[l]));
  if (lin->A) PetscCall(PetscFree4(lin->A, lin->b, lin->Q, lin->lam));
  if (lin->T) PetscCall(PetscFree6(lin->T, lin->T2, lin->G, lin->Gh, lin->q, lin->qn));
  PetscCall(TaoDestroy(&lin->tao));
  PetscCall(EPSDestroy(&lin->eps));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Linear(LandStage s)
{
  Linear *lin;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&lin));
  lin->starts    = 4;
  lin->init_std  = 0.7;
  lin->tol       = 1e-8;
  lin->check_tol = 1e-6;
  lin->hessian   = PETSC_TRUE;
  for (PetscInt i = 0; i < 5; i++) lin->depths[i] = i + 1;
  s->data           = lin;
  s->setfromoptions = SetFromOptions_Linear;
  s->run_stage      = Run_Linear;
  s->destroy        = Destroy_Linear;
  PetscFunctionReturn(0);
}
