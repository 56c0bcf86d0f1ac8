#!/bin/sh
# drain-node.sh — move every running sandbox of one sandboxfs tree to
# another node's tree by live migration, one at a time (docs/deploy.md,
# "Draining a node").
#
#   drain-node.sh [-s SSH] [-p PORT] [-t SECONDS] SRC_TREE DST_TREE DST_ADDR
#
#   SRC_TREE  this node's mount (e.g. /srv/sandboxes)
#   DST_TREE  the destination daemon's mount, as the destination sees it
#   DST_ADDR  the destination's address the source's QEMU connects to
#   -s SSH    run the destination's side through `ssh SSH` (user@node);
#             without it DST_TREE is a local mount (two daemons on one host)
#   -p PORT   the first TCP port to listen on at the destination (default
#             49152; one per sandbox, the next after each)
#   -t SECS   how long one migration may take (default 600)
#
# For each sandbox that is `running` or `paused`: its definition is written
# to DST_TREE/NAME (which must not exist), the destination waits
# (`incoming tcp:0.0.0.0:PORT`), the source migrates to DST_ADDR:PORT, and
# once `migration` says completed the source sandbox is removed.  A
# migration that fails or times out is cancelled, the destination removed
# and the source keeps running; the script goes on with the next and exits
# 1 at the end if any failed.  Paths the definitions name (disks, kernels)
# must exist at the same paths on the destination.  Sandboxes in other
# states are left as they are (a stopped sandbox moves with
# `cat definition`).
set -u
SSH= PORT=49152 TMO=600
while getopts s:p:t: o; do
	case $o in
	s) SSH=$OPTARG ;;
	p) PORT=$OPTARG ;;
	t) TMO=$OPTARG ;;
	*) echo "usage: $0 [-s SSH] [-p PORT] [-t SECONDS] SRC_TREE DST_TREE DST_ADDR" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 3 ] || { echo "usage: $0 [-s SSH] [-p PORT] [-t SECONDS] SRC_TREE DST_TREE DST_ADDR" >&2; exit 2; }
SRC=$1 DST=$2 ADDR=$3

# dst CMD: a shell command on the destination's side.
dst() { if [ -n "$SSH" ]; then ssh "$SSH" "$1"; else sh -c "$1"; fi; }
status() { sed -n 's/^status //p' "$1/migration"; }

failed=0
for d in "$SRC"/*/; do
	name=$(basename "$d")
	state=$(cat "$d/state" 2>/dev/null) || continue
	case $state in running | paused) ;; *) continue ;; esac
	echo "$name: $state, to $ADDR:$PORT"
	if ! dst "mkdir '$DST/$name'" || ! cat "$d/definition" | dst "cat > '$DST/$name/definition'" ||
		! dst "echo 'incoming tcp:0.0.0.0:$PORT' > '$DST/$name/ctl'"; then
		echo "$name: the destination refused: $(dst "cat '$DST/$name/error'" 2>/dev/null)" >&2
		dst "rmdir '$DST/$name'" 2>/dev/null
		failed=1 PORT=$((PORT + 1))
		continue
	fi
	if ! echo "migrate tcp:$ADDR:$PORT" > "$d/ctl"; then
		echo "$name: migrate refused: $(cat "$d/error")" >&2
		dst "echo kill > '$DST/$name/ctl'; rmdir '$DST/$name'"
		failed=1 PORT=$((PORT + 1))
		continue
	fi
	end=$(($(date +%s) + TMO))
	while :; do
		s=$(status "$d")
		case $s in completed | failed | cancelled) break ;; esac
		if [ "$(date +%s)" -gt "$end" ]; then
			echo cancel > "$d/ctl" 2>/dev/null
			s="timed out after $TMO s"
			break
		fi
		printf '\r%s: %s %s%%   ' "$name" "$s" "$(sed -n 's/^percent //p' "$d/migration")"
		sleep 1
	done
	echo
	if [ "$s" = completed ]; then
		# the source's QEMU quits by itself: migrated, then removable
		for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(cat "$d/state")" = migrated ] && break; sleep 0.5; done
		rmdir "$d" && echo "$name: now on $ADDR ($DST/$name)"
	else
		echo "$name: $s: $(cat "$d/error"); it runs on here" >&2
		dst "echo kill > '$DST/$name/ctl' 2>/dev/null; rmdir '$DST/$name'"
		failed=1
	fi
	PORT=$((PORT + 1))
done
exit $failed
