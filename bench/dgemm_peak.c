/* dgemm_peak: the double-precision GEMM rate of the system BLAS, one thread per process.
 *
 * Calls dgemm_ (C = A*B, column-major, no transpose) on square matrices of the sizes
 * given (default 2000 2500 3000): per size one warm-up call, then -calls timed calls
 * (default 4).  With -procs P (default 1) it forks P single-threaded processes that
 * run every call in lockstep (a process-shared barrier before each call), so each
 * timed call of each process overlaps with the same call of all the others for its
 * whole duration, and the P-core rate is the sum of the per-process rates.
 *
 * Output: one line per size and process, then "peak: X GFLOP/s", the best over the
 * sizes of the sum over processes of each process's best call.
 *
 * Run it with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1; when the library is OpenBLAS it is
 * also told so through openblas_set_num_threads(1), looked up at run time.
 *
 *   cc -O2 -o dgemm_peak bench/dgemm_peak.c -lblas -lpthread
 *   OPENBLAS_NUM_THREADS=1 ./dgemm_peak [-procs P] [-calls K] [n1 n2 ...]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXSIZES 16
#define MAXPROCS 64

void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha, const double *a, const int *lda,
            const double *b, const int *ldb, const double *beta, double *c, const int *ldc);

typedef struct {
  pthread_barrier_t barrier;
  double            best[MAXSIZES][MAXPROCS]; /* best call, flop/s */
  double            mean[MAXSIZES][MAXPROCS]; /* all timed calls, flop/s */
  int               failed;
} Shared;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int worker(Shared *sh, int p, const int *sizes, int nsizes, int calls)
{
  void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (set_threads) set_threads(1);

  int nmax = 0;
  for (int s = 0; s < nsizes; s++)
    if (sizes[s] > nmax) nmax = sizes[s];
  size_t  nn = (size_t)nmax * nmax;
  double *A = malloc(nn * sizeof *A), *B = malloc(nn * sizeof *B), *C = malloc(nn * sizeof *C);
  if (!A || !B || !C) {
    fprintf(stderr, "dgemm_peak: out of memory for n = %d\n", nmax);
    sh->failed = 1;
  } else {
    unsigned seed = 1u + (unsigned)p;
    for (size_t i = 0; i < nn; i++) {
      A[i] = (double)rand_r(&seed) / RAND_MAX - 0.5;
      B[i] = (double)rand_r(&seed) / RAND_MAX - 0.5;
      C[i] = 0;
    }
  }
  for (int s = 0; s < nsizes; s++) {
    const int    n   = sizes[s];
    const double one = 1.0, zero = 0.0, flop = 2.0 * n * (double)n * n;
    double       best = 0, total = 0;
    for (int c = -1; c < calls; c++) { /* c = -1: warm-up */
      pthread_barrier_wait(&sh->barrier);
      if (sh->failed) continue;
      double t0 = now();
      dgemm_("N", "N", &n, &n, &n, &one, A, &n, B, &n, &zero, C, &n);
      double t = now() - t0;
      if (c < 0) continue;
      total += t;
      if (flop / t > best) best = flop / t;
    }
    sh->best[s][p] = best;
    sh->mean[s][p] = calls * flop / total;
  }
  free(A);
  free(B);
  free(C);
  return sh->failed;
}

int main(int argc, char **argv)
{
  int procs = 1, calls = 4, sizes[MAXSIZES], nsizes = 0;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-procs") && i + 1 < argc)
      procs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-calls") && i + 1 < argc)
      calls = atoi(argv[++i]);
    else if (nsizes < MAXSIZES && atoi(argv[i]) > 0)
      sizes[nsizes++] = atoi(argv[i]);
    else {
      fprintf(stderr, "usage: %s [-procs P] [-calls K] [n ...]\n", argv[0]);
      return 2;
    }
  }
  if (procs < 1 || procs > MAXPROCS || calls < 1) {
    fprintf(stderr, "dgemm_peak: need 1 <= -procs <= %d and -calls >= 1\n", MAXPROCS);
    return 2;
  }
  if (!nsizes) {
    sizes[0] = 2000;
    sizes[1] = 2500;
    sizes[2] = 3000;
    nsizes   = 3;
  }

  char *(*get_config)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
  printf("blas: %s\n", get_config ? get_config() : "(not OpenBLAS)");
  printf("processes: %d, one BLAS thread each; %d timed calls per size after one warm-up\n", procs, calls);
  fflush(stdout);

  Shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) {
    perror("dgemm_peak: mmap");
    return 1;
  }
  memset(sh, 0, sizeof *sh);
  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&sh->barrier, &attr, (unsigned)procs);

  /* Fork before any BLAS call, so each process starts its own BLAS from scratch. */
  for (int p = 0; p < procs; p++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("dgemm_peak: fork");
      return 1;
    }
    if (pid == 0) _exit(worker(sh, p, sizes, nsizes, calls));
  }
  int bad = 0, status;
  for (int p = 0; p < procs; p++)
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) bad = 1;
  if (bad || sh->failed) {
    fprintf(stderr, "dgemm_peak: a worker process failed\n");
    return 1;
  }

  double peak = 0;
  for (int s = 0; s < nsizes; s++) {
    double sum = 0, summean = 0;
    for (int p = 0; p < procs; p++) {
      printf("n %5d  process %d  best call %7.2f GFLOP/s  mean %7.2f GFLOP/s\n", sizes[s], p, 1e-9 * sh->best[s][p], 1e-9 * sh->mean[s][p]);
      sum += sh->best[s][p];
      summean += sh->mean[s][p];
    }
    if (procs > 1) printf("n %5d  sum       best call %7.2f GFLOP/s  mean %7.2f GFLOP/s\n", sizes[s], 1e-9 * sum, 1e-9 * summean);
    if (sum > peak) peak = sum;
  }
  printf("peak: %.2f GFLOP/s\n", 1e-9 * peak);
  return 0;
}
