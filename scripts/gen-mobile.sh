#!/usr/bin/env bash
# Regenerates the Android project in gen/android with the Tauri CLI (ui/node_modules, the version
# that ui/package-lock.json pins), then applies Doorstep's adjustments to it:
#   - the launcher icons made from the app's icon (tauri.conf.json's bundle.icon) by `tauri icon`,
#     in place of the template's Tauri logo;
#   - AndroidManifest.xml: the permissions the app uses (camera, fine and coarse location, vibrate,
#     next to the template's internet) and nothing more;
#   - cleartext HTTP only in debug builds: the template's `usesCleartextTraffic` placeholder is
#     "true" in the debug build type and "false" otherwise; checked here, so a template that
#     changes it makes this script fail instead of shipping a release build that allows HTTP;
#   - app/build.gradle.kts: release signing from gen/android/keystore.properties when that file
#     exists (the release workflow writes it from repository secrets; it is gitignored), so
#     debug and local builds need no keystore;
#   - buildSrc BuildTask.kt: Gradle calls the Tauri CLI to build the Rust library; the CLI writes
#     the command it was started with (`node tauri`), which only works with a package.json
#     beside tauri.conf.json. Here the CLI lives in ui/, so Gradle runs its script by path.
# The Tauri CLI puts the project beside tauri.conf.json, so for this repository it is gen/android
# at the top level (next to gen/schemas), not src-tauri/gen/android.
#
# Usage: scripts/gen-mobile.sh           regenerate gen/android (files that git ignores, such as
#                                        local.properties and build outputs, are left alone)
#        scripts/gen-mobile.sh --check   exit 1 and name the files when the committed gen/android
#                                        differs from what this script generates
#        ... --config FILE               with a fleet overlay (tauri.fleet.conf.json) merged into
#                                        tauri.conf.json, as `tauri build --config FILE` merges it:
#                                        the Android project bakes in the app id, name and icons,
#                                        so a fleet build with its own regenerates gen/android
#                                        with the same overlay (docs/mobile.md)
# Generation needs no Android SDK: the CLI only checks that ANDROID_HOME is a folder and that
# NDK_HOME has a source.properties, so it runs against stand-ins in a scratch folder (the project
# it writes does not depend on them), on a scratch copy of the repository.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mode=write fleet_config=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --check) mode=--check ;;
    --config) [ "$#" -ge 2 ] || die "--config needs a file"; fleet_config="$(realpath "$2")"; shift ;;
    *) die "usage: scripts/gen-mobile.sh [--check] [--config FILE]" ;;
  esac
  shift
done
[ -z "$fleet_config" ] || [ -f "$fleet_config" ] || die "no fleet configuration at $fleet_config"
config_args=(); [ -z "$fleet_config" ] || config_args=(--config "$fleet_config")

TAURI_CLI="$ROOT/ui/node_modules/@tauri-apps/cli/tauri.js"
[ -f "$TAURI_CLI" ] || die "the Tauri CLI is missing: run scripts/bootstrap.sh (npm ci in ui/)"
use_scratch

# The repository as git sees it (tracked and new files, without ignored ones), gen/ left out.
copy="$SCRATCH/repo"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard -- . ':!gen/' |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -C "$copy" -xf -
ln -s "$ROOT/ui/node_modules" "$copy/ui/node_modules"

# Stand-ins for the SDK and NDK (see above); the NDK revision is the one the CLI accepts.
mkdir -p "$SCRATCH/android-sdk" "$SCRATCH/android-ndk"
printf 'Pkg.Desc = Android NDK\nPkg.Revision = 27.0.12077973\n' >"$SCRATCH/android-ndk/source.properties"

(
  cd "$copy"
  CI=true ANDROID_HOME="$SCRATCH/android-sdk" NDK_HOME="$SCRATCH/android-ndk" \
    node "$TAURI_CLI" android init --ci --skip-targets-install "${config_args[@]}"
) >"$SCRATCH/init.log" 2>&1 || { show_log "$SCRATCH/init.log"; die "tauri android init failed"; }
out="$copy/gen/android"
[ -f "$out/app/src/main/AndroidManifest.xml" ] || { show_log "$SCRATCH/init.log"; die "tauri android init wrote no gen/android"; }

# tauri.conf.json with the fleet overlay merged in (a JSON merge patch, RFC 7396, as the CLI does).
merged_config() {
  node -e '
    const fs = require("node:fs");
    const merge = (target, patch) => {
      if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
      const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete out[key];
        else out[key] = merge(out[key], value);
      }
      return out;
    };
    let config = JSON.parse(fs.readFileSync("tauri.conf.json", "utf8"));
    if (process.argv[1]) config = merge(config, JSON.parse(fs.readFileSync(process.argv[1], "utf8")));
    process.stdout.write(JSON.stringify(config));
  ' "$fleet_config"
}
# One value of it, by its path: config_value bundle.icon.0
config_value() {
  merged_config | node -e '
    let value = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    for (const key of process.argv[1].split(".")) value = value?.[key];
    if (typeof value !== "string" || value === "") throw new Error(`no ${process.argv[1]} in the configuration`);
    console.log(value);
  ' "$1"
}
ICON="$(config_value bundle.icon.0)"
(cd "$copy" && node "$TAURI_CLI" icon "$ICON" --output "$SCRATCH/icons") >"$SCRATCH/icon.log" 2>&1 \
  || { show_log "$SCRATCH/icon.log"; die "tauri icon $ICON failed"; }
[ -d "$SCRATCH/icons/android" ] || { show_log "$SCRATCH/icon.log"; die "tauri icon made no Android icons"; }
cp -a "$SCRATCH/icons/android/." "$out/app/src/main/res/"

# The adjustments. Each edit names the template text it expects and fails when that text is
# missing, so a new CLI template cannot silently drop one; each is skipped when already applied.
IDENTIFIER="$(config_value identifier)"
PRODUCT_NAME="$(config_value productName)"
node - "$out" "$IDENTIFIER" "$PRODUCT_NAME" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [dir, identifier, productName] = process.argv.slice(2);

function edit(rel, anchor, replacement, alreadyApplied) {
  const file = path.join(dir, rel);
  const text = fs.readFileSync(file, 'utf8');
  if (alreadyApplied && text.includes(alreadyApplied)) return;
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) {
    throw new Error(`${rel}: expected the template text ${JSON.stringify(anchor)} exactly once; the Tauri CLI's template changed, update scripts/gen-mobile.sh`);
  }
  fs.writeFileSync(file, text.slice(0, at) + replacement + text.slice(at + anchor.length));
}
function expect(rel, needle, why) {
  if (!fs.readFileSync(path.join(dir, rel), 'utf8').includes(needle)) {
    throw new Error(`${rel}: ${JSON.stringify(needle)} is missing (${why}); update scripts/gen-mobile.sh`);
  }
}

// Permissions: the app's own, declared where a reader of the project looks for them. The plugins'
// libraries declare the same ones (merged by Gradle); the release workflow checks the built APK.
const internet = '    <uses-permission android:name="android.permission.INTERNET" />\n';
edit(
  'app/src/main/AndroidManifest.xml',
  internet,
  internet +
    '    <!-- Doorstep (scripts/gen-mobile.sh): the barcode scanner, the proof\'s position, the keypad\'s haptic tick -->\n' +
    '    <uses-permission android:name="android.permission.CAMERA" />\n' +
    '    <uses-permission android:name="android.permission.ACCESS_FINE_LOCATION" />\n' +
    '    <uses-permission android:name="android.permission.ACCESS_COARSE_LOCATION" />\n' +
    '    <uses-permission android:name="android.permission.VIBRATE" />\n',
  'android.permission.CAMERA',
);

// Cleartext HTTP: debug builds only (the demo server at 10.0.2.2 or on the LAN); release is HTTPS only.
expect('app/src/main/AndroidManifest.xml', 'android:usesCleartextTraffic="${usesCleartextTraffic}"', 'cleartext must follow the build type');
expect('app/build.gradle.kts', 'manifestPlaceholders["usesCleartextTraffic"] = "false"', 'release builds must refuse cleartext HTTP');
const gradle = fs.readFileSync(path.join(dir, 'app/build.gradle.kts'), 'utf8');
const debugBlock = gradle.slice(gradle.indexOf('getByName("debug")'), gradle.indexOf('getByName("release")'));
if (!debugBlock.includes('manifestPlaceholders["usesCleartextTraffic"] = "true"') || (gradle.match(/"usesCleartextTraffic"\] = "true"/g) || []).length !== 1) {
  throw new Error('app/build.gradle.kts: cleartext HTTP must be allowed in the debug build type only; update scripts/gen-mobile.sh');
}

// Release signing from keystore.properties, when it exists.
edit(
  'app/build.gradle.kts',
  'android {\n',
  '// Release signing (scripts/gen-mobile.sh): gen/android/keystore.properties, which the release\n' +
    '// workflow writes from repository secrets and git ignores. Without it, release builds are unsigned.\n' +
    'val keystoreProperties = Properties().apply {\n' +
    '    val propFile = rootProject.file("keystore.properties")\n' +
    '    if (propFile.exists()) {\n' +
    '        propFile.inputStream().use { load(it) }\n' +
    '    }\n' +
    '}\n\n' +
    'android {\n' +
    '    signingConfigs {\n' +
    '        if (keystoreProperties.containsKey("storeFile")) {\n' +
    '            create("release") {\n' +
    '                storeFile = file(keystoreProperties.getProperty("storeFile"))\n' +
    '                storePassword = keystoreProperties.getProperty("storePassword")\n' +
    '                keyAlias = keystoreProperties.getProperty("keyAlias")\n' +
    '                keyPassword = keystoreProperties.getProperty("keyPassword")\n' +
    '            }\n' +
    '        }\n' +
    '    }\n',
  'val keystoreProperties',
);
edit(
  'app/build.gradle.kts',
  '        getByName("release") {\n',
  '        getByName("release") {\n' + '            signingConfigs.findByName("release")?.let { signingConfig = it }\n',
  'signingConfigs.findByName("release")?.let',
);

// Gradle's call back into the Tauri CLI: by the path of the CLI's script, from the repository root.
const buildTask = 'buildSrc/src/main/java/' + identifier.split('.').join('/') + '/kotlin/BuildTask.kt';
expect(buildTask, 'val executable = """node""";', 'Gradle starts the Tauri CLI with node');
edit(
  buildTask,
  'listOf("tauri", "android", "android-studio-script")',
  'listOf("ui/node_modules/@tauri-apps/cli/tauri.js", "android", "android-studio-script")',
  'listOf("ui/node_modules/@tauri-apps/cli/tauri.js"',
);

// The app's id and name come from tauri.conf.json.
expect('app/build.gradle.kts', `applicationId = "${identifier}"`, 'the app id is tauri.conf.json\'s identifier');
expect('app/src/main/res/values/strings.xml', `<string name="app_name">"${productName}"</string>`, 'the app name is tauri.conf.json\'s productName');
EOF

# What git would see of a gen/android folder: its files without the ignored ones.
committed_view() {
  local from="$1" to="$2"
  mkdir -p "$to"
  [ -d "$from" ] || return 0
  (cd "$from" && git ls-files -z --cached --others --exclude-standard -- .) |
    while IFS= read -r -d '' f; do [ -e "$from/$f" ] && printf '%s\0' "$f"; done |
    (cd "$from" && tar --null -T - -cf -) | tar -C "$to" -xf -
}

if [ "$mode" = --check ]; then
  committed_view "$ROOT/gen/android" "$SCRATCH/committed"
  # git diff --no-index compares contents and the executable bit; it only reads the two folders.
  if ! drift="$(cd "$SCRATCH" && git -c core.quotePath=false diff --no-index --name-status committed repo/gen/android)"; then
    say "gen/android differs from what scripts/gen-mobile.sh generates (A: missing from the repository, D: not generated, M: changed):"
    printf '%s\n' "$drift" | sed -E 's#(committed|repo/gen/android)/#gen/android/#g; s#^#  #'
    say "run scripts/gen-mobile.sh to regenerate it (the Tauri CLI $(node "$TAURI_CLI" --version | awk '{print $2}') and the adjustments it applies), then review and commit the result."
    say "A change you want in gen/android belongs in scripts/gen-mobile.sh, or it is lost at the next regeneration."
    exit 1
  fi
  # What Gradle and the SDK write must stay out of git.
  for f in local.properties keystore.properties build/x app/build/x buildSrc/build/x .gradle/x .kotlin/x \
    app/src/main/jniLibs/arm64-v8a/libdoorstep_app.so app/src/main/assets/tauri.conf.json app/tauri.properties; do
    git check-ignore -q --no-index "gen/android/$f" || die "gen/android/$f is not ignored by git: build outputs and local files must be"
  done
  say "gen/android: as generated (Tauri CLI $(node "$TAURI_CLI" --version | awk '{print $2}')); build outputs and local files are ignored by git"
  exit 0
fi

# Write mode: replace gen/android's files, keeping what git ignores there (local.properties,
# keystore.properties, Gradle's build folders), and remove files the generator no longer makes.
mkdir -p gen/android
committed_view "$ROOT/gen/android" "$SCRATCH/old"
(cd "$SCRATCH/old" && find . -type f -print0) | while IFS= read -r -d '' f; do
  [ -e "$out/$f" ] || { rm -f "gen/android/$f"; say "removed gen/android/${f#./}"; }
done
cp -a "$out/." gen/android/
find gen/android -type d -empty -delete 2>/dev/null || true
say "gen/android regenerated (Tauri CLI $(node "$TAURI_CLI" --version | awk '{print $2}')); review it with git status / git diff, then commit it"
