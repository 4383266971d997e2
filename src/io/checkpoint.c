/* LandCheckpoint: the full state of a run in one HDF5 file per generation, written collectively.
   Protocol (docs/checkpoints.md):
   - write <dir>/ckpt_<gen>.h5.tmp, the attribute 'complete' last, close, rank 0 renames it;
   - update <dir>/latest the same way (latest.tmp, rename); keep the last -checkpoint_keep files;
   - on load check the format version, 'complete', and a reproducible checksum of theta; a damaged
     generation falls back to the previous one with a warning, while a checkpoint of another
     network or dataset is an error (resuming it would silently mix runs).
   Vectors are stored as global datasets, so a run may resume at another rank count. */
#include <landscape/impl.h>
#include <dirent.h>
#include <errno.h>
#include <petsctime.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

PetscErrorCode LandCheckpointCreate(LandRun run, LandCheckpoint *ck)
{
  LandCheckpoint c;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&c));
  c->run     = run;
  c->keep    = 2;
  c->minutes = 15;
  c->rfile   = -1;
  PetscCall(PetscTime(&c->last_time));
  *ck = c;
  PetscFunctionReturn(0);
}

/* Highest generation number among <dir>/ckpt_*.h5 (rank 0 scans), or 0; optionally the sorted list. */
static PetscErrorCode ScanGenerations(LandCheckpoint ck, PetscInt *maxgen, PetscInt *ngen, PetscInt gens[], PetscInt maxn)
{
  PetscMPIInt rank;
  PetscInt    buf[65] = {0}, n = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(ck->run->comm, &rank));
  if (rank == 0) {
    DIR *d = opendir(ck->dir);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        int  g;
        char tail[8];
        if (sscanf(e->d_name, "ckpt_%d.h5%7s", &g, tail) == 1 && n < 64) buf[1 + n++] = g;
      }
      closedir(d);
    }
    buf[0] = n;
  }
  PetscCallMPI(MPI_Bcast(buf, 65, MPIU_INT, 0, ck->run->comm));
  n = buf[0];
  PetscCall(PetscSortInt(n, buf + 1));
  *maxgen = n ? buf[n] : 0;
  if (ngen) {
    *ngen = PetscMin(n, maxn);
    for (PetscInt i = 0; i < *ngen; i++) gens[i] = buf[n - i]; /* newest first */
  }
  PetscFunctionReturn(0);
}

/*@ LandCheckpointSetFromOptions - Collective.
  Options: -checkpoint_interval, -checkpoint_minutes, -checkpoint_keep, -checkpoint_dir, -restart @*/
PetscErrorCode LandCheckpointSetFromOptions(LandCheckpoint ck)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(ck->dir, sizeof(ck->dir), "%s/checkpoints", ck->run->output_dir));
  PetscOptionsBegin(ck->run->comm, NULL, "Checkpoints (LandCheckpoint) options", NULL);
  PetscCall(PetscOptionsInt("-checkpoint_interval", "Checkpoint every this many iterations of a stage (0: never by count)", "", ck->interval,
                            &ck->interval, NULL));
  PetscCall(PetscOptionsReal("-checkpoint_minutes",
                             "Checkpoint when this many minutes of wall time have passed since the last one (0: never by time)", "", ck->minutes,
                             &ck->minutes, NULL));
  PetscCall(PetscOptionsInt("-checkpoint_keep", "Number of checkpoint generations kept", "", ck->keep, &ck->keep, NULL));
  PetscCall(PetscOptionsString("-checkpoint_dir", "Directory of the checkpoints (default: <output_dir>/checkpoints)", "", ck->dir, ck->dir,
                               sizeof(ck->dir), NULL));
  PetscCall(PetscOptionsInt("-checkpoint_signal_at", "Testing: rank 0 sends itself SIGUSR1 at this iteration of a stage (0: never)", "",
                            ck->signal_at, &ck->signal_at, NULL));
  PetscCall(PetscOptionsInt("-checkpoint_kill_at_generation",
                            "Testing: rank 0 kills itself (SIGKILL) while writing this generation, after theta and before 'complete'", "",
                            ck->kill_at, &ck->kill_at, NULL));
  PetscCall(PetscOptionsString("-restart", "Resume: 'auto' (the latest checkpoint in -checkpoint_dir, if any) or a checkpoint file", "", ck->restart,
                               ck->restart, sizeof(ck->restart), NULL));
  PetscOptionsEnd();
  PetscCheck(ck->interval >= 0 && ck->minutes >= 0, ck->run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-checkpoint_interval and -checkpoint_minutes must be >= 0");
  PetscCheck(ck->keep >= 1, ck->run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-checkpoint_keep %" PetscInt_FMT " must be at least 1", ck->keep);
  if (ck->restart[0] && strcmp(ck->restart, "auto")) {
    PetscBool exists;
    PetscCall(PetscTestFile(ck->restart, 'r', &exists));
    PetscCheck(exists, ck->run->comm, PETSC_ERR_FILE_OPEN, "-restart %s: no such checkpoint file", ck->restart);
  }
  /* new generations continue the numbering of the directory; debris of a killed writer goes */
  PetscCall(ScanGenerations(ck, &ck->generation, NULL, NULL, 0));
  PetscCallMPI(MPI_Comm_rank(ck->run->comm, &rank));
  if (rank == 0) {
    DIR *d = opendir(ck->dir);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")) {
          char p[PETSC_MAX_PATH_LEN];
          PetscCall(PetscSNPrintf(p, sizeof(p), "%s/%s", ck->dir, e->d_name));
          unlink(p);
        }
      }
      closedir(d);
    }
  }
  PetscFunctionReturn(0);
}

/* ---------------- writing ---------------- */

static PetscErrorCode StagePath(LandCheckpoint ck, const char name[], char path[], size_t len)
{
  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, len, "%s/%s", ck->group, name));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointPutVec(LandCheckpoint ck, const char name[], Vec v)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandResultsWriteVec(ck->writer, path, v));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointPutArray(LandCheckpoint ck, const char name[], PetscInt m, PetscInt n, const PetscReal *a)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandResultsWriteArray(ck->writer, path, m > 1 ? m : 1, m > 1 ? n : m * n, a));
  PetscFunctionReturn(0);
}

/* m vectors distributed like theta (leading dimension nlocal), see LandResultsWriteRows. */
PetscErrorCode LandCheckpointPutRows(LandCheckpoint ck, const char name[], PetscInt m, PetscInt N, PetscInt lo, PetscInt nlocal, const PetscReal *a)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandResultsWriteRows(ck->writer, path, m, N, lo, nlocal, a));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointPutInt(LandCheckpoint ck, const char name[], PetscInt v)
{
  PetscFunctionBeginUser;
  PetscCall(LandResultsWriteAttrInt(ck->writer, ck->group, name, v));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointPutReal(LandCheckpoint ck, const char name[], PetscReal v)
{
  PetscFunctionBeginUser;
  PetscCall(LandResultsWriteAttrReal(ck->writer, ck->group, name, v));
  PetscFunctionReturn(0);
}

/* What identifies a run: the network, the data and the stage list. */
static PetscErrorCode WriteIdentity(LandCheckpoint ck, LandResults w)
{
  LandRun   run = ck->run;
  PetscReal fp[2];
  char      stages[1024] = "";

  PetscFunctionBeginUser;
  PetscCall(LandNetWriteResults(run->net, w));
  PetscCall(LandDataWriteResults(run->data, w));
  PetscCall(LandDataFingerprint(run->data, fp));
  PetscCall(LandResultsWriteAttrReal(w, "/data", "fingerprint_x", fp[0]));
  PetscCall(LandResultsWriteAttrReal(w, "/data", "fingerprint_y", fp[1]));
  for (PetscInt i = 0; i < run->nstages; i++) {
    const char *name;
    PetscCall(LandStageGetName(run->stages[i], &name));
    if (i) PetscCall(PetscStrlcat(stages, ",", sizeof(stages)));
    PetscCall(PetscStrlcat(stages, name, sizeof(stages)));
  }
  PetscCall(LandResultsWriteAttrString(w, "/", "stages", stages));
  PetscFunctionReturn(0);
}

/*@ LandCheckpointWrite - write a new generation: theta, the stage index and, through the stage's save
  hook, its state. 'stage' is the running stage (NULL between stages). Collective. @*/
PetscErrorCode LandCheckpointWrite(LandCheckpoint ck, LandStage stage)
{
  LandRun        run = ck->run;
  LandResults    w;
  char           path[PETSC_MAX_PATH_LEN], name[64];
  PetscMPIInt    rank;
  PetscLogDouble t0, t1;
  PetscReal      sum;
  PetscInt       gen = ck->generation + 1;

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&t0));
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  PetscCall(PetscSNPrintf(name, sizeof(name), "ckpt_%06" PetscInt_FMT ".h5", gen));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", ck->dir, name));
  PetscCall(LandMakeDirs(run->comm, ck->dir));
  PetscCall(LandResultsCreateFile(run->comm, path, PETSC_FALSE, &w));
  PetscCall(LandResultsWriteAttrInt(w, "/", "format_version", LAND_CHECKPOINT_VERSION));
  PetscCall(LandResultsWriteAttrInt(w, "/", "generation", gen));
  PetscCall(LandResultsWriteAttrInt(w, "/", "stage_index", run->stage_index));
  PetscCall(LandResultsWriteAttrInt(w, "/", "stage_started", stage ? 1 : 0));
  PetscCall(LandResultsWriteAttrInt(w, "/", "seed", run->seed));
  PetscCall(WriteIdentity(ck, w));
  PetscCall(LandResultsWriteVec(w, "/theta", run->theta));
  PetscCall(LandResultsWriteVec(w, "/theta_initial", run->theta_initial));
  PetscCall(LandVecNorm2(run->theta, &sum));
  PetscCall(LandResultsWriteAttrReal(w, "/", "theta_norm", sum));
  if (stage && stage->save) {
    ck->writer = w;
    PetscCall(PetscSNPrintf(ck->group, sizeof(ck->group), "/stage%s", stage->group));
    PetscCall((*stage->save)(stage, ck));
    ck->writer = NULL;
  }
  if (ck->kill_at == gen && rank == 0) raise(SIGKILL);       /* a crash in the middle of a write, for tests */
  PetscCall(LandResultsWriteAttrInt(w, "/", "complete", 1)); /* last: marks the file whole */
  PetscCall(LandResultsPublish(w));
  PetscCall(LandResultsDestroy(&w));
  if (rank == 0) {
    char  lp[PETSC_MAX_PATH_LEN], lt[PETSC_MAX_PATH_LEN];
    FILE *f;
    PetscCall(PetscSNPrintf(lp, sizeof(lp), "%s/latest", ck->dir));
    PetscCall(PetscSNPrintf(lt, sizeof(lt), "%s/latest.tmp", ck->dir));
    f = fopen(lt, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot write %s", lt);
    fprintf(f, "%s\n", name);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    PetscCheck(!rename(lt, lp), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "Cannot rename %s (%s)", lt, strerror(errno));
    /* older generations go only after the new one is published */
    for (PetscInt g = gen - ck->keep; g > 0 && g > gen - ck->keep - 64; g--) {
      char old[PETSC_MAX_PATH_LEN];
      PetscCall(PetscSNPrintf(old, sizeof(old), "%s/ckpt_%06" PetscInt_FMT ".h5", ck->dir, g));
      unlink(old);
    }
  }
  PetscCallMPI(MPI_Barrier(run->comm));
  ck->generation = gen;
  ck->nwritten++;
  PetscCall(PetscTime(&t1));
  ck->write_time += t1 - t0;
  ck->last_time = t1;
  PetscCall(PetscInfo(NULL, "checkpoint %s written in %g s\n", path, t1 - t0));
  PetscFunctionReturn(0);
}

/*@ LandCheckpointPoll - call at every iteration boundary of a stage. One reduction makes every
  rank agree on a pending signal and on the wall-clock trigger; a checkpoint is written when the
  interval, the time or a signal asks for it, and after a signal *stop is set (the stage returns,
  and the run exits with 75). Collective. @*/
PetscErrorCode LandCheckpointPoll(LandCheckpoint ck, LandStage stage, PetscInt iteration, PetscBool *stop)
{
  int            flags = 0;
  PetscMPIInt    rank;
  PetscLogDouble now;

  PetscFunctionBeginUser;
  *stop = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(ck->run->comm, &rank));
  if (ck->signal_at > 0 && iteration == ck->signal_at && stage && rank == 0) raise(SIGUSR1); /* a real signal, for tests */
  if (LandSignalsPending()) flags |= 1;
  if (rank == 0 && ck->minutes > 0) {
    PetscCall(PetscTime(&now));
    if (now - ck->last_time >= 60.0 * ck->minutes) flags |= 2;
  }
  if (ck->interval > 0 && iteration > 0 && iteration % ck->interval == 0) flags |= 4;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &flags, 1, MPI_INT, MPI_BOR, ck->run->comm));
  if (flags) PetscCall(LandCheckpointWrite(ck, stage));
  if (flags & 1) {
    PetscCall(PetscPrintf(ck->run->comm,
                          "landscape: signal received; checkpoint %" PetscInt_FMT " written at iteration %" PetscInt_FMT
                          " of stage %s; stopping for continuation (exit %d)\n",
                          ck->generation, iteration, stage ? stage->name : "-", LAND_EXIT_CONTINUE));
    ck->run->stop = PETSC_TRUE;
    *stop         = PETSC_TRUE;
  }
  PetscFunctionReturn(0);
}

/* ---------------- reading ---------------- */

PetscErrorCode LandCheckpointHas(LandCheckpoint ck, const char name[], PetscBool *has)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  *has = (PetscBool)(H5Lexists(ck->rfile, path, H5P_DEFAULT) > 0);
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointGetVec(LandCheckpoint ck, const char name[], Vec v)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandHDF5ReadVec(ck->run->comm, ck->rfile, ck->rname, path, v));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointGetArray(LandCheckpoint ck, const char name[], PetscInt *m, PetscInt *n, PetscReal **a)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandHDF5ReadArray(ck->run->comm, ck->rfile, ck->rname, path, m, n, a));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointGetRows(LandCheckpoint ck, const char name[], PetscInt N, PetscInt lo, PetscInt nlocal, PetscInt *m, PetscReal **a)
{
  char path[256];

  PetscFunctionBeginUser;
  PetscCall(StagePath(ck, name, path, sizeof(path)));
  PetscCall(LandHDF5ReadRows(ck->run->comm, ck->rfile, ck->rname, path, N, lo, nlocal, m, a));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointGetInt(LandCheckpoint ck, const char name[], PetscInt *v)
{
  PetscBool found;

  PetscFunctionBeginUser;
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, ck->group, name, v, &found));
  PetscCheck(found, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint %s lacks %s:%s", ck->rname, ck->group, name);
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointGetReal(LandCheckpoint ck, const char name[], PetscReal *v)
{
  PetscBool found;

  PetscFunctionBeginUser;
  PetscCall(LandHDF5ReadAttrReal(ck->rfile, ck->group, name, v, &found));
  PetscCheck(found, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED, "checkpoint %s lacks %s:%s", ck->rname, ck->group, name);
  PetscFunctionReturn(0);
}

/* Error handler used while a candidate is tried: remember the first message, print nothing. */
static PetscErrorCode QuietHandler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess,
                                   void *ctx)
{
  LandCheckpoint ck = (LandCheckpoint)ctx;
  if (p == PETSC_ERROR_INITIAL && !ck->reason[0]) PetscStrncpy(ck->reason, mess ? mess : "error", sizeof(ck->reason));
  return n;
}

/* Integrity of a candidate: opens (HDF5 detects truncation), right version, complete, theta readable
   and equal to its recorded norm. Everything here fails alike on every rank. */
static PetscErrorCode CheckIntegrity(LandCheckpoint ck, const char file[])
{
  hid_t     fapl;
  PetscInt  version = -1, complete = 0;
  PetscReal norm = -1;
  PetscBool found;

  PetscFunctionBeginUser;
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  LandCallHDF5(H5Pset_fapl_mpio(fapl, ck->run->comm, MPI_INFO_NULL));
  ck->rfile = H5Fopen(file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(ck->rfile >= 0, ck->run->comm, PETSC_ERR_FILE_OPEN, "cannot be opened as HDF5 (truncated or corrupt)");
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, "/", "format_version", &version, &found));
  PetscCheck(found, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED, "is not a landscape checkpoint (no format_version)");
  PetscCheck(version == LAND_CHECKPOINT_VERSION, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "has format version %" PetscInt_FMT "; this program reads version %d", version, LAND_CHECKPOINT_VERSION);
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, "/", "complete", &complete, &found));
  PetscCheck(found && complete == 1, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED, "is incomplete (no 'complete' attribute: the writer was interrupted)");
  PetscCall(LandHDF5ReadAttrReal(ck->rfile, "/", "theta_norm", &norm, &found));
  PetscCheck(found, ck->run->comm, PETSC_ERR_FILE_UNEXPECTED, "lacks theta_norm");
  PetscFunctionReturn(0);
}

/* Identity: the same network, data and stage list; a mismatch is an error, never a fallback. */
static PetscErrorCode CheckIdentity(LandCheckpoint ck, const char file[])
{
  LandRun     run = ck->run;
  PetscInt    P, ckP = -1, v, L, m, n;
  PetscReal   fp[2], ckfp, *w;
  char        s[1024], mine[1024] = "";
  PetscBool   found;
  hid_t       f    = ck->rfile;
  const char *what = NULL;

  PetscFunctionBeginUser;
  PetscCall(LandNetGetNumParams(run->net, &P));
  PetscCall(LandNetGetNumLayers(run->net, &L));
  PetscCall(LandHDF5ReadAttrInt(f, "/net", "num_params", &ckP, &found));
  PetscCall(LandHDF5ReadArray(run->comm, f, file, "/net/widths", &m, &n, &w));
  if (ckP != P || n != L + 1) what = "network (number of parameters or layers)";
  for (PetscInt l = 0; !what && l <= L; l++)
    if ((PetscInt)w[l] != run->net->width[l]) what = "network (layer widths)";
  PetscCall(PetscFree(w));
  PetscCall(LandHDF5ReadAttrString(f, "/net", "activation", s, sizeof(s), &found));
  if (!what && strcmp(s, LandActivations[run->net->act])) what = "network (activation)";
  PetscCall(LandHDF5ReadAttrInt(f, "/net", "bias", &v, &found));
  if (!what && v != run->net->bias) what = "network (biases)";
  PetscCall(LandHDF5ReadAttrInt(f, "/net", "skip", &v, &found));
  if (!what && v != run->net->use_skip) what = "network (skip connections)";
  PetscCall(LandHDF5ReadAttrInt(f, "/data", "train_n", &v, &found));
  if (!what && v != run->data->set[0].N) what = "dataset (number of training rows)";
  PetscCall(LandHDF5ReadAttrInt(f, "/data", "chunk_size", &v, &found));
  if (!what && v != run->data->chunk) what = "dataset (-data_chunk_size)";
  PetscCall(LandDataFingerprint(run->data, fp));
  PetscCall(LandHDF5ReadAttrReal(f, "/data", "fingerprint_x", &ckfp, &found));
  if (!what && ckfp != fp[0]) what = "dataset (the inputs differ)";
  PetscCall(LandHDF5ReadAttrReal(f, "/data", "fingerprint_y", &ckfp, &found));
  if (!what && ckfp != fp[1]) what = "dataset (the targets differ)";
  PetscCall(LandHDF5ReadAttrString(f, "/", "stages", s, sizeof(s), &found));
  for (PetscInt i = 0; i < run->nstages; i++) {
    const char *name;
    PetscCall(LandStageGetName(run->stages[i], &name));
    if (i) PetscCall(PetscStrlcat(mine, ",", sizeof(mine)));
    PetscCall(PetscStrlcat(mine, name, sizeof(mine)));
  }
  if (!what && strcmp(s, mine)) what = "list of stages (-stages)";
  PetscCheck(!what, run->comm, PETSC_ERR_ARG_INCOMP,
             "checkpoint %s was written for another %s; refusing to resume (use another -output_dir or -checkpoint_dir)", file, what);
  PetscFunctionReturn(0);
}

/* Load a candidate that passed the checks: theta, the stage index, the stage's own state. */
static PetscErrorCode LoadState(LandCheckpoint ck, const char file[])
{
  LandRun   run     = ck->run;
  PetscInt  started = 0, idx = 0;
  PetscReal norm, n2;
  PetscBool found;

  PetscFunctionBeginUser;
  PetscCall(LandHDF5ReadVec(run->comm, ck->rfile, file, "/theta", run->theta));
  PetscCall(LandHDF5ReadVec(run->comm, ck->rfile, file, "/theta_initial", run->theta_initial));
  PetscCall(LandHDF5ReadAttrReal(ck->rfile, "/", "theta_norm", &norm, &found));
  PetscCall(LandVecNorm2(run->theta, &n2));
  PetscCheck(n2 == norm, run->comm, PETSC_ERR_FILE_UNEXPECTED, "theta does not match its recorded norm (corrupt data)");
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, "/", "stage_index", &idx, &found));
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, "/", "stage_started", &started, &found));
  PetscCall(LandHDF5ReadAttrInt(ck->rfile, "/", "generation", &ck->generation, &found));
  run->stage_index   = idx;
  run->stage_resumed = (PetscBool)(started == 1);
  if (run->stage_resumed && idx < run->nstages && run->stages[idx]->load) {
    PetscCall(PetscSNPrintf(ck->group, sizeof(ck->group), "/stage%s", run->stages[idx]->group));
    PetscCall((*run->stages[idx]->load)(run->stages[idx], ck));
  } else
    run->stage_resumed = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static void CloseCandidate(LandCheckpoint ck)
{
  if (ck->rfile >= 0) H5Fclose(ck->rfile);
  ck->rfile = -1;
}

/*@ LandCheckpointRestore - with -restart auto or FILE, find and load a checkpoint; restored says
  whether one was loaded. Damaged generations are skipped with a warning (auto) or are an error
  (FILE); a checkpoint of another network or dataset is always an error. Collective. @*/
PetscErrorCode LandCheckpointRestore(LandCheckpoint ck, PetscBool *restored)
{
  LandRun        run = ck->run;
  char           cand[66][PETSC_MAX_PATH_LEN];
  PetscInt       ncand = 0, gens[64], ngen, maxgen;
  PetscLogDouble t0, t1;

  PetscFunctionBeginUser;
  *restored = PETSC_FALSE;
  PetscCall(PetscTime(&t0));
  if (!ck->restart[0]) PetscFunctionReturn(0);
  if (strcmp(ck->restart, "auto")) {
    PetscCall(PetscStrncpy(cand[ncand++], ck->restart, PETSC_MAX_PATH_LEN));
  } else {
    char        lp[PETSC_MAX_PATH_LEN], name[PETSC_MAX_PATH_LEN] = "";
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
    if (rank == 0) {
      FILE *f;
      PetscCall(PetscSNPrintf(lp, sizeof(lp), "%s/latest", ck->dir));
      if ((f = fopen(lp, "r"))) {
        if (!fgets(name, sizeof(name), f)) name[0] = 0;
        fclose(f);
        name[strcspn(name, "\r\n")] = 0;
      }
    }
    PetscCallMPI(MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, run->comm));
    if (name[0]) PetscCall(PetscSNPrintf(cand[ncand++], PETSC_MAX_PATH_LEN, "%s/%s", ck->dir, name));
    PetscCall(ScanGenerations(ck, &maxgen, &ngen, gens, 64));
    for (PetscInt i = 0; i < ngen; i++) {
      PetscCall(PetscSNPrintf(cand[ncand], PETSC_MAX_PATH_LEN, "%s/ckpt_%06" PetscInt_FMT ".h5", ck->dir, gens[i]));
      if (!(ncand > 0 && !strcmp(cand[ncand], cand[0]))) ncand++;
    }
    if (ncand == 0) {
      PetscCall(PetscPrintf(run->comm, "restart: no checkpoint in %s; starting from the beginning\n", ck->dir));
      PetscFunctionReturn(0);
    }
  }
  for (PetscInt c = 0; c < ncand; c++) {
    PetscErrorCode ierr;
    int            bad, badall;
    PetscCall(PetscStrncpy(ck->rname, cand[c], sizeof(ck->rname)));
    ck->reason[0] = 0;
    PetscCall(PetscPushErrorHandler(QuietHandler, ck));
    ierr = CheckIntegrity(ck, cand[c]);
    PetscCall(PetscPopErrorHandler());
    bad = ierr != 0;
    PetscCallMPI(MPI_Allreduce(&bad, &badall, 1, MPI_INT, MPI_MAX, run->comm));
    if (!badall) {
      PetscCall(CheckIdentity(ck, cand[c])); /* an error, not a fallback */
      PetscCall(PetscPushErrorHandler(QuietHandler, ck));
      ierr = LoadState(ck, cand[c]);
      PetscCall(PetscPopErrorHandler());
      bad = ierr != 0;
      PetscCallMPI(MPI_Allreduce(&bad, &badall, 1, MPI_INT, MPI_MAX, run->comm));
    }
    CloseCandidate(ck);
    if (!badall) {
      *restored = PETSC_TRUE;
      PetscCall(PetscTime(&t1));
      PetscCall(PetscPrintf(run->comm, "restart: resumed from %s (generation %" PetscInt_FMT ", stage %" PetscInt_FMT "%s) in %.3f s\n", cand[c],
                            ck->generation, run->stage_index, run->stage_resumed ? ", in progress" : "", t1 - t0));
      PetscCall(PetscTime(&ck->last_time));
      PetscCall(ScanGenerations(ck, &maxgen, NULL, NULL, 0));
      ck->generation = PetscMax(ck->generation, maxgen);
      PetscFunctionReturn(0);
    }
    PetscCheck(!strcmp(ck->restart, "auto"), run->comm, PETSC_ERR_FILE_UNEXPECTED, "-restart %s: the checkpoint %s", cand[c],
               ck->reason[0] ? ck->reason : "is damaged");
    PetscCall(PetscPrintf(run->comm, "landscape: warning: checkpoint %s %s; falling back to the previous one\n", cand[c],
                          ck->reason[0] ? ck->reason : "is damaged"));
  }
  SETERRQ(run->comm, PETSC_ERR_FILE_UNEXPECTED, "-restart auto: every checkpoint in %s is damaged; remove them to start afresh", ck->dir);
}

PetscErrorCode LandCheckpointView(LandCheckpoint ck, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  if (ck->nwritten)
    PetscCall(PetscViewerASCIIPrintf(viewer, "checkpoint: %" PetscInt_FMT " written in %.2f s to %s (latest generation %" PetscInt_FMT ")\n",
                                     ck->nwritten, ck->write_time, ck->dir, ck->generation));
  PetscFunctionReturn(0);
}

PetscErrorCode LandCheckpointDestroy(LandCheckpoint *ck)
{
  PetscFunctionBeginUser;
  if (!*ck) PetscFunctionReturn(0);
  CloseCandidate(*ck);
  PetscCall(PetscFree(*ck));
  PetscFunctionReturn(0);
}
