/* LandStage: one analysis step chosen from a registry. Adding a stage is its own file plus one
   line in LandStageRegisterAll. Each stage reads its options with the prefix "<name>_". */
#include <landscape/impl.h>
#include <string.h>

static PetscFunctionList LandStageList = NULL;
static char              LandStageNames[1024]; /* for error messages: PetscFunctionList is opaque */

PetscErrorCode LandStageRegister(const char name[], PetscErrorCode (*create)(LandStage))
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListAdd(&LandStageList, name, create));
  PetscCall(PetscStrlcat(LandStageNames, " ", sizeof(LandStageNames)));
  PetscCall(PetscStrlcat(LandStageNames, name, sizeof(LandStageNames)));
  PetscFunctionReturn(0);
}

/*@ LandStageRegisterAll - the stage registry. Not collective. @*/
PetscErrorCode LandStageRegisterAll(void)
{
  PetscFunctionBeginUser;
  if (LandStageList) PetscFunctionReturn(0);
  PetscCall(LandStageRegister("train", LandStageCreate_Train));
  PetscCall(LandStageRegister("eval", LandStageCreate_Eval));
  PetscCall(LandStageRegister("check", LandStageCreate_Check));
  PetscCall(LandStageRegister("spectrum", LandStageCreate_Spectrum));
  PetscCall(LandStageRegister("stationary", LandStageCreate_Stationary));
  PetscCall(LandStageRegister("linear", LandStageCreate_Linear));
  PetscCall(LandStageRegister("escape", LandStageCreate_Escape));
  PetscCall(LandStageRegister("embed", LandStageCreate_Embed));
  PetscCall(LandStageRegister("simplex", LandStageCreate_Simplex));
  PetscCall(LandStageRegister("levelset", LandStageCreate_Levelset));
  PetscCall(LandStageRegister("slice", LandStageCreate_Slice));
  PetscFunctionReturn(0);
}

/*@ LandStageCreate - create a stage of the given type on a run. Collective. @*/
PetscErrorCode LandStageCreate(LandRun run, const char type[], LandStage *stage)
{
  PetscErrorCode (*create)(LandStage);
  LandStage s;

  PetscFunctionBeginUser;
  PetscCall(LandStageRegisterAll());
  PetscCall(PetscFunctionListFind(LandStageList, type, &create));
  PetscCheck(create, run->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "-stages: unknown stage '%s' (known:%s)", type, LandStageNames);
  PetscCall(PetscNew(&s));
  s->run = run;
  PetscCall(PetscStrncpy(s->name, type, sizeof(s->name)));
  PetscCall(PetscSNPrintf(s->prefix, sizeof(s->prefix), "%s_", type));
  {
    /* a stage that appears again in -stages writes its results to a group of its own */
    PetscInt count = 1;
    for (PetscInt i = 0; i < run->nstages; i++)
      if (run->stages[i] && !strcmp(run->stages[i]->name, type)) count++;
    if (count == 1)
      PetscCall(PetscSNPrintf(s->group, sizeof(s->group), "/%s", type));
    else
      PetscCall(PetscSNPrintf(s->group, sizeof(s->group), "/%s_%" PetscInt_FMT, type, count));
  }
  PetscCall((*create)(s));
  *stage = s;
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageSetFromOptions(LandStage s)
{
  PetscFunctionBeginUser;
  if (s->setfromoptions) PetscCall((*s->setfromoptions)(s));
  PetscFunctionReturn(0);
}

/*@ LandStageRun - run the stage inside its own -log_view stage. Collective. @*/
PetscErrorCode LandStageRun(LandStage s)
{
  PetscLogStage ls;

  PetscFunctionBeginUser;
  PetscCall(PetscLogStageGetId(s->name, &ls));
  if (ls < 0) PetscCall(PetscLogStageRegister(s->name, &ls));
  PetscCall(PetscLogStagePush(ls));
  PetscCall((*s->run_stage)(s));
  PetscCall(PetscLogStagePop());
  PetscFunctionReturn(0);
}

/* "<group>/<sub>": the results path of one of the stage's outputs (valid until the next call). */
const char *LandStagePath(LandStage s, const char sub[])
{
  PetscSNPrintf(s->path, sizeof(s->path), "%s/%s", s->group, sub);
  return s->path;
}

PetscErrorCode LandStageGetName(LandStage s, const char **name)
{
  PetscFunctionBeginUser;
  *name = s->name;
  PetscFunctionReturn(0);
}

PetscErrorCode LandStageDestroy(LandStage *s)
{
  PetscFunctionBeginUser;
  if (!*s) PetscFunctionReturn(0);
  if ((*s)->destroy) PetscCall((*(*s)->destroy)(*s));
  PetscCall(PetscFree(*s));
  PetscFunctionReturn(0);
}
