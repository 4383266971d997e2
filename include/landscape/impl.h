/* Private definitions of landscape objects. Only src/ includes this file. */
#ifndef LANDSCAPE_IMPL_H
#define LANDSCAPE_IMPL_H

#include <landscape.h>
#include <hdf5.h>
#include <math.h>

/* Turn a negative HDF5 status into a PETSc error that names the call. */
#define LandCallHDF5(...)                                                                                 \
  do {                                                                                                    \
    if ((__VA_ARGS__) < 0) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call failed: %s", #__VA_ARGS__); \
  } while (0)

/* ---- Data ---- */
struct _p_LandData {
  MPI_Comm   comm;
  char       type[64];
  char       file[PETSC_MAX_PATH_LEN];
  PetscInt   d, k, num_classes;
  PetscInt   chunk;   /* rows per chunk (-data_chunk_size) */
  PetscInt   train_n; /* -data_train_n: random subset size (0: all) */
  PetscInt   test_n;  /* -data_test_n: first rows of the test set (0: all) */
  PetscReal  test_fraction;
  PetscInt   seed;
  PetscBool  standardize;
  PetscReal *mean, *std;     /* training statistics when standardised */
  PetscReal  fingerprint[2]; /* reproducible sums of inputs and targets, computed once at setup */
  LandSet    set[2];
  /* synthetic generators */
  PetscInt   gen_n, gen_test_n;
  PetscReal  noise, rho, quantile;
  PetscInt   teacher_hidden[16], teacher_nhidden;
  PetscInt   teacher_act;
  PetscBool  classify;              /* teacher: labels = argmax of the teacher output */
  PetscReal *teacher_theta;         /* replicated teacher parameters */
  PetscReal  range;                 /* uniform generator: x, y ~ U(-range, range) */
  PetscInt   classes[64], nclasses; /* -data_classes: keep rows of these labels, renumbered 0.. in this order */
  PetscBool  binary_target;         /* -data_binary_target: two classes -> scalar regression target -1 / +1 */
  PetscErrorCode (*genrow)(LandData, PetscInt64 key, PetscReal *x, PetscReal *y, PetscInt *label);
  PetscBool setupcalled;
};

/* ---- Networks ---- */
#define LAND_MAX_LAYERS 64
/* Multiplicative noise on hidden units: a_l = eps o act(z_l), E eps = 1, Var eps = noise_var. */
typedef enum { LAND_NOISE_NONE, LAND_NOISE_DROPOUT, LAND_NOISE_GAUSSIAN } LandNoise;
extern const char *const LandNoises[];
struct _p_LandNet {
  MPI_Comm       comm;
  PetscInt       nlayers;                    /* number of affine layers (hidden + output) */
  PetscInt       width[LAND_MAX_LAYERS + 1]; /* width[0] = d, ..., width[nlayers] = k */
  PetscInt       woff[LAND_MAX_LAYERS], boff[LAND_MAX_LAYERS];
  PetscBool      skip[LAND_MAX_LAYERS]; /* layer l adds its input (hidden layers of equal width) */
  PetscInt       P;
  LandActivation act;
  PetscReal      leaky_slope;
  PetscBool      bias, use_skip;
  char           init[32];
  PetscReal      init_scale;
  char           theta_file[PETSC_MAX_PATH_LEN];
  char           theta_dataset[256]; /* dataset of theta_file (-net_theta_dataset, default "theta") */
  PetscInt       maxwidth, sumwidth;
  LandNoise      noise;
  PetscReal      noise_var;  /* sigma^2 of the multipliers (dropout: keep probability 1/(1 + sigma^2)) */
  PetscInt       noise_seed; /* the multipliers are a fixed function of (seed, global row, layer, unit) */
  PetscBool      setupcalled;
};

/* Work space for one block of rows: activations and their directional derivatives. */
typedef struct {
  PetscInt   m;                                                 /* rows in the block */
  PetscInt   nl;                                                /* number of layers it was made for */
  PetscReal *z[LAND_MAX_LAYERS + 1];                            /* pre-activations z_l (m x width[l]) */
  PetscReal *a[LAND_MAX_LAYERS + 1];                            /* layer outputs a_l; a[0] points at the input rows */
  PetscReal *s1[LAND_MAX_LAYERS + 1];                           /* eps_l act'(z_l) of hidden layers, kept from the forward pass */
  PetscReal *eps[LAND_MAX_LAYERS + 1];                          /* noise multipliers eps_l (m x width[l]), with -net_noise */
  PetscBool  masked;                                            /* the last forward pass applied eps */
  PetscReal *rz[LAND_MAX_LAYERS + 1], *ra[LAND_MAX_LAYERS + 1]; /* R-op */
  PetscReal *ga, *gz, *rga, *rgz, *tmp;                         /* backward buffers, m x maxwidth */
  PetscReal *gnext, *rgnext;
  PetscReal *gf, *rgf; /* dloss/df and its R-op, m x k */
} LandWork;

/* Row-major C[M x N] = alpha op(A) op(B) + beta C with BLAS dgemm (src/net/kernels.c). */
void           LandGemm(char ta, char tb, PetscInt M, PetscInt N, PetscInt K, PetscReal alpha, const PetscReal *A, PetscInt lda, const PetscReal *B,
                        PetscInt ldb, PetscReal beta, PetscReal *C, PetscInt ldc);
PetscErrorCode LandWorkCreate(LandNet, PetscInt m, LandWork *);
PetscErrorCode LandWorkDestroy(LandWork *);
PetscErrorCode LandNetForward(LandNet, const PetscReal *theta, PetscInt m, const PetscReal *X, PetscInt64 row0, LandWork *);
PetscErrorCode LandNetForwardGivenZ1(LandNet, const PetscReal *theta, PetscInt m, const PetscReal *X, PetscInt64 row0, LandWork *);
PetscErrorCode LandNetForwardR(LandNet, const PetscReal *theta, const PetscReal *v, PetscInt m, LandWork *);
PetscErrorCode LandNetBackward(LandNet, const PetscReal *theta, PetscInt m, LandWork *, PetscReal *grad, PetscBool accumulate);
PetscErrorCode LandNetBackwardR(LandNet, const PetscReal *theta, const PetscReal *v, PetscInt m, LandWork *, PetscReal *hv);
PetscReal      LandNetNoiseMultiplier(LandNet, PetscInt64 row, PetscInt l, PetscInt unit);
PetscErrorCode LandNetRowGradients(LandNet, const PetscReal *theta, PetscInt m, LandWork *, PetscInt out, PetscReal *rows, PetscInt ldr,
                                   PetscReal scale);

/* ---- Objective ---- */
struct _p_LandObjective {
  MPI_Comm   comm;
  LandData   data;
  LandNet    net;
  LandLoss   loss;
  PetscReal  quantile; /* alpha of -loss quantile */
  PetscReal  reg_l2;
  PetscBool  reg_l2_bias;
  PetscInt   P, d, k;
  VecScatter toall;     /* distributed theta -> replicated copy on every rank */
  Vec        theta_all; /* replicated theta */
  Vec        v_all;     /* replicated direction for Hessian products */
  PetscReal *acc;       /* 2P double-double accumulator */
  PetscReal *buf;       /* P: one chunk's gradient */
  LandWork   work;
  PetscInt64 nhvp; /* Hessian-vector products computed so far */
  PetscBool  setupcalled;
};

PetscErrorCode LandObjectiveReplicate(LandObjective, Vec, Vec);
PetscReal      LandObjectiveLossRows(LandObjective, PetscInt m, const PetscReal *f, const PetscReal *y); /* plain row-order sum of the losses */

/* ---- Results ---- */
struct _p_LandResults {
  MPI_Comm  comm;
  hid_t     file;
  char      path[PETSC_MAX_PATH_LEN], tmppath[PETSC_MAX_PATH_LEN], partial[PETSC_MAX_PATH_LEN];
  PetscBool published, resumed;
};
PetscErrorCode LandHDF5EnsureGroups(hid_t file, const char path[]);
PetscErrorCode LandMakeDirs(MPI_Comm, const char dir[]);
PetscErrorCode LandHDF5ReadVec(MPI_Comm, hid_t file, const char fname[], const char path[], Vec);
PetscErrorCode LandHDF5ReadArray(MPI_Comm, hid_t file, const char fname[], const char path[], PetscInt *m, PetscInt *n, PetscReal **);
PetscErrorCode LandHDF5ReadRows(MPI_Comm, hid_t file, const char fname[], const char path[], PetscInt N, PetscInt lo, PetscInt nlocal, PetscInt *m,
                                PetscReal **);
PetscErrorCode LandHDF5ReadAttrInt(hid_t file, const char obj[], const char name[], PetscInt *, PetscBool *found);
PetscErrorCode LandHDF5ReadAttrReal(hid_t file, const char obj[], const char name[], PetscReal *, PetscBool *found);
PetscErrorCode LandHDF5ReadAttrString(hid_t file, const char obj[], const char name[], char *, size_t, PetscBool *found);

/* ---- Checkpoints ---- */
#define LAND_CHECKPOINT_VERSION 1
struct _p_LandCheckpoint {
  LandRun        run;
  char           dir[PETSC_MAX_PATH_LEN];
  char           restart[PETSC_MAX_PATH_LEN]; /* "", "auto" or a file */
  PetscInt       interval, keep, generation, nwritten, signal_at, kill_at;
  PetscReal      minutes;
  PetscLogDouble last_time, write_time;
  LandResults    writer; /* during a write */
  hid_t          rfile;  /* during a load */
  char           rname[PETSC_MAX_PATH_LEN];
  char           group[128]; /* "/stage/<name>" of the stage saving or loading */
  char           reason[512];
};

/* ---- Stages ---- */
struct _p_LandStage {
  LandRun run;
  char    name[64];
  char    prefix[64];
  char    group[80]; /* results group: "/<name>", or "/<name>_<k>" for the k-th instance of a stage */
  char    path[160]; /* scratch for LandStagePath */
  void   *data;
  PetscErrorCode (*setfromoptions)(LandStage);
  PetscErrorCode (*run_stage)(LandStage);
  PetscErrorCode (*destroy)(LandStage);
  PetscErrorCode (*save)(LandStage, LandCheckpoint); /* checkpoint hook: the state to resume exactly */
  PetscErrorCode (*load)(LandStage, LandCheckpoint);
};

const char    *LandStagePath(LandStage, const char sub[]);
PetscErrorCode LandStageCreate_Train(LandStage);
PetscErrorCode LandStageCreate_Eval(LandStage);
PetscErrorCode LandStageCreate_Check(LandStage);
PetscErrorCode LandStageCreate_Spectrum(LandStage);
PetscErrorCode LandHessianNormEstimate(Mat, PetscReal *); /* src/stages/spectrum.c */
PetscErrorCode LandStageCreate_Stationary(LandStage);
PetscErrorCode LandStageCreate_Linear(LandStage);
PetscErrorCode LandStageCreate_Escape(LandStage);
PetscErrorCode LandStageCreate_Embed(LandStage);
PetscErrorCode LandStageCreate_Simplex(LandStage);
/* Trajectory analysis of the Deep ReLU Simplex (src/stages/simplex_analysis.c) */
PetscErrorCode LandSimplexAnalyze(LandResults, const char group[], PetscInt K, const PetscReal *loss, const PetscReal *step, PetscInt n0,
                                  const PetscReal *vertices, PetscInt window);
PetscErrorCode LandStageCreate_Levelset(LandStage);
PetscErrorCode LandStageCreate_Slice(LandStage);

/* ---- Escape neurons of one-hidden-layer ReLU-like nets (src/stages/escape.c, docs/shallow-relu.md) ---- */
typedef enum { LAND_ESCAPE_NOT_STATIONARY, LAND_ESCAPE_LOCAL_MIN, LAND_ESCAPE_SADDLE, LAND_ESCAPE_UNDETERMINED } LandEscapeVerdict;
extern const char *const LandEscapeVerdicts[];
typedef struct {
  char      prefix[32]; /* options prefix the values were read with (for messages) */
  PetscReal kink_tol;   /* |w_j.x_i| <= kink_tol |w_j| |x_i|: point i on neuron j's kink */
  PetscReal zero_tol;   /* |h_j| <= zero_tol * reference: zero-output neuron */
  PetscReal stat_tol;   /* largest relative residual of (S1), (S2) */
  PetscReal escape_tol; /* g_j counts as non-zero above this relative size */
  PetscReal eps;        /* first eps of the certificate (0: automatic) */
  PetscInt  max_kink_points;
  PetscBool certify;
} LandEscapeOptions;
#define LAND_ESCAPE_NCOL 14 /* columns of the per-neuron table, see LandEscapeColumns */
extern const char *const LandEscapeColumns;
typedef struct {
  LandEscapeVerdict verdict;
  PetscInt          m, k, dt; /* hidden width, outputs, input dimension with the bias column */
  PetscInt          nescape, nzero, ndead, nundetermined, worst;
  PetscReal         loss, worst_residual, bias_residual;
  PetscReal        *table;                       /* m x LAND_ESCAPE_NCOL */
  PetscInt          cert_neuron;                 /* -1: no certificate */
  PetscBool         cert_verified, cert_replace; /* replace: w_j <- sqrt(eps) u* (a zero neuron) */
  PetscReal         cert_g, cert_eps, cert_predicted, cert_measured, *cert_u;
  char              summary[512];
} LandEscapeResult;
PetscErrorCode LandEscapeOptionsDefault(LandEscapeOptions *);
PetscErrorCode LandEscapeOptionsSetFromOptions(MPI_Comm, const char prefix[], const char title[], LandEscapeOptions *);
PetscErrorCode LandEscapeCheckObjective(LandObjective, const char who[]);
PetscErrorCode LandEscapeClassify(LandObjective, Vec theta, const LandEscapeOptions *, LandEscapeResult *);
PetscErrorCode LandEscapeResultPrint(const LandEscapeResult *, MPI_Comm, const char who[]);
PetscErrorCode LandEscapeResultWrite(const LandEscapeResult *, LandResults, const char group[]);
PetscErrorCode LandEscapeResultReset(LandEscapeResult *);

/* Plateau monitor of full-batch training (src/stages/plateau.c): -train_plateau */
typedef struct _n_LandPlateau *LandPlateau;
PetscErrorCode                 LandPlateauCreateFromOptions(LandStage train, LandPlateau *);
PetscErrorCode                 LandPlateauStep(LandPlateau, PetscInt step, PetscReal loss, PetscReal grad_norm, Vec theta);
PetscErrorCode                 LandPlateauFinish(LandPlateau, PetscInt step, PetscReal loss, PetscReal grad_norm, Vec theta);
PetscErrorCode                 LandPlateauDestroy(LandPlateau *);

/* Persistent homology of the sublevel filtration of a grid (src/topology/persistence.c) */
typedef struct {
  PetscInt   n0, n1;              /* persistence pairs of dimension 0 and 1 with death > birth */
  PetscReal *h0, *h1;             /* [n][2]: birth, death (+inf: essential) */
  PetscInt   nmin, nsaddle, nmax; /* critical grid points from the lower links (saddles with multiplicity) */
  PetscInt   euler;               /* nmin - nsaddle + nmax */
  PetscReal  tp[2];               /* total persistence of the finite pairs */
  PetscInt   nlevels;
  PetscReal *betti; /* [nlevels][4]: level c, b0(c), b1(c), Euler characteristic V_c - E_c + F_c */
} LandPersistence;
PetscErrorCode LandPersistenceCompute(PetscInt ny, PetscInt nx, const PetscReal *f, PetscInt nlevels, LandPersistence *);
PetscErrorCode LandPersistenceWrite(const LandPersistence *, LandResults, const char group[]);
PetscErrorCode LandPersistenceView(const LandPersistence *, MPI_Comm, const char who[]);
PetscErrorCode LandPersistenceReset(LandPersistence *);
PetscErrorCode LandTopologyMain(int, char **);   /* 'landscape topology ...' */
PetscErrorCode LandCheckUnusedOptions(MPI_Comm); /* src/main.c: an option nobody read is an error */

/* Counter-based random numbers: the value depends only on (seed, stream, index). */
PetscReal LandRandUniform(PetscInt64 seed, PetscInt64 stream, PetscInt64 index);
PetscReal LandRandNormal(PetscInt64 seed, PetscInt64 stream, PetscInt64 index);

#endif
