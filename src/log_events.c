/* Every event of landscape, registered once at start-up: -log_view is the profile. */
#include <landscape.h>

PetscClassId  LAND_CLASSID;
PetscLogEvent LAND_Forward, LAND_Backward, LAND_HessMult, LAND_Jacobian, LAND_DataLoad, LAND_IO, LAND_Reduce, LAND_Train, LAND_EPSSolve,
    LAND_EPSMultiplicity, LAND_SLQ, LAND_SNESSolve, LAND_Simplex, LAND_SimplexPass, LAND_SimplexBasis, LAND_Predictor, LAND_Corrector, LAND_PathPCA,
    LAND_Slice, LAND_SlicePrecompute, LAND_Persistence;

PetscErrorCode LandRegisterLogEvents(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscClassIdRegister("landscape", &LAND_CLASSID));
  PetscCall(PetscLogEventRegister("DataLoad", LAND_CLASSID, &LAND_DataLoad));
  PetscCall(PetscLogEventRegister("Forward", LAND_CLASSID, &LAND_Forward));
  PetscCall(PetscLogEventRegister("Backward", LAND_CLASSID, &LAND_Backward));
  PetscCall(PetscLogEventRegister("HessMult", LAND_CLASSID, &LAND_HessMult));
  PetscCall(PetscLogEventRegister("Jacobian", LAND_CLASSID, &LAND_Jacobian));
  PetscCall(PetscLogEventRegister("DDReduce", LAND_CLASSID, &LAND_Reduce));
  PetscCall(PetscLogEventRegister("TrainStep", LAND_CLASSID, &LAND_Train));
  PetscCall(PetscLogEventRegister("IO", LAND_CLASSID, &LAND_IO));
  PetscCall(PetscLogEventRegister("EPSSolveHess", LAND_CLASSID, &LAND_EPSSolve));
  PetscCall(PetscLogEventRegister("EPSMultiplicity", LAND_CLASSID, &LAND_EPSMultiplicity));
  PetscCall(PetscLogEventRegister("SLQ", LAND_CLASSID, &LAND_SLQ));
  PetscCall(PetscLogEventRegister("Stationary", LAND_CLASSID, &LAND_SNESSolve));
  PetscCall(PetscLogEventRegister("Simplex", LAND_CLASSID, &LAND_Simplex));
  PetscCall(PetscLogEventRegister("SimplexPass", LAND_CLASSID, &LAND_SimplexPass));
  PetscCall(PetscLogEventRegister("SimplexBasis", LAND_CLASSID, &LAND_SimplexBasis));
  PetscCall(PetscLogEventRegister("LevelPredictor", LAND_CLASSID, &LAND_Predictor));
  PetscCall(PetscLogEventRegister("LevelCorrector", LAND_CLASSID, &LAND_Corrector));
  PetscCall(PetscLogEventRegister("PathPCA", LAND_CLASSID, &LAND_PathPCA));
  PetscCall(PetscLogEventRegister("Slice", LAND_CLASSID, &LAND_Slice));
  PetscCall(PetscLogEventRegister("SlicePrecompute", LAND_CLASSID, &LAND_SlicePrecompute));
  PetscCall(PetscLogEventRegister("Persistence", LAND_CLASSID, &LAND_Persistence));
  PetscFunctionReturn(0);
}
