# Atom. `make run` runs an atom on the examples; `make test` runs every test.
GO      ?= go
BIN     := bin/atom
DATA    ?= .atom/data
NPM_DIRS := emulator/interop web/console/e2e

.PHONY: all build run test test-short bench lint npm clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/atom

run: build
	$(BIN) dev

# npm packages the interop and browser tests drive (installed once).
npm:
	@for d in $(NPM_DIRS); do \
		if [ -f $$d/package-lock.json ] && [ ! -d $$d/node_modules ]; then \
			npm ci --prefix $$d --no-audit --no-fund || exit 1; \
		fi; \
	done

test: npm
	$(GO) test -race -shuffle=on -timeout 20m ./...

test-short:
	$(GO) test -short ./...

bench:
	@mkdir -p .atom
	$(GO) test -run '^$$' -bench . -benchmem ./mapping ./processes ./operations/salesforce | tee .atom/bench.txt
	$(GO) test -run '^$$' -bench 'EndToEnd|Baseline|Publish' -benchmem -benchtime=3x -timeout 20m ./atom/bench | tee -a .atom/bench.txt
	$(GO) test -run '^$$' -bench 'CatchUp|IdleMemory' -benchmem -benchtime=1x -timeout 20m ./atom/bench | tee -a .atom/bench.txt
	$(GO) run ./atom/bench/report -in .atom/bench.txt -out BENCHMARKS.md

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

clean:
	rm -rf bin $(DATA)
