#!/bin/bash
# The layer check (ARCHITECTURE.md): every #include "..." must point down the
# stack, never up or sideways. Each folder has a rank; a file may include
# files of its own folder and of folders with a lower rank. Programs
# (*_main.c), tests and fuzz harnesses sit on top and may include anything.
# Exit 1 and name every offending line; exit 0 and print one line otherwise.
set -euo pipefail
# Usage: check-layers.sh [ROOT] (default: this checkout).
cd "${1:-$(dirname "$0")/..}"

rank_of() {
	case "$1" in
	base) echo 0 ;;
	api) echo 1 ;;
	devices | fidl | traces | model) echo 2 ;;
	host) echo 3 ;;
	vmm | vmm/hv | vmm-device | sim-hypervisor) echo 4 ;;
	replay) echo 5 ;;
	launcher) echo 6 ;;
	*) echo "" ;;
	esac
}

bad=0 checked=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	case "$file" in
	*_main.c | tests/* | fuzz/* | bench/*) continue ;;
	esac
	from=$(rank_of "$dir")
	if [ -z "$from" ]; then
		echo "layers: $file: folder '$dir' has no rank (add it to scripts/check-layers.sh)"
		bad=1
		continue
	fi
	while IFS=: read -r line inc; do
		checked=$((checked + 1))
		target="$inc"
		# A bare name is a file of the same folder.
		[[ "$inc" != */* ]] && target="$dir/$inc"
		tdir=$(dirname "$target")
		[ "$tdir" = "$dir" ] && continue
		to=$(rank_of "$tdir")
		if [ -z "$to" ]; then
			echo "layers: $file:$line: includes \"$inc\" from '$tdir', which has no rank"
			bad=1
		elif [ "$to" -ge "$from" ]; then
			echo "layers: $file:$line: $dir (rank $from) includes \"$inc\" ($tdir, rank $to): dependencies point down only"
			bad=1
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file" |
		sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(find . -path ./.git -prune -o -path './build*' -prune -o \( -name '*.c' -o -name '*.h' \) -print | sed 's#^\./##' | sort)

if [ $bad -ne 0 ]; then
	echo "layers: FAILED (see ARCHITECTURE.md for the order)"
	exit 1
fi
echo "layers: ok ($checked includes checked: base < api < devices, fidl, traces, model < host < vmm, vmm/hv, vmm-device, sim-hypervisor < replay < launcher < programs)"
