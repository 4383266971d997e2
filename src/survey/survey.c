/* LandSurvey: a product grid of option values; one array index picks one configuration.
   -survey_grid "net_hidden=8|16,16 net_activation=tanh|sigmoid seed=1|2|3" is 2 x 2 x 3 = 12
   configurations (factors separated by spaces, values by '|'; the last factor varies fastest).
   Task i sets its options before anything reads them and writes to <survey_dir>/task_<i>, so
   reruns skip finished tasks and scripts/survey_report.py gathers them. */
#include <landscape/impl.h>
#include <stdlib.h>
#include <string.h>

#define LAND_SURVEY_MAX_FACTORS 16

typedef struct {
  char    *name;
  char    *values[64];
  PetscInt n;
} Factor;

/* Split the grid into factors; errors name the option. Not collective (every rank parses the same string). */
static PetscErrorCode ParseGrid(MPI_Comm comm, char *grid, Factor f[], PetscInt *nf, PetscInt *size)
{
  char *save = NULL, *tok;

  PetscFunctionBeginUser;
  *nf   = 0;
  *size = 1;
  for (tok = strtok_r(grid, " \t\n/", &save); tok; tok = strtok_r(NULL, " \t\n/", &save)) {
    char *eq = strchr(tok, '='), *vs = NULL, *v;
    PetscCheck(eq && eq > tok, comm, PETSC_ERR_ARG_WRONG, "-survey_grid: factor '%s' is not option=value|value|...", tok);
    PetscCheck(*nf < LAND_SURVEY_MAX_FACTORS, comm, PETSC_ERR_ARG_OUTOFRANGE, "-survey_grid: at most %d factors", LAND_SURVEY_MAX_FACTORS);
    *eq         = 0;
    f[*nf].name = tok[0] == '-' ? tok + 1 : tok;
    f[*nf].n    = 0;
    for (v = strtok_r(eq + 1, "|", &vs); v; v = strtok_r(NULL, "|", &vs)) {
      PetscCheck(f[*nf].n < 64, comm, PETSC_ERR_ARG_OUTOFRANGE, "-survey_grid: at most 64 values per factor");
      f[*nf].values[f[*nf].n++] = v;
    }
    PetscCheck(f[*nf].n > 0, comm, PETSC_ERR_ARG_WRONG, "-survey_grid: factor %s has no values", f[*nf].name);
    PetscCheck(strcmp(f[*nf].name, "survey_index") && strcmp(f[*nf].name, "output_dir"), comm, PETSC_ERR_ARG_WRONG, "-survey_grid cannot vary -%s",
               f[*nf].name);
    *size *= f[*nf].n;
    (*nf)++;
  }
  PetscCheck(*nf > 0, comm, PETSC_ERR_ARG_WRONG, "-survey_grid is empty");
  PetscFunctionReturn(0);
}

/*@ LandSurveyApply - with -survey_grid, choose configuration -survey_index (default: the
  SLURM_ARRAY_TASK_ID of the environment), set its options, and point the run at its own directory
  <survey_dir>/task_<index>. *done says the task finished before (its results.h5 exists).
  Collective; call before any object reads its options. @*/
PetscErrorCode LandSurveyApply(LandRun run, PetscBool *active, PetscBool *done)
{
  char        grid[4096] = "", dir[PETSC_MAX_PATH_LEN], config[4096] = "", path[PETSC_MAX_PATH_LEN];
  PetscInt    index = -1, nf, size;
  PetscBool   set, exists;
  Factor      f[LAND_SURVEY_MAX_FACTORS];
  const char *env = getenv("SLURM_ARRAY_TASK_ID");

  PetscFunctionBeginUser;
  *active = *done = PETSC_FALSE;
  PetscCall(PetscStrncpy(dir, run->output_dir, sizeof(dir)));
  if (env && env[0]) index = atoi(env);
  PetscOptionsBegin(run->comm, NULL, "Survey (LandSurvey) options", NULL);
  PetscCall(PetscOptionsString("-survey_grid", "Product grid: 'opt=v1|v2 opt2=w1|w2' (spaces between factors, '|' between values)", "", grid, grid,
                               sizeof(grid), &set));
  PetscCall(PetscOptionsInt("-survey_index", "Configuration of the grid to run (default: $SLURM_ARRAY_TASK_ID)", "", index, &index, NULL));
  PetscCall(PetscOptionsString("-survey_dir", "Directory of the survey; task i writes <survey_dir>/task_<i>/results.h5 (default: -output_dir)", "",
                               dir, dir, sizeof(dir), NULL));
  PetscOptionsEnd();
  if (!set) PetscFunctionReturn(0);
  {
    char copy[4096];
    PetscCall(PetscStrncpy(copy, grid, sizeof(copy)));
    PetscCall(ParseGrid(run->comm, copy, f, &nf, &size));
    PetscCheck(index >= 0, run->comm, PETSC_ERR_ARG_WRONG, "-survey_grid needs -survey_index (or an array task: SLURM_ARRAY_TASK_ID)");
    PetscCheck(index < size, run->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-survey_index %" PetscInt_FMT " is outside the grid of %" PetscInt_FMT " configurations", index, size);
    /* mixed radix: the last factor varies fastest */
    for (PetscInt k = nf - 1, rest = index; k >= 0; k--) {
      const char *v = f[k].values[rest % f[k].n];
      char        opt[256];
      rest /= f[k].n;
      PetscCall(PetscSNPrintf(opt, sizeof(opt), "-%s", f[k].name));
      PetscCall(PetscOptionsSetValue(NULL, opt, v));
    }
    for (PetscInt k = 0, rest = index, div = size; k < nf; k++) {
      div /= f[k].n;
      PetscCall(PetscStrlcat(config, k ? " -" : "-", sizeof(config)));
      PetscCall(PetscStrlcat(config, f[k].name, sizeof(config)));
      PetscCall(PetscStrlcat(config, " ", sizeof(config)));
      PetscCall(PetscStrlcat(config, f[k].values[(rest / div) % f[k].n], sizeof(config)));
    }
  }
  PetscCall(PetscSNPrintf(run->output_dir, sizeof(run->output_dir), "%s/task_%05" PetscInt_FMT, dir, index));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/results.h5", run->output_dir));
  PetscCall(PetscTestFile(path, 'r', &exists));
  PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, run->comm));
  PetscCall(PetscStrncpy(run->survey_grid, grid, sizeof(run->survey_grid)));
  PetscCall(PetscStrncpy(run->survey_config, config, sizeof(run->survey_config)));
  run->survey_index = index;
  run->survey_size  = size;
  *active           = PETSC_TRUE;
  *done             = exists;
  PetscCall(PetscPrintf(run->comm, "survey: task %" PetscInt_FMT " of %" PetscInt_FMT ": %s -> %s%s\n", index, size, config, run->output_dir,
                        exists ? " (finished before: skipped)" : ""));
  PetscFunctionReturn(0);
}

/*@ LandSurveyWriteResults - record the task's place in the survey in /survey. Collective. @*/
PetscErrorCode LandSurveyWriteResults(LandRun run)
{
  PetscFunctionBeginUser;
  if (run->survey_size <= 0) PetscFunctionReturn(0);
  PetscCall(LandResultsWriteAttrInt(run->results, "/survey", "index", run->survey_index));
  PetscCall(LandResultsWriteAttrInt(run->results, "/survey", "size", run->survey_size));
  PetscCall(LandResultsWriteAttrString(run->results, "/survey", "grid", run->survey_grid));
  PetscCall(LandResultsWriteAttrString(run->results, "/survey", "config", run->survey_config));
  PetscFunctionReturn(0);
}
