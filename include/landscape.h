/* landscape: loss landscapes of neural networks on MPI, PETSc, SLEPc and parallel HDF5.
   Public API. Objects are opaque handles with the PETSc lifecycle
   Create / SetFromOptions / SetUp / <verb> / View / Destroy. */
#ifndef LANDSCAPE_H
#define LANDSCAPE_H

#include <petscmat.h>
#include <petsctao.h>

#define LAND_EXIT_CONTINUE 75 /* EX_TEMPFAIL: checkpointed, run again to continue */

typedef struct _p_LandData       *LandData;
typedef struct _p_LandNet        *LandNet;
typedef struct _p_LandObjective  *LandObjective;
typedef struct _p_LandResults    *LandResults;
typedef struct _p_LandStage      *LandStage;
typedef struct _p_LandRun        *LandRun;
typedef struct _p_LandCheckpoint *LandCheckpoint;

/* ---- Logging (src/log_events.c) ---- */
extern PetscClassId  LAND_CLASSID;
extern PetscLogEvent LAND_Forward, LAND_Backward, LAND_HessMult, LAND_Jacobian, LAND_DataLoad, LAND_IO, LAND_Reduce, LAND_Train, LAND_EPSSolve,
    LAND_EPSMultiplicity, LAND_SLQ, LAND_SNESSolve, LAND_Simplex, LAND_SimplexPass, LAND_SimplexBasis, LAND_Predictor, LAND_Corrector, LAND_PathPCA,
    LAND_Slice, LAND_SlicePrecompute, LAND_Persistence;
PetscErrorCode LandRegisterLogEvents(void);

/* ---- Data (src/data) ---- */
typedef enum { LAND_SET_TRAIN, LAND_SET_TEST } LandSetKind;

/* One rank's rows of a train or test set. Rows are grouped in chunks of 'chunk' rows aligned to
   global row 0; a rank owns whole chunks [cstart, cend), i.e. rows [rstart, rstart + n). */
typedef struct {
  PetscInt   N;         /* global number of rows */
  PetscInt   rstart, n; /* first global row owned, number owned */
  PetscInt   cstart, cend;
  PetscReal *X;      /* n x d, row-major */
  PetscReal *Y;      /* n x k, row-major (one-hot for labelled data) */
  PetscInt  *labels; /* n class labels, or NULL for regression data */
} LandSet;

PetscErrorCode LandDataCreate(MPI_Comm, LandData *);
PetscErrorCode LandDataSetFromOptions(LandData);
PetscErrorCode LandDataSetUp(LandData);
PetscErrorCode LandDataView(LandData, PetscViewer);
PetscErrorCode LandDataDestroy(LandData *);
PetscErrorCode LandDataGetSizes(LandData, PetscInt *d, PetscInt *k, PetscInt *num_classes);
PetscErrorCode LandDataGetSet(LandData, LandSetKind, const LandSet **);
PetscErrorCode LandDataGetChunkSize(LandData, PetscInt *);
PetscErrorCode LandDataWriteResults(LandData, LandResults);
PetscErrorCode LandDataRegister(const char[], PetscErrorCode (*)(LandData));
PetscErrorCode LandImportMain(int, char **); /* 'landscape import idx|csv ...' */

/* ---- Networks (src/net) ---- */
typedef enum { LAND_ACT_RELU, LAND_ACT_LEAKY_RELU, LAND_ACT_SIGMOID, LAND_ACT_TANH, LAND_ACT_LINEAR, LAND_ACT_SOFTPLUS } LandActivation;
extern const char *const LandActivations[];

PetscErrorCode LandNetCreate(MPI_Comm, LandNet *);
PetscErrorCode LandNetSetSizes(LandNet, PetscInt d, PetscInt k);
PetscErrorCode LandNetSetFromOptions(LandNet);
PetscErrorCode LandNetSetUp(LandNet);
PetscErrorCode LandNetView(LandNet, PetscViewer);
PetscErrorCode LandNetDestroy(LandNet *);
PetscErrorCode LandNetGetNumParams(LandNet, PetscInt *);
PetscErrorCode LandNetGetNumLayers(LandNet, PetscInt *);
PetscErrorCode LandNetGetLayer(LandNet, PetscInt l, PetscInt *n_out, PetscInt *n_in, PetscInt *w_offset, PetscInt *b_offset);
PetscErrorCode LandNetCreateVec(LandNet, Vec *);
PetscErrorCode LandNetInitialize(LandNet, PetscInt seed, Vec theta);
PetscErrorCode LandNetLoadTheta(LandNet, const char file[], const char dataset[], Vec theta);
PetscErrorCode LandNetWriteResults(LandNet, LandResults);

/* ---- Objective (src/objective) ---- */
typedef enum { LAND_LOSS_MSE, LAND_LOSS_L1, LAND_LOSS_CE, LAND_LOSS_QUANTILE } LandLoss;
extern const char *const LandLosses[];

PetscErrorCode LandObjectiveCreate(LandData, LandNet, LandObjective *);
PetscErrorCode LandObjectiveSetFromOptions(LandObjective);
PetscErrorCode LandObjectiveSetUp(LandObjective);
PetscErrorCode LandObjectiveView(LandObjective, PetscViewer);
PetscErrorCode LandObjectiveDestroy(LandObjective *);
PetscErrorCode LandObjectiveGetLoss(LandObjective, LandLoss *);
PetscErrorCode LandObjectiveEvaluate(LandObjective, Vec theta, PetscReal *f, Vec g);
PetscErrorCode LandObjectiveEvaluateChunks(LandObjective, Vec theta, PetscInt nc, const PetscInt chunks[], PetscReal *f, Vec g);
PetscErrorCode LandObjectiveHessianMult(LandObjective, Vec theta, Vec v, Vec Hv);
PetscErrorCode LandObjectiveCreateHessian(LandObjective, Vec theta, Mat *);
PetscErrorCode LandObjectiveHessianSetPoint(Mat, Vec theta);
PetscErrorCode LandObjectiveCreateJacobian(LandObjective, Vec theta, Mat *);
PetscErrorCode LandObjectiveCreateJacobianShell(LandObjective, Vec theta, Mat *);
PetscErrorCode LandObjectiveResidual(LandObjective, Vec theta, Vec r);
PetscErrorCode LandObjectiveTestMetrics(LandObjective, Vec theta, LandSetKind, PetscReal *loss, PetscReal *accuracy);

/* ---- Reproducible sums (src/objective/ddsum.c) ---- */
PetscErrorCode LandDDInitialize(void);
PetscErrorCode LandDDFinalize(void);
PetscErrorCode LandDDAllreduce(MPI_Comm, PetscInt n, PetscReal *hi_lo);
PetscErrorCode LandDDReduceScatter(MPI_Comm, PetscInt N, PetscReal *hi_lo, Vec out);
void           LandDDAccumulate(PetscInt n, const PetscReal *x, PetscReal *hi_lo);
PetscErrorCode LandVecNorm2(Vec, PetscReal *);

/* ---- Results (src/io/results.c) ---- */
PetscErrorCode LandResultsCreate(MPI_Comm, const char dir[], PetscBool resume, LandResults *);
PetscErrorCode LandResultsCreateFile(MPI_Comm, const char path[], PetscBool resume, LandResults *);
PetscErrorCode LandResultsSuspend(LandResults);
PetscErrorCode LandResultsHas(LandResults, const char path[], PetscBool *);
PetscErrorCode LandResultsWriteVec(LandResults, const char path[], Vec);
PetscErrorCode LandResultsWriteArray(LandResults, const char path[], PetscInt m, PetscInt n, const PetscReal *);
PetscErrorCode LandResultsWriteMatrix(LandResults, const char path[], PetscInt m, PetscInt n, const PetscReal *);
PetscErrorCode LandResultsWriteRows(LandResults, const char path[], PetscInt m, PetscInt N, PetscInt lo, PetscInt nlocal, const PetscReal *);
PetscErrorCode LandResultsWriteIntArray(LandResults, const char path[], PetscInt n, const PetscInt *);
PetscErrorCode LandResultsWriteAttrString(LandResults, const char obj[], const char name[], const char value[]);
PetscErrorCode LandResultsWriteAttrReal(LandResults, const char obj[], const char name[], PetscReal value);
PetscErrorCode LandResultsWriteAttrInt(LandResults, const char obj[], const char name[], PetscInt value);
PetscErrorCode LandResultsPublish(LandResults);
PetscErrorCode LandResultsDestroy(LandResults *);

/* ---- Stages (src/stages) ---- */
struct _p_LandRun {
  MPI_Comm       comm;
  LandData       data;
  LandNet        net;
  LandObjective  obj;
  LandResults    results;
  LandCheckpoint ckpt;
  Vec            theta, theta_initial;
  PetscInt       seed;
  char           output_dir[PETSC_MAX_PATH_LEN];
  LandStage     *stages;
  PetscInt       nstages, stage_index; /* the stage running (or to run next) */
  PetscBool      stage_resumed;        /* the running stage continues from checkpointed state */
  PetscBool      stop;                 /* checkpointed for continuation: exit with LAND_EXIT_CONTINUE */
  /* survey task (src/survey) */
  PetscInt survey_index, survey_size;
  char     survey_grid[4096], survey_config[4096];
};

/* ---- Surveys (src/survey) ---- */
PetscErrorCode LandSurveyApply(LandRun, PetscBool *active, PetscBool *done);
PetscErrorCode LandSurveyWriteResults(LandRun);

/* ---- Checkpoints and signals (src/io/checkpoint.c, signals.c) ---- */
PetscErrorCode LandCheckpointCreate(LandRun, LandCheckpoint *);
PetscErrorCode LandCheckpointSetFromOptions(LandCheckpoint);
PetscErrorCode LandCheckpointRestore(LandCheckpoint, PetscBool *restored);
PetscErrorCode LandCheckpointPoll(LandCheckpoint, LandStage, PetscInt iteration, PetscBool *stop);
PetscErrorCode LandCheckpointWrite(LandCheckpoint, LandStage);
PetscErrorCode LandCheckpointView(LandCheckpoint, PetscViewer);
PetscErrorCode LandCheckpointDestroy(LandCheckpoint *);
PetscErrorCode LandCheckpointPutVec(LandCheckpoint, const char name[], Vec);
PetscErrorCode LandCheckpointPutArray(LandCheckpoint, const char name[], PetscInt m, PetscInt n, const PetscReal *);
PetscErrorCode LandCheckpointPutRows(LandCheckpoint, const char name[], PetscInt m, PetscInt N, PetscInt lo, PetscInt nlocal, const PetscReal *);
PetscErrorCode LandCheckpointPutInt(LandCheckpoint, const char name[], PetscInt);
PetscErrorCode LandCheckpointPutReal(LandCheckpoint, const char name[], PetscReal);
PetscErrorCode LandCheckpointGetVec(LandCheckpoint, const char name[], Vec);
PetscErrorCode LandCheckpointGetArray(LandCheckpoint, const char name[], PetscInt *m, PetscInt *n, PetscReal **);
PetscErrorCode LandCheckpointGetRows(LandCheckpoint, const char name[], PetscInt N, PetscInt lo, PetscInt nlocal, PetscInt *m, PetscReal **);
PetscErrorCode LandCheckpointGetInt(LandCheckpoint, const char name[], PetscInt *);
PetscErrorCode LandCheckpointGetReal(LandCheckpoint, const char name[], PetscReal *);
PetscErrorCode LandCheckpointHas(LandCheckpoint, const char name[], PetscBool *);
PetscErrorCode LandSignalsInstall(void);
int            LandSignalsPending(void);
PetscErrorCode LandDataFingerprint(LandData, PetscReal fp[2]);

PetscErrorCode LandStageRegister(const char[], PetscErrorCode (*)(LandStage));
PetscErrorCode LandStageRegisterAll(void);
PetscErrorCode LandStageCreate(LandRun, const char type[], LandStage *);
PetscErrorCode LandStageSetFromOptions(LandStage);
PetscErrorCode LandStageRun(LandStage);
PetscErrorCode LandStageDestroy(LandStage *);
PetscErrorCode LandStageGetName(LandStage, const char **);

#endif
