# EdgeInfinite-C build. `make` builds the library, the CLI and the tests into build/;
# `make test` also fetches the model and runs every test; `make test-asan` does the same under
# ASan+UBSan in build-asan/; `make demo` runs a real long-input generation.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wvla -g $(OPT) -Iinclude -Isrc -D_GNU_SOURCE -MMD -MP
LDLIBS  += -lm -lpthread
ARCH    := $(shell uname -m)

ifeq ($(ARCH),x86_64)
FLAGS_AVX2   := -mavx2 -mfma -mf16c
FLAGS_AVX512 := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
FLAGS_AMX    := $(FLAGS_AVX512) -mamx-tile -mamx-int8
else
FLAGS_AMX    :=
FLAGS_AVX2   :=
FLAGS_AVX512 :=
endif

LIB_SRC  := $(wildcard src/*.c) $(wildcard src/kernels/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/%)
TOOLS    := $(BUILD)/edgeinf
EVAL_SRC := $(wildcard tools/eval/*.c)
EVAL_OBJ := $(EVAL_SRC:%.c=$(BUILD)/%.o)

.PHONY: all test test-asan model demo clean bench FORCE
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
all: $(BUILD)/libedgeinf.a $(TOOLS) $(TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/src/kernels/avx2.o: src/kernels/avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_AVX2) -c $< -o $@

$(BUILD)/src/kernels/amx.o: src/kernels/amx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_AMX) -c $< -o $@

$(BUILD)/src/kernels/avx512.o: src/kernels/avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_AVX512) -c $< -o $@

# src/version.c carries the source revision: rebuilt whenever it changes (the stamp holds the last one)
$(BUILD)/rev.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(BUILD)/src/version.o: $(BUILD)/rev.stamp
$(BUILD)/src/version.o: CFLAGS += -DEI_GIT_REV='"$(GIT_REV)"'

$(BUILD)/libedgeinf.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/edgeinf: $(BUILD)/tools/edgeinf.o $(EVAL_OBJ) $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# tests of the evaluation tool link its objects too (tools/eval/metrics.c, ...)
$(BUILD)/test_metrics $(BUILD)/test_evaljson: $(BUILD)/%: $(BUILD)/tests/%.o $(filter-out $(BUILD)/tools/eval/eval.o,$(EVAL_OBJ)) $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_ppl $(BUILD)/test_synth $(BUILD)/test_report: $(BUILD)/%: $(BUILD)/tests/%.o $(filter-out $(BUILD)/tools/eval/eval.o,$(EVAL_OBJ)) $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_%: $(BUILD)/tests/test_%.o $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

model:
	./scripts/fetch_model.sh

test: model all
	./tests/run.sh $(BUILD)

test-asan: model
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1 ./tests/run.sh build-asan

demo: model all
	./scripts/demo.sh $(BUILD)

bench: model all
	python3 bench/bench.py

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(EVAL_OBJ:.o=.d) $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.d) $(BUILD)/tools/edgeinf.d

# Kernel micro-benchmark (not a test): ./build/kernels_bench [scalar|avx2|avx512 ...] [-t T] [-q]
$(BUILD)/kernels_bench: $(BUILD)/bench/kernels_bench.o $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Prefill and decode after a short vs a long input, side by side in one process (bench/long_ab.c)
$(BUILD)/long_ab: $(BUILD)/bench/long_ab.o $(BUILD)/libedgeinf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
