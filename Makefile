# Top-level driver. `make` builds build/sigdrain; `make test` runs every test tier.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build setup test test-unit test-bpf test-e2e test-kernels bench demo clean

all: build

build:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

setup:
	scripts/setup.sh

test-unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure

test-bpf: build
	cd $(BUILD_DIR) && ctest -L bpf --output-on-failure

clean:
	rm -rf $(BUILD_DIR)
