/* LandResults: one results.h5 per run, written with parallel HDF5. The file is built under a
   temporary name and renamed by rank 0 only when the run succeeds (LandResultsPublish), so a
   failed run never leaves a half-written results file and never clobbers an earlier one. */
#include <landscape/impl.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*@ LandHDF5EnsureGroups - create every missing group on the path to an object. Collective. @*/
PetscErrorCode LandHDF5EnsureGroups(hid_t file, const char path[])
{
  char buf[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(buf, path, sizeof(buf)));
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) {
      hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      LandCallHDF5(g);
      H5Gclose(g);
    }
    *p = '/';
  }
  PetscFunctionReturn(0);
}

/* mkdir -p on rank 0; every rank gets the verdict. Collective. */
PetscErrorCode LandMakeDirs(MPI_Comm comm, const char dir[])
{
  char        buf[PETSC_MAX_PATH_LEN];
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(PetscStrncpy(buf, dir, sizeof(buf)));
    for (char *p = buf + 1; *p && !err; p++)
      if (*p == '/') {
        *p = 0;
        if (mkdir(buf, 0775) && errno != EEXIST) err = errno;
        *p = '/';
      }
    if (!err && mkdir(buf, 0775) && errno != EEXIST) err = errno;
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_OPEN, "%s: cannot create directory (%s)", dir, strerror(err));
  PetscFunctionReturn(0);
}

/*@ LandResultsCreateFile - start an HDF5 file written collectively under path.tmp; LandResultsPublish
  renames it to path. With 'resume', an existing path.tmp (kept by an earlier, interrupted run) is
  reopened and extended instead of truncated. Collective. @*/
PetscErrorCode LandResultsCreateFile(MPI_Comm comm, const char path[], PetscBool resume, LandResults *res)
{
  LandResults r;
  hid_t       fapl;
  PetscBool   exists = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&r));
  r->comm = comm;
  PetscCall(PetscStrncpy(r->path, path, sizeof(r->path)));
  PetscCall(PetscSNPrintf(r->tmppath, sizeof(r->tmppath), "%s.tmp", path));
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  LandCallHDF5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  if (resume) PetscCall(PetscTestFile(r->tmppath, 'r', &exists));
  PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, comm)); /* one verdict for the collective open */
  if (exists)
    r->file = H5Fopen(r->tmppath, H5F_ACC_RDWR, fapl);
  else
    r->file = H5Fcreate(r->tmppath, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  PetscCheck(r->file >= 0, comm, PETSC_ERR_FILE_OPEN, "Cannot %s %s", exists ? "reopen" : "create", r->tmppath);
  *res = r;
  PetscFunctionReturn(0);
}

/*@ LandResultsCreate - start dir/results.h5 (written as dir/results.h5.tmp until published). With
  'resume', the results of an interrupted run (dir/results.partial.h5) are taken over, so the
  stages it completed keep their output. Collective. @*/
PetscErrorCode LandResultsCreate(MPI_Comm comm, const char dir[], PetscBool resume, LandResults *res)
{
  char        path[PETSC_MAX_PATH_LEN], partial[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN];
  PetscMPIInt rank;
  PetscBool   has_partial = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(LandMakeDirs(comm, dir));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/results.h5", dir));
  PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s/results.partial.h5", dir));
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s/results.h5.tmp", dir));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* rank 0 decides and renames; the others learn the verdict (a test of their own could race the rename) */
  if (rank == 0 && resume) {
    PetscCall(PetscTestFile(partial, 'r', &has_partial));
    if (has_partial && rename(partial, tmp)) has_partial = PETSC_FALSE;
  }
  PetscCallMPI(MPI_Bcast(&has_partial, 1, MPIU_BOOL, 0, comm));
  PetscCall(LandResultsCreateFile(comm, path, has_partial, res));
  PetscCall(PetscStrncpy((*res)->partial, partial, sizeof((*res)->partial)));
  (*res)->resumed = has_partial;
  PetscFunctionReturn(0);
}

/*@ LandResultsSuspend - close an unfinished results file and keep it as results.partial.h5 for the
  run that continues (exit code 75). Collective. @*/
PetscErrorCode LandResultsSuspend(LandResults res)
{
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  LandCallHDF5(H5Fclose(res->file));
  res->file = -1;
  PetscCallMPI(MPI_Comm_rank(res->comm, &rank));
  if (rank == 0 && rename(res->tmppath, res->partial)) err = errno;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, res->comm));
  PetscCheck(!err, res->comm, PETSC_ERR_FILE_WRITE, "Cannot rename %s to %s (%s)", res->tmppath, res->partial, strerror(err));
  res->published = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@ LandResultsHas - whether an object exists in the file. Collective. @*/
PetscErrorCode LandResultsHas(LandResults res, const char path[], PetscBool *has)
{
  PetscFunctionBeginUser;
  *has = (PetscBool)(H5Lexists(res->file, path, H5P_DEFAULT) > 0);
  PetscFunctionReturn(0);
}

/* A copy of a with every -0.0 replaced by +0.0, or a itself when it holds none (*copy is then NULL).
   Results are claimed bitwise equal at any rank count, and a sum of zeros has the sign of its first
   term (a rank-count-dependent order of reductions flips it): results files hold no negative zeros. */
static PetscErrorCode PositiveZeros(size_t n, const PetscReal *a, const PetscReal **out, PetscReal **copy)
{
  size_t first = 0;

  PetscFunctionBeginUser;
  *out  = a;
  *copy = NULL;
  while (first < n && !(a[first] == 0 && signbit(a[first]))) first++;
  if (first == n) PetscFunctionReturn(0);
  PetscCall(PetscMalloc1(n, copy));
  for (size_t i = 0; i < n; i++) (*copy)[i] = a[i] == 0 ? 0.0 : a[i];
  *out = *copy;
  PetscFunctionReturn(0);
}

/* One collective write of a dataset distributed over the ranks by columns: [N] (nd = 1, m = 1) or
   [m, N] (nd = 2); this rank writes columns [lo, lo + nlocal) of every row from a (leading dimension
   nlocal). */
static PetscErrorCode WriteSlab(LandResults res, const char path[], int nd, PetscInt m, PetscInt N, PetscInt lo, PetscInt nlocal, const PetscReal *a)
{
  hid_t   space, mspace, dset, dxpl;
  hsize_t dims[2] = {(hsize_t)m, (hsize_t)N}, start[2] = {0, (hsize_t)lo}, count[2] = {(hsize_t)m, (hsize_t)nlocal};
  int     o = nd == 1 ? 1 : 0; /* 1-D: the column part only */

  const PetscReal *w;
  PetscReal       *copy;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_IO, 0, 0, 0, 0));
  PetscCall(LandHDF5EnsureGroups(res->file, path));
  PetscCheck(H5Lexists(res->file, path, H5P_DEFAULT) <= 0, res->comm, PETSC_ERR_ARG_WRONGSTATE, "results: %s written twice", path);
  PetscCall(PositiveZeros((size_t)m * (size_t)nlocal, a, &w, &copy));
  space = H5Screate_simple(nd, dims + o, NULL);
  dset  = H5Dcreate2(res->file, path, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  LandCallHDF5(dset);
  if (m > 0 && nlocal > 0)
    LandCallHDF5(H5Sselect_hyperslab(space, H5S_SELECT_SET, start + o, NULL, count + o, NULL));
  else
    LandCallHDF5(H5Sselect_none(space));
  mspace = H5Screate_simple(nd, count + o, NULL);
  if (!(m > 0 && nlocal > 0)) LandCallHDF5(H5Sselect_none(mspace));
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  LandCallHDF5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, space, dxpl, w));
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(space);
  H5Dclose(dset);
  PetscCall(PetscFree(copy));
  PetscCall(PetscLogEventEnd(LAND_IO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandResultsWriteVec - write a distributed Vec as a 1-D dataset, each rank its own slab. Collective. @*/
PetscErrorCode LandResultsWriteVec(LandResults res, const char path[], Vec v)
{
  PetscInt           lo, hi, n;
  const PetscScalar *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetSize(v, &n));
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayRead(v, &a));
  PetscCall(WriteSlab(res, path, 1, 1, n, lo, hi - lo, a));
  PetscCall(VecRestoreArrayRead(v, &a));
  PetscFunctionReturn(0);
}

/*@ LandResultsWriteRows - an [m, N] dataset of m vectors of length N distributed over the ranks like a
  parameter Vec: each rank writes its columns [lo, lo + nlocal) of every row from a, stored with
  leading dimension nlocal (row r of the dataset is a + r nlocal). One collective write. Collective. @*/
PetscErrorCode LandResultsWriteRows(LandResults res, const char path[], PetscInt m, PetscInt N, PetscInt lo, PetscInt nlocal, const PetscReal *a)
{
  PetscFunctionBeginUser;
  PetscCall(WriteSlab(res, path, 2, m, N, lo, nlocal, a));
  PetscFunctionReturn(0);
}

/* Write an array that every rank holds identically (rank 0 writes, the others select nothing). */
static PetscErrorCode WriteReplicated(LandResults res, const char path[], int rank2, hsize_t *dims, hid_t type, const void *buf)
{
  hid_t       space, dset, dxpl;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_IO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(res->comm, &rank));
  PetscCall(LandHDF5EnsureGroups(res->file, path));
  PetscCheck(H5Lexists(res->file, path, H5P_DEFAULT) <= 0, res->comm, PETSC_ERR_ARG_WRONGSTATE, "results: %s written twice", path);
  space = H5Screate_simple(rank2, dims, NULL);
  dset  = H5Dcreate2(res->file, path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  LandCallHDF5(dset);
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  if (rank != 0) { LandCallHDF5(H5Sselect_none(space)); }
  if (H5Sget_simple_extent_npoints(space) > 0)
    LandCallHDF5(H5Dwrite(dset, type, space, space, dxpl, buf)); /* an empty dataset has nothing to write */
  H5Pclose(dxpl);
  H5Sclose(space);
  H5Dclose(dset);
  PetscCall(PetscLogEventEnd(LAND_IO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandResultsWriteArray - an m x n array (1-D when m == 1) that every rank holds. Collective. @*/
PetscErrorCode LandResultsWriteArray(LandResults res, const char path[], PetscInt m, PetscInt n, const PetscReal *a)
{
  hsize_t dims[2] = {(hsize_t)m, (hsize_t)n};

  const PetscReal *w;
  PetscReal       *copy;

  PetscFunctionBeginUser;
  PetscCall(PositiveZeros((size_t)m * (size_t)n, a, &w, &copy));
  if (m == 1)
    PetscCall(WriteReplicated(res, path, 1, dims + 1, H5T_NATIVE_DOUBLE, w));
  else
    PetscCall(WriteReplicated(res, path, 2, dims, H5T_NATIVE_DOUBLE, w));
  PetscCall(PetscFree(copy));
  PetscFunctionReturn(0);
}

/*@ LandResultsWriteMatrix - an m x n array that every rank holds, 2-D even when m is 0 or 1. Collective. @*/
PetscErrorCode LandResultsWriteMatrix(LandResults res, const char path[], PetscInt m, PetscInt n, const PetscReal *a)
{
  hsize_t          dims[2] = {(hsize_t)m, (hsize_t)n};
  const PetscReal *w;
  PetscReal       *copy;

  PetscFunctionBeginUser;
  PetscCall(PositiveZeros((size_t)m * (size_t)n, a, &w, &copy));
  PetscCall(WriteReplicated(res, path, 2, dims, H5T_NATIVE_DOUBLE, w));
  PetscCall(PetscFree(copy));
  PetscFunctionReturn(0);
}

PetscErrorCode LandResultsWriteIntArray(LandResults res, const char path[], PetscInt n, const PetscInt *a)
{
  hsize_t dims[1] = {(hsize_t)n};

  PetscFunctionBeginUser;
  PetscCall(WriteReplicated(res, path, 1, dims, sizeof(PetscInt) == 8 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, a));
  PetscFunctionReturn(0);
}

static PetscErrorCode OpenObject(LandResults res, const char obj[], hid_t *id)
{
  char path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/", obj));
  if (strcmp(obj, "/")) PetscCall(LandHDF5EnsureGroups(res->file, path));
  *id = H5Oopen(res->file, obj, H5P_DEFAULT);
  LandCallHDF5(*id);
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteAttr(LandResults res, const char obj[], const char name[], hid_t type, const void *value)
{
  hid_t o, space, a;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(res, obj, &o));
  if (H5Aexists(o, name) > 0) LandCallHDF5(H5Adelete(o, name));
  space = H5Screate(H5S_SCALAR);
  a     = H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  LandCallHDF5(a);
  LandCallHDF5(H5Awrite(a, type, value));
  H5Aclose(a);
  H5Sclose(space);
  H5Oclose(o);
  PetscFunctionReturn(0);
}

/*@ LandResultsWriteAttrString - a string attribute of a group or dataset (created if missing). Collective, same value on all ranks. @*/
PetscErrorCode LandResultsWriteAttrString(LandResults res, const char obj[], const char name[], const char value[])
{
  hid_t  type;
  size_t len;

  PetscFunctionBeginUser;
  len  = strlen(value);
  type = H5Tcopy(H5T_C_S1);
  LandCallHDF5(H5Tset_size(type, len > 0 ? len : 1));
  PetscCall(WriteAttr(res, obj, name, type, len > 0 ? value : " "));
  H5Tclose(type);
  PetscFunctionReturn(0);
}

PetscErrorCode LandResultsWriteAttrReal(LandResults res, const char obj[], const char name[], PetscReal value)
{
  PetscFunctionBeginUser;
  if (value == 0) value = 0.0; /* no negative zero (PositiveZeros) */
  PetscCall(WriteAttr(res, obj, name, H5T_NATIVE_DOUBLE, &value));
  PetscFunctionReturn(0);
}

PetscErrorCode LandResultsWriteAttrInt(LandResults res, const char obj[], const char name[], PetscInt value)
{
  long long v = value;

  PetscFunctionBeginUser;
  PetscCall(WriteAttr(res, obj, name, H5T_NATIVE_LLONG, &v));
  PetscFunctionReturn(0);
}

/*@ LandResultsPublish - close the file and atomically rename it to results.h5. Collective. @*/
PetscErrorCode LandResultsPublish(LandResults res)
{
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(LAND_IO, 0, 0, 0, 0));
  LandCallHDF5(H5Fclose(res->file));
  res->file = -1;
  PetscCallMPI(MPI_Comm_rank(res->comm, &rank));
  if (rank == 0 && rename(res->tmppath, res->path)) err = errno;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, res->comm));
  PetscCheck(!err, res->comm, PETSC_ERR_FILE_WRITE, "Cannot rename %s to %s (%s)", res->tmppath, res->path, strerror(err));
  if (rank == 0 && res->partial[0]) unlink(res->partial); /* an older interrupted run's results are superseded */
  res->published = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(LAND_IO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@ LandResultsDestroy - an unpublished file is closed and removed. Collective. @*/
PetscErrorCode LandResultsDestroy(LandResults *res)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  if (!*res) PetscFunctionReturn(0);
  if (!(*res)->published) {
    if ((*res)->file >= 0) H5Fclose((*res)->file);
    PetscCallMPI(MPI_Comm_rank((*res)->comm, &rank));
    if (rank == 0) unlink((*res)->tmppath);
  }
  PetscCall(PetscFree(*res));
  PetscFunctionReturn(0);
}
