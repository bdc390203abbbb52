# Top-level driver. `make` builds build/sigdrain; `make test` sets up a fresh machine and runs every tier.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build setup test test-unit test-bpf test-e2e test-runtimes test-kernels test-deploy image bench demo clean

all: build

setup:
	scripts/setup.sh

build:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Everything CI runs, with set-up included (packages, podman config, kernel images).
test:
	scripts/test-all.sh

test-unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure

test-bpf: build
	cd $(BUILD_DIR) && ctest -L bpf --output-on-failure

test-e2e: build
	tests/e2e/run.sh

# The runtime matrix (tests/e2e_py): podman, Docker's engine and containerd as the kubelet drives it, under pytest.
# Debian's python3-pytest belongs to /usr/bin/python3, whatever python3 comes first in PATH.
test-runtimes: build
	SIGDRAIN=$(abspath $(BUILD_DIR))/sigdrain /usr/bin/python3 -m pytest tests/e2e_py

test-kernels: build
	scripts/kernels/matrix.sh -- $(BUILD_DIR)/tests/bpf_tests

# The container image, built without a registry: debootstrap + podman import -> localhost/sigdrain:<version>.
image: build
	scripts/image/build-image.sh $(BUILD_DIR)/sigdrain

# deploy/: manifests and unit checked, then the image run as the DaemonSet runs it, guarding a sibling container.
test-deploy: build
	SIGDRAIN=$(BUILD_DIR)/sigdrain tests/deploy/check_manifests.sh
	SIGDRAIN=$(BUILD_DIR)/sigdrain tests/e2e/image_daemonset.sh

# Figures, not pass/fail: what sigdrain costs and how fast it reacts (bench/README.md).
bench: build
	bench/run.sh

# The main job: a real container stopped with and without sigdrain.
demo:
	scripts/demo.sh

clean:
	rm -rf $(BUILD_DIR)
