static const char help[] =
    "landscape: loss landscapes of neural networks on MPI, PETSc, SLEPc and parallel HDF5.\n\n"
    "  landscape -data_file F.h5 -net_hidden 100,100 -net_activation tanh -loss mse -stages train,eval -output_dir D\n"
    "  landscape import idx|csv ...   (convert Fashion-MNIST IDX or CSV files to the HDF5 data format)\n"
    "  landscape topology -topology_input F.h5:/dataset -output_dir D   (persistent homology of a stored grid)\n\n"
    "Every option is listed below; see docs/options.md for the full guide.\n\n";

#include <landscape/impl.h>
#include <slepcsys.h>
#include <petsctime.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

/* One-line errors: print the first message of an error and nothing of the traceback. Users see
   "landscape: error: <cause>" and a non-zero exit. */
static PetscErrorCode OneLineErrorHandler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p,
                                          const char *mess, void *ctx)
{
  PetscMPIInt rank = 0;
  if (p == PETSC_ERROR_INITIAL) {
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
    if (rank == 0 || comm == PETSC_COMM_SELF) {
      fflush(stdout); /* keep the progress lines before the error */
      fprintf(stderr, "landscape: error: %s\n", mess && mess[0] ? mess : "(no message)");
      fflush(stderr);
    }
  }
  return n;
}

/* Options that nobody read are errors: a typo must not silently change an experiment. */
PetscErrorCode LandCheckUnusedOptions(MPI_Comm comm)
{
  PetscInt  n;
  char    **names, **values;
  PetscBool strict = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-options_strict", &strict, NULL));
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  if (strict && n > 0) {
    char name[256];
    PetscCall(PetscStrncpy(name, names[0], sizeof(name)));
    PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "unused option -%s (misspelt, or not read by the chosen stages; -options_strict 0 allows it)", name);
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteRunMetadata(LandRun run, const char *when)
{
  char        buf[64], *opts;
  time_t      t = time(NULL);
  PetscMPIInt size;

  PetscFunctionBeginUser;
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  PetscCall(MPI_Comm_size(run->comm, &size));
  if (!strcmp(when, "start")) {
    PetscCall(LandResultsWriteAttrString(run->results, "/run", "start_time", buf));
    PetscCall(LandResultsWriteAttrString(run->results, "/run", "version", LAND_VERSION));
    PetscCall(LandResultsWriteAttrInt(run->results, "/run", "ranks", size));
    PetscCall(LandResultsWriteAttrInt(run->results, "/run", "seed", run->seed));
    PetscCall(PetscOptionsGetAll(NULL, &opts));
    PetscCall(LandResultsWriteAttrString(run->results, "/run", "options", opts));
    PetscCall(PetscFree(opts));
  } else
    PetscCall(LandResultsWriteAttrString(run->results, "/run", "end_time", buf));
  PetscFunctionReturn(0);
}

static PetscErrorCode RunMain(LandRun run, LandStage *stages, PetscInt *nstages)
{
  char          *names[32];
  PetscInt       n = 32;
  PetscBool      set;
  PetscLogDouble t0, t1;
  PetscReal      f, tl, ta;
  PetscMPIInt    size;
  PetscBool      strict = PETSC_TRUE, restored, survey, survey_done;
  char           outdir[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&t0));
  // ---- Options of the run ----
  // ---- A survey task sets its options first: they may include any option below ----
  PetscCall(PetscStrcpy(run->output_dir, "out"));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-output_dir", run->output_dir, sizeof(run->output_dir), NULL));
  PetscCall(PetscStrcpy(outdir, run->output_dir));
  PetscCall(LandSurveyApply(run, &survey, &survey_done));
  if (survey_done) PetscFunctionReturn(0);
  PetscOptionsBegin(run->comm, NULL, "landscape run options", NULL);
  PetscCall(PetscOptionsInt("-seed", "Seed of everything random (initialisation, shuffling, subsets, generators)", "", run->seed, &run->seed, NULL));
  PetscCall(PetscOptionsString("-output_dir", "Directory of results.h5", "", outdir, outdir, sizeof(outdir), NULL));
  PetscCall(PetscOptionsStringArray("-stages", "Stages to run in order, comma separated (train, eval, check)", "", names, &n, &set));
  PetscCall(PetscOptionsBool("-options_strict", "Unused options are an error", "", strict, &strict, NULL));
  PetscOptionsEnd();
  if (!set) {
    n = 1;
    PetscCall(PetscStrallocpy("train", &names[0]));
  }

  // ---- Data, network, objective ----
  PetscCall(LandDataCreate(run->comm, &run->data));
  PetscCall(LandDataSetFromOptions(run->data));
  PetscCall(LandDataSetUp(run->data));
  PetscCall(LandNetCreate(run->comm, &run->net));
  PetscCall(LandNetSetFromOptions(run->net));
  PetscCall(LandNetSetSizes(run->net, run->data->d, run->data->k));
  PetscCall(LandNetSetUp(run->net));
  PetscCall(LandObjectiveCreate(run->data, run->net, &run->obj));
  PetscCall(LandObjectiveSetFromOptions(run->obj));
  PetscCall(LandObjectiveSetUp(run->obj));
  PetscCall(LandNetCreateVec(run->net, &run->theta));
  PetscCall(VecDuplicate(run->theta, &run->theta_initial));
  PetscCall(LandNetInitialize(run->net, run->seed, run->theta));
  PetscCall(VecCopy(run->theta, run->theta_initial));

  // ---- Stages and checkpoints: all read their options before anything runs ----
  run->stages = stages;
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(LandStageCreate(run, names[i], &stages[i]));
    *nstages     = i + 1;
    run->nstages = i + 1;
    PetscCall(LandStageSetFromOptions(stages[i]));
  }
  PetscCall(LandCheckpointCreate(run, &run->ckpt));
  PetscCall(LandCheckpointSetFromOptions(run->ckpt));
  PetscCall(LandCheckUnusedOptions(run->comm));
  PetscCallMPI(MPI_Comm_size(run->comm, &size));
  PetscCall(PetscPrintf(run->comm, "landscape %s on %d rank%s\n", LAND_VERSION, size, size > 1 ? "s" : ""));
  PetscCall(LandDataView(run->data, PETSC_VIEWER_STDOUT_(run->comm)));
  PetscCall(LandNetView(run->net, PETSC_VIEWER_STDOUT_(run->comm)));
  PetscCall(LandObjectiveView(run->obj, PETSC_VIEWER_STDOUT_(run->comm)));
  PetscCall(LandCheckpointRestore(run->ckpt, &restored));

  // ---- Results file (published only on success; kept as results.partial.h5 on a stop) ----
  PetscCall(LandResultsCreate(run->comm, run->output_dir, restored, &run->results));
  if (!run->results->resumed) {
    PetscCall(WriteRunMetadata(run, "start"));
    PetscCall(LandDataWriteResults(run->data, run->results));
    PetscCall(LandNetWriteResults(run->net, run->results));
    PetscCall(LandResultsWriteVec(run->results, "/theta_initial", run->theta_initial));
    PetscCall(LandSurveyWriteResults(run));
  } else {
    PetscInt  resumed = 0;
    PetscBool found;
    PetscCall(LandHDF5ReadAttrInt(run->results->file, "/run", "resumed", &resumed, &found));
    PetscCall(LandResultsWriteAttrInt(run->results, "/run", "resumed", resumed + 1));
  }

  // ---- Run: from the checkpointed stage on; a signal between stages also stops cleanly ----
  for (PetscInt i = run->stage_index; i < n && !run->stop; i++) {
    PetscBool stop;
    run->stage_index = i;
    PetscCall(LandStageRun(stages[i]));
    run->stage_resumed = PETSC_FALSE;
    if (run->stop) break;
    run->stage_index = i + 1;
    if (i + 1 < n) PetscCall(LandCheckpointPoll(run->ckpt, NULL, 0, &stop));
  }
  PetscCall(LandCheckpointView(run->ckpt, PETSC_VIEWER_STDOUT_(run->comm)));
  if (run->stop) {
    PetscCall(LandCheckUnusedOptions(run->comm));
    PetscCall(LandResultsSuspend(run->results));
    PetscCall(PetscPrintf(run->comm, "summary: stopped for continuation in stage %" PetscInt_FMT "; run again with -restart auto to continue\n",
                          run->stage_index));
    for (PetscInt i = 0; i < n; i++) PetscCall(PetscFree(names[i]));
    PetscFunctionReturn(0);
  }

  // ---- Summary and results ----
  PetscCall(LandObjectiveEvaluate(run->obj, run->theta, &f, NULL));
  PetscCall(LandObjectiveTestMetrics(run->obj, run->theta, LAND_SET_TEST, &tl, &ta));
  PetscCall(LandResultsWriteVec(run->results, "/theta", run->theta));
  PetscCall(LandCheckUnusedOptions(run->comm));
  PetscCall(WriteRunMetadata(run, "end"));
  PetscCall(LandResultsPublish(run->results));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscPrintf(run->comm, "summary: stages"));
  for (PetscInt i = 0; i < n; i++) PetscCall(PetscPrintf(run->comm, "%s%s", i ? "," : " ", names[i]));
  PetscCall(PetscPrintf(run->comm, "; training loss %.6e", (double)f));
  if (!PetscIsNanReal(tl)) PetscCall(PetscPrintf(run->comm, ", test loss %.4e", (double)tl));
  if (ta >= 0) PetscCall(PetscPrintf(run->comm, ", test accuracy %.4f", (double)ta));
  PetscCall(PetscPrintf(run->comm, "; %.1f s; results in %s/results.h5\n", t1 - t0, run->output_dir));
  {
    /* peak resident memory, the largest over the ranks */
    struct rusage ru;
    double        mib;
    getrusage(RUSAGE_SELF, &ru);
    mib = ru.ru_maxrss / 1024.0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mib, 1, MPI_DOUBLE, MPI_MAX, run->comm));
    PetscCall(PetscPrintf(run->comm, "memory: peak resident set %.1f MiB per rank (largest rank)\n", mib));
  }
  for (PetscInt i = 0; i < n; i++) PetscCall(PetscFree(names[i]));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  struct _p_LandRun run;
  LandStage         stages[32] = {NULL};
  PetscInt          nstages    = 0;
  PetscErrorCode    ierr;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCall(PetscPushErrorHandler(OneLineErrorHandler, NULL));
  PetscCall(LandSignalsInstall());
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* every HDF5 status is checked; its own error stack would be noise */
  PetscCall(LandRegisterLogEvents());
  PetscCall(LandDDInitialize());
  PetscCall(PetscMemzero(&run, sizeof(run)));
  run.comm = PETSC_COMM_WORLD;

  if (argc > 1 && !strcmp(argv[1], "import"))
    ierr = LandImportMain(argc - 1, argv + 1);
  else if (argc > 1 && !strcmp(argv[1], "topology")) {
    ierr = LandTopologyMain(argc - 1, argv + 1);
  } else
    ierr = RunMain(&run, stages, &nstages);

  // ---- Clean up (an unpublished results file is removed) ----
  for (PetscInt i = 0; i < nstages; i++) PetscCall(LandStageDestroy(&stages[i]));
  PetscCall(LandResultsDestroy(&run.results));
  PetscCall(LandCheckpointDestroy(&run.ckpt));
  PetscCall(VecDestroy(&run.theta));
  PetscCall(VecDestroy(&run.theta_initial));
  PetscCall(LandObjectiveDestroy(&run.obj));
  PetscCall(LandNetDestroy(&run.net));
  PetscCall(LandDataDestroy(&run.data));
  PetscCall(LandDDFinalize());
  {
    PetscBool stopped = run.stop;
    PetscCall(SlepcFinalize());
    return ierr ? 1 : (stopped ? LAND_EXIT_CONTINUE : 0);
  }
}
