/* Small collective HDF5 readers shared by parameter files, checkpoints and results. Errors name the
   file and the object. */
#include <landscape/impl.h>
#include <string.h>

/*@ LandHDF5ReadVec - read a 1-D float64 dataset into a distributed Vec, each rank its own slab with
  one collective read. The length must equal the Vec's. Collective. @*/
PetscErrorCode LandHDF5ReadVec(MPI_Comm comm, hid_t file, const char fname[], const char path[], Vec v)
{
  hid_t      dset, space, mspace, dxpl;
  hsize_t    dims[2], start, count;
  int        nd;
  PetscInt   lo, hi, N;
  PetscReal *a;
  PetscInt   bad = -1, badall;

  PetscFunctionBeginUser;
  PetscCheck(H5Lexists(file, path, H5P_DEFAULT) > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s has no dataset %s", fname, path);
  PetscCall(VecGetSize(v, &N));
  dset  = H5Dopen2(file, path, H5P_DEFAULT);
  space = H5Dget_space(dset);
  nd    = H5Sget_simple_extent_ndims(space);
  PetscCheck(nd == 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s:%s has %d dimensions; expected a vector of length %" PetscInt_FMT, fname, path, nd, N);
  H5Sget_simple_extent_dims(space, dims, NULL);
  PetscCheck((PetscInt)dims[0] == N, comm, PETSC_ERR_FILE_UNEXPECTED, "%s:%s has length %llu; this network expects %" PetscInt_FMT " parameters",
             fname, path, (unsigned long long)dims[0], N);
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  start = lo;
  count = hi - lo;
  LandCallHDF5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL));
  mspace = H5Screate_simple(1, &count, NULL);
  dxpl   = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  PetscCall(VecGetArray(v, &a));
  LandCallHDF5(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, space, dxpl, a));
  for (PetscInt i = 0; i < hi - lo && bad < 0; i++)
    if (!PetscIsNormalReal(a[i]) && a[i] != 0) bad = lo + i;
  PetscCall(VecRestoreArray(v, &a));
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(space);
  H5Dclose(dset);
  {
    PetscInt b = bad < 0 ? PETSC_MAX_INT : bad;
    PetscCallMPI(MPI_Allreduce(&b, &badall, 1, MPIU_INT, MPI_MIN, comm));
  }
  PetscCheck(badall == PETSC_MAX_INT, comm, PETSC_ERR_FP, "%s:%s entry %" PetscInt_FMT " is not finite", fname, path, badall);
  PetscFunctionReturn(0);
}

/*@ LandHDF5ReadArray - read a whole 1-D or 2-D float64 dataset on every rank (small arrays:
  histories, counters). *a is allocated with PetscMalloc1. Collective. @*/
PetscErrorCode LandHDF5ReadArray(MPI_Comm comm, hid_t file, const char fname[], const char path[], PetscInt *m, PetscInt *n, PetscReal **a)
{
  hid_t   dset, space, dxpl;
  hsize_t dims[2] = {1, 1};
  int     nd;

  PetscFunctionBeginUser;
  PetscCheck(H5Lexists(file, path, H5P_DEFAULT) > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s has no dataset %s", fname, path);
  dset  = H5Dopen2(file, path, H5P_DEFAULT);
  space = H5Dget_space(dset);
  nd    = H5Sget_simple_extent_ndims(space);
  PetscCheck(nd == 1 || nd == 2, comm, PETSC_ERR_FILE_UNEXPECTED, "%s:%s has %d dimensions", fname, path, nd);
  H5Sget_simple_extent_dims(space, dims, NULL);
  if (nd == 1) {
    *m = 1;
    *n = (PetscInt)dims[0];
  } else {
    *m = (PetscInt)dims[0];
    *n = (PetscInt)dims[1];
  }
  PetscCall(PetscMalloc1((*m) * (*n) + 1, a));
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  if ((*m) * (*n) > 0) LandCallHDF5(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, dxpl, *a));
  H5Pclose(dxpl);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(0);
}

/*@ LandHDF5ReadRows - read an [m, N] float64 dataset distributed like a parameter Vec: each rank reads
  its columns [lo, lo + nlocal) of every row into *a (allocated, leading dimension nlocal). N must match.
  Collective. @*/
PetscErrorCode LandHDF5ReadRows(MPI_Comm comm, hid_t file, const char fname[], const char path[], PetscInt N, PetscInt lo, PetscInt nlocal,
                                PetscInt *m, PetscReal **a)
{
  hid_t   dset, space, mspace, dxpl;
  hsize_t dims[2], start[2], count[2];

  PetscFunctionBeginUser;
  PetscCheck(H5Lexists(file, path, H5P_DEFAULT) > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s has no dataset %s", fname, path);
  dset  = H5Dopen2(file, path, H5P_DEFAULT);
  space = H5Dget_space(dset);
  PetscCheck(H5Sget_simple_extent_ndims(space) == 2, comm, PETSC_ERR_FILE_UNEXPECTED, "%s:%s is not a 2-D dataset", fname, path);
  H5Sget_simple_extent_dims(space, dims, NULL);
  PetscCheck((PetscInt)dims[1] == N, comm, PETSC_ERR_FILE_UNEXPECTED, "%s:%s has rows of length %llu; this network has %" PetscInt_FMT " parameters",
             fname, path, (unsigned long long)dims[1], N);
  *m       = (PetscInt)dims[0];
  start[0] = 0;
  start[1] = (hsize_t)lo;
  count[0] = dims[0];
  count[1] = (hsize_t)nlocal;
  PetscCall(PetscMalloc1((*m) * nlocal + 1, a));
  mspace = H5Screate_simple(2, count, NULL);
  if (*m > 0 && nlocal > 0) {
    LandCallHDF5(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL));
  } else {
    LandCallHDF5(H5Sselect_none(space));
    LandCallHDF5(H5Sselect_none(mspace));
  }
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  LandCallHDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  LandCallHDF5(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, space, dxpl, *a));
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadAttr(hid_t file, const char obj[], const char name[], hid_t type, void *value, PetscBool *found)
{
  hid_t a;

  PetscFunctionBeginUser;
  *found = PETSC_FALSE;
  if (strcmp(obj, "/") && H5Lexists(file, obj, H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  if (H5Aexists_by_name(file, obj, name, H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  LandCallHDF5(a);
  LandCallHDF5(H5Aread(a, type, value));
  H5Aclose(a);
  *found = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode LandHDF5ReadAttrInt(hid_t file, const char obj[], const char name[], PetscInt *v, PetscBool *found)
{
  long long x = 0;

  PetscFunctionBeginUser;
  PetscCall(ReadAttr(file, obj, name, H5T_NATIVE_LLONG, &x, found));
  if (*found) *v = (PetscInt)x;
  PetscFunctionReturn(0);
}

PetscErrorCode LandHDF5ReadAttrReal(hid_t file, const char obj[], const char name[], PetscReal *v, PetscBool *found)
{
  PetscFunctionBeginUser;
  PetscCall(ReadAttr(file, obj, name, H5T_NATIVE_DOUBLE, v, found));
  PetscFunctionReturn(0);
}

/*@ LandHDF5ReadAttrString - a fixed-length string attribute, truncated to len-1 characters. @*/
PetscErrorCode LandHDF5ReadAttrString(hid_t file, const char obj[], const char name[], char *v, size_t len, PetscBool *found)
{
  hid_t  a, type, mtype;
  size_t size;

  PetscFunctionBeginUser;
  *found = PETSC_FALSE;
  v[0]   = 0;
  if (strcmp(obj, "/") && H5Lexists(file, obj, H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  if (H5Aexists_by_name(file, obj, name, H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  a    = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  type = H5Aget_type(a);
  size = H5Tget_size(type);
  {
    char *buf;
    PetscCall(PetscCalloc1(size + 1, &buf));
    mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, size);
    LandCallHDF5(H5Aread(a, mtype, buf));
    PetscCall(PetscStrncpy(v, buf, len));
    PetscCall(PetscFree(buf));
    H5Tclose(mtype);
  }
  H5Tclose(type);
  H5Aclose(a);
  *found = PETSC_TRUE;
  PetscFunctionReturn(0);
}
