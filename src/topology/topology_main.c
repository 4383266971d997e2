/* 'landscape topology': the persistent homology of any 2-D (or 1-D) grid stored in an HDF5 file,
   with the slice stage's algorithm and output layout. For grids made by other tools, and for the
   tests' synthetic grids with known topology.
     landscape topology -topology_input F.h5:/dataset [-topology_levels K] -output_dir D
   writes D/results.h5 with the group /topology (docs/formats.md). */
#include <landscape/impl.h>
#include <string.h>

PetscErrorCode LandTopologyMain(int argc, char **argv)
{
  char            input[PETSC_MAX_PATH_LEN] = "", dir[PETSC_MAX_PATH_LEN] = ".", *colon, *dset;
  PetscInt        levels = 101, m, n;
  PetscReal      *a;
  hid_t           fapl, fid;
  PetscBool       exists;
  LandResults     res = NULL;
  LandPersistence p;
  MPI_Comm        comm = PETSC_COMM_WORLD;

  PetscFunctionBeginUser;
  (void)argc;
  (void)argv;
  PetscOptionsBegin(comm, NULL, "landscape topology: persistent homology of the sublevel sets of a stored grid", NULL);
  PetscCall(PetscOptionsString("-topology_input", "FILE.h5:/dataset, a 2-D array of values (rows along y) or a 1-D one", "", input, input,
                               sizeof(input), NULL));
  PetscCall(PetscOptionsInt("-topology_levels", "Levels of the Betti curves, evenly spaced from the lowest to the highest value", "", levels, &levels,
                            NULL));
  PetscCall(PetscOptionsString("-output_dir", "Directory of results.h5", "", dir, dir, sizeof(dir), NULL));
  PetscOptionsEnd();
  PetscCheck(input[0], comm, PETSC_ERR_ARG_WRONG, "landscape topology: give -topology_input FILE.h5:/dataset");
  PetscCheck(levels >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-topology_levels %" PetscInt_FMT ": need at least 2", levels);
  colon = strrchr(input, ':');
  PetscCheck(colon && colon[1] == '/', comm, PETSC_ERR_ARG_WRONG, "-topology_input %s: expected FILE.h5:/dataset", input);
  *colon = 0;
  dset   = colon + 1;
  PetscCall(PetscTestFile(input, 'r', &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "-topology_input: no such file %s", input);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  LandCallHDF5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  fid = H5Fopen(input, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(fid >= 0, comm, PETSC_ERR_FILE_OPEN, "-topology_input: %s is not an HDF5 file", input);
  PetscCall(LandHDF5ReadArray(comm, fid, input, dset, &m, &n, &a));
  H5Fclose(fid);
  PetscCall(PetscMemzero(&p, sizeof(p)));
  if (n == 1 && m > 1) { /* a column vector: a line */
    n = m;
    m = 1;
  }
  PetscCall(LandPersistenceCompute(m, n, a, levels, &p));
  PetscCall(LandMakeDirs(comm, dir));
  PetscCall(LandResultsCreate(comm, dir, PETSC_FALSE, &res));
  PetscCall(LandResultsWriteMatrix(res, "/topology/values", m, n, a));
  PetscCall(LandResultsWriteAttrString(res, "/topology", "input", input));
  PetscCall(LandResultsWriteAttrString(res, "/topology", "dataset", dset));
  PetscCall(LandPersistenceWrite(&p, res, "/topology"));
  PetscCall(LandCheckUnusedOptions(comm));
  PetscCall(LandResultsPublish(res));
  PetscCall(LandPersistenceView(&p, comm, "topology"));
  PetscCall(PetscPrintf(comm, "topology: wrote %s/results.h5\n", dir));
  PetscCall(LandResultsDestroy(&res));
  PetscCall(LandPersistenceReset(&p));
  PetscCall(PetscFree(a));
  PetscFunctionReturn(0);
}
