/* LandNet: the MLP architecture, its parameter layout (DESIGN §5) and initialisation.
   theta = for each affine layer l = 1..L: W_l (width[l] x width[l-1], row-major), then b_l. */
#include <landscape/impl.h>

const char *const        LandActivations[] = {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softplus", "LandActivation", "LAND_ACT_", NULL};
static const char *const LandInits[]       = {"he", "glorot", "normal", "uniform"};
const char *const        LandNoises[]      = {"none", "dropout", "gaussian", "LandNoise", "LAND_NOISE_", NULL};

/*@ LandNetCreate - create an MLP description. Collective. @*/
PetscErrorCode LandNetCreate(MPI_Comm comm, LandNet *net)
{
  LandNet n;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&n));
  n->comm        = comm;
  n->act         = LAND_ACT_TANH;
  n->leaky_slope = 0.01;
  n->bias        = PETSC_TRUE;
  n->init_scale  = 1.0;
  n->nlayers     = 1;
  PetscCall(PetscStrcpy(n->init, "he"));
  PetscCall(PetscStrcpy(n->theta_dataset, "theta"));
  *net = n;
  PetscFunctionReturn(0);
}

/*@ LandNetSetSizes - set the input and output widths (they come from the data). Logically collective. @*/
PetscErrorCode LandNetSetSizes(LandNet net, PetscInt d, PetscInt k)
{
  PetscFunctionBeginUser;
  net->width[0]            = d;
  net->width[net->nlayers] = k;
  PetscFunctionReturn(0);
}

/*@ LandNetSetFromOptions - read -net_* options. Collective.
  Options: -net_hidden, -net_activation, -net_leaky_slope, -net_bias, -net_skip, -net_init, -net_init_scale, -net_theta,
  -net_theta_dataset, -net_noise, -net_noise_var, -net_noise_seed @*/
PetscErrorCode LandNetSetFromOptions(LandNet net)
{
  PetscInt  hidden[LAND_MAX_LAYERS] = {0}, nh = LAND_MAX_LAYERS - 1, d = net->width[0], k = net->width[net->nlayers], init = 0;
  PetscBool set;

  PetscFunctionBeginUser;
  for (PetscInt l = 1; l < net->nlayers; l++) hidden[l - 1] = net->width[l];
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-seed", &net->noise_seed, NULL));
  PetscOptionsBegin(net->comm, NULL, "Network (LandNet) options", NULL);
  PetscCall(PetscOptionsIntArray("-net_hidden", "Hidden layer widths, comma separated (0 or empty: no hidden layer)", "LandNetSetFromOptions", hidden,
                                 &nh, &set));
  if (set && nh == 1 && hidden[0] == 0) nh = 0; /* -net_hidden 0: a linear model */
  if (set) {
    for (PetscInt l = 0; l < nh; l++)
      PetscCheck(hidden[l] > 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-net_hidden: width %" PetscInt_FMT " of layer %" PetscInt_FMT " must be positive", hidden[l], l + 1);
    net->nlayers = nh + 1;
    for (PetscInt l = 0; l < nh; l++) net->width[l + 1] = hidden[l];
    net->width[0]            = d;
    net->width[net->nlayers] = k;
  }
  PetscCall(PetscOptionsEnum("-net_activation", "Hidden-layer activation", "LandNetSetFromOptions", LandActivations, (PetscEnum)net->act,
                             (PetscEnum *)&net->act, NULL));
  PetscCall(
      PetscOptionsReal("-net_leaky_slope", "Negative-side slope of leaky_relu", "LandNetSetFromOptions", net->leaky_slope, &net->leaky_slope, NULL));
  PetscCall(PetscOptionsBool("-net_bias", "Use biases", "LandNetSetFromOptions", net->bias, &net->bias, NULL));
  PetscCall(PetscOptionsBool("-net_skip", "Skip connections h_{l+1} = h_l + act(W h_l + b) between hidden layers of equal width",
                             "LandNetSetFromOptions", net->use_skip, &net->use_skip, NULL));
  PetscCall(
      PetscOptionsEList("-net_init",
                        "Initialisation (he: N(0,2/n_in), glorot: N(0,2/(n_in+n_out)), normal: N(0,scale^2), biases 0; uniform: weights and biases "
                        "U(-scale,scale))",
                        "LandNetSetFromOptions", LandInits, 4, net->init, &init, &set));
  if (set) PetscCall(PetscStrcpy(net->init, LandInits[init]));
  PetscCall(PetscOptionsReal("-net_init_scale",
                             "Multiplier of the initial standard deviation (the std itself for normal, the half-width for uniform)",
                             "LandNetSetFromOptions", net->init_scale, &net->init_scale, NULL));
  PetscCall(PetscOptionsString("-net_theta", "HDF5 file whose dataset /theta holds the starting parameters", "LandNetSetFromOptions", net->theta_file,
                               net->theta_file, sizeof(net->theta_file), NULL));
  PetscCall(PetscOptionsString("-net_theta_dataset",
                               "Dataset of the -net_theta file to read (e.g. embed/theta for the widened parameters of the embed stage)",
                               "LandNetSetFromOptions", net->theta_dataset, net->theta_dataset, sizeof(net->theta_dataset), NULL));
  PetscCall(PetscOptionsEnum("-net_noise",
                             "Multiplicative noise eps on hidden units, a = eps act(z), E eps = 1, sampled once per (training row, unit): "
                             "none, dropout (eps in {0, 1/p}), gaussian (eps ~ N(1, var))",
                             "LandNetSetFromOptions", LandNoises, (PetscEnum)net->noise, (PetscEnum *)&net->noise, NULL));
  PetscCall(PetscOptionsReal("-net_noise_var", "Variance sigma^2 of the noise multipliers (dropout: keep probability p = 1/(1 + sigma^2))",
                             "LandNetSetFromOptions", net->noise_var, &net->noise_var, NULL));
  PetscCall(PetscOptionsInt("-net_noise_seed", "Seed of the noise multipliers (default: -seed)", "LandNetSetFromOptions", net->noise_seed,
                            &net->noise_seed, NULL));
  PetscOptionsEnd();
  PetscCheck(net->noise_var >= 0 && PetscIsNormalReal(net->noise_var + 1), net->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-net_noise_var %g must be finite and >= 0", (double)net->noise_var);
  PetscCheck(net->leaky_slope >= 0 && net->leaky_slope < 1, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_leaky_slope %g must lie in [0, 1)",
             (double)net->leaky_slope);
  PetscCheck(net->init_scale >= 0 && PetscIsNormalReal(net->init_scale + 1), net->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-net_init_scale %g must be finite and >= 0", (double)net->init_scale);
  PetscFunctionReturn(0);
}

/*@ LandNetSetUp - compute the parameter layout. Collective; safe to call twice. @*/
PetscErrorCode LandNetSetUp(LandNet net)
{
  PetscInt off = 0;

  PetscFunctionBeginUser;
  if (net->setupcalled) PetscFunctionReturn(0);
  PetscCheck(net->width[0] > 0 && net->width[net->nlayers] > 0, net->comm, PETSC_ERR_ORDER, "LandNetSetSizes() must be called before LandNetSetUp()");
  net->maxwidth = 0;
  net->sumwidth = 0;
  for (PetscInt l = 1; l <= net->nlayers; l++) {
    net->woff[l - 1] = off;
    off += net->width[l] * net->width[l - 1];
    net->boff[l - 1] = off;
    if (net->bias) off += net->width[l];
    /* skip from hidden layer l-1 to hidden layer l: both hidden, equal widths */
    net->skip[l - 1] = (PetscBool)(net->use_skip && l >= 2 && l < net->nlayers && net->width[l] == net->width[l - 1]);
    net->maxwidth    = PetscMax(net->maxwidth, net->width[l]);
    net->sumwidth += net->width[l];
  }
  net->P           = off;
  net->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode LandNetGetNumParams(LandNet net, PetscInt *P)
{
  PetscFunctionBeginUser;
  *P = net->P;
  PetscFunctionReturn(0);
}

PetscErrorCode LandNetGetNumLayers(LandNet net, PetscInt *L)
{
  PetscFunctionBeginUser;
  *L = net->nlayers;
  PetscFunctionReturn(0);
}

/*@ LandNetGetLayer - view of layer l (1-based) inside theta: W_l starts at w_offset (n_out x n_in,
  row-major) and b_l at b_offset (-1 without biases). Not collective. @*/
PetscErrorCode LandNetGetLayer(LandNet net, PetscInt l, PetscInt *n_out, PetscInt *n_in, PetscInt *w_offset, PetscInt *b_offset)
{
  PetscFunctionBeginUser;
  PetscCheck(l >= 1 && l <= net->nlayers, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Layer %" PetscInt_FMT " not in [1, %" PetscInt_FMT "]", l,
             net->nlayers);
  if (n_out) *n_out = net->width[l];
  if (n_in) *n_in = net->width[l - 1];
  if (w_offset) *w_offset = net->woff[l - 1];
  if (b_offset) *b_offset = net->bias ? net->boff[l - 1] : -1;
  PetscFunctionReturn(0);
}

/*@ LandNetCreateVec - a distributed parameter vector (PETSc's default layout over P). Collective. @*/
PetscErrorCode LandNetCreateVec(LandNet net, Vec *theta)
{
  PetscFunctionBeginUser;
  PetscCall(VecCreate(net->comm, theta));
  PetscCall(VecSetSizes(*theta, PETSC_DECIDE, net->P));
  PetscCall(VecSetFromOptions(*theta));
  PetscFunctionReturn(0);
}

/*@ LandNetInitialize - random initial parameters, or those of -net_theta. Collective.
  Each entry depends only on (seed, global index), so theta does not depend on the rank count. @*/
PetscErrorCode LandNetInitialize(LandNet net, PetscInt seed, Vec theta)
{
  PetscInt   lo, hi;
  PetscReal *t;

  PetscFunctionBeginUser;
  if (net->theta_file[0]) {
    PetscCall(LandNetLoadTheta(net, net->theta_file, net->theta_dataset, theta));
    PetscFunctionReturn(0);
  }
  PetscCall(VecGetOwnershipRange(theta, &lo, &hi));
  PetscCall(VecGetArray(theta, &t));
  for (PetscInt l = 1; l <= net->nlayers; l++) {
    PetscInt  nin = net->width[l - 1], nout = net->width[l], w0 = net->woff[l - 1], w1 = w0 + nin * nout;
    PetscReal std;
    PetscBool he, glorot, uniform;

    PetscCall(PetscStrcmp(net->init, "he", &he));
    PetscCall(PetscStrcmp(net->init, "glorot", &glorot));
    PetscCall(PetscStrcmp(net->init, "uniform", &uniform));
    if (uniform) {
      PetscInt e = net->bias ? w1 + nout : w1;
      for (PetscInt j = PetscMax(lo, w0); j < PetscMin(hi, e); j++) t[j - lo] = net->init_scale * (2.0 * LandRandUniform(seed, 1, j) - 1.0);
      continue;
    }
    std = he ? PetscSqrtReal(2.0 / nin) : (glorot ? PetscSqrtReal(2.0 / (nin + nout)) : 1.0);
    std *= net->init_scale;
    for (PetscInt j = PetscMax(lo, w0); j < PetscMin(hi, w1); j++) t[j - lo] = std * LandRandNormal(seed, 1, j);
    if (net->bias)
      for (PetscInt j = PetscMax(lo, w1); j < PetscMin(hi, w1 + nout); j++) t[j - lo] = 0.0;
  }
  PetscCall(VecRestoreArray(theta, &t));
  PetscFunctionReturn(0);
}

/*@ LandNetLoadTheta - read parameters from dataset 'dataset' of an HDF5 file. Collective.
  A wrong length is an error that states the expected one. @*/
PetscErrorCode LandNetLoadTheta(LandNet net, const char file[], const char dataset[], Vec theta)
{
  hid_t     fapl, fid;
  PetscBool exists;
  char      path[256];

  PetscFunctionBeginUser;
  PetscCall(PetscTestFile(file, 'r', &exists));
  PetscCheck(exists, net->comm, PETSC_ERR_FILE_OPEN, "Cannot read parameter file %s", file);
  PetscCall(PetscLogEventBegin(LAND_IO, 0, 0, 0, 0));
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  LandCallHDF5(H5Pset_fapl_mpio(fapl, net->comm, MPI_INFO_NULL));
  fid = H5Fopen(file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(fid >= 0, net->comm, PETSC_ERR_FILE_OPEN, "%s is not an HDF5 file", file);
  PetscCall(PetscSNPrintf(path, sizeof(path), "/%s", dataset));
  PetscCall(LandHDF5ReadVec(net->comm, fid, file, path, theta));
  H5Fclose(fid);
  PetscCall(PetscLogEventEnd(LAND_IO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode LandNetView(LandNet net, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "MLP %" PetscInt_FMT, net->width[0]));
  for (PetscInt l = 1; l <= net->nlayers; l++) PetscCall(PetscViewerASCIIPrintf(viewer, "-%" PetscInt_FMT, net->width[l]));
  PetscCall(PetscViewerASCIIPrintf(viewer, ", %s, bias %s, skip %s, init %s (scale %g), P = %" PetscInt_FMT "\n", LandActivations[net->act],
                                   net->bias ? "on" : "off", net->use_skip ? "on" : "off", net->init, (double)net->init_scale, net->P));
  if (net->noise != LAND_NOISE_NONE)
    PetscCall(PetscViewerASCIIPrintf(viewer, "  %s noise on hidden units, variance %g, seed %" PetscInt_FMT "\n", LandNoises[net->noise],
                                     (double)net->noise_var, net->noise_seed));
  PetscFunctionReturn(0);
}

/*@ LandNetWriteResults - record the architecture as attributes of /net. Collective. @*/
PetscErrorCode LandNetWriteResults(LandNet net, LandResults res)
{
  PetscInt w[LAND_MAX_LAYERS + 1];

  PetscFunctionBeginUser;
  for (PetscInt l = 0; l <= net->nlayers; l++) w[l] = net->width[l];
  PetscCall(LandResultsWriteIntArray(res, "/net/widths", net->nlayers + 1, w));
  PetscCall(LandResultsWriteAttrString(res, "/net", "activation", LandActivations[net->act]));
  PetscCall(LandResultsWriteAttrInt(res, "/net", "bias", net->bias));
  PetscCall(LandResultsWriteAttrInt(res, "/net", "skip", net->use_skip));
  PetscCall(LandResultsWriteAttrInt(res, "/net", "num_params", net->P));
  PetscCall(LandResultsWriteAttrReal(res, "/net", "leaky_slope", net->leaky_slope));
  if (net->noise != LAND_NOISE_NONE) {
    PetscCall(LandResultsWriteAttrString(res, "/net", "noise", LandNoises[net->noise]));
    PetscCall(LandResultsWriteAttrReal(res, "/net", "noise_var", net->noise_var));
    PetscCall(LandResultsWriteAttrInt(res, "/net", "noise_seed", net->noise_seed));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode LandNetDestroy(LandNet *net)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(*net));
  PetscFunctionReturn(0);
}

/* splitmix64 finaliser: a bijective mixer, so (seed, stream, index) -> well-spread 64-bit values. */
static inline PetscInt64 Mix64(PetscInt64 z)
{
  unsigned long long x = (unsigned long long)z;
  x                    = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x                    = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return (PetscInt64)(x ^ (x >> 31));
}

PetscReal LandRandUniform(PetscInt64 seed, PetscInt64 stream, PetscInt64 index)
{
  unsigned long long x = (unsigned long long)Mix64(Mix64(Mix64(seed + 0x9e3779b97f4a7c15LL) + stream) + index);
  return ((x >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* in (0, 1) */
}

/* Box-Muller on two uniforms drawn from indices 2i and 2i+1 of the stream. */
PetscReal LandRandNormal(PetscInt64 seed, PetscInt64 stream, PetscInt64 index)
{
  PetscReal u1 = LandRandUniform(seed, stream, 2 * index), u2 = LandRandUniform(seed, stream, 2 * index + 1);
  return PetscSqrtReal(-2.0 * PetscLogReal(u1)) * PetscCosReal(2.0 * PETSC_PI * u2);
}

/*@ LandNetNoiseMultiplier - the noise multiplier eps of hidden unit 'unit' of layer l (1-based) for global
  training row 'row'. A fixed function of (-net_noise_seed, row, l, unit), so the noisy loss is a
  deterministic function of theta and does not depend on the rank count. Not collective. @*/
PetscReal LandNetNoiseMultiplier(LandNet net, PetscInt64 row, PetscInt l, PetscInt unit)
{
  const PetscInt64 stream = 1000 + l, index = row * net->width[l] + unit;
  switch (net->noise) {
    case LAND_NOISE_DROPOUT: {
      PetscReal p = 1.0 / (1.0 + net->noise_var); /* keep probability: Var eps = (1 - p)/p */
      return LandRandUniform(net->noise_seed, stream, index) < p ? 1.0 / p : 0.0;
    }
    case LAND_NOISE_GAUSSIAN:
      return 1.0 + PetscSqrtReal(net->noise_var) * LandRandNormal(net->noise_seed, stream, index);
    default:
      return 1.0;
  }
}
