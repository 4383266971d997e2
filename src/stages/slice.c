/* Stage 'slice': the loss on a 1-D or 2-D grid theta(x, y) = origin + x d1 + y d2, and the
   persistent homology of its sublevel sets (src/topology/persistence.c). docs/slice.md.

   Directions: random Gaussian vectors, filter-normalised as in Li et al. (2018); Hessian
   eigenvectors of a spectrum stage; principal directions of a level-set path; any stored vector;
   or the line / plane through two or three saved parameter vectors.

   Evaluation. The first layer's pre-activations are affine in (x, y):
     X (W1 + x D1 + y E1)^T + (b1 + x db + y eb) = Z0 + x Z1 + y Z2,
   so Z0, Z1, Z2 are formed once (three GEMMs over the data) and every grid point costs the
   combination plus the layers after the first. For the usual MLP, whose first layer holds most of
   the work, that removes almost all of it. -slice_first_layer 0 evaluates every point by a plain
   forward pass instead. The per-point loss sums follow the same chunks, row order and
   double-double reductions as LandObjectiveEvaluate.

   Parallelism (-slice_parallel): 'data' keeps the training rows where they are and reduces the
   partial sums of one grid line at a time (one reduction per line); 'grid' gives every rank a copy
   of the data and deals the grid points out cyclically, for data sets too small to keep the ranks
   busy. 'auto' picks grid when the training rows per rank are fewer than -slice_grid_rows and the
   copy fits in -slice_grid_memory MB. Both give the same values. */
#include <landscape/impl.h>
#include <petsctime.h>
#include <string.h>

typedef enum { NORM_AUTO, NORM_FILTER, NORM_UNIT, NORM_NONE } Normalize;
static const char *const Normalizes[] = {"auto", "filter", "unit", "none", "Normalize", "NORM_", NULL};
typedef enum { PAR_AUTO, PAR_DATA, PAR_GRID } Parallel;
static const char *const Parallels[] = {"auto", "data", "grid", "Parallel", "PAR_", NULL};

#define MAX_SPECS 4

/* The rows one rank evaluates: its own (data) or a copy of all (grid), with the first-layer products. */
typedef struct {
  PetscInt         N, row0, c0, c1, rows; /* global rows of the set, first row held, chunk range, rows held */
  const PetscReal *X, *Y;
  const PetscInt  *labels;
  PetscReal       *copy[2]; /* owned copies (grid mode) */
  PetscInt        *lcopy;
  PetscReal       *Z[3];       /* rows x width[1]: X W1^T + b1, X D1^T + db1, X E1^T + eb1 */
  PetscInt64       noise_row0; /* global index keying -net_noise (-1: no noise) */
} View;

typedef struct {
  /* options */
  PetscInt  dim, n[2], nspec, npoints, levels, seed, grid_rows;
  PetscReal range[4], grid_memory;
  PetscInt  nrange;
  char     *spec[MAX_SPECS], *points[MAX_SPECS];
  char      source[PETSC_MAX_PATH_LEN];
  Normalize normalize;
  Parallel  parallel;
  PetscBool test, monitor, first_layer, range_set;
  /* state */
  PetscInt   P, nx, ny, done, used;
  Vec        origin, dir[2];
  Vec        rep[3]; /* replicated origin, d1, d2 */
  PetscReal *x, *y, *loss, *tloss, *tacc, *tab;
  PetscReal  pcoords[6];
  PetscReal  q[6]; /* regulariser quadratic form: |o|^2, <o,d1>, <o,d2>, |d1|^2, <d1,d2>, |d2|^2 on the regularised entries */
  PetscReal  elapsed;
  View       view[2];
} Slice;

static PetscErrorCode SetFromOptions_Slice(LandStage s)
{
  Slice   *sl   = (Slice *)s->data;
  MPI_Comm comm = s->run->comm;
  PetscInt nn = 4, ns = MAX_SPECS, np = MAX_SPECS;

  PetscFunctionBeginUser;
  sl->seed = s->run->seed;
  PetscOptionsBegin(comm, NULL, "Stage slice: the loss on a 1-D or 2-D grid of directions, and the persistent homology of its sublevel sets", NULL);
  PetscCall(PetscOptionsInt("-slice_dim", "Dimension of the grid: 1 (a line) or 2 (a plane)", "", sl->dim, &sl->dim, NULL));
  PetscCall(
      PetscOptionsStringArray("-slice_directions",
                              "One direction per axis: random (filter-normalised Gaussian), smallest:i or largest:i (Hessian eigenvector i of a "
                              "spectrum stage), pca:i (principal direction i of a levelset path), h5:/dataset, file:F.h5 (its /direction or /theta)",
                              "", sl->spec, &ns, NULL));
  PetscCall(PetscOptionsStringArray("-slice_points", "Two or three HDF5 files whose /theta span the line or plane (origin at the first)", "",
                                    sl->points, &np, NULL));
  PetscCall(PetscOptionsString("-slice_source", "HDF5 file read by smallest:i, largest:i, pca:i and h5:/dataset (default: this run's results)", "",
                               sl->source, sl->source, sizeof(sl->source), NULL));
  PetscCall(PetscOptionsEnum("-slice_normalize",
                             "Scaling of the directions: auto (filter for random, unit for the others), filter (Li et al.: each neuron's incoming "
                             "weights scaled to the norm of the origin's, biases zero), unit, none",
                             "", Normalizes, (PetscEnum)sl->normalize, (PetscEnum *)&sl->normalize, NULL));
  {
    /* read into a copy: the defaults stay untouched unless the option is given */
    PetscReal r[4] = {sl->range[0], sl->range[1], sl->range[2], sl->range[3]};
    PetscCall(PetscOptionsRealArray("-slice_range", "xmin,xmax[,ymin,ymax] (-0.5,1.5 on both axes with -slice_points)", "", r, &nn, &sl->range_set));
    if (sl->range_set) PetscCall(PetscArraycpy(sl->range, r, 4));
  }
  sl->nrange = nn;
  nn         = 2;
  PetscCall(PetscOptionsIntArray("-slice_n", "Grid points per axis: nx[,ny]", "", sl->n, &nn, NULL));
  if (nn == 1) sl->n[1] = sl->n[0];
  PetscCall(PetscOptionsEnum("-slice_parallel", "Split the grid points (grid) or the data (data) across ranks; auto chooses by problem size", "",
                             Parallels, (PetscEnum)sl->parallel, (PetscEnum *)&sl->parallel, NULL));
  PetscCall(PetscOptionsInt("-slice_grid_rows", "auto: split the grid when the training rows per rank are fewer than this", "", sl->grid_rows,
                            &sl->grid_rows, NULL));
  PetscCall(PetscOptionsReal("-slice_grid_memory", "auto: split the grid only when the copy of the data takes at most this many MB per rank", "",
                             sl->grid_memory, &sl->grid_memory, NULL));
  PetscCall(PetscOptionsBool("-slice_first_layer", "Form the first layer from three precomputed products (else a full forward pass per point)", "",
                             sl->first_layer, &sl->first_layer, NULL));
  PetscCall(PetscOptionsBool("-slice_test", "Also the test loss and test accuracy at every grid point", "", sl->test, &sl->test, NULL));
  PetscCall(PetscOptionsInt("-slice_levels", "Levels of the Betti curves b0(c), b1(c), evenly spaced from the lowest to the highest loss", "",
                            sl->levels, &sl->levels, NULL));
  PetscCall(PetscOptionsInt("-slice_seed", "Seed of the random directions (default: -seed)", "", sl->seed, &sl->seed, NULL));
  PetscCall(PetscOptionsBool("-slice_monitor", "Print progress lines", "", sl->monitor, &sl->monitor, NULL));
  PetscOptionsEnd();
  sl->nspec   = (ns == MAX_SPECS && !sl->spec[0]) ? 0 : ns;
  sl->npoints = (np == MAX_SPECS && !sl->points[0]) ? 0 : np;
  PetscCheck(sl->dim == 1 || sl->dim == 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_dim %" PetscInt_FMT ": must be 1 or 2", sl->dim);
  if (sl->npoints) {
    PetscCheck(sl->nspec == 0, comm, PETSC_ERR_ARG_INCOMP, "-slice_points and -slice_directions exclude each other");
    PetscCheck(sl->npoints == sl->dim + 1, comm, PETSC_ERR_ARG_SIZ,
               "-slice_points: a %" PetscInt_FMT "-D slice needs %" PetscInt_FMT " files, got %" PetscInt_FMT, sl->dim, sl->dim + 1, sl->npoints);
    PetscCheck(sl->normalize == NORM_AUTO || sl->normalize == NORM_NONE, comm, PETSC_ERR_ARG_INCOMP,
               "-slice_normalize %s: the directions of -slice_points are the differences of the points, not scaled", Normalizes[sl->normalize]);
    for (PetscInt i = 0; i < sl->npoints; i++) {
      PetscBool exists;
      PetscCall(PetscTestFile(sl->points[i], 'r', &exists));
      PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "-slice_points: no such file %s", sl->points[i]);
    }
  } else {
    if (sl->nspec == 0) {
      for (PetscInt i = 0; i < sl->dim; i++) PetscCall(PetscStrallocpy("random", &sl->spec[i]));
      sl->nspec = sl->dim;
    }
    PetscCheck(sl->nspec == sl->dim, comm, PETSC_ERR_ARG_SIZ,
               "-slice_directions: a %" PetscInt_FMT "-D slice needs %" PetscInt_FMT " directions, got %" PetscInt_FMT, sl->dim, sl->dim, sl->nspec);
    for (PetscInt i = 0; i < sl->nspec; i++) {
      const char *sp = sl->spec[i];
      PetscBool   ok = (PetscBool)(!strcmp(sp, "random") || !strncmp(sp, "smallest:", 9) || !strncmp(sp, "largest:", 8) || !strncmp(sp, "pca:", 4) ||
                                 !strncmp(sp, "h5:", 3) || !strncmp(sp, "file:", 5));
      PetscCheck(ok, comm, PETSC_ERR_ARG_UNKNOWN_TYPE,
                 "-slice_directions: unknown direction '%s' (random, smallest:i, largest:i, pca:i, h5:/dataset, file:F.h5)", sp);
      if (!strncmp(sp, "file:", 5)) {
        PetscBool exists;
        PetscCall(PetscTestFile(sp + 5, 'r', &exists));
        PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "-slice_directions %s: no such file", sp);
      }
    }
  }
  if (sl->source[0]) {
    PetscBool exists;
    PetscCall(PetscTestFile(sl->source, 'r', &exists));
    PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "-slice_source %s: no such file", sl->source);
  }
  if (!sl->range_set) {
    if (sl->npoints) { /* around the points: the first at 0, the second at 1 */
      sl->range[0] = sl->range[2] = -0.5;
      sl->range[1] = sl->range[3] = 1.5;
    }
  } else {
    PetscCheck(sl->nrange == 2 * sl->dim, comm, PETSC_ERR_ARG_SIZ,
               "-slice_range: a %" PetscInt_FMT "-D slice needs %" PetscInt_FMT " numbers, got %" PetscInt_FMT, sl->dim, 2 * sl->dim, sl->nrange);
  }
  for (PetscInt i = 0; i < sl->dim; i++) {
    PetscCheck(PetscIsNormalReal(sl->range[2 * i]) || sl->range[2 * i] == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_range: values must be finite");
    PetscCheck(PetscIsNormalReal(sl->range[2 * i + 1]) || sl->range[2 * i + 1] == 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-slice_range: values must be finite");
    PetscCheck(sl->range[2 * i] < sl->range[2 * i + 1], comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-slice_range: need min < max on axis %" PetscInt_FMT " (got %g, %g)", i + 1, (double)sl->range[2 * i], (double)sl->range[2 * i + 1]);
    PetscCheck(sl->n[i] >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_n: need at least 2 points per axis (got %" PetscInt_FMT ")", sl->n[i]);
  }
  PetscCheck(sl->levels >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_levels %" PetscInt_FMT ": need at least 2", sl->levels);
  PetscCheck(sl->grid_rows >= 0 && sl->grid_memory >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_grid_rows and -slice_grid_memory must be >= 0");
  sl->nx = sl->n[0];
  sl->ny = sl->dim == 2 ? sl->n[1] : 1;
  PetscFunctionReturn(0);
}

/* ---- directions ---- */

static PetscErrorCode OpenSource(Slice *sl, LandRun run, hid_t *fid, const char **fname, PetscBool *own)
{
  PetscFunctionBeginUser;
  if (sl->source[0]) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    LandCallHDF5(H5Pset_fapl_mpio(fapl, run->comm, MPI_INFO_NULL));
    *fid = H5Fopen(sl->source, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    PetscCheck(*fid >= 0, run->comm, PETSC_ERR_FILE_OPEN, "-slice_source %s is not an HDF5 file", sl->source);
    *fname = sl->source;
    *own   = PETSC_TRUE;
  } else {
    *fid   = run->results->file; /* the earlier stages of this run */
    *fname = "this run's results (earlier stages; or give -slice_source)";
    *own   = PETSC_FALSE;
  }
  PetscFunctionReturn(0);
}

/* One direction from its specification into the distributed v. */
static PetscErrorCode ReadDirection(Slice *sl, LandRun run, const char spec[], Vec v)
{
  hid_t       fid;
  const char *fname;
  PetscBool   own;
  char        path[PETSC_MAX_PATH_LEN];
  PetscInt    idx = 0;

  PetscFunctionBeginUser;
  if (!strncmp(spec, "file:", 5)) {
    hid_t     f;
    PetscBool has_dir;
    f = H5Fopen(spec + 5, H5F_ACC_RDONLY, H5P_DEFAULT);
    PetscCheck(f >= 0, run->comm, PETSC_ERR_FILE_OPEN, "-slice_directions %s: not an HDF5 file", spec);
    has_dir = (PetscBool)(H5Lexists(f, "direction", H5P_DEFAULT) > 0);
    H5Fclose(f);
    PetscCall(LandNetLoadTheta(run->net, spec + 5, has_dir ? "direction" : "theta", v));
    PetscFunctionReturn(0);
  }
  if (!strncmp(spec, "smallest:", 9) || !strncmp(spec, "largest:", 8) || !strncmp(spec, "pca:", 4)) {
    const char *num = strchr(spec, ':') + 1;
    char       *end;
    idx = (PetscInt)strtol(num, &end, 10);
    PetscCheck(*num && !*end && idx >= 0, run->comm, PETSC_ERR_ARG_WRONG, "-slice_directions %s: expected a non-negative index after ':'", spec);
  }
  PetscCall(OpenSource(sl, run, &fid, &fname, &own));
  if (!strncmp(spec, "pca:", 4)) {
    /* a principal direction in parameter units: the component (z-scored coordinates) times the std */
    PetscInt   lo, hi, m, m1;
    PetscReal *comp, *sd, *a;
    PetscCall(VecGetOwnershipRange(v, &lo, &hi));
    PetscCall(LandHDF5ReadRows(run->comm, fid, fname, "/levelset/pca/components", sl->P, lo, hi - lo, &m, &comp));
    PetscCall(LandHDF5ReadRows(run->comm, fid, fname, "/levelset/pca/std", sl->P, lo, hi - lo, &m1, &sd));
    PetscCheck(idx < m, run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-slice_directions %s: %s holds %" PetscInt_FMT " principal components", spec, fname, m);
    PetscCall(VecGetArray(v, &a));
    for (PetscInt i = 0; i < hi - lo; i++) a[i] = comp[idx * (hi - lo) + i] * sd[i];
    PetscCall(VecRestoreArray(v, &a));
    PetscCall(PetscFree(comp));
    PetscCall(PetscFree(sd));
  } else {
    if (!strncmp(spec, "h5:", 3))
      PetscCall(PetscStrncpy(path, spec + 3, sizeof(path)));
    else
      PetscCall(PetscSNPrintf(path, sizeof(path), "/spectrum/%s/vector_%" PetscInt_FMT, spec[0] == 's' ? "smallest" : "largest", idx));
    if (!own && run->results->file >= 0) LandCallHDF5(H5Fflush(fid, H5F_SCOPE_LOCAL));
    PetscCall(LandHDF5ReadVec(run->comm, fid, fname, path, v));
  }
  if (own) H5Fclose(fid);
  PetscFunctionReturn(0);
}

static PetscReal DDDot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal dd[2] = {0, 0};
  for (PetscInt i = 0; i < n; i++) {
    PetscReal t = a[i] * b[i];
    LandDDAccumulate(1, &t, dd);
  }
  return dd[0];
}

/* Copy a replicated array into the local part of a distributed vector. */
static PetscErrorCode ToLocal(const PetscReal *r, Vec v)
{
  PetscInt   lo, hi;
  PetscReal *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArray(v, &a));
  PetscCall(PetscArraycpy(a, r + lo, hi - lo));
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}

/* origin, d1, d2 (distributed and replicated) and the plane coordinates of the points. All the
   arithmetic is on the replicated arrays in a fixed order: the same directions at any rank count. */
static PetscErrorCode MakeDirections(LandStage s)
{
  Slice     *sl  = (Slice *)s->data;
  LandRun    run = s->run;
  LandNet    net = run->net;
  PetscReal *o, *d[2];
  PetscInt   P = sl->P;

  PetscFunctionBeginUser;
  if (sl->npoints) {
    Vec        t;
    PetscReal *pt[3], n1;
    PetscCall(VecDuplicate(run->theta, &t));
    for (PetscInt i = 0; i < sl->npoints; i++) {
      PetscCall(LandNetLoadTheta(net, sl->points[i], "theta", t));
      PetscCall(PetscMalloc1(P, &pt[i]));
      PetscCall(LandObjectiveReplicate(run->obj, t, sl->rep[0]));
      PetscCall(VecGetArray(sl->rep[0], &o));
      PetscCall(PetscArraycpy(pt[i], o, P));
      PetscCall(VecRestoreArray(sl->rep[0], &o));
    }
    PetscCall(VecDestroy(&t));
    PetscCall(VecGetArray(sl->rep[0], &o));
    PetscCall(VecGetArray(sl->rep[1], &d[0]));
    PetscCall(VecGetArray(sl->rep[2], &d[1]));
    for (PetscInt j = 0; j < P; j++) {
      o[j]    = pt[0][j];
      d[0][j] = pt[1][j] - pt[0][j];
      d[1][j] = 0;
    }
    n1 = DDDot(P, d[0], d[0]);
    PetscCheck(n1 > 0, run->comm, PETSC_ERR_ARG_WRONG, "-slice_points: %s and %s hold the same parameters", sl->points[0], sl->points[1]);
    sl->pcoords[0] = 0;
    sl->pcoords[1] = 0;
    sl->pcoords[2] = 1;
    sl->pcoords[3] = 0;
    if (sl->npoints == 3) {
      /* d2: the third point's offset made orthogonal to d1 and as long as d1 (an undistorted plane) */
      PetscReal c, n2;
      for (PetscInt j = 0; j < P; j++) d[1][j] = pt[2][j] - pt[0][j];
      c = DDDot(P, d[1], d[0]) / n1;
      for (PetscInt j = 0; j < P; j++) d[1][j] -= c * d[0][j];
      n2 = DDDot(P, d[1], d[1]);
      PetscCheck(n2 > 1e-20 * n1, run->comm, PETSC_ERR_ARG_WRONG, "-slice_points: the three points lie on one line");
      for (PetscInt j = 0; j < P; j++) d[1][j] *= PetscSqrtReal(n1 / n2);
      sl->pcoords[4] = c;
      sl->pcoords[5] = PetscSqrtReal(n2 / n1);
    }
    for (PetscInt i = 0; i < sl->npoints; i++) PetscCall(PetscFree(pt[i]));
  } else {
    PetscCall(LandObjectiveReplicate(run->obj, run->theta, sl->rep[0]));
    PetscCall(VecGetArray(sl->rep[0], &o));
    for (PetscInt a = 0; a < 2; a++) {
      PetscCall(VecGetArray(sl->rep[1 + a], &d[a]));
      if (a >= sl->dim) {
        PetscCall(PetscArrayzero(d[a], P));
        continue;
      }
      if (!strcmp(sl->spec[a], "random")) {
        for (PetscInt j = 0; j < P; j++) d[a][j] = LandRandNormal(sl->seed, 7100 + a, j);
      } else {
        PetscCall(VecRestoreArray(sl->rep[1 + a], &d[a]));
        PetscCall(ReadDirection(sl, run, sl->spec[a], sl->dir[a]));
        PetscCall(LandObjectiveReplicate(run->obj, sl->dir[a], sl->rep[1 + a]));
        PetscCall(VecGetArray(sl->rep[1 + a], &d[a]));
      }
      {
        Normalize nm = sl->normalize == NORM_AUTO ? (!strcmp(sl->spec[a], "random") ? NORM_FILTER : NORM_UNIT) : sl->normalize;
        if (nm == NORM_FILTER) {
          /* Li et al. (2018): each filter (a neuron's incoming weights) gets the norm of the origin's; biases 0 */
          for (PetscInt l = 1; l <= net->nlayers; l++) {
            PetscInt nout, nin, wo, bo;
            PetscCall(LandNetGetLayer(net, l, &nout, &nin, &wo, &bo));
            for (PetscInt r = 0; r < nout; r++) {
              PetscReal *dr = d[a] + wo + r * nin, no = PetscSqrtReal(DDDot(nin, o + wo + r * nin, o + wo + r * nin)),
                        nd = PetscSqrtReal(DDDot(nin, dr, dr));
              for (PetscInt j = 0; j < nin; j++) dr[j] = nd > 0 ? dr[j] * (no / nd) : 0;
            }
            if (bo >= 0)
              for (PetscInt r = 0; r < nout; r++) d[a][bo + r] = 0;
          }
        } else if (nm == NORM_UNIT) {
          PetscReal nd = PetscSqrtReal(DDDot(P, d[a], d[a]));
          PetscCheck(nd > 0, run->comm, PETSC_ERR_ARG_WRONG, "-slice_directions %s: the direction is zero", sl->spec[a]);
          for (PetscInt j = 0; j < P; j++) d[a][j] /= nd;
        }
        if (nm == NORM_FILTER)
          PetscCheck(DDDot(P, d[a], d[a]) > 0, run->comm, PETSC_ERR_ARG_WRONG,
                     "slice: the filter-normalised direction %" PetscInt_FMT
                     " is zero (the origin's weights are all zero); use -slice_normalize unit",
                     a + 1);
      }
    }
  }
  PetscCall(ToLocal(o, sl->origin));
  PetscCall(ToLocal(d[0], sl->dir[0]));
  PetscCall(ToLocal(d[1], sl->dir[1]));
  PetscCall(VecRestoreArray(sl->rep[0], &o));
  PetscCall(VecRestoreArray(sl->rep[1], &d[0]));
  PetscCall(VecRestoreArray(sl->rep[2], &d[1]));
  PetscFunctionReturn(0);
}

/* The regulariser along the plane is a quadratic form in (x, y): its six coefficients. */
static PetscErrorCode RegQuadratic(LandStage s)
{
  Slice           *sl  = (Slice *)s->data;
  LandObjective    obj = s->run->obj;
  const PetscReal *v[3];
  PetscReal        dd[6][2];
  const PetscInt   pairs[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(sl->q, 6));
  if (obj->reg_l2 == 0) PetscFunctionReturn(0);
  PetscCall(PetscArrayzero(&dd[0][0], 12));
  for (PetscInt i = 0; i < 3; i++) PetscCall(VecGetArrayRead(sl->rep[i], &v[i]));
  for (PetscInt l = 1; l <= obj->net->nlayers; l++) {
    PetscInt nout, nin, wo, bo, ranges[2][2];
    PetscCall(LandNetGetLayer(obj->net, l, &nout, &nin, &wo, &bo));
    ranges[0][0] = wo;
    ranges[0][1] = wo + nin * nout;
    ranges[1][0] = bo;
    ranges[1][1] = (obj->reg_l2_bias && bo >= 0) ? bo + nout : bo;
    for (PetscInt r = 0; r < 2; r++)
      for (PetscInt j = ranges[r][0]; j < ranges[r][1]; j++)
        for (PetscInt k = 0; k < 6; k++) {
          PetscReal t = v[pairs[k][0]][j] * v[pairs[k][1]][j];
          LandDDAccumulate(1, &t, dd[k]);
        }
  }
  for (PetscInt i = 0; i < 3; i++) PetscCall(VecRestoreArrayRead(sl->rep[i], &v[i]));
  for (PetscInt k = 0; k < 6; k++) sl->q[k] = dd[k][0];
  PetscFunctionReturn(0);
}

static PetscReal RegAt(Slice *sl, PetscReal gamma, PetscReal x, PetscReal y)
{
  const PetscReal *q = sl->q;
  if (gamma == 0) return 0;
  return gamma * (q[0] + 2 * x * q[1] + 2 * y * q[2] + x * x * q[3] + 2 * x * y * q[4] + y * y * q[5]);
}

/* ---- the rows and their first-layer products ---- */

static PetscErrorCode MakeView(LandStage s, LandSetKind kind, PetscBool replicate, View *v)
{
  Slice         *sl  = (Slice *)s->data;
  LandRun        run = s->run;
  LandNet        net = run->net;
  const LandSet *set;
  PetscInt       chunk, d = run->obj->d, k = run->obj->k, h1 = net->width[1];

  PetscFunctionBeginUser;
  PetscCall(LandDataGetSet(run->data, kind, &set));
  PetscCall(LandDataGetChunkSize(run->data, &chunk));
  v->N          = set->N;
  v->noise_row0 = kind == LAND_SET_TRAIN ? 0 : -1;
  if (!replicate) {
    v->row0   = set->rstart;
    v->rows   = set->n;
    v->c0     = set->cstart;
    v->c1     = set->cend;
    v->X      = set->X;
    v->Y      = set->Y;
    v->labels = set->labels;
  } else {
    PetscMPIInt size, *cnt, *dsp;
    PetscInt    nl = set->n;
    PetscCallMPI(MPI_Comm_size(run->comm, &size));
    PetscCheck((PetscInt64)set->N * PetscMax(d, k) < PETSC_MPI_INT_MAX, run->comm, PETSC_ERR_ARG_SIZ,
               "slice: -slice_parallel grid cannot copy %" PetscInt_FMT " rows of %" PetscInt_FMT " values to every rank; use -slice_parallel data",
               set->N, d);
    PetscCall(PetscMalloc2(size, &cnt, size, &dsp));
    PetscCall(PetscMalloc2(set->N * d, &v->copy[0], set->N * k, &v->copy[1]));
    for (PetscInt pass = 0; pass < 3; pass++) {
      PetscInt    w    = pass == 0 ? d : (pass == 1 ? k : 1);
      PetscMPIInt mine = (PetscMPIInt)(nl * w);
      PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, run->comm));
      dsp[0] = 0;
      for (PetscMPIInt r = 1; r < size; r++) dsp[r] = dsp[r - 1] + cnt[r - 1];
      if (pass == 0) PetscCallMPI(MPI_Allgatherv(set->X, mine, MPIU_REAL, v->copy[0], cnt, dsp, MPIU_REAL, run->comm));
      if (pass == 1) PetscCallMPI(MPI_Allgatherv(set->Y, mine, MPIU_REAL, v->copy[1], cnt, dsp, MPIU_REAL, run->comm));
      if (pass == 2 && set->labels) {
        PetscCall(PetscMalloc1(set->N, &v->lcopy));
        PetscCallMPI(MPI_Allgatherv(set->labels, mine, MPIU_INT, v->lcopy, cnt, dsp, MPIU_INT, run->comm));
      }
    }
    PetscCall(PetscFree2(cnt, dsp));
    v->row0   = 0;
    v->rows   = set->N;
    v->c0     = 0;
    v->c1     = (set->N + chunk - 1) / chunk;
    v->X      = v->copy[0];
    v->Y      = v->copy[1];
    v->labels = v->lcopy;
  }
  if (sl->first_layer && v->rows > 0) {
    const PetscReal *r[3];
    PetscInt         wo = net->woff[0], bo = net->boff[0];
    PetscCall(PetscLogEventBegin(LAND_SlicePrecompute, 0, 0, 0, 0));
    for (PetscInt i = 0; i < 3; i++) PetscCall(VecGetArrayRead(sl->rep[i], &r[i]));
    for (PetscInt i = 0; i < 3; i++) {
      PetscCall(PetscMalloc1(v->rows * h1, &v->Z[i]));
      if (net->bias)
        for (PetscInt row = 0; row < v->rows; row++) PetscCall(PetscArraycpy(v->Z[i] + row * h1, r[i] + bo, h1));
      LandGemm('N', 'T', v->rows, h1, d, 1.0, v->X, d, r[i] + wo, d, net->bias ? 1.0 : 0.0, v->Z[i], h1);
    }
    for (PetscInt i = 0; i < 3; i++) PetscCall(VecRestoreArrayRead(sl->rep[i], &r[i]));
    PetscCall(PetscLogFlops(6.0 * v->rows * h1 * d));
    PetscCall(PetscLogEventEnd(LAND_SlicePrecompute, 0, 0, 0, 0));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ViewReset(View *v)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(v->copy[0], v->copy[1]));
  PetscCall(PetscFree(v->lcopy));
  for (PetscInt i = 0; i < 3; i++) PetscCall(PetscFree(v->Z[i]));
  PetscCall(PetscMemzero(v, sizeof(*v)));
  PetscFunctionReturn(0);
}

/* sl->tab = origin + x d1 + y d2 for the parameters after the first layer (all of them with
   -slice_first_layer 0): once per grid point, for the training and the test rows alike. */
static PetscErrorCode FormPoint(LandStage s, PetscReal x, PetscReal y)
{
  Slice           *sl   = (Slice *)s->data;
  LandNet          net  = s->run->net;
  PetscInt         from = sl->first_layer ? net->boff[0] + (net->bias ? net->width[1] : 0) : 0;
  const PetscReal *r[3];

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < 3; i++) PetscCall(VecGetArrayRead(sl->rep[i], &r[i]));
  for (PetscInt j = from; j < sl->P; j++) sl->tab[j] = r[0][j] + x * r[1][j] + y * r[2][j];
  for (PetscInt i = 0; i < 3; i++) PetscCall(VecRestoreArrayRead(sl->rep[i], &r[i]));
  PetscFunctionReturn(0);
}

/* The loss at (x, y) over the rows of a view, with sl->tab formed by FormPoint: dd[2] (not
   reduced), and the argmax hits. */
static PetscErrorCode EvalPoint(LandStage s, View *v, PetscReal x, PetscReal y, PetscReal dd[2], PetscInt *correct)
{
  Slice        *sl  = (Slice *)s->data;
  LandRun       run = s->run;
  LandNet       net = run->net;
  LandObjective obj = run->obj;
  LandWork     *w   = &obj->work;
  PetscInt      chunk, L = net->nlayers, k = obj->k, d = obj->d, h1 = net->width[1];
  PetscReal     scale = v->N > 0 ? 1.0 / v->N : 0;

  PetscFunctionBeginUser;
  PetscCall(LandDataGetChunkSize(run->data, &chunk));
  dd[0] = dd[1] = 0;
  *correct      = 0;
  for (PetscInt c = v->c0; c < v->c1; c++) {
    PetscInt   r0 = c * chunk - v->row0, m = PetscMin(chunk, v->N - c * chunk);
    PetscInt64 nrow = v->noise_row0 < 0 ? -1 : (PetscInt64)c * chunk;
    if (sl->first_layer) {
      const PetscReal *z0 = v->Z[0] + r0 * h1, *z1 = v->Z[1] + r0 * h1, *z2 = v->Z[2] + r0 * h1;
      PetscReal       *z = w->z[1];
      for (PetscInt i = 0; i < m * h1; i++) z[i] = z0[i] + x * z1[i] + y * z2[i];
      PetscCall(LandNetForwardGivenZ1(net, sl->tab, m, v->X + r0 * d, nrow, w));
    } else
      PetscCall(LandNetForward(net, sl->tab, m, v->X + r0 * d, nrow, w));
    {
      PetscReal sum = LandObjectiveLossRows(obj, m, w->a[L], v->Y + r0 * k) * scale;
      LandDDAccumulate(1, &sum, dd);
    }
    if (v->labels)
      for (PetscInt i = 0; i < m; i++) {
        const PetscReal *fi = w->a[L] + i * k;
        PetscInt         am = 0;
        for (PetscInt j = 1; j < k; j++)
          if (fi[j] > fi[am]) am = j;
        *correct += (am == v->labels[r0 + i]);
      }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Run_Slice(LandStage s)
{
  Slice         *sl  = (Slice *)s->data;
  LandRun        run = s->run;
  LandObjective  obj = run->obj;
  PetscMPIInt    rank, size;
  PetscInt       nx = sl->nx, ny = sl->ny, npts = nx * ny, ntest = 0, nclasses;
  PetscReal     *dd, *tdd;
  PetscInt      *hits;
  PetscLogDouble t0, tlast, now;
  PetscBool      stop = PETSC_FALSE, grid;
  const LandSet *train, *test;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_Slice, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  PetscCallMPI(MPI_Comm_size(run->comm, &size));
  PetscCall(LandObjectiveSetUp(obj));
  PetscCall(LandDataGetSet(run->data, LAND_SET_TRAIN, &train));
  PetscCall(LandDataGetSet(run->data, LAND_SET_TEST, &test));
  PetscCall(LandDataGetSizes(run->data, NULL, NULL, &nclasses));
  PetscCheck(train->N > 0, run->comm, PETSC_ERR_ARG_SIZ, "slice: the training set is empty");
  if (sl->test) {
    PetscCheck(test->N > 0, run->comm, PETSC_ERR_ARG_INCOMP, "-slice_test: the data has no test set");
    ntest = test->N;
  }
  sl->P = obj->P;
  if (!sl->origin) {
    PetscCall(VecDuplicate(run->theta, &sl->origin));
    PetscCall(VecDuplicate(run->theta, &sl->dir[0]));
    PetscCall(VecDuplicate(run->theta, &sl->dir[1]));
  }
  for (PetscInt i = 0; i < 3; i++)
    if (!sl->rep[i]) PetscCall(VecDuplicate(obj->theta_all, &sl->rep[i]));
  if (!sl->loss) {
    PetscCall(PetscCalloc3(npts, &sl->loss, npts, &sl->tloss, npts, &sl->tacc));
    for (PetscInt i = 0; i < npts; i++) sl->tloss[i] = sl->tacc[i] = (PetscReal)NAN;
  }
  PetscCall(PetscMalloc1(sl->P, &sl->tab));
  PetscCall(PetscMalloc2(nx, &sl->x, ny, &sl->y));
  for (PetscInt i = 0; i < nx; i++) sl->x[i] = i == nx - 1 ? sl->range[1] : sl->range[0] + (sl->range[1] - sl->range[0]) * i / (nx - 1);
  for (PetscInt j = 0; j < ny; j++)
    sl->y[j] = sl->dim == 1 ? 0 : (j == ny - 1 ? sl->range[3] : sl->range[2] + (sl->range[3] - sl->range[2]) * j / (ny - 1));
  if (!run->stage_resumed) {
    PetscCall(MakeDirections(s));
    sl->done    = 0;
    sl->elapsed = 0;
  } else {
    PetscCall(LandObjectiveReplicate(obj, sl->origin, sl->rep[0]));
    PetscCall(LandObjectiveReplicate(obj, sl->dir[0], sl->rep[1]));
    PetscCall(LandObjectiveReplicate(obj, sl->dir[1], sl->rep[2]));
  }
  PetscCall(RegQuadratic(s));

  /* parallel mode */
  {
    PetscReal mb = 8.0 * ((PetscReal)train->N * (obj->d + obj->k + 1) + (PetscReal)ntest * (obj->d + obj->k + 1)) / 1048576.0;
    if (sl->parallel == PAR_GRID)
      grid = PETSC_TRUE;
    else if (sl->parallel == PAR_DATA)
      grid = PETSC_FALSE;
    else
      grid = (PetscBool)(size > 1 && train->N < sl->grid_rows * size && mb <= sl->grid_memory && npts >= size);
    sl->used = grid ? PAR_GRID : PAR_DATA;
  }
  PetscCall(PetscTime(&t0)); /* the stage's time includes the first-layer products and the copy of the rows */
  PetscCall(MakeView(s, LAND_SET_TRAIN, grid, &sl->view[0]));
  if (sl->test) PetscCall(MakeView(s, LAND_SET_TEST, grid, &sl->view[1]));
  PetscCall(PetscPrintf(run->comm,
                        "slice: %" PetscInt_FMT "-D, %" PetscInt_FMT " x %" PetscInt_FMT " points, directions %s, %s-parallel over %d rank%s%s%s\n",
                        sl->dim, nx, ny, sl->npoints ? "through the points" : (sl->dim == 2 ? "d1,d2" : "d1"), Parallels[sl->used], size,
                        size > 1 ? "s" : "", sl->first_layer ? ", first layer from precomputed products" : "", sl->done ? " (resumed)" : ""));

  PetscCall(PetscMalloc3(2 * nx, &dd, 2 * nx, &tdd, nx, &hits));
  tlast = t0;
  for (PetscInt j = sl->done; j < ny; j++) {
    PetscInt nh = 0;
    PetscCall(PetscArrayzero(dd, 2 * nx));
    PetscCall(PetscArrayzero(tdd, 2 * nx));
    PetscCall(PetscArrayzero(hits, nx));
    for (PetscInt i = 0; i < nx; i++) {
      PetscInt p = j * nx + i, c;
      if (grid && p % size != rank) continue;
      PetscCall(FormPoint(s, sl->x[i], sl->y[j]));
      PetscCall(EvalPoint(s, &sl->view[0], sl->x[i], sl->y[j], dd + 2 * i, &c));
      if (sl->test) PetscCall(EvalPoint(s, &sl->view[1], sl->x[i], sl->y[j], tdd + 2 * i, &hits[i]));
    }
    PetscCall(LandDDAllreduce(run->comm, nx, dd));
    if (sl->test) {
      PetscCall(LandDDAllreduce(run->comm, nx, tdd));
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hits, (PetscMPIInt)nx, MPIU_INT, MPI_SUM, run->comm));
    }
    for (PetscInt i = 0; i < nx; i++) {
      PetscInt p  = j * nx + i;
      sl->loss[p] = dd[2 * i] + RegAt(sl, obj->reg_l2, sl->x[i], sl->y[j]);
      PetscCheck(!PetscIsNanReal(sl->loss[p]), run->comm, PETSC_ERR_FP, "slice: the loss is NaN at (x, y) = (%g, %g)", (double)sl->x[i],
                 (double)sl->y[j]);
      if (sl->test) {
        sl->tloss[p] = tdd[2 * i];
        sl->tacc[p]  = nclasses > 0 ? (PetscReal)hits[i] / test->N : (PetscReal)NAN;
      }
      nh++;
    }
    sl->done = j + 1;
    PetscCall(PetscTime(&now));
    if (sl->monitor && (now - tlast > 5 || j == ny - 1)) {
      PetscCall(PetscPrintf(run->comm, "slice: line %" PetscInt_FMT "/%" PetscInt_FMT ", %" PetscInt_FMT " points done, %.2f s\n", j + 1, ny,
                            (j + 1) * nx, (double)(sl->elapsed + now - t0)));
      tlast = now;
    }
    PetscCall(LandCheckpointPoll(run->ckpt, s, sl->done, &stop));
    if (stop) break;
  }
  PetscCall(PetscTime(&now));
  sl->elapsed += now - t0;
  PetscCall(PetscFree3(dd, tdd, hits));
  PetscCall(ViewReset(&sl->view[0]));
  PetscCall(ViewReset(&sl->view[1]));
  PetscCall(PetscLogEventEnd(LAND_Slice, 0, 0, 0, 0));
  if (stop) PetscFunctionReturn(0);

  /* ---- results ---- */
  {
    LandResults      R = run->results;
    PetscInt         lo, hi;
    PetscReal       *rows;
    const PetscReal *a;
    LandPersistence  pers;
    char             dirs[1024] = "";
    PetscCall(LandResultsWriteArray(R, LandStagePath(s, "x"), 1, nx, sl->x));
    if (sl->dim == 2) PetscCall(LandResultsWriteArray(R, LandStagePath(s, "y"), 1, ny, sl->y));
    PetscCall(LandResultsWriteMatrix(R, LandStagePath(s, "loss"), ny, nx, sl->loss));
    if (sl->test) {
      PetscCall(LandResultsWriteMatrix(R, LandStagePath(s, "test_loss"), ny, nx, sl->tloss));
      PetscCall(LandResultsWriteMatrix(R, LandStagePath(s, "test_accuracy"), ny, nx, sl->tacc));
    }
    PetscCall(LandResultsWriteVec(R, LandStagePath(s, "origin"), sl->origin));
    PetscCall(VecGetOwnershipRange(sl->origin, &lo, &hi));
    PetscCall(PetscMalloc1(sl->dim * (hi - lo) + 1, &rows));
    for (PetscInt a2 = 0; a2 < sl->dim; a2++) {
      PetscCall(VecGetArrayRead(sl->dir[a2], &a));
      PetscCall(PetscArraycpy(rows + a2 * (hi - lo), a, hi - lo));
      PetscCall(VecRestoreArrayRead(sl->dir[a2], &a));
    }
    PetscCall(LandResultsWriteRows(R, LandStagePath(s, "directions"), sl->dim, sl->P, lo, hi - lo, rows));
    PetscCall(PetscFree(rows));
    if (sl->npoints) {
      PetscCall(LandResultsWriteMatrix(R, LandStagePath(s, "points"), sl->npoints, 2, sl->pcoords));
      for (PetscInt i = 0; i < sl->npoints; i++) {
        if (i) PetscCall(PetscStrlcat(dirs, ",", sizeof(dirs)));
        PetscCall(PetscStrlcat(dirs, sl->points[i], sizeof(dirs)));
      }
      PetscCall(LandResultsWriteAttrString(R, s->group, "points", dirs));
      PetscCall(PetscStrncpy(dirs, "points", sizeof(dirs)));
    } else
      for (PetscInt i = 0; i < sl->nspec; i++) {
        if (i) PetscCall(PetscStrlcat(dirs, ",", sizeof(dirs)));
        PetscCall(PetscStrlcat(dirs, sl->spec[i], sizeof(dirs)));
      }
    PetscCall(LandResultsWriteAttrString(R, s->group, "directions", dirs));
    PetscCall(LandResultsWriteAttrString(R, s->group, "normalize", Normalizes[sl->normalize]));
    PetscCall(LandResultsWriteAttrString(R, s->group, "parallel", Parallels[sl->used]));
    PetscCall(LandResultsWriteAttrString(R, s->group, "loss", LandLosses[obj->loss]));
    PetscCall(LandResultsWriteAttrInt(R, s->group, "dim", sl->dim));
    PetscCall(LandResultsWriteAttrInt(R, s->group, "nx", nx));
    PetscCall(LandResultsWriteAttrInt(R, s->group, "ny", ny));
    PetscCall(LandResultsWriteAttrReal(R, s->group, "time_s", sl->elapsed));
    {
      PetscReal lmin = PETSC_MAX_REAL, lmax = -PETSC_MAX_REAL, lorigin;
      for (PetscInt p = 0; p < npts; p++)
        if (!PetscIsInfReal(sl->loss[p])) {
          lmin = PetscMin(lmin, sl->loss[p]);
          lmax = PetscMax(lmax, sl->loss[p]);
        }
      PetscCall(LandObjectiveEvaluate(obj, sl->origin, &lorigin, NULL));
      PetscCall(LandResultsWriteAttrReal(R, s->group, "origin_loss", lorigin));
      PetscCall(PetscPrintf(run->comm,
                            "slice: %" PetscInt_FMT " points in %.3f s (%.0f points/s); loss from %.6e to %.6e on the grid, %.6e at the origin\n",
                            npts, (double)sl->elapsed, npts / PetscMax(sl->elapsed, 1e-9), (double)lmin, (double)lmax, (double)lorigin));
    }
    PetscCall(PetscMemzero(&pers, sizeof(pers)));
    PetscCall(LandPersistenceCompute(ny, nx, sl->loss, sl->levels, &pers));
    PetscCall(LandPersistenceWrite(&pers, R, LandStagePath(s, "topology")));
    PetscCall(LandPersistenceView(&pers, run->comm, "slice"));
    PetscCall(LandPersistenceReset(&pers));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Save_Slice(LandStage s, LandCheckpoint ck)
{
  Slice *sl = (Slice *)s->data;

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointPutInt(ck, "done", sl->done));
  PetscCall(LandCheckpointPutInt(ck, "nx", sl->nx));
  PetscCall(LandCheckpointPutInt(ck, "ny", sl->ny));
  PetscCall(LandCheckpointPutReal(ck, "elapsed", sl->elapsed));
  PetscCall(LandCheckpointPutVec(ck, "origin", sl->origin));
  PetscCall(LandCheckpointPutVec(ck, "d1", sl->dir[0]));
  PetscCall(LandCheckpointPutVec(ck, "d2", sl->dir[1]));
  PetscCall(LandCheckpointPutArray(ck, "points", 1, 6, sl->pcoords));
  PetscCall(LandCheckpointPutArray(ck, "loss", sl->ny, sl->nx, sl->loss));
  PetscCall(LandCheckpointPutArray(ck, "test_loss", sl->ny, sl->nx, sl->tloss));
  PetscCall(LandCheckpointPutArray(ck, "test_accuracy", sl->ny, sl->nx, sl->tacc));
  PetscFunctionReturn(0);
}

static PetscErrorCode Load_Slice(LandStage s, LandCheckpoint ck)
{
  Slice     *sl = (Slice *)s->data;
  PetscInt   nx, ny, m, n;
  PetscReal *a[4];

  PetscFunctionBeginUser;
  PetscCall(LandCheckpointGetInt(ck, "nx", &nx));
  PetscCall(LandCheckpointGetInt(ck, "ny", &ny));
  PetscCheck(nx == sl->nx && ny == sl->ny, s->run->comm, PETSC_ERR_ARG_INCOMP,
             "checkpoint holds a %" PetscInt_FMT " x %" PetscInt_FMT " slice; this run asks for %" PetscInt_FMT " x %" PetscInt_FMT, nx, ny, sl->nx,
             sl->ny);
  PetscCall(LandCheckpointGetInt(ck, "done", &sl->done));
  PetscCall(LandCheckpointGetReal(ck, "elapsed", &sl->elapsed));
  PetscCall(VecDuplicate(s->run->theta, &sl->origin));
  PetscCall(VecDuplicate(s->run->theta, &sl->dir[0]));
  PetscCall(VecDuplicate(s->run->theta, &sl->dir[1]));
  PetscCall(LandCheckpointGetVec(ck, "origin", sl->origin));
  PetscCall(LandCheckpointGetVec(ck, "d1", sl->dir[0]));
  PetscCall(LandCheckpointGetVec(ck, "d2", sl->dir[1]));
  PetscCall(LandCheckpointGetArray(ck, "points", &m, &n, &a[0]));
  PetscCall(PetscArraycpy(sl->pcoords, a[0], 6));
  PetscCall(PetscFree(a[0]));
  PetscCall(PetscCalloc3(nx * ny, &sl->loss, nx * ny, &sl->tloss, nx * ny, &sl->tacc));
  PetscCall(LandCheckpointGetArray(ck, "loss", &m, &n, &a[1]));
  PetscCall(LandCheckpointGetArray(ck, "test_loss", &m, &n, &a[2]));
  PetscCall(LandCheckpointGetArray(ck, "test_accuracy", &m, &n, &a[3]));
  PetscCall(PetscArraycpy(sl->loss, a[1], nx * ny));
  PetscCall(PetscArraycpy(sl->tloss, a[2], nx * ny));
  PetscCall(PetscArraycpy(sl->tacc, a[3], nx * ny));
  for (PetscInt i = 1; i < 4; i++) PetscCall(PetscFree(a[i]));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Slice(LandStage s)
{
  Slice *sl = (Slice *)s->data;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < MAX_SPECS; i++) {
    PetscCall(PetscFree(sl->spec[i]));
    PetscCall(PetscFree(sl->points[i]));
  }
  PetscCall(VecDestroy(&sl->origin));
  PetscCall(VecDestroy(&sl->dir[0]));
  PetscCall(VecDestroy(&sl->dir[1]));
  for (PetscInt i = 0; i < 3; i++) PetscCall(VecDestroy(&sl->rep[i]));
  PetscCall(PetscFree3(sl->loss, sl->tloss, sl->tacc));
  PetscCall(PetscFree2(sl->x, sl->y));
  PetscCall(PetscFree(sl->tab));
  PetscCall(ViewReset(&sl->view[0]));
  PetscCall(ViewReset(&sl->view[1]));
  PetscCall(PetscFree(s->data));
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageCreate_Slice(LandStage s)
{
  Slice *sl;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sl));
  sl->dim           = 2;
  sl->range[0]      = -1;
  sl->range[1]      = 1;
  sl->range[2]      = -1;
  sl->range[3]      = 1;
  sl->n[0]          = 51;
  sl->n[1]          = 51;
  sl->levels        = 101;
  sl->grid_rows     = 2048;
  sl->grid_memory   = 512;
  sl->first_layer   = PETSC_TRUE;
  sl->normalize     = NORM_AUTO;
  sl->parallel      = PAR_AUTO;
  s->data           = sl;
  s->setfromoptions = SetFromOptions_Slice;
  s->run_stage      = Run_Slice;
  s->destroy        = Destroy_Slice;
  s->save           = Save_Slice;
  s->load           = Load_Slice;
  PetscFunctionReturn(0);
}
