/* Reproducible sums. Every chunk's contribution is added into a double-double (hi, lo) accumulator,
   locally and across ranks with a user-defined MPI reduction. The double-double sum carries about
   106 bits, so the order in which chunks are combined (which depends on the rank count) changes
   the rounded double result only when the exact sum lies within ~n 2^-106 |sum| of a rounding
   boundary: in practice never, and the tests check it bitwise at 1, 2 and 3 ranks.
   Written by hand because neither PETSc nor MPI offers a compensated reduction. */
#include <landscape/impl.h>

static MPI_Datatype LAND_MPI_DD    = MPI_DATATYPE_NULL;
static MPI_Op       LAND_MPI_DDSUM = MPI_OP_NULL;

static inline void TwoSum(PetscReal a, PetscReal b, PetscReal *s, PetscReal *e)
{
  volatile PetscReal t  = a + b; /* volatile: keep the compiler from reassociating */
  PetscReal          bb = t - a;
  *s                    = t;
  *e                    = (a - (t - bb)) + (b - bb);
}

static inline void FastTwoSum(PetscReal a, PetscReal b, PetscReal *s, PetscReal *e)
{
  volatile PetscReal t = a + b;
  *s                   = t;
  *e                   = b - (t - a);
}

/* (hi, lo) += x for n entries. Not collective. */
void LandDDAccumulate(PetscInt n, const PetscReal *x, PetscReal *hl)
{
  for (PetscInt i = 0; i < n; i++) {
    PetscReal s, e, hi = hl[2 * i];
    /* inline TwoSum without volatile in the hot loop: gcc does not reassociate without -ffast-math */
    s            = hi + x[i];
    PetscReal bb = s - hi;
    e            = (hi - (s - bb)) + (x[i] - bb);
    e += hl[2 * i + 1];
    hl[2 * i]     = s + e;
    hl[2 * i + 1] = e - (hl[2 * i] - s);
  }
}

/* inout = in + inout, double-double, accurate addition (Bailey's ieee_add). */
static void DDSumOp(void *in, void *inout, int *len, MPI_Datatype *dt)
{
  const PetscReal *a = (const PetscReal *)in;
  PetscReal       *b = (PetscReal *)inout;
  for (int i = 0; i < *len; i++) {
    PetscReal s, e, t, f;
    TwoSum(a[2 * i], b[2 * i], &s, &e);
    TwoSum(a[2 * i + 1], b[2 * i + 1], &t, &f);
    e += t;
    FastTwoSum(s, e, &s, &e);
    e += f;
    FastTwoSum(s, e, &b[2 * i], &b[2 * i + 1]);
  }
}

PetscErrorCode LandDDInitialize(void)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Type_contiguous(2, MPIU_REAL, &LAND_MPI_DD));
  PetscCallMPI(MPI_Type_commit(&LAND_MPI_DD));
  PetscCallMPI(MPI_Op_create(DDSumOp, 1, &LAND_MPI_DDSUM));
  PetscFunctionReturn(0);
}

PetscErrorCode LandDDFinalize(void)
{
  PetscFunctionBeginUser;
  if (LAND_MPI_DDSUM != MPI_OP_NULL) PetscCallMPI(MPI_Op_free(&LAND_MPI_DDSUM));
  if (LAND_MPI_DD != MPI_DATATYPE_NULL) PetscCallMPI(MPI_Type_free(&LAND_MPI_DD));
  PetscFunctionReturn(0);
}

/*@ LandDDAllreduce - sum n double-doubles over the communicator, in place. Collective. @*/
PetscErrorCode LandDDAllreduce(MPI_Comm comm, PetscInt n, PetscReal *hl)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size == 1) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(LAND_Reduce, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hl, (PetscMPIInt)n, LAND_MPI_DD, LAND_MPI_DDSUM, comm));
  PetscCall(PetscLogEventEnd(LAND_Reduce, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandDDReduceScatter - sum the N double-doubles of every rank and store the rounded result of
  the entries each rank owns in 'out' (its layout decides ownership). Collective. @*/
PetscErrorCode LandDDReduceScatter(MPI_Comm comm, PetscInt N, PetscReal *hl, Vec out)
{
  PetscMPIInt     size, rank;
  const PetscInt *ranges;
  PetscReal      *o, *recv;
  PetscInt        lo, n;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(VecGetOwnershipRanges(out, &ranges));
  lo = ranges[rank];
  n  = ranges[rank + 1] - lo;
  PetscCall(VecGetArray(out, &o));
  if (size == 1) {
    for (PetscInt i = 0; i < n; i++) o[i] = hl[2 * i];
  } else {
    PetscMPIInt *counts;
    PetscCall(PetscLogEventBegin(LAND_Reduce, 0, 0, 0, 0));
    PetscCall(PetscMalloc2(size, &counts, 2 * n, &recv));
    for (PetscMPIInt r = 0; r < size; r++) counts[r] = (PetscMPIInt)(ranges[r + 1] - ranges[r]);
    PetscCallMPI(MPI_Reduce_scatter(hl, recv, counts, LAND_MPI_DD, LAND_MPI_DDSUM, comm));
    for (PetscInt i = 0; i < n; i++) o[i] = recv[2 * i];
    PetscCall(PetscFree2(counts, recv));
    PetscCall(PetscLogEventEnd(LAND_Reduce, 0, 0, 0, 0));
  }
  PetscCall(VecRestoreArray(out, &o));
  PetscFunctionReturn(0);
}

/*@ LandVecNorm2 - 2-norm of a distributed Vec, the same at any rank count (double-double sum of the
  squares). Collective. @*/
PetscErrorCode LandVecNorm2(Vec x, PetscReal *nrm)
{
  const PetscReal *a;
  PetscReal        dd[2] = {0, 0};
  PetscInt         n;
  MPI_Comm         comm;

  PetscFunctionBeginUser;
  PetscCall(PetscObjectGetComm((PetscObject)x, &comm));
  PetscCall(VecGetLocalSize(x, &n));
  PetscCall(VecGetArrayRead(x, &a));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal s = a[i] * a[i];
    LandDDAccumulate(1, &s, dd);
  }
  PetscCall(VecRestoreArrayRead(x, &a));
  PetscCall(LandDDAllreduce(comm, 1, dd));
  *nrm = PetscSqrtReal(dd[0]);
  PetscFunctionReturn(0);
}
