# landscape: build with pkg-config (SLEPc, PETSc, hdf5-openmpi).
# On a cluster with modules, PETSC_DIR/SLEPC_DIR (and PETSC_ARCH) select the installation:
# their pkg-config files are used in preference to the system ones.
#   make            build bin/landscape
#   make deps       install missing Debian 12 packages (as root); does nothing when all are present
#   make run        the quickstart job on real data (Fashion-MNIST, 2 ranks)
#   make test       the test suite (1, 2 and 3 ranks)
#   make bench      benchmarks, side by side with PyTorch and the dgemm peak
#   make format     clang-format -i;  make tidy: clang-tidy;  make clean
.SUFFIXES:
.DEFAULT_GOAL := all

ifneq ($(PETSC_DIR),)
  PKG_CONFIG_PATH := $(PETSC_DIR)/$(PETSC_ARCH)/lib/pkgconfig:$(PKG_CONFIG_PATH)
endif
ifneq ($(SLEPC_DIR),)
  PKG_CONFIG_PATH := $(SLEPC_DIR)/$(PETSC_ARCH)/lib/pkgconfig:$(PKG_CONFIG_PATH)
endif
export PKG_CONFIG_PATH

PKGS     := SLEPc PETSc hdf5-openmpi
CC       := mpicc
OPT      ?= -O3 -march=x86-64-v2
CFLAGS   ?= $(OPT) -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -std=gnu11
CPPFLAGS += -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llapack -lblas -lz -lm
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CPPFLAGS += -DLAND_VERSION='"$(VERSION)"'

SRCS := $(shell find src -name '*.c' | sort)
OBJS := $(SRCS:src/%.c=build/%.o)

DEB_PKGS := petsc-dev slepc-dev libhdf5-openmpi-dev openmpi-bin hdf5-tools libopenblas-dev \
            dataset-fashion-mnist python3-sklearn python3-h5py python3-matplotlib python3-numpy zlib1g-dev
TEST_PKGS  := python3-torch python3-scipy python3-gudhi glpk-utils slurm-wlm slurm-client munge
BENCH_PKGS := python3-torch python3-scipy glpk-utils
MPIEXEC  := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec --oversubscribe

all: bin/landscape

bin/landscape: $(OBJS) | bin
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

bin:
	@mkdir -p bin

# Install what is missing; do nothing when everything is present.
deps:
	@bash scripts/deps.sh $(DEB_PKGS)

deps-test:
	@bash scripts/deps.sh $(DEB_PKGS) $(TEST_PKGS)

deps-bench:
	@bash scripts/deps.sh $(DEB_PKGS) $(BENCH_PKGS)

# The build needs the packages: a fresh machine runs 'deps' first.
run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/quickstart.sh

test: deps-test
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

format:
	clang-format -i $(SRCS) $(shell find include -name '*.h')

tidy:
	clang-tidy $(SRCS) -- $(CPPFLAGS)

print-%:
	@echo '$*=$($*)'

clean:
	rm -rf build bin

.PHONY: all deps deps-test deps-bench run test bench format tidy clean

-include $(OBJS:.o=.d)
