/* Kernels of the MLP on a block of m rows, all row-major, with BLAS GEMMs:
   forward, backward (gradient), the R-op (forward-mode directional derivative, Pearlmutter 1994)
   and its backward pass, which give exact Hessian-vector products, and per-row Jacobians.

   Forward:   z_l = a_{l-1} W_l^T + b_l,  a_l = act(z_l) (+ a_{l-1} with a skip),  f = z_L.
   Backward:  given g_f = dloss/df:  g_z = g_a * act'(z),  dW_l = g_z^T a_{l-1},  db_l = sum_rows g_z,
              g_{a_{l-1}} = g_z W_l (+ g_a with a skip).
   R-op:      R z_l = R a_{l-1} W_l^T + a_{l-1} V_l^T + c_l,  R a_l = act'(z) R z_l (+ R a_{l-1}),
              R g_z = R g_a act'(z) + g_a act''(z) R z,  R dW_l = R g_z^T a_{l-1} + g_z^T R a_{l-1},
              R g_{a_{l-1}} = R g_z W_l + g_z V_l (+ R g_a).
   Conventions at kinks: relu'(0) = 0, leaky_relu'(0) = slope; second derivatives of relu are 0.
   Noise (-net_noise): a_l = eps_l o act(z_l) on training rows. The forward pass draws eps_l for its
   rows and folds it into s1 = eps_l act'(z_l), so every later pass on the same rows (R-op, backward,
   its R-op, row gradients) differentiates the same noisy network. */
#include <landscape/impl.h>
#include <petscblaslapack.h>

/* Row-major C[M x N] = alpha op(A) op(B) + beta C, as the column-major product C^T = op(B)^T op(A)^T. */
static inline void Gemm(char ta, char tb, PetscInt M, PetscInt N, PetscInt K, PetscReal alpha, const PetscReal *A, PetscInt lda, const PetscReal *B,
                        PetscInt ldb, PetscReal beta, PetscReal *C, PetscInt ldc)
{
  PetscBLASInt m = (PetscBLASInt)N, n = (PetscBLASInt)M, k = (PetscBLASInt)K, la = (PetscBLASInt)ldb, lb = (PetscBLASInt)lda, lc = (PetscBLASInt)ldc;
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (PetscInt i = 0; i < M; i++)
      for (PetscInt j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
    return;
  }
  BLASgemm_(&tb, &ta, &m, &n, &k, &alpha, (PetscReal *)B, &la, (PetscReal *)A, &lb, &beta, C, &lc);
}

void LandGemm(char ta, char tb, PetscInt M, PetscInt N, PetscInt K, PetscReal alpha, const PetscReal *A, PetscInt lda, const PetscReal *B,
              PetscInt ldb, PetscReal beta, PetscReal *C, PetscInt ldc)
{
  Gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

PetscErrorCode LandWorkCreate(LandNet net, PetscInt m, LandWork *w)
{
  PetscInt mw = PetscMax(net->maxwidth, 1);

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(w, sizeof(*w)));
  w->m  = m;
  w->nl = net->nlayers;
  for (PetscInt l = 1; l <= net->nlayers; l++) {
    PetscInt n = m * net->width[l];
    PetscCall(PetscMalloc1(n, &w->z[l]));
    PetscCall(PetscMalloc1(n, &w->rz[l]));
    if (l < net->nlayers) {
      PetscCall(PetscMalloc1(n, &w->a[l]));
      PetscCall(PetscMalloc1(n, &w->ra[l]));
      PetscCall(PetscMalloc1(n, &w->s1[l]));
      if (net->noise != LAND_NOISE_NONE) PetscCall(PetscMalloc1(n, &w->eps[l]));
    }
  }
  PetscCall(PetscMalloc1(m * mw, &w->ga));
  PetscCall(PetscMalloc1(m * mw, &w->gz));
  PetscCall(PetscMalloc1(m * mw, &w->rga));
  PetscCall(PetscMalloc1(m * mw, &w->rgz));
  PetscCall(PetscMalloc1(m * mw, &w->gnext));
  PetscCall(PetscMalloc1(m * mw, &w->rgnext));
  PetscCall(PetscMalloc1(m * mw, &w->tmp));
  PetscCall(PetscMalloc1(m * net->width[net->nlayers], &w->gf));
  PetscCall(PetscMalloc1(m * net->width[net->nlayers], &w->rgf));
  PetscFunctionReturn(0);
}

PetscErrorCode LandWorkDestroy(LandWork *w)
{
  PetscFunctionBeginUser;
  for (PetscInt l = 1; l <= w->nl; l++) {
    if (l < w->nl) PetscCall(PetscFree(w->a[l])); /* a[L] aliases z[L] */
    PetscCall(PetscFree(w->z[l]));
    PetscCall(PetscFree(w->rz[l]));
    PetscCall(PetscFree(w->s1[l]));
    PetscCall(PetscFree(w->ra[l]));
    PetscCall(PetscFree(w->eps[l]));
    w->a[l] = NULL;
  }
  PetscCall(PetscFree(w->ga));
  PetscCall(PetscFree(w->gz));
  PetscCall(PetscFree(w->rga));
  PetscCall(PetscFree(w->rgz));
  PetscCall(PetscFree(w->gnext));
  PetscCall(PetscFree(w->rgnext));
  PetscCall(PetscFree(w->tmp));
  PetscCall(PetscFree(w->gf));
  PetscCall(PetscFree(w->rgf));
  PetscFunctionReturn(0);
}

/* a = act(z) and s1 = act'(z), elementwise over n entries. */
static void Activate(LandNet net, PetscInt n, const PetscReal *z, PetscReal *a, PetscReal *s1)
{
  const PetscReal al = net->leaky_slope;
  switch (net->act) {
    case LAND_ACT_RELU:
      for (PetscInt i = 0; i < n; i++) {
        PetscBool p = (PetscBool)(z[i] > 0);
        a[i]        = p ? z[i] : 0.0;
        s1[i]       = p ? 1.0 : 0.0;
      }
      break;
    case LAND_ACT_LEAKY_RELU:
      for (PetscInt i = 0; i < n; i++) {
        PetscBool p = (PetscBool)(z[i] > 0);
        a[i]        = p ? z[i] : al * z[i];
        s1[i]       = p ? 1.0 : al;
      }
      break;
    case LAND_ACT_SIGMOID:
      for (PetscInt i = 0; i < n; i++) {
        PetscReal s = 1.0 / (1.0 + PetscExpReal(-z[i]));
        a[i]        = s;
        s1[i]       = s * (1.0 - s);
      }
      break;
    case LAND_ACT_TANH:
      for (PetscInt i = 0; i < n; i++) {
        PetscReal t = PetscTanhReal(z[i]);
        a[i]        = t;
        s1[i]       = 1.0 - t * t;
      }
      break;
    case LAND_ACT_LINEAR:
      for (PetscInt i = 0; i < n; i++) {
        a[i]  = z[i];
        s1[i] = 1.0;
      }
      break;
    case LAND_ACT_SOFTPLUS:
      for (PetscInt i = 0; i < n; i++) {
        /* log(1 + e^z) without overflow */
        a[i]  = z[i] > 0 ? z[i] + log1p(PetscExpReal(-z[i])) : log1p(PetscExpReal(z[i]));
        s1[i] = 1.0 / (1.0 + PetscExpReal(-z[i]));
      }
      break;
  }
}

/* act''(z); zero for the piecewise-linear activations. */
static inline PetscReal Act2(LandActivation act, PetscReal z)
{
  switch (act) {
    case LAND_ACT_SIGMOID: {
      PetscReal s = 1.0 / (1.0 + PetscExpReal(-z));
      return s * (1.0 - s) * (1.0 - 2.0 * s);
    }
    case LAND_ACT_TANH: {
      PetscReal t = PetscTanhReal(z);
      return -2.0 * t * (1.0 - t * t);
    }
    case LAND_ACT_SOFTPLUS: {
      PetscReal s = 1.0 / (1.0 + PetscExpReal(-z));
      return s * (1.0 - s);
    }
    default:
      return 0.0;
  }
}

static inline PetscBool HasCurvature(LandActivation act)
{
  return (PetscBool)(act == LAND_ACT_SIGMOID || act == LAND_ACT_TANH || act == LAND_ACT_SOFTPLUS);
}

/* Affine map z = a W^T + b of one layer on m rows (b may be absent). */
static void Affine(LandNet net, PetscInt l, const PetscReal *theta, PetscInt m, const PetscReal *a, PetscReal *z, PetscBool add_bias, PetscReal beta)
{
  PetscInt nin = net->width[l - 1], nout = net->width[l];
  if (add_bias && net->bias) {
    const PetscReal *b = theta + net->boff[l - 1];
    if (beta == 0)
      for (PetscInt i = 0; i < m; i++) PetscArraycpy(z + i * nout, b, nout);
    else
      for (PetscInt i = 0; i < m; i++)
        for (PetscInt j = 0; j < nout; j++) z[i * nout + j] += b[j];
    beta = 1.0;
  }
  Gemm('N', 'T', m, nout, nin, 1.0, a, nin, theta + net->woff[l - 1], nin, beta, z, nout);
}

static PetscErrorCode ForwardLayers(LandNet, const PetscReal *, PetscInt, const PetscReal *, PetscInt64, LandWork *, PetscBool);

/*@ LandNetForward - forward pass on m rows X (m x d). Not collective. Results stay in the work space;
  the network output is w->a[L] (= w->z[L]). row0 is the global index of the first row in the training
  set: it keys the noise multipliers of -net_noise; pass -1 for rows that take no noise (test rows). @*/
PetscErrorCode LandNetForward(LandNet net, const PetscReal *theta, PetscInt m, const PetscReal *X, PetscInt64 row0, LandWork *w)
{
  PetscFunctionBeginUser;
  PetscCall(ForwardLayers(net, theta, m, X, row0, w, PETSC_FALSE));
  PetscFunctionReturn(0);
}

/*@ LandNetForwardGivenZ1 - LandNetForward when the caller has already put the first layer's
  pre-activations X W_1^T + b_1 in w->z[1] (the slice stage forms them from precomputed products).
  Not collective. @*/
PetscErrorCode LandNetForwardGivenZ1(LandNet net, const PetscReal *theta, PetscInt m, const PetscReal *X, PetscInt64 row0, LandWork *w)
{
  PetscFunctionBeginUser;
  PetscCall(ForwardLayers(net, theta, m, X, row0, w, PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode ForwardLayers(LandNet net, const PetscReal *theta, PetscInt m, const PetscReal *X, PetscInt64 row0, LandWork *w,
                                    PetscBool z1_given)
{
  const PetscInt L = net->nlayers;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Forward, 0, 0, 0, 0));
  w->a[0]   = (PetscReal *)X;
  w->masked = (PetscBool)(net->noise != LAND_NOISE_NONE && row0 >= 0);
  for (PetscInt l = 1; l <= L; l++) {
    PetscInt n = m * net->width[l];
    if (l > 1 || !z1_given) Affine(net, l, theta, m, w->a[l - 1], w->z[l], PETSC_TRUE, 0.0);
    if (l < L) {
      Activate(net, n, w->z[l], w->a[l], w->s1[l]);
      if (w->masked) {
        PetscInt nw = net->width[l];
        for (PetscInt i = 0; i < m; i++)
          for (PetscInt j = 0; j < nw; j++) w->eps[l][i * nw + j] = LandNetNoiseMultiplier(net, row0 + i, l, j);
        for (PetscInt i = 0; i < n; i++) {
          w->a[l][i] *= w->eps[l][i];
          w->s1[l][i] *= w->eps[l][i];
        }
      }
      if (net->skip[l - 1])
        for (PetscInt i = 0; i < n; i++) w->a[l][i] += w->a[l - 1][i];
    } else
      w->a[l] = w->z[l];
  }
  /* with z1 given, the first layer's products were counted where they were formed */
  PetscCall(PetscLogFlops(2.0 * m * (z1_given ? net->P - (net->boff[0] - net->woff[0]) : net->P)));
  PetscCall(PetscLogEventEnd(LAND_Forward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandNetForwardR - directional derivative of the forward pass along v, after LandNetForward on the
  same rows. Output: w->rz[L] = R f. Not collective. @*/
PetscErrorCode LandNetForwardR(LandNet net, const PetscReal *theta, const PetscReal *v, PetscInt m, LandWork *w)
{
  const PetscInt L = net->nlayers;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_HessMult, 0, 0, 0, 0));
  for (PetscInt l = 1; l <= L; l++) {
    PetscInt n = m * net->width[l];
    /* a_{l-1} V_l^T + c_l, then + R a_{l-1} W_l^T (R a_0 = 0) */
    Affine(net, l, v, m, w->a[l - 1], w->rz[l], PETSC_TRUE, 0.0);
    if (l > 1)
      Gemm('N', 'T', m, net->width[l], net->width[l - 1], 1.0, w->ra[l - 1], net->width[l - 1], theta + net->woff[l - 1], net->width[l - 1], 1.0,
           w->rz[l], net->width[l]);
    if (l < L) {
      for (PetscInt i = 0; i < n; i++) w->ra[l][i] = w->s1[l][i] * w->rz[l][i];
      if (net->skip[l - 1] && l > 1)
        for (PetscInt i = 0; i < n; i++) w->ra[l][i] += w->ra[l - 1][i];
    }
  }
  PetscCall(PetscLogFlops(4.0 * m * net->P));
  PetscCall(PetscLogEventEnd(LAND_HessMult, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* db = column sums of g (m x n), accumulated in a fixed row order. */
static void ColumnSums(PetscInt m, PetscInt n, const PetscReal *g, PetscReal *db, PetscBool accumulate)
{
  if (!accumulate)
    for (PetscInt j = 0; j < n; j++) db[j] = 0.0;
  for (PetscInt i = 0; i < m; i++)
    for (PetscInt j = 0; j < n; j++) db[j] += g[i * n + j];
}

/*@ LandNetBackward - gradient of sum_rows <g_f, f> with respect to theta, where g_f = w->gf (m x k).
  Writes (or adds, with accumulate) into grad[0..P). Not collective. @*/
PetscErrorCode LandNetBackward(LandNet net, const PetscReal *theta, PetscInt m, LandWork *w, PetscReal *grad, PetscBool accumulate)
{
  const PetscInt L  = net->nlayers;
  PetscReal     *ga = w->ga, *gz = w->gz, *gn = w->gnext;
  PetscReal      beta = accumulate ? 1.0 : 0.0;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Backward, 0, 0, 0, 0));
  PetscCall(PetscArraycpy(ga, w->gf, m * net->width[L]));
  for (PetscInt l = L; l >= 1; l--) {
    PetscInt nin = net->width[l - 1], nout = net->width[l], n = m * nout;
    if (l < L)
      for (PetscInt i = 0; i < n; i++) gz[i] = ga[i] * w->s1[l][i];
    else
      PetscCall(PetscArraycpy(gz, ga, n));
    Gemm('T', 'N', nout, nin, m, 1.0, gz, nout, w->a[l - 1], nin, beta, grad + net->woff[l - 1], nin);
    if (net->bias) ColumnSums(m, nout, gz, grad + net->boff[l - 1], accumulate);
    if (l > 1) {
      Gemm('N', 'N', m, nin, nout, 1.0, gz, nout, theta + net->woff[l - 1], nin, 0.0, gn, nin);
      if (net->skip[l - 1])
        for (PetscInt i = 0; i < m * nin; i++) gn[i] += ga[i];
      PetscReal *t = ga;
      ga           = gn;
      gn           = t;
    }
  }
  PetscCall(PetscLogFlops(
      2.0 * m *
      (net->P + net->P -
       net->width[0] * net->width[1]))); /* weight gradients of every layer, input gradients of layers >= 2 (the bias terms are counted roughly) */
  PetscCall(PetscLogEventEnd(LAND_Backward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandNetBackwardR - the R-op of the backward pass: with w->gf = g_f and w->rgf = R g_f (set by the
  loss from R f), writes the Hessian-vector contribution of these rows into hv[0..P). Requires
  LandNetForward and LandNetForwardR on the same rows. Not collective. @*/
PetscErrorCode LandNetBackwardR(LandNet net, const PetscReal *theta, const PetscReal *v, PetscInt m, LandWork *w, PetscReal *hv)
{
  const PetscInt L  = net->nlayers;
  PetscReal     *ga = w->ga, *gz = w->gz, *gn = w->gnext, *rga = w->rga, *rgz = w->rgz, *rgn = w->rgnext;
  PetscBool      curv = HasCurvature(net->act);

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_HessMult, 0, 0, 0, 0));
  PetscCall(PetscArraycpy(ga, w->gf, m * net->width[L]));
  PetscCall(PetscArraycpy(rga, w->rgf, m * net->width[L]));
  for (PetscInt l = L; l >= 1; l--) {
    PetscInt         nin = net->width[l - 1], nout = net->width[l], n = m * nout;
    const PetscReal *W = theta + net->woff[l - 1], *V = v + net->woff[l - 1];
    if (l < L) {
      for (PetscInt i = 0; i < n; i++) {
        gz[i]  = ga[i] * w->s1[l][i];
        rgz[i] = rga[i] * w->s1[l][i];
      }
      if (curv && w->masked)
        for (PetscInt i = 0; i < n; i++) rgz[i] += ga[i] * w->eps[l][i] * Act2(net->act, w->z[l][i]) * w->rz[l][i];
      else if (curv)
        for (PetscInt i = 0; i < n; i++) rgz[i] += ga[i] * Act2(net->act, w->z[l][i]) * w->rz[l][i];
    } else {
      PetscCall(PetscArraycpy(gz, ga, n));
      PetscCall(PetscArraycpy(rgz, rga, n));
    }
    Gemm('T', 'N', nout, nin, m, 1.0, rgz, nout, w->a[l - 1], nin, 0.0, hv + net->woff[l - 1], nin);
    if (l > 1) Gemm('T', 'N', nout, nin, m, 1.0, gz, nout, w->ra[l - 1], nin, 1.0, hv + net->woff[l - 1], nin);
    if (net->bias) ColumnSums(m, nout, rgz, hv + net->boff[l - 1], PETSC_FALSE);
    if (l > 1) {
      Gemm('N', 'N', m, nin, nout, 1.0, gz, nout, W, nin, 0.0, gn, nin);
      Gemm('N', 'N', m, nin, nout, 1.0, rgz, nout, W, nin, 0.0, rgn, nin);
      Gemm('N', 'N', m, nin, nout, 1.0, gz, nout, V, nin, 1.0, rgn, nin);
      if (net->skip[l - 1])
        for (PetscInt i = 0; i < m * nin; i++) {
          gn[i] += ga[i];
          rgn[i] += rga[i];
        }
      PetscReal *t = ga;
      ga           = gn;
      gn           = t;
      t            = rga;
      rga          = rgn;
      rgn          = t;
    }
  }
  PetscCall(PetscLogFlops(10.0 * m * net->P));
  PetscCall(PetscLogEventEnd(LAND_HessMult, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandNetRowGradients - per-row gradients of output 'out': row i of 'rows' (leading dimension ldr)
  receives scale * d f_{i,out} / d theta. Requires LandNetForward on the same rows. Not collective. @*/
PetscErrorCode LandNetRowGradients(LandNet net, const PetscReal *theta, PetscInt m, LandWork *w, PetscInt out, PetscReal *rows, PetscInt ldr,
                                   PetscReal scale)
{
  const PetscInt L  = net->nlayers;
  PetscReal     *ga = w->ga, *gz = w->gz, *gn = w->gnext;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Jacobian, 0, 0, 0, 0));
  PetscCall(PetscArrayzero(ga, m * net->width[L]));
  for (PetscInt i = 0; i < m; i++) ga[i * net->width[L] + out] = scale;
  for (PetscInt l = L; l >= 1; l--) {
    PetscInt nin = net->width[l - 1], nout = net->width[l], n = m * nout;
    if (l < L)
      for (PetscInt i = 0; i < n; i++) gz[i] = ga[i] * w->s1[l][i];
    else
      PetscCall(PetscArraycpy(gz, ga, n));
    /* per-row outer products g_z[i] a_{l-1}[i]^T: rank-one, no GEMM to batch them into */
    for (PetscInt i = 0; i < m; i++) {
      PetscReal       *r  = rows + i * ldr;
      const PetscReal *gi = gz + i * nout, *ai = w->a[l - 1] + i * nin;
      for (PetscInt o = 0; o < nout; o++)
        for (PetscInt j = 0; j < nin; j++) r[net->woff[l - 1] + o * nin + j] = gi[o] * ai[j];
      if (net->bias)
        for (PetscInt o = 0; o < nout; o++) r[net->boff[l - 1] + o] = gi[o];
    }
    if (l > 1) {
      Gemm('N', 'N', m, nin, nout, 1.0, gz, nout, theta + net->woff[l - 1], nin, 0.0, gn, nin);
      if (net->skip[l - 1])
        for (PetscInt i = 0; i < m * nin; i++) gn[i] += ga[i];
      PetscReal *t = ga;
      ga           = gn;
      gn           = t;
    }
  }
  PetscCall(PetscLogEventEnd(LAND_Jacobian, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
