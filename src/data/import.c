/* 'landscape import idx|csv': convert IDX (MNIST, Fashion-MNIST) and sklearn-style CSV files into the
   project's HDF5 dataset format (DESIGN §6, docs/formats.md). The inputs are small enough to hold in
   memory and the conversion is done once, so rank 0 does all of it serially; the other ranks only
   learn whether it worked. */
#include <landscape.h>
#include <hdf5.h>
#include <zlib.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned byte, 3 dims */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned byte, 1 dim */

static const char *const TaskNames[] = {"classification", "regression"};

typedef struct {
  char      format[64];
  char      out[PETSC_MAX_PATH_LEN];
  char      images[PETSC_MAX_PATH_LEN], labels[PETSC_MAX_PATH_LEN];
  char      test_images[PETSC_MAX_PATH_LEN], test_labels[PETSC_MAX_PATH_LEN];
  PetscInt  n, test_n; /* -1: all rows */
  PetscBool scale;
  char      file[PETSC_MAX_PATH_LEN], target_file[PETSC_MAX_PATH_LEN];
  PetscInt  task; /* -1: decide from the data, else an index into TaskNames */
  PetscReal test_fraction;
  PetscInt  seed;
  PetscBool help;
} ImportOptions;

typedef struct {
  PetscInt n, d;
  float   *Xf;     /* idx */
  double  *Xd;     /* csv */
  int     *labels; /* classification */
  double  *Y;      /* regression, n x 1 */
} ImportSet;

typedef struct {
  ImportSet   train, test; /* test.n == 0: no test set */
  PetscBool   classification;
  PetscInt    num_classes;
  char        source[4 * PETSC_MAX_PATH_LEN + 16];
  const char *importer;
} ImportData;

/* A parsed CSV file. The target is chosen only after both files are read, so every row remembers
   whether its last field was written as a plain integer, and its line number for later messages. */
typedef struct {
  PetscInt   nrows, ncols, cap;
  double    *v; /* nrows x ncols */
  PetscBool *lastint;
  PetscInt  *line;
  PetscBool  header; /* sklearn header "n_samples,n_features[,class names...]" */
  PetscInt   hdr_line, hdr_n, hdr_d, hdr_classes;
} CsvTable;

/* Not collective. gzopen() reads plain files transparently, so one path serves .gz and uncompressed input. */
static PetscErrorCode GzOpen(const char file[], gzFile *gz)
{
  PetscFunctionBeginUser;
  errno = 0;
  *gz   = gzopen(file, "rb");
  PetscCheck(*gz, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s: %s", file, errno ? strerror(errno) : "out of memory");
  (void)gzbuffer(*gz, 1 << 17);
  PetscFunctionReturn(0);
}

/* zlib's messages already start with "path: "; drop it so ours name the file once, as everywhere else. */
static const char *GzMessage(gzFile gz, const char file[])
{
  int         err;
  const char *msg = gzerror(gz, &err);
  size_t      n   = strlen(file);

  if (!strncmp(msg, file, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
  return msg;
}

/* Not collective. gzread() takes an unsigned count, so large arrays are read in pieces. */
static PetscErrorCode GzRead(gzFile gz, const char file[], void *buf, size_t len, const char what[])
{
  char *p = (char *)buf;

  PetscFunctionBeginUser;
  while (len) {
    int got = gzread(gz, p, (unsigned)PetscMin(len, (size_t)1 << 30));
    PetscCheck(got > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: %s while reading %s", file,
               got < 0 ? GzMessage(gz, file) : "unexpected end of file", what);
    p += got;
    len -= (size_t)got;
  }
  PetscFunctionReturn(0);
}

/* Not collective. Reading one byte past the data is what makes zlib verify the gzip CRC and length,
   and it catches files with more records than the header announces. */
static PetscErrorCode GzCheckEnd(gzFile gz, const char file[])
{
  char c;
  int  got;

  PetscFunctionBeginUser;
  got = gzread(gz, &c, 1);
  PetscCheck(got == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: %s", file,
             got < 0 ? GzMessage(gz, file) : "trailing data after the last record");
  PetscFunctionReturn(0);
}

/* Not collective. Reads one line of any length into *buf (grown as needed); *got is false at end of file. */
static PetscErrorCode GzGetLine(gzFile gz, const char file[], char **buf, size_t *cap, PetscBool *got)
{
  size_t len = 0;
  int    err;

  PetscFunctionBeginUser;
  *got = PETSC_FALSE;
  for (;;) {
    if (*cap - len < 2) {
      *cap = PetscMax(2 * *cap, (size_t)4096);
      PetscCall(PetscRealloc(*cap, buf));
    }
    (*buf)[len] = 0;
    if (!gzgets(gz, *buf + len, (int)PetscMin(*cap - len, (size_t)1 << 30))) break;
    *got = PETSC_TRUE;
    len += strlen(*buf + len);
    if (len && (*buf)[len - 1] == '\n') break;
  }
  (void)gzerror(gz, &err);
  PetscCheck(err == Z_OK, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: %s", file, GzMessage(gz, file));
  PetscFunctionReturn(0);
}

static uint32_t BE32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Not collective. The magic number fixes both the element type (unsigned byte) and the number of dimensions. */
static PetscErrorCode IdxOpen(const char file[], uint32_t magic, int ndims, gzFile *gz, PetscInt dims[])
{
  unsigned char h[16];
  uint32_t      m;

  PetscFunctionBeginUser;
  PetscCall(GzOpen(file, gz));
  PetscCall(GzRead(*gz, file, h, 4 + 4 * (size_t)ndims, "the IDX header"));
  m = BE32(h);
  PetscCheck(m == magic, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: bad IDX magic number 0x%08x, expected 0x%08x (unsigned-byte %s)", file, m,
             magic, ndims == 3 ? "images" : "labels");
  for (int i = 0; i < ndims; i++) {
    uint32_t v = BE32(h + 4 + 4 * i);
    PetscCheck(v > 0 && v <= (uint32_t)PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: IDX dimension %d is %u", file, i, v);
    dims[i] = (PetscInt)v;
  }
  PetscFunctionReturn(0);
}

/* Not collective. Reads the first nkeep (all if < 0) image/label pairs. Labels are unsigned bytes (the
   magic number guarantees it), so they are always valid class indices below 256. */
static PetscErrorCode IdxRead(const char images[], const char labels[], PetscInt nkeep, const char nopt[], PetscBool scale, ImportSet *s,
                              PetscInt *maxlabel)
{
  gzFile         gi, gl;
  PetscInt       di[3] = {0}, dl[1] = {0};
  unsigned char *pix, *lab;
  size_t         n, d;

  PetscFunctionBeginUser;
  PetscCall(IdxOpen(images, IDX_MAGIC_IMAGES, 3, &gi, di));
  PetscCall(IdxOpen(labels, IDX_MAGIC_LABELS, 1, &gl, dl));
  PetscCheck(di[0] == dl[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s has %" PetscInt_FMT " images but %s has %" PetscInt_FMT " labels",
             images, di[0], labels, dl[0]);
  PetscCheck((uint64_t)di[1] * (uint64_t)di[2] <= (uint64_t)PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: images too large",
             images);
  PetscCheck(nkeep <= di[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s %" PetscInt_FMT " exceeds the %" PetscInt_FMT " images in %s", nopt, nkeep,
             di[0], images);
  n = (size_t)(nkeep > 0 ? nkeep : di[0]);
  d = (size_t)(di[1] * di[2]);
  PetscCall(PetscMalloc1(n * d, &pix));
  PetscCall(PetscMalloc1(n, &lab));
  PetscCall(GzRead(gi, images, pix, n * d, "the pixels"));
  PetscCall(GzRead(gl, labels, lab, n, "the labels"));
  if (n == (size_t)di[0]) {
    PetscCall(GzCheckEnd(gi, images));
    PetscCall(GzCheckEnd(gl, labels));
  }
  /* gzclose() reports Z_BUF_ERROR when -n stopped reading mid-stream; that is expected, not a failure */
  (void)gzclose(gi);
  (void)gzclose(gl);

  s->n = (PetscInt)n;
  s->d = (PetscInt)d;
  PetscCall(PetscMalloc1(n * d, &s->Xf));
  PetscCall(PetscMalloc1(n, &s->labels));
  /* single-precision division so the values equal numpy's uint8_array.astype(float32) / 255 bit for bit */
  for (size_t i = 0; i < n * d; i++) s->Xf[i] = scale ? (float)pix[i] / 255.0f : (float)pix[i];
  for (size_t i = 0; i < n; i++) {
    s->labels[i] = lab[i];
    *maxlabel    = PetscMax(*maxlabel, (PetscInt)lab[i]);
  }
  PetscCall(PetscFree(pix));
  PetscCall(PetscFree(lab));
  PetscFunctionReturn(0);
}

/* Not collective (rank 0). */
static PetscErrorCode ImportIdx(const ImportOptions *o, ImportData *D)
{
  PetscInt  maxlabel = -1;
  PetscBool test     = (PetscBool)(o->test_images[0] || o->test_labels[0]);

  PetscFunctionBeginUser;
  PetscCheck(o->images[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import idx: missing -images <file>");
  PetscCheck(o->labels[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import idx: missing -labels <file>");
  PetscCheck(!test || (o->test_images[0] && o->test_labels[0]), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "import idx: -test_images and -test_labels must be given together");
  PetscCheck(test || o->test_n < 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import idx: -test_n needs -test_images and -test_labels");
  PetscCheck(o->n < 0 || o->n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import idx: -n must be positive");
  PetscCheck(o->test_n < 0 || o->test_n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import idx: -test_n must be positive");
  PetscCall(IdxRead(o->images, o->labels, o->n, "-n", o->scale, &D->train, &maxlabel));
  if (test) PetscCall(IdxRead(o->test_images, o->test_labels, o->test_n, "-test_n", o->scale, &D->test, &maxlabel));
  D->classification = PETSC_TRUE;
  D->num_classes    = maxlabel + 1;
  D->importer       = "landscape import idx";
  PetscCall(PetscSNPrintf(D->source, sizeof(D->source), "%s, %s%s%s%s%s", o->images, o->labels, test ? ", " : "", o->test_images, test ? ", " : "",
                          o->test_labels));
  PetscFunctionReturn(0);
}

static char *Trim(char *s)
{
  char *e;
  while (*s == ' ' || *s == '\t') s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
  return s;
}

/* Not collective. Splits in place; a blank line gives *nf = 0. */
static PetscErrorCode CsvSplit(char *line, PetscBool comma, char ***f, PetscInt *fcap, PetscInt *nf)
{
  size_t   len = strlen(line);
  PetscInt max = 1;
  char    *p   = line;

  PetscFunctionBeginUser;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
  for (size_t i = 0; i < len; i++) max += comma ? line[i] == ',' : isspace((unsigned char)line[i]) != 0;
  if (max > *fcap || !*f) {
    PetscCall(PetscFree(*f));
    *fcap = 2 * max;
    PetscCall(PetscMalloc1(*fcap, f));
  }
  *nf = 0;
  if (comma) {
    for (char *e;; p = e + 1) {
      if ((e = strchr(p, ','))) *e = 0;
      (*f)[(*nf)++] = Trim(p);
      if (!e) break;
    }
    if (*nf == 1 && !(*f)[0][0]) *nf = 0;
  } else {
    for (;;) {
      while (isspace((unsigned char)*p)) p++;
      if (!*p) break;
      (*f)[(*nf)++] = p;
      while (*p && !isspace((unsigned char)*p)) p++;
      if (*p) *p++ = 0;
    }
  }
  PetscFunctionReturn(0);
}

static PetscBool CsvNumber(const char *s, double *v)
{
  char *end;
  if (!*s) return PETSC_FALSE;
  *v = strtod(s, &end);
  return (PetscBool)(*end == 0);
}

/* "Integer" is a property of the text, not the value: diabetes targets such as 1.51e+02 are integral
   values but are measurements, and must not turn the file into a 300-class problem. */
static PetscBool CsvUInt(const char *s)
{
  if (!*s) return PETSC_FALSE;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return PETSC_FALSE;
  return PETSC_TRUE;
}

/* Not collective. Reads a whole comma- or whitespace-separated file (the first non-blank line decides
   which). With allow_header, a first line "n_samples,n_features[,class names...]" is taken as an sklearn
   header, and a following line without any number (column names, as in boston_house_prices.csv) is skipped. */
static PetscErrorCode CsvRead(const char file[], PetscBool allow_header, CsvTable *t)
{
  gzFile    gz;
  char     *buf = NULL, **f = NULL;
  size_t    cap  = 0;
  PetscInt  fcap = 0, rcap = 0, nf = 0, lineno = 0, first_row_line = 0;
  PetscBool got, comma = PETSC_FALSE, seen = PETSC_FALSE, maybe_names = PETSC_FALSE;
  double   *row = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(t, sizeof(*t)));
  PetscCall(GzOpen(file, &gz));
  for (;;) {
    PetscInt nnum = 0;

    PetscCall(GzGetLine(gz, file, &buf, &cap, &got));
    if (!got) break;
    lineno++;
    if (!seen) comma = (PetscBool)(strchr(buf, ',') != NULL);
    PetscCall(CsvSplit(buf, comma, &f, &fcap, &nf));
    if (!nf) continue;
    if (fcap > rcap || !row) {
      rcap = fcap;
      PetscCall(PetscRealloc(sizeof(double) * (size_t)rcap, &row));
    }
    for (PetscInt j = 0; j < nf; j++) nnum += CsvNumber(f[j], &row[j]);
    if (!seen && allow_header && nnum < nf && nf >= 2 && CsvUInt(f[0]) && CsvUInt(f[1])) {
      t->header = PETSC_TRUE;
      t->hdr_n  = (PetscInt)PetscMin(strtoll(f[0], NULL, 10), (long long)PETSC_MAX_INT);
      t->hdr_d  = (PetscInt)PetscMin(strtoll(f[1], NULL, 10), (long long)PETSC_MAX_INT);
      for (PetscInt j = 2; j < nf; j++) t->hdr_classes += f[j][0] != 0;
      seen = maybe_names = PETSC_TRUE;
      t->hdr_line        = lineno;
      continue;
    }
    seen = PETSC_TRUE;
    if (maybe_names) {
      maybe_names = PETSC_FALSE;
      if (!nnum) continue;
      /* without class names or column names a line like "1,2," would pass for a header; it is a bad data row */
      PetscCheck(t->hdr_classes > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s:%" PetscInt_FMT ": empty or non-numeric field", file,
                 t->hdr_line);
    }
    for (PetscInt j = 0; j < nf; j++) {
      PetscCheck(CsvNumber(f[j], &row[j]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                 "%s:%" PetscInt_FMT ": field %" PetscInt_FMT " '%.40s' is not a number", file, lineno, j + 1, f[j]);
      PetscCheck(isfinite(row[j]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s:%" PetscInt_FMT ": field %" PetscInt_FMT " '%.40s' is not finite",
                 file, lineno, j + 1, f[j]);
    }
    if (!t->ncols) {
      t->ncols       = nf;
      first_row_line = lineno;
    }
    PetscCheck(nf == t->ncols, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "%s:%" PetscInt_FMT ": %" PetscInt_FMT " fields, but line %" PetscInt_FMT " has %" PetscInt_FMT, file, lineno, nf, first_row_line,
               t->ncols);
    if (t->nrows == t->cap) {
      t->cap = PetscMax(2 * t->cap, 1024);
      PetscCall(PetscRealloc(sizeof(double) * (size_t)t->cap * (size_t)t->ncols, &t->v));
      PetscCall(PetscRealloc(sizeof(PetscBool) * (size_t)t->cap, &t->lastint));
      PetscCall(PetscRealloc(sizeof(PetscInt) * (size_t)t->cap, &t->line));
    }
    PetscCall(PetscArraycpy(t->v + (size_t)t->nrows * (size_t)t->ncols, row, nf));
    t->lastint[t->nrows] = CsvUInt(f[nf - 1]);
    t->line[t->nrows]    = lineno;
    PetscCheck(t->nrows < PETSC_MAX_INT - 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: too many rows", file);
    t->nrows++;
  }
  (void)gzclose(gz);
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree(f));
  PetscCall(PetscFree(row));
  PetscCheck(t->nrows > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: no data rows", file);
  PetscCheck(!t->header || t->nrows == t->hdr_n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "%s:%" PetscInt_FMT ": header says %" PetscInt_FMT " samples, but the file has %" PetscInt_FMT " data rows", file, t->hdr_line, t->hdr_n,
             t->nrows);
  PetscFunctionReturn(0);
}

static PetscErrorCode CsvDestroy(CsvTable *t)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(t->v));
  PetscCall(PetscFree(t->lastint));
  PetscCall(PetscFree(t->line));
  PetscFunctionReturn(0);
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, seedable with any 64-bit value, and easy to reproduce
   outside this program, which is what a documented train/test split needs. */
static uint64_t SplitMix64(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Not collective. Fisher-Yates from the last index down, j = splitmix64() mod (i + 1), state = seed; the
   modulo bias is below 2^-40 for any realistic N. The first ntest entries of perm form the test set. */
static PetscErrorCode CsvSplitRows(PetscInt N, PetscReal fraction, PetscInt seed, PetscInt **perm, PetscInt *ntest)
{
  uint64_t state = (uint64_t)(int64_t)seed;

  PetscFunctionBeginUser;
  PetscCheck(fraction >= 0 && fraction < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import csv: -test_fraction %g is not in [0, 1)", (double)fraction);
  *ntest = (PetscInt)floor((double)fraction * (double)N + 0.5);
  PetscCheck(fraction == 0 || (*ntest > 0 && *ntest < N), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "import csv: -test_fraction %g of %" PetscInt_FMT " rows leaves an empty train or test set", (double)fraction, N);
  PetscCall(PetscMalloc1(N, perm));
  for (PetscInt i = 0; i < N; i++) (*perm)[i] = i;
  if (*ntest) {
    for (PetscInt i = N - 1; i > 0; i--) {
      PetscInt j = (PetscInt)(SplitMix64(&state) % (uint64_t)(i + 1)), tmp = (*perm)[i];
      (*perm)[i] = (*perm)[j];
      (*perm)[j] = tmp;
    }
  }
  PetscFunctionReturn(0);
}

/* Not collective. Copies the rows rows[0..n) of the feature table and target vector into a set. */
static PetscErrorCode CsvFillSet(ImportSet *s, PetscInt n, const PetscInt rows[], const CsvTable *T, PetscInt d, const int labels[],
                                 const double target[])
{
  PetscFunctionBeginUser;
  s->n = n;
  s->d = d;
  PetscCall(PetscMalloc1((size_t)n * (size_t)d, &s->Xd));
  if (labels) PetscCall(PetscMalloc1(n, &s->labels));
  if (!labels) PetscCall(PetscMalloc1(n, &s->Y));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(PetscArraycpy(s->Xd + (size_t)i * (size_t)d, T->v + (size_t)rows[i] * (size_t)T->ncols, d));
    if (labels) s->labels[i] = labels[rows[i]];
    if (!labels) s->Y[i] = target[rows[i]];
  }
  PetscFunctionReturn(0);
}

/* Not collective (rank 0). */
static PetscErrorCode ImportCsv(const ImportOptions *o, ImportData *D)
{
  CsvTable    T, Tt = {0};
  PetscInt    N, d, tstride, ntest, *perm, maxlabel = -1;
  double     *target;
  PetscBool  *tint, allint = PETSC_TRUE;
  PetscInt   *tline;
  const char *tfile  = o->target_file[0] ? o->target_file : o->file;
  int        *labels = NULL;

  PetscFunctionBeginUser;
  PetscCheck(o->file[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import csv: missing -file <file.csv>");
  PetscCall(CsvRead(o->file, PETSC_TRUE, &T));
  N = T.nrows;
  if (o->target_file[0]) {
    PetscCall(CsvRead(o->target_file, PETSC_FALSE, &Tt));
    PetscCheck(Tt.ncols == 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "%s:%" PetscInt_FMT ": expected one target value per line, found %" PetscInt_FMT, tfile, Tt.line[0], Tt.ncols);
    PetscCheck(Tt.nrows == N, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s has %" PetscInt_FMT " rows but %s has %" PetscInt_FMT, tfile, Tt.nrows,
               o->file, N);
    d       = T.ncols;
    target  = Tt.v;
    tstride = 1;
    tint    = Tt.lastint;
    tline   = Tt.line;
  } else {
    PetscCheck(T.ncols >= 2, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: needs at least one feature column before the target column", o->file);
    d       = T.ncols - 1;
    target  = T.v + d;
    tstride = T.ncols;
    tint    = T.lastint;
    tline   = T.line;
  }
  PetscCheck(!T.header || T.hdr_d == d, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "%s:%" PetscInt_FMT ": header says %" PetscInt_FMT " features, but the rows have %" PetscInt_FMT "%s", o->file, T.hdr_line, T.hdr_d, d,
             o->target_file[0] ? " (all columns are features with -target_file)" : " (plus the target in the last column)");

  for (PetscInt i = 0; i < N; i++) allint = (PetscBool)(allint && tint[i]);
  D->classification = (PetscBool)(o->task >= 0 ? o->task == 0 : allint && (!T.header || T.hdr_classes > 0));

  if (D->classification) {
    PetscCall(PetscMalloc1(N, &labels));
    for (PetscInt i = 0; i < N; i++) {
      double v = target[(size_t)i * (size_t)tstride];
      PetscCheck(v >= 0 && v == floor(v) && v < 2147483647.0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                 "%s:%" PetscInt_FMT ": class label %g is not a non-negative integer", tfile, tline[i], v);
      labels[i] = (int)v;
      PetscCheck(!T.hdr_classes || labels[i] < T.hdr_classes, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                 "%s:%" PetscInt_FMT ": class label %d, but the header names only %" PetscInt_FMT " classes", tfile, tline[i], labels[i],
                 T.hdr_classes);
      maxlabel = PetscMax(maxlabel, (PetscInt)labels[i]);
    }
    D->num_classes = T.hdr_classes ? T.hdr_classes : maxlabel + 1;
  } else if (tstride != 1) {
    /* make the target contiguous so both cases index it the same way below */
    double *y;
    PetscCall(PetscMalloc1(N, &y));
    for (PetscInt i = 0; i < N; i++) y[i] = target[(size_t)i * (size_t)tstride];
    PetscCall(PetscFree(Tt.v));
    Tt.v = target = y;
  }

  PetscCall(CsvSplitRows(N, o->test_fraction, o->seed, &perm, &ntest));
  PetscCall(CsvFillSet(&D->train, N - ntest, perm + ntest, &T, d, labels, target));
  if (ntest) PetscCall(CsvFillSet(&D->test, ntest, perm, &T, d, labels, target));
  D->importer = "landscape import csv";
  PetscCall(PetscSNPrintf(D->source, sizeof(D->source), "%s%s%s", o->file, o->target_file[0] ? ", " : "", o->target_file));
  PetscCall(PetscFree(perm));
  PetscCall(PetscFree(labels));
  PetscCall(CsvDestroy(&T));
  PetscCall(CsvDestroy(&Tt));
  PetscFunctionReturn(0);
}

/* Not collective. Writes a contiguous (parallel-readable) dataset of n rows, k columns (k == 0: 1-D),
   optionally with one integer attribute. Closes whatever it opened even on failure, so the caller can
   still close the file and delete it. */
static PetscErrorCode H5WriteArray(hid_t loc, const char name[], hid_t ftype, hid_t mtype, PetscInt n, PetscInt k, const void *buf,
                                   const char aname[], PetscInt aval, const char file[])
{
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)k};
  hid_t   space, dset = -1, aspace = -1, attr = -1;
  herr_t  st = -1;
  int     v  = (int)aval;

  PetscFunctionBeginUser;
  space = H5Screate_simple(k ? 2 : 1, dims, NULL);
  if (space >= 0) dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (dset >= 0) st = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (st >= 0 && aname) {
    st     = -1;
    aspace = H5Screate(H5S_SCALAR);
    if (aspace >= 0) attr = H5Acreate2(dset, aname, H5T_STD_I32LE, aspace, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) st = H5Awrite(attr, H5T_NATIVE_INT, &v);
  }
  if (attr >= 0 && H5Aclose(attr) < 0) st = -1;
  if (aspace >= 0 && H5Sclose(aspace) < 0) st = -1;
  if (dset >= 0 && H5Dclose(dset) < 0) st = -1;
  if (space >= 0 && H5Sclose(space) < 0) st = -1;
  PetscCheck(st >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot write dataset %s%s%s in %s", name, aname ? " with attribute " : "",
             aname ? aname : "", file);
  PetscFunctionReturn(0);
}

/* Not collective. Fixed-length, NUL-terminated string attribute, as PETSc's own HDF5 viewer writes them. */
static PetscErrorCode H5WriteAttrString(hid_t loc, const char name[], const char value[], const char file[])
{
  hid_t  type, space = -1, attr = -1;
  herr_t st = -1;

  PetscFunctionBeginUser;
  type = H5Tcopy(H5T_C_S1);
  if (type >= 0 && H5Tset_size(type, strlen(value) + 1) >= 0 && H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0) space = H5Screate(H5S_SCALAR);
  if (space >= 0) attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr >= 0) st = H5Awrite(attr, type, value);
  if (attr >= 0 && H5Aclose(attr) < 0) st = -1;
  if (space >= 0 && H5Sclose(space) < 0) st = -1;
  if (type >= 0 && H5Tclose(type) < 0) st = -1;
  PetscCheck(st >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot write attribute %s in %s", name, file);
  PetscFunctionReturn(0);
}

/* Not collective. */
static PetscErrorCode WriteSet(hid_t fid, const char name[], const ImportSet *s, const ImportData *D, const char file[])
{
  hid_t          g;
  herr_t         closed;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  g = H5Gcreate2(fid, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot create group /%s in %s", name, file);
  ierr = s->Xf ? H5WriteArray(g, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->n, s->d, s->Xf, NULL, 0, file)
               : H5WriteArray(g, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s->n, s->d, s->Xd, NULL, 0, file);
  if (!ierr && D->classification)
    ierr = H5WriteArray(g, "labels", H5T_STD_I32LE, H5T_NATIVE_INT, s->n, 0, s->labels, "num_classes", D->num_classes, file);
  if (!ierr && !D->classification) ierr = H5WriteArray(g, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s->n, 1, s->Y, NULL, 0, file);
  closed = H5Gclose(g);
  PetscCall(ierr);
  PetscCheck(closed >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot close group /%s in %s", name, file);
  PetscFunctionReturn(0);
}

/* Not collective. Writes <out>.tmp and renames it only when complete, so a failed import never leaves a
   half-written file and never touches an existing <out>. */
static PetscErrorCode WriteOutput(const char out[], const ImportData *D)
{
  char           tmp[PETSC_MAX_PATH_LEN + 8];
  hid_t          fid;
  herr_t         closed;
  int            renamed = -1, rename_errno = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp", out));
  errno = 0;
  fid   = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create %s: %s", tmp, errno ? strerror(errno) : "HDF5 error");
  ierr = H5WriteAttrString(fid, "source", D->source, tmp);
  if (!ierr) ierr = H5WriteAttrString(fid, "importer", D->importer, tmp);
  if (!ierr) ierr = H5WriteAttrString(fid, "task", TaskNames[D->classification ? 0 : 1], tmp);
  if (!ierr) ierr = WriteSet(fid, "train", &D->train, D, tmp);
  if (!ierr && D->test.n) ierr = WriteSet(fid, "test", &D->test, D, tmp);
  closed = H5Fclose(fid);
  if (!ierr && closed >= 0) {
    renamed      = rename(tmp, out);
    rename_errno = errno;
  }
  if (ierr || closed < 0 || renamed) (void)remove(tmp);
  PetscCall(ierr);
  PetscCheck(closed >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot close %s", tmp);
  PetscCheck(!renamed, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename %s to %s: %s", tmp, out, strerror(rename_errno));
  PetscFunctionReturn(0);
}

static PetscErrorCode ImportSetDestroy(ImportSet *s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->Xf));
  PetscCall(PetscFree(s->Xd));
  PetscCall(PetscFree(s->labels));
  PetscCall(PetscFree(s->Y));
  PetscFunctionReturn(0);
}

/* Collective on PETSC_COMM_WORLD (the options block is). Only the options of the chosen format are
   registered, so -help lists what applies; without a valid format word it lists both. Validation is
   left to rank 0, so a mistake is reported once, not once per rank. */
static PetscErrorCode ImportGetOptions(int argc, char **argv, ImportOptions *o)
{
  PetscBool idx, csv, any;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->n = o->test_n = -1;
  o->scale         = PETSC_TRUE;
  o->task          = -1;
  if (argc > 1 && argv[1][0] != '-') PetscCall(PetscStrncpy(o->format, argv[1], sizeof(o->format)));
  PetscCall(PetscStrcmp(o->format, "idx", &idx));
  PetscCall(PetscStrcmp(o->format, "csv", &csv));
  any = (PetscBool)(!idx && !csv);
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "landscape import options", NULL);
  PetscCall(PetscOptionsString("-o", "Output HDF5 file (written to <o>.tmp, renamed on success)", "import", o->out, o->out, sizeof(o->out), NULL));
  if (idx || any) {
    PetscCall(
        PetscOptionsString("-images", "idx: IDX3 unsigned-byte images, gzip'd or plain", "import", o->images, o->images, sizeof(o->images), NULL));
    PetscCall(PetscOptionsString("-labels", "idx: IDX1 unsigned-byte labels", "import", o->labels, o->labels, sizeof(o->labels), NULL));
    PetscCall(PetscOptionsString("-test_images", "idx: test images", "import", o->test_images, o->test_images, sizeof(o->test_images), NULL));
    PetscCall(PetscOptionsString("-test_labels", "idx: test labels", "import", o->test_labels, o->test_labels, sizeof(o->test_labels), NULL));
    PetscCall(PetscOptionsInt("-n", "idx: keep only the first n training rows (-1: all)", "import", o->n, &o->n, NULL));
    PetscCall(PetscOptionsInt("-test_n", "idx: keep only the first n test rows (-1: all)", "import", o->test_n, &o->test_n, NULL));
    PetscCall(PetscOptionsBool("-scale", "idx: divide pixels by 255", "import", o->scale, &o->scale, NULL));
  }
  if (csv || any) {
    PetscCall(
        PetscOptionsString("-file", "csv: data, comma or whitespace separated, gzip'd or plain", "import", o->file, o->file, sizeof(o->file), NULL));
    PetscCall(PetscOptionsString("-target_file", "csv: targets, one per line; all columns of -file are then features", "import", o->target_file,
                                 o->target_file, sizeof(o->target_file), NULL));
    PetscCall(PetscOptionsEList("-task", "csv: task (default: from the data)", "import", TaskNames, 2, "auto", &o->task, NULL));
    PetscCall(PetscOptionsReal("-test_fraction", "csv: fraction of rows moved to /test by a seeded shuffle", "import", o->test_fraction,
                               &o->test_fraction, NULL));
    PetscCall(PetscOptionsInt("-seed", "csv: splitmix64 seed of the train/test shuffle", "import", o->seed, &o->seed, NULL));
  }
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasHelp(NULL, &o->help));
  PetscFunctionReturn(0);
}

/* Not collective (rank 0). */
static PetscErrorCode ImportRun(const ImportOptions *o)
{
  ImportData D;
  PetscBool  idx, csv;
  char       classes[64];

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&D, sizeof(D)));
  PetscCheck(o->format[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "import: missing format, use 'landscape import idx ...' or 'landscape import csv ...'");
  PetscCall(PetscStrcmp(o->format, "idx", &idx));
  PetscCall(PetscStrcmp(o->format, "csv", &csv));
  PetscCheck(idx || csv, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import: unknown format '%s', expected idx or csv", o->format);
  PetscCheck(o->out[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "import %s: missing -o <output.h5>", o->format);
  PetscCall(idx ? ImportIdx(o, &D) : ImportCsv(o, &D));
  PetscCall(WriteOutput(o->out, &D));
  PetscCall(PetscStrncpy(classes, "regression", sizeof(classes)));
  if (D.classification) PetscCall(PetscSNPrintf(classes, sizeof(classes), "%" PetscInt_FMT " classes", D.num_classes));
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "import: wrote %s: train %" PetscInt_FMT " x %" PetscInt_FMT " (%s), test %" PetscInt_FMT "\n", o->out,
                        D.train.n, D.train.d, classes, D.test.n));
  PetscCall(ImportSetDestroy(&D.train));
  PetscCall(ImportSetDestroy(&D.test));
  PetscFunctionReturn(0);
}

/* Collective on PETSC_COMM_WORLD. argv[0] is "import", argv[1] the format word. Rank 0 does the work;
   its error code is broadcast so that every rank fails (or succeeds) together and none is left waiting. */
PetscErrorCode LandImportMain(int argc, char **argv)
{
  ImportOptions  o;
  PetscMPIInt    rank;
  PetscErrorCode ierr = 0;
  int            status;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(ImportGetOptions(argc, argv, &o));
  if (o.help) PetscFunctionReturn(0);
  if (rank == 0) ierr = ImportRun(&o); /* not PetscCall: the other ranks must hear about a failure first */
  status = (int)ierr;
  PetscCallMPI(MPI_Bcast(&status, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(ierr);
  PetscCheck(!status, PETSC_COMM_SELF, (PetscErrorCode)status, "import failed on rank 0, see its message");
  PetscFunctionReturn(0);
}
