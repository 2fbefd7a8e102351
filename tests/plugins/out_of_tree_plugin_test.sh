#!/usr/bin/env bash
# Installs this build to a temporary prefix, builds plugins/_template against it
# with find_package(recforge), and checks that the installed `recforge` loads the
# plugin: its model's keys and defaults appear in a resolved config.
set -euo pipefail
build_dir=$1; source_dir=$2
work=$(mktemp -d /tmp/recforge-oot.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$source_dir/plugins/_template" -B "$work/build" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin="$work/build/libtemplate.so"
[ -f "$plugin" ] || { echo "plugin library not built: $plugin"; ls "$work/build"; exit 1; }

cat >"$work/job.yaml" <<YAML
plugins: [build/libtemplate.so]
model:
  type: template
YAML
out=$("$work/prefix/bin/recforge" config show "$work/job.yaml")
echo "$out"
grep -q "type: template" <<<"$out"
grep -q "dim: 16" <<<"$out"
# A key the template does not declare is rejected by the plugin's own schema.
if "$work/prefix/bin/recforge" config show "$work/job.yaml" --set model.dims=3 2>"$work/err"; then
  echo "unknown plugin key was accepted"; exit 1
fi
grep -q "unknown key 'model.dims'; did you mean 'dim'?" "$work/err" || { cat "$work/err"; exit 1; }
echo "out-of-tree plugin built, loaded and validated"
