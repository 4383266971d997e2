/* Graceful stop: SIGUSR1 (sent by SLURM with --signal=B:USR1@margin and forwarded by the job
   script) and SIGTERM set a flag in the handler and nothing more; the ranks agree on it at the
   next iteration boundary (LandCheckpointPoll), checkpoint, and exit with 75. */
#include <landscape/impl.h>
#include <signal.h>

static volatile sig_atomic_t land_signal = 0;

static void LandSignalHandler(int sig)
{
  land_signal = sig; /* async-signal-safe: nothing else */
}

/*@ LandSignalsInstall - take SIGUSR1 and SIGTERM (after PetscInitialize, replacing PETSc's handler
  for them). Not collective. @*/
PetscErrorCode LandSignalsInstall(void)
{
  struct sigaction sa;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&sa, sizeof(sa)));
  sa.sa_handler = LandSignalHandler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  PetscCheck(!sigaction(SIGUSR1, &sa, NULL) && !sigaction(SIGTERM, &sa, NULL), PETSC_COMM_SELF, PETSC_ERR_SYS, "Cannot install the signal handlers");
  PetscFunctionReturn(0);
}

/* The signal received since start, or 0. Not collective. */
int LandSignalsPending(void)
{
  return (int)land_signal;
}
