#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure (only when the config inputs changed) and build bzImage and
# modules in $OBJ, with ccache. The build's output goes to a log; the
# screen gets a progress line every 30 seconds.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$TOP/harness/lib.sh"

log="$LOGS/kernel-build.log"
mkdir -p "$OBJ"
fragments=()
for f in $CONFIG_FRAGMENTS; do
	fragments+=("kernel/configs/$f")
done

ccache -M 10G >/dev/null 2>&1 || true

# --- configuration ----------------------------------------------------------
inputs=("$SRC/arch/x86/configs/x86_64_defconfig" "$SRC/kernel/configs/kvm_guest.config")
inputs+=("${fragments[@]/#/$SRC/}")
sum=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$OBJ/.kmem-config-inputs" 2>/dev/null)" != "$sum" ] || [ ! -f "$OBJ/.config" ]; then
	progress config "x86_64_defconfig + kvm_guest.config + $CONFIG_FRAGMENTS"
	"${KMAKE[@]}" x86_64_defconfig >"$LOGS/config.log" 2>&1
	(cd "$SRC" && scripts/kconfig/merge_config.sh -m -O "$OBJ" "$OBJ/.config" \
		kernel/configs/kvm_guest.config "${fragments[@]}") >>"$LOGS/config.log" 2>&1
	"${KMAKE[@]}" olddefconfig >>"$LOGS/config.log" 2>&1
	# Every option of the fragments must have taken effect; a later
	# fragment's line for an option replaces an earlier one's.
	declare -A want=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) want[${line%%=*}]=$line ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			want[${opt%% *}]=$line
			;;
		esac
	done < <(cd "$SRC" && cat "${fragments[@]}")
	bad=
	for opt in "${!want[@]}"; do
		line=${want[$opt]}
		# The stock kernel lacks the series' own options (a KUnit
		# switch, say): an option its Kconfig files do not define is
		# not asked of it.
		if [ "$KMEM_VARIANT" = stock ] &&
		   ! grep -rqsE --include='Kconfig*' "^(menu)?config ${opt#CONFIG_}\$" "$SRC"; then
			continue
		fi
		case "$line" in
		CONFIG_*) grep -qxF "$line" "$OBJ/.config" || bad="$bad ${line}" ;;
		*) ! grep -q "^$opt=" "$OBJ/.config" || bad="$bad $opt=n" ;;
		esac
	done
	[ -z "$bad" ] || die "config fragment not honoured (dependency missing?):$bad; see $LOGS/config.log"
	echo "$sum" >"$OBJ/.kmem-config-inputs"
fi

[ "${KMEM_CONFIG_ONLY:-0}" = 1 ] && exit 0

# --- build ------------------------------------------------------------------
t0=$(date +%s)
progress kernel "building bzImage + modules with $JOBS jobs (log: $log)"
"${KMAKE[@]}" -j"$JOBS" bzImage modules >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill -0 "$pid" 2>/dev/null || break
	progress kernel "$(($(date +%s) - t0)) s, $(grep -c '^  CC' "$log" || true) files compiled"
done
if ! wait "$pid"; then
	grep -E 'error:|Error [0-9]|undefined reference' "$log" | head -20 >&2 || true
	tail -n 15 "$log" >&2
	die "kernel build failed, full log: $log"
fi
progress kernel "$(grep -c '^  CC' "$log" || true) files compiled, $(grep -c 'warning:' "$log" || true) warning(s)"
stage_time kernel "$t0"
