/* LandData: the training and test sets, distributed over the ranks in whole chunks of rows.
   Chunks are aligned to global row 0 and have a fixed size (-data_chunk_size), so the kernels run
   on the same blocks whatever the rank count. Each rank holds only its own rows: read from HDF5
   with a collective hyperslab read, or generated from (seed, global row index). */
#include <landscape/impl.h>

static PetscFunctionList LandDataList = NULL;

PetscErrorCode LandDataRegister(const char name[], PetscErrorCode (*create)(LandData))
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListAdd(&LandDataList, name, create));
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataCreate(MPI_Comm comm, LandData *data)
{
  LandData d;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&d));
  d->comm  = comm;
  d->chunk = 128;
  d->noise = 0.1;
  d->rho   = 0.0;
  d->range = 3.0;
  PetscCall(PetscStrcpy(d->type, "hdf5"));
  *data = d;
  PetscFunctionReturn(0);
}

/* Split N rows into chunks and give each rank a contiguous range of whole chunks. */
static PetscErrorCode SetLayout(LandData data, LandSet *set, PetscInt N)
{
  PetscMPIInt rank, size;
  PetscInt64  nchunks = (N + data->chunk - 1) / data->chunk;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(data->comm, &rank));
  PetscCallMPI(MPI_Comm_size(data->comm, &size));
  set->N      = N;
  set->cstart = (PetscInt)(nchunks * rank / size);
  set->cend   = (PetscInt)(nchunks * (rank + 1) / size);
  set->rstart = PetscMin(set->cstart * data->chunk, N);
  set->n      = PetscMin(set->cend * data->chunk, N) - set->rstart;
  PetscFunctionReturn(0);
}

static PetscErrorCode AllocSet(LandData data, LandSet *set, PetscBool labels)
{
  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(set->n * data->d + 1, &set->X));
  PetscCall(PetscCalloc1(set->n * data->k + 1, &set->Y));
  if (labels) PetscCall(PetscCalloc1(set->n + 1, &set->labels));
  PetscFunctionReturn(0);
}

/* ---------------- synthetic generators: row i depends only on (seed, set, i) ---------------- */

/* Random teacher MLP y = T(x) + noise, x ~ N(0, I). */
static PetscErrorCode GenRow_Teacher(LandData data, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label)
{
  PetscReal  h[2][1024];
  PetscInt   widths[18], nl = data->teacher_nhidden + 1, off = 0;
  PetscReal *in = h[0], *out = h[1];

  PetscFunctionBeginUser;
  widths[0] = data->d;
  for (PetscInt l = 0; l < data->teacher_nhidden; l++) widths[l + 1] = data->teacher_hidden[l];
  widths[nl] = data->k;
  for (PetscInt j = 0; j < data->d; j++) x[j] = LandRandNormal(data->seed, 1000 + key / (1LL << 40), (key % (1LL << 40)) * data->d + j);
  PetscCall(PetscArraycpy(in, x, data->d));
  for (PetscInt l = 1; l <= nl; l++) {
    for (PetscInt o = 0; o < widths[l]; o++) {
      PetscReal s = data->teacher_theta[off + widths[l] * widths[l - 1] + o]; /* bias */
      for (PetscInt j = 0; j < widths[l - 1]; j++) s += data->teacher_theta[off + o * widths[l - 1] + j] * in[j];
      if (l < nl) switch ((LandActivation)data->teacher_act) {
          case LAND_ACT_RELU:
            s = PetscMax(s, 0);
            break;
          case LAND_ACT_LEAKY_RELU:
            s = s > 0 ? s : 0.01 * s;
            break;
          case LAND_ACT_SIGMOID:
            s = 1 / (1 + PetscExpReal(-s));
            break;
          case LAND_ACT_TANH:
            s = PetscTanhReal(s);
            break;
          case LAND_ACT_SOFTPLUS:
            s = log1p(PetscExpReal(s));
            break;
          default:
            break;
        }
      out[o] = s;
    }
    off += widths[l] * widths[l - 1] + widths[l];
    PetscReal *t = in;
    in           = out;
    out          = t;
  }
  for (PetscInt o = 0; o < data->k; o++)
    y[o] = in[o] + data->noise * LandRandNormal(data->seed, 2000 + key / (1LL << 40), (key % (1LL << 40)) * data->k + o);
  PetscFunctionReturn(0);
}

static PetscErrorCode Setup_Teacher(LandData data)
{
  PetscInt widths[18], nl = data->teacher_nhidden + 1, P = 0;

  PetscFunctionBeginUser;
  widths[0] = data->d;
  for (PetscInt l = 0; l < data->teacher_nhidden; l++) {
    widths[l + 1] = data->teacher_hidden[l];
    PetscCheck(widths[l + 1] > 0 && widths[l + 1] <= 1024, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_teacher_hidden widths must lie in [1, 1024]");
  }
  PetscCheck(data->d <= 1024 && data->k <= 1024, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "teacher data: -data_d and -data_k must be at most 1024");
  widths[nl] = data->k;
  for (PetscInt l = 1; l <= nl; l++) P += widths[l] * widths[l - 1] + widths[l];
  PetscCall(PetscMalloc1(P, &data->teacher_theta));
  /* weights N(0, 1/n_in), biases N(0, 0.1^2): a teacher with non-trivial hidden features */
  for (PetscInt l = 1, off = 0; l <= nl; l++) {
    for (PetscInt j = 0; j < widths[l] * widths[l - 1]; j++)
      data->teacher_theta[off + j] = LandRandNormal(data->seed, 99, off + j) / PetscSqrtReal(widths[l - 1]);
    for (PetscInt j = 0; j < widths[l]; j++)
      data->teacher_theta[off + widths[l] * widths[l - 1] + j] = 0.1 * LandRandNormal(data->seed, 99, off + widths[l] * widths[l - 1] + j);
    off += widths[l] * widths[l - 1] + widths[l];
  }
  PetscFunctionReturn(0);
}

/* Linear-Gaussian regression: x has covariance S_ij = rho^|i-j| (AR(1): x_j = rho x_{j-1} + sqrt(1-rho^2) z_j,
   whose Cholesky factor is explicit), y = W* x + noise, W* ~ N(0, 1). */
static PetscErrorCode GenRow_LinearGaussian(LandData data, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label)
{
  PetscReal c = PetscSqrtReal(1 - data->rho * data->rho);

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < data->d; j++) {
    PetscReal z = LandRandNormal(data->seed, 1000 + key / (1LL << 40), (key % (1LL << 40)) * data->d + j);
    x[j]        = j == 0 ? z : data->rho * x[j - 1] + c * z;
  }
  for (PetscInt o = 0; o < data->k; o++) {
    PetscReal s = 0;
    for (PetscInt j = 0; j < data->d; j++) s += LandRandNormal(data->seed, 98, o * data->d + j) * x[j];
    y[o] = s + data->noise * LandRandNormal(data->seed, 2000 + key / (1LL << 40), (key % (1LL << 40)) * data->k + o);
  }
  PetscFunctionReturn(0);
}

/* The 1-D five-point data of Wu, Simsek and Ged (research/seeds_001_003.md, A6), with a bias column. */
static PetscErrorCode GenRow_FivePoint(LandData data, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label)
{
  static const PetscReal xs[5] = {-1.0, -0.6, -0.1, 0.3, 0.7}, ys[5] = {0.28, -0.1, 0.03, 0.23, -0.22};

  PetscFunctionBeginUser;
  x[0] = xs[key % 5];
  x[1] = 1.0;
  y[0] = ys[key % 5];
  PetscFunctionReturn(0);
}

/* LAD / quantile regression data: x = (1, z), z ~ N(0, I); y = w* . x + noise * Laplace. */
static PetscErrorCode GenRow_LAD(LandData data, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label)
{
  PetscReal u, s = 0;

  PetscFunctionBeginUser;
  x[0] = 1.0;
  for (PetscInt j = 1; j < data->d; j++) x[j] = LandRandNormal(data->seed, 1000 + key / (1LL << 40), (key % (1LL << 40)) * data->d + j);
  for (PetscInt j = 0; j < data->d; j++) s += LandRandNormal(data->seed, 98, j) * x[j];
  u    = LandRandUniform(data->seed, 2000 + key / (1LL << 40), key % (1LL << 40)) - 0.5;
  y[0] = s - data->noise * (u > 0 ? 1.0 : -1.0) * PetscLogReal(1.0 - 2.0 * PetscAbsReal(u));
  PetscFunctionReturn(0);
}

/* Uniform data of the Deep ReLU Simplex study (research/seeds_000_004.md, A7): x ~ U(-a, a)^d and
   pure-noise targets y ~ U(-a, a)^k, a = -data_range. */
static PetscErrorCode GenRow_Uniform(LandData data, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label)
{
  PetscReal a = data->range;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < data->d; j++)
    x[j] = a * (2.0 * LandRandUniform(data->seed, 3000 + key / (1LL << 40), (key % (1LL << 40)) * data->d + j) - 1.0);
  for (PetscInt j = 0; j < data->k; j++)
    y[j] = a * (2.0 * LandRandUniform(data->seed, 4000 + key / (1LL << 40), (key % (1LL << 40)) * data->k + j) - 1.0);
  PetscFunctionReturn(0);
}

static PetscErrorCode Generate(LandData data)
{
  PetscFunctionBeginUser;
  SetLayout(data, &data->set[LAND_SET_TRAIN], data->gen_n);
  SetLayout(data, &data->set[LAND_SET_TEST], data->gen_test_n);
  for (int s = 0; s < 2; s++) {
    LandSet *set = &data->set[s];
    PetscCall(AllocSet(data, set, data->classify));
    /* test rows come from a different key range than training rows */
    for (PetscInt i = 0; i < set->n; i++) {
      PetscReal *y = set->Y + i * data->k;
      PetscCall(data->genrow(data, (PetscInt64)s * (1LL << 40) + set->rstart + i, set->X + i * data->d, y, NULL));
      if (data->classify) {
        PetscInt am = 0;
        for (PetscInt j = 1; j < data->k; j++)
          if (y[j] > y[am]) am = j;
        for (PetscInt j = 0; j < data->k; j++) y[j] = (j == am);
        set->labels[i] = am;
      }
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode DataCreate_Teacher(LandData data)
{
  PetscFunctionBeginUser;
  PetscCheck(!data->classify || data->k >= 2, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_classify needs -data_k >= 2 classes");
  if (data->classify) data->num_classes = data->k;
  data->genrow = GenRow_Teacher;
  PetscCall(Setup_Teacher(data));
  PetscCall(Generate(data));
  PetscFunctionReturn(0);
}
static PetscErrorCode DataCreate_LinearGaussian(LandData data)
{
  PetscFunctionBeginUser;
  PetscCheck(data->rho > -1 && data->rho < 1, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_rho %g must lie in (-1, 1)", (double)data->rho);
  data->genrow = GenRow_LinearGaussian;
  PetscCall(Generate(data));
  PetscFunctionReturn(0);
}
static PetscErrorCode DataCreate_FivePoint(LandData data)
{
  PetscFunctionBeginUser;
  data->d          = 2;
  data->k          = 1;
  data->gen_n      = 5;
  data->gen_test_n = 0;
  data->genrow     = GenRow_FivePoint;
  PetscCall(Generate(data));
  PetscFunctionReturn(0);
}
static PetscErrorCode DataCreate_LAD(LandData data)
{
  PetscFunctionBeginUser;
  data->k      = 1;
  data->genrow = GenRow_LAD;
  PetscCall(Generate(data));
  PetscFunctionReturn(0);
}

static PetscErrorCode DataCreate_Uniform(LandData data)
{
  PetscFunctionBeginUser;
  data->genrow = GenRow_Uniform;
  PetscCall(Generate(data));
  PetscFunctionReturn(0);
}

/* ---------------- HDF5 reader ---------------- */

/* Seeded choice of 'count' distinct rows out of n, returned sorted (Fisher-Yates on the prefix). */
static PetscErrorCode RandomRows(PetscInt64 seed, PetscInt64 stream, PetscInt n, PetscInt count, PetscInt **rows)
{
  PetscInt *p;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n, &p));
  for (PetscInt i = 0; i < n; i++) p[i] = i;
  for (PetscInt i = 0; i < count; i++) {
    PetscInt j = i + (PetscInt)(LandRandUniform(seed, stream, i) * (n - i)), t;
    j          = PetscMin(j, n - 1);
    t          = p[i];
    p[i]       = p[j];
    p[j]       = t;
  }
  PetscCall(PetscSortInt(count, p));
  *rows = p;
  PetscFunctionReturn(0);
}

/* Read rows sel[rstart .. rstart+n) (or rstart.. when sel is NULL) of a 1-D or 2-D dataset as
   doubles with one collective read; each rank selects only its own rows. */
static PetscErrorCode ReadRows(LandData data, hid_t file, const char name[], const PetscInt *sel, PetscInt rstart, PetscInt n, PetscInt ncols,
                               hid_t memtype, void *buf)
{
  hid_t   dset, space, mspace, dxpl;
  hsize_t start[2] = {0, 0}, count[2] = {0, (hsize_t)ncols}, mdims[2] = {(hsize_t)n, (hsize_t)ncols};
  int     nd;

  PetscFunctionBeginUser;
  dset  = H5Dopen2(file, name, H5P_DEFAULT);
  space = H5Dget_space(dset);
  nd    = H5Sget_simple_extent_ndims(space);
  LandCallHDF5(H5Sselect_none(space));
  if (n > 0) {
    if (!sel) {
      start[0] = rstart;
      count[0] = n;
      LandCallHDF5(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL));
    } else {
      /* union of runs of consecutive selected rows */
      for (PetscInt i = 0; i < n;) {
        PetscInt j = i + 1;
        while (j < n && sel[rstart + j] == sel[rstart + j - 1] + 1) j++;
        start[0] = sel[rstart + i];
        count[0] = j - i;
        LandCallHDF5(H5Sselect_hyperslab(space, H5S_SELECT_OR, start, NULL, count, NULL));
        i = j;
      }
    }
  }
  mspace = H5Screate_simple(nd, mdims, NULL);
  if (n == 0) LandCallHDF5(H5Sselect_none(mspace));
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  LandCallHDF5(H5Dread(dset, memtype, mspace, space, dxpl, buf));
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(0);
}

/* Shape of a dataset: rows and columns (1 for a vector); errors name the file and dataset. */
static PetscErrorCode DatasetShape(LandData data, hid_t file, const char name[], PetscInt *rows, PetscInt *cols)
{
  hid_t   dset, space;
  hsize_t dims[3];
  int     nd;

  PetscFunctionBeginUser;
  dset = H5Dopen2(file, name, H5P_DEFAULT);
  PetscCheck(dset >= 0, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: cannot open dataset %s", data->file, name);
  space = H5Dget_space(dset);
  nd    = H5Sget_simple_extent_ndims(space);
  PetscCheck(nd == 1 || nd == 2, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset %s has %d dimensions; expected 1 or 2", data->file, name, nd);
  H5Sget_simple_extent_dims(space, dims, NULL);
  *rows = (PetscInt)dims[0];
  *cols = nd == 2 ? (PetscInt)dims[1] : 1;
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(0);
}

static PetscBool Exists(hid_t file, const char path[])
{
  return (PetscBool)(H5Lexists(file, path, H5P_DEFAULT) > 0);
}

/* All ranks agree on the first bad global row (or -1): error checks stay collective. */
static PetscErrorCode AgreeBadRow(LandData data, PetscInt local_bad, PetscInt *bad)
{
  PetscInt v = local_bad < 0 ? PETSC_MAX_INT : local_bad;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&v, bad, 1, MPIU_INT, MPI_MIN, data->comm));
  if (*bad == PETSC_MAX_INT) *bad = -1;
  PetscFunctionReturn(0);
}

/* map: file label -> label used (-data_classes), or NULL. Labels become one-hot rows of Y, or with
   -data_binary_target a scalar -1 / +1 target (and the set has no labels). */
static PetscErrorCode ReadSet(LandData data, hid_t file, const char group[], LandSet *set, const PetscInt *sel, PetscInt N, PetscInt ncls,
                              const PetscInt *map)
{
  char     path[256];
  PetscInt bad = -1, badall;

  PetscFunctionBeginUser;
  PetscCall(SetLayout(data, set, N));
  PetscCall(AllocSet(data, set, (PetscBool)(ncls > 0)));
  PetscCall(PetscSNPrintf(path, sizeof(path), "/%s/X", group));
  PetscCall(ReadRows(data, file, path, sel, set->rstart, set->n, data->d, H5T_NATIVE_DOUBLE, set->X));
  for (PetscInt i = 0; i < set->n * data->d && bad < 0; i++)
    if (!PetscIsNormalReal(set->X[i]) && set->X[i] != 0) bad = set->rstart + i / data->d;
  PetscCall(AgreeBadRow(data, bad, &badall));
  PetscCheck(badall < 0, data->comm, PETSC_ERR_FP, "%s: /%s/X has a NaN or Inf in row %" PetscInt_FMT, data->file, group, sel ? sel[badall] : badall);
  if (ncls > 0) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "/%s/labels", group));
    PetscCall(ReadRows(data, file, path, sel, set->rstart, set->n, 1, sizeof(PetscInt) == 8 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, set->labels));
    for (PetscInt i = 0; i < set->n && bad < 0; i++)
      if (set->labels[i] < 0 || set->labels[i] >= ncls) bad = set->rstart + i;
    PetscCall(AgreeBadRow(data, bad, &badall));
    PetscCheck(badall < 0, data->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: /%s/labels row %" PetscInt_FMT " is outside [0, %" PetscInt_FMT ") (num_classes)", data->file, group, sel ? sel[badall] : badall,
               ncls);
    if (map)
      for (PetscInt i = 0; i < set->n; i++) set->labels[i] = map[set->labels[i]];
    if (data->binary_target) {
      for (PetscInt i = 0; i < set->n; i++) set->Y[i] = set->labels[i] ? 1.0 : -1.0;
      PetscCall(PetscFree(set->labels));
    } else
      for (PetscInt i = 0; i < set->n; i++) set->Y[i * data->k + set->labels[i]] = 1.0;
  } else {
    PetscCall(PetscSNPrintf(path, sizeof(path), "/%s/Y", group));
    PetscCall(ReadRows(data, file, path, sel, set->rstart, set->n, data->k, H5T_NATIVE_DOUBLE, set->Y));
    for (PetscInt i = 0; i < set->n * data->k && bad < 0; i++)
      if (!PetscIsNormalReal(set->Y[i]) && set->Y[i] != 0) bad = set->rstart + i / data->k;
    PetscCall(AgreeBadRow(data, bad, &badall));
    PetscCheck(badall < 0, data->comm, PETSC_ERR_FP, "%s: /%s/Y has a NaN or Inf in row %" PetscInt_FMT, data->file, group,
               sel ? sel[badall] : badall);
  }
  PetscFunctionReturn(0);
}

/* num_classes attribute of /<group>/labels (or of the group), or 0 for regression targets. */
static PetscErrorCode ReadNumClasses(LandData data, hid_t file, const char group[], PetscInt *ncls)
{
  char path[256];

  PetscFunctionBeginUser;
  *ncls = 0;
  PetscCall(PetscSNPrintf(path, sizeof(path), "/%s/labels", group));
  if (!Exists(file, path)) PetscFunctionReturn(0);
  for (int where = 0; where < 2; where++) {
    const char *obj = where == 0 ? path : group;
    if (H5Aexists_by_name(file, obj, "num_classes", H5P_DEFAULT) > 0) {
      hid_t     a = H5Aopen_by_name(file, obj, "num_classes", H5P_DEFAULT, H5P_DEFAULT);
      long long v = 0;
      LandCallHDF5(H5Aread(a, H5T_NATIVE_LLONG, &v));
      H5Aclose(a);
      *ncls = (PetscInt)v;
      break;
    }
  }
  PetscCheck(*ncls >= 2, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: %s needs an integer attribute num_classes >= 2", data->file, path);
  PetscFunctionReturn(0);
}

/* -data_classes: the sorted rows of a labels dataset (N rows) whose class map[] keeps. Every rank
   reads all labels: they are small next to the inputs. */
static PetscErrorCode KeepClasses(LandData data, hid_t file, const char path[], PetscInt N, PetscInt ncls, const PetscInt *map, PetscInt **rows,
                                  PetscInt *n)
{
  PetscInt *lab;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(N + 1, &lab));
  PetscCall(PetscMalloc1(N + 1, rows));
  PetscCall(ReadRows(data, file, path, NULL, 0, N, 1, sizeof(PetscInt) == 8 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, lab));
  *n = 0;
  for (PetscInt i = 0; i < N; i++) {
    PetscCheck(lab[i] >= 0 && lab[i] < ncls, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: %s row %" PetscInt_FMT " is outside [0, %" PetscInt_FMT ")",
               data->file, path, i, ncls);
    if (map[lab[i]] >= 0) (*rows)[(*n)++] = i;
  }
  PetscCall(PetscFree(lab));
  PetscFunctionReturn(0);
}

static PetscErrorCode DataCreate_HDF5(LandData data)
{
  hid_t     fapl, file;
  PetscBool exists, has_test;
  PetscInt  Nfile, d, k, ncls, Ntest = 0, dt, kt, nclst;
  PetscInt *trainsel = NULL, *testsel = NULL, Ntrain, *map = NULL, *base = NULL, Nbase = 0, *testbase = NULL;
  char      ypath[256];

  PetscFunctionBeginUser;
  PetscCheck(data->file[0], data->comm, PETSC_ERR_USER_INPUT, "No data: give -data_file F.h5 or a synthetic -data_type");
  PetscCall(PetscTestFile(data->file, 'r', &exists));
  PetscCheck(exists, data->comm, PETSC_ERR_FILE_OPEN, "-data_file %s: no such file or not readable", data->file);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  LandCallHDF5(H5Pset_fapl_mpio(fapl, data->comm, MPI_INFO_NULL));
  file = H5Fopen(data->file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(file >= 0, data->comm, PETSC_ERR_FILE_UNEXPECTED, "-data_file %s is not an HDF5 file", data->file);
  PetscCheck(Exists(file, "/train") && Exists(file, "/train/X"), data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s has no dataset /train/X", data->file);
  PetscCall(DatasetShape(data, file, "/train/X", &Nfile, &d));
  PetscCall(ReadNumClasses(data, file, "train", &ncls));
  if (ncls) {
    PetscInt nl, one;
    PetscCall(DatasetShape(data, file, "/train/labels", &nl, &one));
    PetscCheck(nl == Nfile && one == 1, data->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: /train/labels has shape [%" PetscInt_FMT ", %" PetscInt_FMT "]; expected [%" PetscInt_FMT "] to match /train/X", data->file, nl,
               one, Nfile);
    k = ncls;
  } else {
    PetscInt ny;
    PetscCheck(Exists(file, "/train/Y"), data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s has neither /train/Y nor /train/labels", data->file);
    PetscCall(DatasetShape(data, file, "/train/Y", &ny, &k));
    PetscCheck(ny == Nfile, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: /train/Y has %" PetscInt_FMT " rows but /train/X has %" PetscInt_FMT,
               data->file, ny, Nfile);
  }
  PetscCheck(Nfile > 0 && d > 0, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: /train/X is empty", data->file);
  data->d           = d;
  data->k           = k;
  data->num_classes = ncls;
  if (data->nclasses) {
    PetscCheck(ncls > 0, data->comm, PETSC_ERR_ARG_INCOMP, "-data_classes: %s has no class labels (/train/labels)", data->file);
    PetscCall(PetscMalloc1(ncls, &map));
    for (PetscInt c = 0; c < ncls; c++) map[c] = -1;
    for (PetscInt i = 0; i < data->nclasses; i++) {
      PetscCheck(data->classes[i] < ncls, data->comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-data_classes: class %" PetscInt_FMT " does not exist (%s has %" PetscInt_FMT ")", data->classes[i], data->file, ncls);
      map[data->classes[i]] = i;
    }
    PetscCall(KeepClasses(data, file, "/train/labels", Nfile, ncls, map, &base, &Nbase));
    PetscCheck(Nbase > 0, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_classes: %s has no training rows of these classes", data->file);
    data->num_classes = data->binary_target ? 0 : data->nclasses;
    data->k           = data->binary_target ? 1 : data->nclasses;
    k                 = data->k;
  } else
    PetscCheck(!data->binary_target, data->comm, PETSC_ERR_ARG_INCOMP, "-data_binary_target needs -data_classes");

  has_test = Exists(file, "/test") && Exists(file, "/test/X");
  if (!base) Nbase = Nfile;
  Ntrain = Nbase;
  if (has_test) {
    PetscCheck(data->test_fraction == 0, data->comm, PETSC_ERR_ARG_INCOMP, "-data_test_fraction: %s already has a /test set", data->file);
    PetscCall(DatasetShape(data, file, "/test/X", &Ntest, &dt));
    PetscCheck(dt == d, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: /test/X has %" PetscInt_FMT " columns but /train/X has %" PetscInt_FMT,
               data->file, dt, d);
    PetscCall(ReadNumClasses(data, file, "test", &nclst));
    PetscCheck(nclst == ncls, data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: /test and /train disagree on labels/num_classes", data->file);
    PetscCall(PetscSNPrintf(ypath, sizeof(ypath), ncls ? "/test/labels" : "/test/Y"));
    PetscCheck(Exists(file, ypath), data->comm, PETSC_ERR_FILE_UNEXPECTED, "%s has no %s", data->file, ypath);
    PetscCall(DatasetShape(data, file, ypath, &dt, &kt));
    PetscCheck(dt == Ntest && (ncls || kt == k), data->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: %s has shape [%" PetscInt_FMT ", %" PetscInt_FMT "], expected %" PetscInt_FMT " rows%s", data->file, ypath, dt, kt, Ntest,
               ncls ? "" : " and the columns of /train/Y");
    if (map) PetscCall(KeepClasses(data, file, "/test/labels", Ntest, ncls, map, &testbase, &Ntest));
    if (data->test_n > 0) Ntest = PetscMin(Ntest, data->test_n);
  } else if (data->test_fraction > 0) {
    /* seeded split of the file's training rows: the first ntest of a random choice go to test */
    PetscInt   ntest = (PetscInt)PetscFloorReal(data->test_fraction * Nbase + 0.5), *all;
    PetscBool *is_test;
    PetscCheck(data->test_fraction < 1 && ntest < Nbase, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_test_fraction %g leaves no training rows",
               (double)data->test_fraction);
    PetscCall(RandomRows(data->seed, 7, Nbase, ntest, &all));
    PetscCall(PetscCalloc1(Nbase, &is_test));
    for (PetscInt i = 0; i < ntest; i++) is_test[all[i]] = PETSC_TRUE;
    PetscCall(PetscMalloc1(ntest + 1, &testsel));
    PetscCall(PetscMalloc1(Nbase - ntest + 1, &trainsel));
    for (PetscInt i = 0, a = 0, b = 0; i < Nbase; i++) {
      if (is_test[i])
        testsel[a++] = base ? base[i] : i;
      else
        trainsel[b++] = base ? base[i] : i;
    }
    PetscCall(PetscFree(all));
    PetscCall(PetscFree(is_test));
    Ntest  = ntest;
    Ntrain = Nbase - ntest;
    if (data->test_n > 0) Ntest = PetscMin(Ntest, data->test_n);
  }
  if (data->train_n > 0 && data->train_n < Ntrain) {
    PetscInt *sub;
    PetscCall(RandomRows(data->seed, 8, Ntrain, data->train_n, &sub));
    if (trainsel)
      for (PetscInt i = 0; i < data->train_n; i++) sub[i] = trainsel[sub[i]];
    else if (base)
      for (PetscInt i = 0; i < data->train_n; i++) sub[i] = base[sub[i]];
    PetscCall(PetscFree(trainsel));
    trainsel = sub;
    Ntrain   = data->train_n;
  }
  if (!trainsel && base) {
    trainsel = base;
    base     = NULL;
  }
  PetscCall(PetscLogEventBegin(LAND_DataLoad, 0, 0, 0, 0));
  PetscCall(ReadSet(data, file, "train", &data->set[LAND_SET_TRAIN], trainsel, Ntrain, ncls, map));
  if (has_test)
    PetscCall(ReadSet(data, file, "test", &data->set[LAND_SET_TEST], testbase, Ntest, ncls, map));
  else if (testsel)
    PetscCall(ReadSet(data, file, "train", &data->set[LAND_SET_TEST], testsel, Ntest, ncls, map));
  else
    PetscCall(SetLayout(data, &data->set[LAND_SET_TEST], 0));
  PetscCall(PetscLogEventEnd(LAND_DataLoad, 0, 0, 0, 0));
  PetscCall(PetscFree(trainsel));
  PetscCall(PetscFree(testsel));
  PetscCall(PetscFree(base));
  PetscCall(PetscFree(testbase));
  PetscCall(PetscFree(map));
  H5Fclose(file);
  PetscFunctionReturn(0);
}

/* ---------------- object ---------------- */

/*@ LandDataSetFromOptions - Collective.
  Options: -data_type, -data_file, -data_train_n, -data_test_n, -data_test_fraction, -data_standardize,
  -data_chunk_size, -data_seed; generators: -data_n, -data_d, -data_k, -data_noise, -data_rho,
  -data_teacher_hidden, -data_teacher_activation @*/
PetscErrorCode LandDataSetFromOptions(LandData data)
{
  char      type[64];
  PetscBool set;
  PetscInt  act = LAND_ACT_TANH;

  PetscFunctionBeginUser;
  PetscCall(LandDataRegister("hdf5", DataCreate_HDF5));
  PetscCall(LandDataRegister("teacher", DataCreate_Teacher));
  PetscCall(LandDataRegister("linear_gaussian", DataCreate_LinearGaussian));
  PetscCall(LandDataRegister("five_point", DataCreate_FivePoint));
  PetscCall(LandDataRegister("lad", DataCreate_LAD));
  PetscCall(LandDataRegister("uniform", DataCreate_Uniform));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-seed", &data->seed, NULL));
  data->gen_n             = 1000;
  data->d                 = 10;
  data->k                 = 1;
  data->teacher_nhidden   = 1;
  data->teacher_hidden[0] = 20;
  PetscOptionsBegin(data->comm, NULL, "Data (LandData) options", NULL);
  PetscCall(PetscOptionsFList("-data_type", "Data source", "LandDataSetFromOptions", LandDataList, data->type, type, sizeof(type), &set));
  if (set) PetscCall(PetscStrcpy(data->type, type));
  PetscCall(PetscOptionsString("-data_file", "HDF5 dataset (/train/X, /train/Y or /train/labels, optional /test)", "LandDataSetFromOptions",
                               data->file, data->file, sizeof(data->file), NULL));
  PetscCall(PetscOptionsInt("-data_train_n", "Use a seeded random subset of this many training rows (0: all)", "LandDataSetFromOptions",
                            data->train_n, &data->train_n, NULL));
  PetscCall(PetscOptionsInt("-data_test_n", "Number of test rows: the first ones of the file, or how many a generator makes",
                            "LandDataSetFromOptions", data->test_n, &data->test_n, NULL));
  PetscCall(PetscOptionsReal("-data_test_fraction", "Seeded random fraction of the training rows held out as test set (files without /test)",
                             "LandDataSetFromOptions", data->test_fraction, &data->test_fraction, NULL));
  PetscCall(PetscOptionsBool("-data_standardize", "Standardise inputs with the training mean and std", "LandDataSetFromOptions", data->standardize,
                             &data->standardize, NULL));
  PetscCall(PetscOptionsInt("-data_chunk_size", "Rows per chunk: the unit of work, distribution and mini-batches (part of the numerical definition)",
                            "LandDataSetFromOptions", data->chunk, &data->chunk, NULL));
  PetscCall(PetscOptionsInt("-data_seed", "Seed of subsets, splits and generators (default: -seed)", "LandDataSetFromOptions", data->seed,
                            &data->seed, NULL));
  PetscCall(PetscOptionsInt("-data_n", "Generators: number of training rows", "LandDataSetFromOptions", data->gen_n, &data->gen_n, NULL));
  PetscCall(PetscOptionsInt("-data_d", "Generators: input dimension", "LandDataSetFromOptions", data->d, &data->d, NULL));
  PetscCall(PetscOptionsInt("-data_k", "Generators (teacher, linear_gaussian): output dimension", "LandDataSetFromOptions", data->k, &data->k, NULL));
  PetscCall(PetscOptionsReal("-data_noise", "Generators: noise standard deviation (Laplace scale for lad)", "LandDataSetFromOptions", data->noise,
                             &data->noise, NULL));
  PetscCall(PetscOptionsReal("-data_rho", "linear_gaussian: input covariance rho^|i-j|", "LandDataSetFromOptions", data->rho, &data->rho, NULL));
  data->teacher_nhidden = 16;
  PetscCall(PetscOptionsIntArray("-data_teacher_hidden", "teacher: hidden widths of the teacher MLP", "LandDataSetFromOptions", data->teacher_hidden,
                                 &data->teacher_nhidden, &set));
  if (!set) data->teacher_nhidden = 1;
  PetscCall(PetscOptionsEList("-data_teacher_activation", "teacher: activation of the teacher MLP", "LandDataSetFromOptions", LandActivations, 6,
                              LandActivations[LAND_ACT_TANH], &act, NULL));
  PetscCall(
      PetscOptionsReal("-data_range", "uniform: x and y uniform in [-range, range]", "LandDataSetFromOptions", data->range, &data->range, NULL));
  data->nclasses = 64;
  PetscCall(PetscOptionsIntArray("-data_classes", "Labelled files: keep only the rows of these classes, renumbered 0, 1, ... in this order",
                                 "LandDataSetFromOptions", data->classes, &data->nclasses, &set));
  if (!set) data->nclasses = 0;
  PetscCall(PetscOptionsBool("-data_binary_target",
                             "With two -data_classes: a scalar regression target, -1 for the first class and +1 for the second",
                             "LandDataSetFromOptions", data->binary_target, &data->binary_target, NULL));
  PetscCall(PetscOptionsBool("-data_classify", "teacher: class labels = argmax of the teacher's k outputs", "LandDataSetFromOptions", data->classify,
                             &data->classify, NULL));
  PetscOptionsEnd();
  data->teacher_act = act;
  data->gen_test_n  = data->test_n;
  PetscCheck(data->chunk >= 1, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_chunk_size %" PetscInt_FMT " must be positive", data->chunk);
  PetscCheck(data->train_n >= 0 && data->test_n >= 0, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_train_n and -data_test_n must be >= 0");
  PetscCheck(data->test_fraction >= 0 && data->test_fraction < 1, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_test_fraction %g must lie in [0, 1)",
             (double)data->test_fraction);
  PetscCheck(data->range > 0, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_range %g must be positive", (double)data->range);
  PetscCheck(!data->binary_target || data->nclasses == 2, data->comm, PETSC_ERR_ARG_INCOMP,
             "-data_binary_target needs exactly two -data_classes (got %" PetscInt_FMT ")", data->nclasses);
  for (PetscInt i = 0; i < data->nclasses; i++) {
    PetscCheck(data->classes[i] >= 0, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_classes: class %" PetscInt_FMT " is negative", data->classes[i]);
    for (PetscInt j = 0; j < i; j++)
      PetscCheck(data->classes[i] != data->classes[j], data->comm, PETSC_ERR_ARG_WRONG, "-data_classes: class %" PetscInt_FMT " is listed twice",
                 data->classes[i]);
  }
  PetscCheck(data->gen_n > 0 && data->d > 0 && data->k > 0, data->comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_n, -data_d and -data_k must be positive");
  PetscFunctionReturn(0);
}

/* Standardise with the training mean and (population) std, summed reproducibly; zero-variance
   columns keep scale 1. */
static PetscErrorCode ComputeFingerprint(LandData);

static PetscErrorCode Standardize(LandData data)
{
  LandSet   *tr = &data->set[LAND_SET_TRAIN];
  PetscInt   d  = data->d;
  PetscReal *dd;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(2 * d, &dd));
  PetscCall(PetscMalloc2(d, &data->mean, d, &data->std));
  for (PetscInt i = 0; i < tr->n; i++) LandDDAccumulate(d, tr->X + i * d, dd);
  PetscCall(LandDDAllreduce(data->comm, d, dd));
  for (PetscInt j = 0; j < d; j++) data->mean[j] = dd[2 * j] / tr->N;
  PetscCall(PetscArrayzero(dd, 2 * d));
  for (PetscInt i = 0; i < tr->n; i++)
    for (PetscInt j = 0; j < d; j++) {
      PetscReal s = (tr->X[i * d + j] - data->mean[j]) * (tr->X[i * d + j] - data->mean[j]);
      LandDDAccumulate(1, &s, dd + 2 * j);
    }
  PetscCall(LandDDAllreduce(data->comm, d, dd));
  for (PetscInt j = 0; j < d; j++) {
    data->std[j] = PetscSqrtReal(dd[2 * j] / tr->N);
    if (!(data->std[j] > 0)) data->std[j] = 1.0;
  }
  for (int s = 0; s < 2; s++)
    for (PetscInt i = 0; i < data->set[s].n; i++)
      for (PetscInt j = 0; j < d; j++) data->set[s].X[i * d + j] = (data->set[s].X[i * d + j] - data->mean[j]) / data->std[j];
  PetscCall(PetscFree(dd));
  PetscFunctionReturn(0);
}

/*@ LandDataSetUp - load or generate this rank's rows. Collective; safe to call twice. @*/
PetscErrorCode LandDataSetUp(LandData data)
{
  PetscErrorCode (*create)(LandData);

  PetscFunctionBeginUser;
  if (data->setupcalled) PetscFunctionReturn(0);
  PetscCall(PetscFunctionListFind(LandDataList, data->type, &create));
  PetscCheck(create, data->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "Unknown -data_type %s", data->type);
  PetscCall((*create)(data));
  if (data->standardize) PetscCall(Standardize(data));
  PetscCall(ComputeFingerprint(data));
  data->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Reproducible sums of every training and test input (weighted by column, so that a permutation of
   columns changes them) and target: two numbers that identify the data. Collective. */
static PetscErrorCode ComputeFingerprint(LandData data)
{
  PetscReal dd[4] = {0, 0, 0, 0};

  PetscFunctionBeginUser;
  for (int s = 0; s < 2; s++) {
    LandSet *set = &data->set[s];
    for (PetscInt i = 0; i < set->n * data->d; i++) {
      PetscReal x = set->X[i] * (1 + 1e-3 * (i % data->d));
      LandDDAccumulate(1, &x, dd);
    }
    for (PetscInt i = 0; i < set->n * data->k; i++) LandDDAccumulate(1, &set->Y[i], dd + 2);
  }
  PetscCall(LandDDAllreduce(data->comm, 2, dd));
  data->fingerprint[0] = dd[0];
  data->fingerprint[1] = dd[2];
  PetscFunctionReturn(0);
}

/*@ LandDataFingerprint - the two numbers that identify the data (checkpoints refuse to resume on
  other data); computed once by LandDataSetUp. Not collective. @*/
PetscErrorCode LandDataFingerprint(LandData data, PetscReal fp[2])
{
  PetscFunctionBeginUser;
  fp[0] = data->fingerprint[0];
  fp[1] = data->fingerprint[1];
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataGetSizes(LandData data, PetscInt *d, PetscInt *k, PetscInt *ncls)
{
  PetscFunctionBeginUser;
  if (d) *d = data->d;
  if (k) *k = data->k;
  if (ncls) *ncls = data->num_classes;
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataGetSet(LandData data, LandSetKind kind, const LandSet **set)
{
  PetscFunctionBeginUser;
  *set = &data->set[kind];
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataGetChunkSize(LandData data, PetscInt *chunk)
{
  PetscFunctionBeginUser;
  *chunk = data->chunk;
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataView(LandData data, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "Data %s%s%s: train %" PetscInt_FMT " x %" PetscInt_FMT ", test %" PetscInt_FMT ", ", data->type,
                                   data->file[0] ? " " : "", data->file, data->set[0].N, data->d, data->set[1].N));
  if (data->num_classes)
    PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " classes", data->num_classes));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " targets", data->k));
  PetscCall(PetscViewerASCIIPrintf(viewer, ", chunks of %" PetscInt_FMT " rows%s\n", data->chunk, data->standardize ? ", standardised" : ""));
  PetscFunctionReturn(0);
}

/*@ LandDataWriteResults - record the data description in /data. Collective. @*/
PetscErrorCode LandDataWriteResults(LandData data, LandResults res)
{
  PetscFunctionBeginUser;
  PetscCall(LandResultsWriteAttrString(res, "/data", "type", data->type));
  PetscCall(LandResultsWriteAttrString(res, "/data", "file", data->file));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "train_n", data->set[0].N));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "test_n", data->set[1].N));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "d", data->d));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "k", data->k));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "num_classes", data->num_classes));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "chunk_size", data->chunk));
  PetscCall(LandResultsWriteAttrInt(res, "/data", "seed", data->seed));
  if (data->standardize) {
    PetscCall(LandResultsWriteArray(res, "/data/mean", 1, data->d, data->mean));
    PetscCall(LandResultsWriteArray(res, "/data/std", 1, data->d, data->std));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode LandDataDestroy(LandData *data)
{
  PetscFunctionBeginUser;
  if (!*data) PetscFunctionReturn(0);
  for (int s = 0; s < 2; s++) {
    PetscCall(PetscFree((*data)->set[s].X));
    PetscCall(PetscFree((*data)->set[s].Y));
    PetscCall(PetscFree((*data)->set[s].labels));
  }
  if ((*data)->mean) PetscCall(PetscFree2((*data)->mean, (*data)->std));
  PetscCall(PetscFree((*data)->teacher_theta));
  PetscCall(PetscFunctionListDestroy(&LandDataList));
  PetscCall(PetscFree(*data));
  PetscFunctionReturn(0);
}
